"""Trading states, per strategy and global: active, reducing (only exposure-reducing orders),
halted (no new orders; resting ones cancelled per policy).

One machine per scope follows the strictest of the sources latched on it
(`arbiter.risk.trading`): it fires only when that changes, so every transition here is a real
change of what the scope lets through, journaled with who and why.
"""

from __future__ import annotations

from arbiter.fsm.table import MachineDef, State, Transition

TRADING_STATE = MachineDef(
    name="trading_state",
    description="the strictest source latched: active -> reducing -> halted, back as each clears",
    states=(
        State("active", "all orders allowed"),
        State("reducing", "only orders that reduce exposure"),
        State("halted", "no new orders"),
    ),
    initial="active",
    transitions=(
        Transition("reduce", ("active",), "reducing", note="a reducing source latched"),
        Transition("halt", ("active", "reducing"), "halted", note="a halting source latched"),
        Transition(
            "relax",
            ("halted",),
            "reducing",
            note="the last halting source cleared; a reducing one still holds",
        ),
        Transition("resume", ("reducing", "halted"), "active", note="the last source cleared"),
    ),
)
