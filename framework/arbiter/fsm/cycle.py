"""The cycle machine: one round trip of a pair, enter both legs, hold, exit both legs.

Per-tick arithmetic stays outside: the spread engine fires `spread_entered` / `spread_retreated`
only when a threshold is crossed, and execution fires the leg events. Gates become guards on
`enter` and `exit` when a manifest is compiled (`arbiter.compiler`).

Rules kept by this table:
- nothing gates the way out of `legging`: a naked leg is always repaired, never blocked;
- `halted` is left only by `resume` (an operator, or a cleared condition), and lands in `open`
  when a position is still held, in `idle` when flat;
- `error` is for broken invariants; only an operator `reset` moves it on, to `halted`;
- the budget of a one-legged position is never outwaited: a repair that cannot close it in
  time (`repair_budget_exceeded`) or an order still in doubt (`unresolved`) halts the pair.
"""

from __future__ import annotations

from decimal import Decimal

from arbiter.fsm.runner import GuardResult
from arbiter.fsm.table import MachineDef, State, Transition, every_state_but

_STATES = (
    State("idle", "flat, waiting for the entry spread"),
    State("armed", "entry spread crossed; entry gates decide"),
    State("entering", "both entry legs in flight"),
    State("open", "hedged position held; waiting for the exit spread"),
    State("exiting", "both exit legs in flight"),
    State("legging", "one leg filled and the other not: repair per policy"),
    State("cooling_down", "cycle done; cooldown before re-arming"),
    State("halted", "a gate or risk breach, or an operator, stopped this pair"),
    State("error", "a broken invariant; needs an operator"),
)

CYCLE = MachineDef(
    name="cycle",
    description="One arbitrage cycle of a pair: idle -> armed -> entering -> open -> exiting -> idle.",
    states=_STATES,
    initial="idle",
    transitions=(
        Transition(
            "spread_entered", ("idle",), "armed", note="net entry spread crossed its threshold"
        ),
        Transition(
            "spread_retreated", ("armed",), "idle", note="fell back past entry minus hysteresis"
        ),
        Transition("enter", ("armed",), "entering", note="both legs sent at once"),
        Transition("both_filled", ("entering",), "open"),
        Transition(
            "both_failed", ("entering",), "cooling_down", note="nothing filled: no exposure"
        ),
        Transition(
            "one_leg_filled",
            ("entering", "exiting"),
            "legging",
            note="rejected, timed out or partial",
        ),
        Transition("exit", ("open",), "exiting", note="net spread converged to the exit threshold"),
        Transition("exit_filled", ("exiting",), "cooling_down"),
        Transition(
            "exit_failed",
            ("exiting",),
            "open",
            note="nothing traded, or both legs exited alike in part: still hedged, exits again",
        ),
        Transition(
            "repaired",
            ("legging",),
            "open",
            note="both legs hold the same base again: a hedged position (maybe smaller)",
        ),
        Transition(
            "flattened",
            ("legging",),
            "cooling_down",
            note="exposure closed (unwind, or exit chased)",
        ),
        Transition(
            "handed_to_hedger",
            ("legging",),
            "open",
            guards=("has_position",),
            note="a partial fill: the pair keeps what both legs hold, the hedger the rest",
        ),
        Transition(
            "handed_to_hedger",
            ("legging",),
            "cooling_down",
            guards=("is_flat",),
            note="residual owned by the hedger",
        ),
        Transition(
            "repair_budget_exceeded",
            ("legging",),
            "halted",
            note="max unhedged time spent: incident",
        ),
        Transition(
            "unresolved",
            ("entering", "exiting", "legging"),
            "halted",
            note="an order still in doubt past the unhedged budget: incident; it is finished in the background",
        ),
        Transition("cooldown_elapsed", ("cooling_down",), "idle"),
        Transition("halt", every_state_but(_STATES, "halted", "error"), "halted"),
        Transition(
            "halt", ("halted",), None, note="already halted: a second breach changes nothing"
        ),
        Transition("resume", ("halted",), "open", guards=("has_position",)),
        Transition("resume", ("halted",), "idle", guards=("is_flat",)),
        Transition("fail", every_state_but(_STATES, "error"), "error"),
        Transition("reset", ("error",), "halted", note="operator acknowledged; resume is separate"),
    ),
    guard_descriptions={
        "has_position": "the pair still holds a position",
        "is_flat": "the pair holds no position",
    },
)

ENTRY_TRIGGER = "enter"
EXIT_TRIGGER = "exit"

# State groups, named here so code elsewhere names the group instead of spelling its states:
IN_FLIGHT = frozenset({"entering", "exiting", "legging"})  # orders out: nothing may change it
FLAT = frozenset({"idle", "armed", "cooling_down"})  # no cycle open: nothing held or in flight
ENDED = frozenset({"idle", "cooling_down"})  # the last cycle is over (armed: its next is not begun)
ACTING = frozenset({"armed", "open"})  # a signal there may send orders (gates are retried)
NEEDS_OPERATOR = frozenset({"halted", "error"})  # trades nothing until an operator acts
CYCLE_STATES = frozenset(CYCLE.state_names)


def position_guard(name: str, held: Decimal, asset: str) -> GuardResult:
    """The guards of `resume` and `handed_to_hedger`: whether the pair still holds `held`."""
    holding = held > 0
    if name == "has_position":
        return GuardResult(holding, f"holding {held} {asset}")
    if name == "is_flat":
        return GuardResult(not holding, f"holding {held} {asset}")
    return GuardResult(False, f"unknown guard {name}")
