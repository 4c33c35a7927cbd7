"""The table runner decides exactly as the `transitions` runner does, on every machine.

Every machine the framework declares, and the cycle machines compiled from the example
manifests (their gates bound to `enter`), are run side by side: in every state, for every
trigger, under every combination of its guards' verdicts (or, past six guards, all passing,
all failing, and each one failing or passing alone), both runners must refuse the same
triggers and make the same decision, guards evaluated included.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.compiler import compile_manifest
from arbiter.execution.order_machines import ORDER_TABLE, new_order_machine
from arbiter.fsm import MACHINES, ORDER, GuardResult, IllegalTransition, MachineDef, MachineRunner
from arbiter.fsm.table_runner import CompiledTable, TableRunner
from arbiter.manifest import load_manifest


def _definitions() -> dict[str, MachineDef]:
    found = dict(MACHINES)
    for path in sorted(Path("strategies").glob("*.yaml")):
        for pair in compile_manifest(load_manifest(path)).pairs:
            found[f"{path.stem}:{pair.id}"] = pair.cycle
    return found


DEFINITIONS = _definitions()


class Verdicts:
    """A guard resolver answering from a table that the test changes between fires."""

    def __init__(self) -> None:
        self.table: dict[str, bool] = {}

    def __call__(self, name: str, context: Mapping[str, Any]) -> GuardResult:
        passed = self.table[name]
        return GuardResult(passed, f"{name} {'held' if passed else 'failed'}")


def _combinations(guards: list[str]) -> list[dict[str, bool]]:
    if len(guards) <= 6:
        return [
            dict(zip(guards, values, strict=True))
            for values in itertools.product((True, False), repeat=len(guards))
        ]
    every = [dict.fromkeys(guards, True), dict.fromkeys(guards, False)]
    for g in guards:
        every.append({**dict.fromkeys(guards, True), g: False})
        every.append({**dict.fromkeys(guards, False), g: True})
    return every


def _outcome(runner: MachineRunner | TableRunner, trigger: str) -> tuple[Any, ...]:
    try:
        decision = runner.fire(trigger)
    except IllegalTransition as refused:
        return ("illegal", str(refused), refused.allowed)
    return ("decided", decision, runner.state, list(runner.history)[-1])


def test_definitions_when_collected_include_compiled_cycles_with_gates() -> None:
    compiled_cycles = [d for name, d in DEFINITIONS.items() if ":" in name]
    assert compiled_cycles
    assert any(t.guards for d in compiled_cycles for t in d.transitions if t.trigger == "enter")


@pytest.mark.parametrize("name", list(DEFINITIONS))
def test_table_runner_when_any_trigger_fires_in_any_state_decides_as_transitions(
    name: str,
) -> None:
    defn = DEFINITIONS[name]
    verdicts = Verdicts()
    theirs, ours = MachineRunner(defn, verdicts), TableRunner(CompiledTable(defn), verdicts)
    compared = 0
    for state in defn.state_names:
        for trigger in defn.triggers:
            guards = sorted({g for t in defn.targets(state, trigger) for g in t.guards})
            for combination in _combinations(guards):
                verdicts.table = combination
                theirs.restore(state)
                ours.restore(state)
                assert ours.allowed_triggers() == theirs.allowed_triggers(), state
                expected = _outcome(theirs, trigger)
                assert _outcome(ours, trigger) == expected, (state, trigger, combination)
                compared += 1
    assert compared >= len(defn.state_names) * len(defn.triggers)


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(ORDER.triggers), st.booleans()), min_size=1, max_size=40
    )
)
def test_order_table_when_random_events_arrive_stays_in_step_with_transitions(
    steps: list[tuple[str, bool]],
) -> None:
    verdicts = Verdicts()
    theirs, ours = MachineRunner(ORDER, verdicts), TableRunner(ORDER_TABLE, verdicts)
    for trigger, has_fills in steps:
        verdicts.table = {"has_fills": has_fills, "no_fills": not has_fills}
        assert _outcome(ours, trigger) == _outcome(theirs, trigger)
    assert ours.state == theirs.state
    assert list(ours.history) == list(theirs.history)


def test_order_machine_when_built_for_the_tracker_runs_the_order_table() -> None:
    runner = new_order_machine()

    assert runner.definition is ORDER
    assert runner.state == ORDER.initial
    runner.fire("submit", filled_qty=0)
    runner.fire("cancel_request", filled_qty=0)
    decision = runner.fire("cancel_rejected", filled_qty=1)  # resolved by the tracker's guards
    assert (decision.dest, decision.accepted) == ("partially_filled", True)
    assert [name for name, _ in decision.guards] == ["has_fills"]


def test_table_runner_when_restored_to_an_undeclared_state_is_refused() -> None:
    runner = TableRunner(ORDER_TABLE)

    with pytest.raises(ValueError, match="order: no state 'gone'"):
        runner.restore("gone")
    assert runner.state == ORDER.initial
