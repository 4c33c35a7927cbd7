"""Trading states, per strategy and global: active, reducing (only exposure-reducing orders),
halted (no new orders; resting ones cancelled per policy). Every change carries who and why."""

from __future__ import annotations

from arbiter.fsm.table import MachineDef, State, Transition

TRADING_STATE = MachineDef(
    name="trading_state",
    description="active -> reducing -> halted; an operator resumes.",
    states=(
        State("active", "all orders allowed"),
        State("reducing", "only orders that reduce exposure"),
        State("halted", "no new orders"),
    ),
    initial="active",
    transitions=(
        Transition("reduce", ("active",), "reducing"),
        Transition("reduce", ("reducing", "halted"), None, note="already at least as strict"),
        Transition("halt", ("active", "reducing"), "halted"),
        Transition("halt", ("halted",), None),
        Transition("resume", ("reducing", "halted"), "active", note="operator only"),
        Transition("resume", ("active",), None),
    ),
)
