"""The machine tables: legal paths run, illegal triggers are refused, duplicates are absorbed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from arbiter.fsm import (
    CYCLE,
    MACHINES,
    ORDER,
    VENUE_CONNECTION,
    GuardResult,
    IllegalTransition,
    MachineDef,
    MachineRunner,
    State,
    Transition,
)
from arbiter.fsm.render import to_dot, to_mermaid


def _order_guards(name: str, context: Mapping[str, Any]) -> GuardResult:
    filled = context.get("filled_qty", 0) > 0
    return GuardResult({"has_fills": filled, "no_fills": not filled}[name])


def _cycle_guards(flat: bool) -> Any:
    def resolve(name: str, context: Mapping[str, Any]) -> GuardResult:
        return GuardResult({"is_flat": flat, "has_position": not flat}[name])

    return resolve


def _run(
    defn: MachineDef, triggers: list[str], resolve: Any = _order_guards, **context: Any
) -> MachineRunner:
    runner = MachineRunner(defn, resolve)
    for trigger in triggers:
        runner.fire(trigger, **context)
    return runner


@pytest.mark.parametrize("defn", list(MACHINES.values()), ids=list(MACHINES))
def test_every_state_when_machine_declared_is_reachable_from_initial(defn: MachineDef) -> None:
    reached, frontier = {defn.initial}, [defn.initial]
    while frontier:
        state = frontier.pop()
        for t in defn.transitions:
            if state in t.sources and t.dest and t.dest not in reached:
                reached.add(t.dest)
                frontier.append(t.dest)
    assert reached == set(defn.state_names)


def test_machine_def_when_transition_names_unknown_state_is_refused() -> None:
    with pytest.raises(ValueError, match="to undeclared state 'nowhere'"):
        MachineDef("m", "", (State("a", ""),), "a", (Transition("go", ("a",), "nowhere"),))


def test_cycle_when_full_round_trip_returns_to_idle() -> None:
    runner = _run(
        CYCLE, ["spread_entered", "enter", "both_filled", "exit", "exit_filled", "cooldown_elapsed"]
    )
    assert runner.state == "idle"
    assert [d.dest for d in runner.history] == [
        "armed",
        "entering",
        "open",
        "exiting",
        "cooling_down",
        "idle",
    ]


@pytest.mark.parametrize(
    ("state_path", "trigger"),
    [
        (["spread_entered"], "both_filled"),  # a fill report with nothing in flight
        ([], "enter"),  # entering without an armed signal
        (["spread_entered", "enter"], "exit"),  # exiting before the entry completed
        (["spread_entered", "enter", "both_filled"], "enter"),  # a second entry on an open cycle
        ([], "resume"),  # resume only leaves halted
        ([], "no_such_trigger"),
    ],
)
def test_cycle_when_trigger_illegal_in_state_is_refused(
    state_path: list[str], trigger: str
) -> None:
    runner = _run(CYCLE, state_path)
    before = runner.state
    with pytest.raises(IllegalTransition) as info:
        runner.fire(trigger)
    assert runner.state == before
    assert info.value.state == before
    assert info.value.trigger == trigger


def test_cycle_when_legging_is_repaired_or_times_out_never_stays_naked() -> None:
    assert _run(CYCLE, ["spread_entered", "enter", "one_leg_filled", "repaired"]).state == "open"
    assert (
        _run(CYCLE, ["spread_entered", "enter", "one_leg_filled", "flattened"]).state
        == "cooling_down"
    )
    assert (
        _run(CYCLE, ["spread_entered", "enter", "one_leg_filled", "repair_budget_exceeded"]).state
        == "halted"
    )


def test_cycle_when_resumed_from_halt_goes_to_open_only_with_position() -> None:
    path = ["spread_entered", "enter", "both_filled", "halt", "resume"]
    assert _run(CYCLE, path, _cycle_guards(flat=False)).state == "open"
    assert _run(CYCLE, path, _cycle_guards(flat=True)).state == "idle"


def test_cycle_when_halted_twice_stays_halted_and_error_needs_reset() -> None:
    runner = _run(CYCLE, ["halt", "halt"])
    assert runner.state == "halted"
    runner.fire("fail")
    with pytest.raises(IllegalTransition):
        runner.fire("resume")
    runner.fire("reset")
    assert runner.state == "halted"


def test_gated_enter_when_a_gate_fails_records_every_gate_and_stays_armed() -> None:
    gated = CYCLE.with_guards("enter", ("gate:depth", "gate:fresh", "gate:window"))
    verdicts = {
        "gate:depth": GuardResult(False, "perp bid depth 1.8 < 3.0"),
        "gate:fresh": GuardResult(True),
        "gate:window": GuardResult(False, "closed"),
    }
    runner = MachineRunner(gated, lambda name, ctx: verdicts[name])
    runner.fire("spread_entered")
    decision = runner.fire("enter")
    assert not decision.accepted
    assert runner.state == "armed"
    assert [name for name, _ in decision.guards] == ["gate:depth", "gate:fresh", "gate:window"]
    assert [(n, r.reason) for n, r in decision.failures] == [
        ("gate:depth", "perp bid depth 1.8 < 3.0"),
        ("gate:window", "closed"),
    ]
    verdicts.update({"gate:depth": GuardResult(True), "gate:window": GuardResult(True)})
    assert runner.fire("enter").accepted
    assert runner.state == "entering"


def test_order_when_filled_normally_reaches_filled() -> None:
    assert _run(ORDER, ["submit", "ack", "partial_fill", "fill"]).state == "filled"


@pytest.mark.parametrize(
    ("events", "final"),
    [
        (["submit", "ack", "fill", "fill"], "filled"),  # two Filled messages
        (["submit", "fill", "ack"], "filled"),  # ack arrives after the fill
        (["submit", "ack", "cancel_request", "fill"], "filled"),  # fill wins the cancel race
        (
            ["submit", "ack", "cancel_request", "partial_fill", "cancelled"],
            "cancelled",
        ),  # fill after cancel request
        (["submit", "ack", "cancelled", "cancelled"], "cancelled"),  # duplicate cancel ack
        (["submit", "ack", "fill", "cancelled"], "filled"),  # cancel ack after the fill
        (["submit", "ack", "fill", "cancel_rejected"], "filled"),  # cancel refused: already filled
        (["submit", "reject", "reject"], "rejected"),
        (["submit", "send_ambiguous", "ack", "fill"], "filled"),  # ambiguous send resolved by query
        (["submit", "send_ambiguous", "not_found"], "rejected"),
        (
            ["submit", "ack", "partial_fill", "expire", "partial_fill"],
            "expired",
        ),  # IOC remainder, late report
    ],
)
def test_order_when_events_duplicated_or_reordered_ends_consistently(
    events: list[str], final: str
) -> None:
    assert _run(ORDER, events).state == final


def test_order_when_cancel_rejected_returns_to_working_state_by_fills() -> None:
    path = ["submit", "ack", "cancel_request", "cancel_rejected"]
    assert _run(ORDER, path, filled_qty=0).state == "acknowledged"
    assert _run(ORDER, path, filled_qty=1).state == "partially_filled"


@pytest.mark.parametrize(
    ("events", "illegal"),
    [
        (["submit"], "submit"),  # sending the same order twice
        (["submit", "ack", "fill"], "cancel_request"),  # cancelling a finished order
        (["submit", "reject"], "ack"),  # a rejected order cannot come alive
        ([], "fill"),  # a fill for an order never sent
        (["submit", "send_ambiguous"], "submit"),  # never resend while unknown
    ],
)
def test_order_when_our_own_bug_fires_illegal_trigger_is_refused(
    events: list[str], illegal: str
) -> None:
    runner = _run(ORDER, events)
    with pytest.raises(IllegalTransition, match=f"trigger '{illegal}' is not allowed"):
        runner.fire(illegal)


def test_venue_connection_when_lost_and_resynced_returns_live() -> None:
    runner = _run(
        VENUE_CONNECTION,
        [
            "connect",
            "opened",
            "synced",
            "gap",
            "synced",
            "silence",
            "lost",
            "retry",
            "opened",
            "synced",
        ],
    )
    assert runner.state == "live"
    with pytest.raises(IllegalTransition):
        runner.fire("retry")


@pytest.mark.parametrize("defn", list(MACHINES.values()), ids=list(MACHINES))
def test_renderers_when_drawing_a_machine_name_every_state_and_edge(defn: MachineDef) -> None:
    mermaid, dot = to_mermaid(defn), to_dot(defn)
    assert mermaid.startswith("stateDiagram-v2\n")
    assert dot.startswith(f'digraph "{defn.name}"')
    for state in defn.state_names:
        assert f"    {state} : {state}" in mermaid
        assert f'"{state}" [tooltip=' in dot
    edges = sum(len(t.sources) for t in defn.transitions)
    assert mermaid.count(" --> ") - 1 - sum(s.terminal for s in defn.states) == edges
    assert sum(1 for line in dot.splitlines() if " -> " in line and "[label=" in line) == edges
