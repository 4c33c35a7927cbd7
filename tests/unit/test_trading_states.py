"""Trading states (latched sources), incidents and the kill switch."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.control.incidents import IncidentLog
from arbiter.execution.intent import Intent
from arbiter.fsm import IllegalTransition
from arbiter.risk.kill_switch import KillSwitch
from arbiter.risk.trading import (
    GLOBAL,
    HALTED,
    KILL,
    OPERATOR,
    REDUCING,
    Hold,
    StateChange,
    TradingStates,
    kill_file,
    risk,
)
from arbiter.runtime.halts import hold_incident

NO_INTENT: Intent = None  # type: ignore[assignment]  # admission looks at no field of it


def _states() -> tuple[TradingStates, IncidentLog, list[StateChange]]:
    changes: list[StateChange] = []
    incidents = IncidentLog(clock=lambda: 1000.0)
    # as the runtime wires it: every source latched raises an incident
    states = TradingStates(changes.append, lambda change: hold_incident(incidents, change))
    return states, incidents, changes


def test_active_when_any_order_is_allowed() -> None:
    states, _, _ = _states()
    assert states.allows("s", Decimal(0), Decimal(5))[0]


def test_reducing_when_order_shrinks_exposure_allows_it_and_refuses_growth_or_flip() -> None:
    states, _, _ = _states()
    states.hold("s", risk("max_net_delta:BTC"), REDUCING, "risk", "net delta 900 > 750")
    assert states.allows("s", Decimal(5), Decimal(2))[0]
    assert states.allows("s", Decimal(-5), Decimal(0))[0]
    allowed, why = states.allows("s", Decimal(5), Decimal(7))
    assert not allowed
    assert why == "s is reducing: order would move position 5 -> 7"
    assert not states.allows("s", Decimal(5), Decimal(-1))[0]  # through zero is a new exposure
    assert not states.allows("s", Decimal(0), Decimal(1))[0]


def test_halted_when_any_order_is_refused_even_reducing() -> None:
    states, _, _ = _states()
    states.hold("s", OPERATOR, HALTED, "operator:alice", "manual stop")
    assert states.allows("s", Decimal(5), Decimal(0)) == (False, "s is halted: no new orders")


def test_global_halt_when_strategy_active_wins_as_stricter() -> None:
    states, _, _ = _states()
    states.hold(GLOBAL, kill_file("/k"), HALTED, "kill-switch", "kill file present")
    assert states.state("s") == "halted"
    states.release(GLOBAL, kill_file("/k"), "kill-switch", "kill file removed")
    assert states.state("s") == "active"


def test_state_change_when_tightened_raises_incident_with_who_and_why() -> None:
    states, incidents, changes = _states()
    states.hold("s", risk("daily_loss"), REDUCING, "risk", "loss 160 > 150")
    states.hold("s", risk("daily_loss"), HALTED, "risk", "loss 210 > 150")
    assert [(c.source, c.dest, c.by) for c in changes] == [
        ("active", "reducing", "risk"),
        ("reducing", "halted", "risk"),
    ]
    (incident,) = incidents.open()
    assert incident.key == "trading:s"
    assert incident.count == 2
    assert incident.reason == "halted by risk:daily_loss: loss 210 > 150"


def test_state_change_when_repeated_is_idempotent_and_not_reported() -> None:
    states, _, changes = _states()
    states.hold("s", OPERATOR, HALTED, "a", "x")
    states.hold("s", OPERATOR, HALTED, "a", "x")
    states.hold("s", risk("venue:okx"), REDUCING, "a", "x")  # halted is already stricter
    assert len(changes) == 1
    assert states.state("s") == "halted"


def test_incident_when_acknowledged_resolved_and_recurring_follows_lifecycle() -> None:
    log = IncidentLog(clock=lambda: 5.0)
    seen: list[tuple[str, str]] = []
    log.subscribe(lambda incident, event: seen.append((incident.key, event)))
    log.raise_("legging:s/btc", "legging", "execution", "perp leg rejected")
    log.acknowledge("legging:s/btc", "operator:bob")
    log.resolve("legging:s/btc", "unwound")
    assert log.open() == []
    log.raise_("legging:s/btc", "legging", "execution", "again")
    assert [e for _, e in seen] == ["open", "acknowledge", "resolve", "reopen"]
    log.acknowledge("legging:s/btc", "operator:bob")
    with pytest.raises(IllegalTransition):
        log.acknowledge("legging:s/btc", "operator:bob")  # already acknowledged


def test_kill_switch_when_file_appears_trips_once_and_clears_when_removed(tmp_path: Path) -> None:
    path = tmp_path / "kill"
    events: list[str] = []
    switch = KillSwitch(path, on_trip=events.append, on_clear=events.append)
    assert not switch.check()
    path.touch()
    assert switch.check()
    assert switch.check()  # still tripped: no second trip event
    path.unlink()
    assert not switch.check()
    assert events == [f"kill file {path} present", f"kill file {path} removed"]


async def test_kill_switch_when_running_trips_on_the_next_poll(tmp_path: Path) -> None:
    path = tmp_path / "kill"
    tripped = asyncio.Event()
    polls = 0

    async def one_poll(_: float) -> None:  # drives the loop one poll at a time, no wall clock
        nonlocal polls
        polls += 1
        if polls == 3:
            path.touch()
        await asyncio.sleep(0)

    tripped_after: list[int] = []

    def on_trip(reason: str) -> None:
        tripped_after.append(polls)
        tripped.set()

    switch = KillSwitch(path, on_trip=on_trip, sleep=one_poll)
    task = asyncio.create_task(switch.run())
    await tripped.wait()
    task.cancel()
    assert tripped_after == [3]  # created during the 3rd sleep, seen by the very next check


def test_kill_switch_when_interval_over_a_second_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="within a second"):
        KillSwitch(tmp_path / "k", on_trip=print, interval=2)


def test_kill_files_when_one_of_two_removed_stay_halted_until_both_are() -> None:
    states, _, changes = _states()
    states.hold(GLOBAL, kill_file("/run/a"), HALTED, "kill-switch", "kill file /run/a present")
    states.hold(GLOBAL, kill_file("/run/b"), HALTED, "kill-switch", "kill file /run/b present")
    states.release(GLOBAL, kill_file("/run/a"), "kill-switch", "kill file /run/a removed")
    assert states.state("s") == "halted"
    assert (
        states.admit(NO_INTENT) == "kill-file:/run/b holds (kill-switch: kill file /run/b present)"
    )
    states.release(GLOBAL, kill_file("/run/b"), "kill-switch", "kill file /run/b removed")
    assert states.state("s") == "active"
    assert states.admit(NO_INTENT) == ""
    assert [(c.source, c.dest, c.reason) for c in changes] == [
        ("active", "halted", "kill file /run/a present"),
        ("halted", "active", "kill file /run/b removed"),
    ]


def test_release_when_a_halting_source_clears_and_a_reducing_one_holds_relaxes_to_reducing() -> (
    None
):
    states, _, changes = _states()
    states.hold("s", risk("venue:okx"), REDUCING, "risk", "venue okx not live for 11s")
    states.hold("s", OPERATOR, HALTED, "operator:alice", "halt")
    states.release("s", OPERATOR, "operator:alice", "resume")
    assert states.state("s") == "reducing"
    assert [(c.source, c.dest) for c in changes] == [
        ("active", "reducing"),
        ("reducing", "halted"),
        ("halted", "reducing"),
    ]
    assert [h.source for h in states.holding("s")] == ["risk:venue:okx"]


def test_admit_when_an_operator_halts_admits_and_when_a_kill_holds_refuses_naming_it() -> None:
    states, _, _ = _states()
    states.hold(GLOBAL, OPERATOR, HALTED, "operator:otto", "halt")
    assert states.admit(NO_INTENT) == ""  # a halt stops entries; a repair may still finish
    states.hold(GLOBAL, KILL, HALTED, "admin:ada", "kill")
    assert states.admit(NO_INTENT) == "kill holds (admin:ada: kill)"


@pytest.mark.parametrize(
    ("scope", "source", "state", "error"),
    [
        ("s", "gremlin", HALTED, "expected a trading-state source (kill, kill-file:<path>, "),
        ("s", KILL, HALTED, "expected scope '*' for kill source 'kill', was 's'"),
        ("s", OPERATOR, "active", "expected a held state reducing or halted, was 'active'"),
    ],
)
def test_hold_when_source_scope_or_state_is_wrong_is_refused_saying_what_was_expected(
    scope: str, source: str, state: str, error: str
) -> None:
    states, _, changes = _states()
    with pytest.raises(ValueError, match=re.escape(error)):
        states.hold(scope, source, state, "test", "x")
    assert (states.state(scope), changes) == ("active", [])


def test_restore_when_given_a_previous_runs_holds_puts_them_back_without_reporting() -> None:
    states, incidents, changes = _states()
    states.restore(
        [
            Hold(GLOBAL, KILL, HALTED, "admin:ada", "kill"),
            Hold("s", risk("daily_loss"), REDUCING, "risk", "loss today 0.91 beyond 0.1"),
        ]
    )
    assert (states.scope_state(GLOBAL), states.scope_state("s")) == ("halted", "reducing")
    assert states.admit(NO_INTENT) == "kill holds (admin:ada: kill)"
    assert (changes, incidents.open()) == ([], [])
    states.release(GLOBAL, KILL, "admin:ada", "resume")
    assert states.state("s") == "reducing"


def test_kill_switch_when_started_tripped_clears_at_once_if_the_file_is_gone(
    tmp_path: Path,
) -> None:
    events: list[str] = []
    switch = KillSwitch(tmp_path / "kill", events.append, events.append, tripped=True)
    assert not switch.check()
    assert events == [f"kill file {tmp_path / 'kill'} removed"]


def test_kill_switch_when_the_file_cannot_be_checked_counts_it_as_present(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 300)  # a name too long: stat() fails with ENAMETOOLONG
    events: list[str] = []
    switch = KillSwitch(path, events.append, events.append)
    assert switch.check()
    (event,) = events
    assert event.startswith(f"kill file {path} cannot be checked (")
    assert event.endswith("): counts as present")
