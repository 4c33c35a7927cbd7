"""The hedger machine: the slow lane that keeps each asset's net delta inside its band.

It measures on a schedule (the manifest's interval) and at once when execution reports a
residual from a one-legged fill; it never measures while its own hedge orders are in flight.
"""

from __future__ import annotations

from arbiter.fsm.table import MachineDef, State, Transition

HEDGER = MachineDef(
    name="hedger",
    description="idle -> measuring -> hedging -> cooling_down -> idle; halted on breach or operator.",
    states=(
        State("idle", "waiting for the next interval or a residual"),
        State("measuring", "computing net delta per asset across venues"),
        State("hedging", "hedge slices in flight"),
        State("cooling_down", "hedges done; let positions and balances settle before re-measuring"),
        State("halted", "no hedge orders: operator, kill switch, or hedge failures"),
    ),
    initial="idle",
    transitions=(
        Transition("measure", ("idle",), "measuring", note="interval tick"),
        Transition(
            "residual", ("idle", "cooling_down"), "measuring", note="a one-legged fill: act now"
        ),
        Transition(
            "residual", ("measuring", "hedging"), None, note="already acting; re-measured after"
        ),
        Transition(
            "measure",
            ("measuring", "hedging", "cooling_down"),
            None,
            note="tick while busy: skipped",
        ),
        Transition("in_band", ("measuring",), "idle"),
        Transition("out_of_band", ("measuring",), "hedging"),
        Transition("hedged", ("hedging",), "cooling_down"),
        Transition("hedge_failed", ("hedging",), "cooling_down", note="re-measured after cooldown"),
        Transition("settled", ("cooling_down",), "idle"),
        Transition("halt", ("idle", "measuring", "hedging", "cooling_down"), "halted"),
        Transition("halt", ("halted",), None),
        Transition("resume", ("halted",), "idle"),
    ),
)
