"""Trading states, incidents and the kill switch."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.control.incidents import IncidentLog
from arbiter.fsm import IllegalTransition
from arbiter.risk.kill_switch import KillSwitch
from arbiter.risk.trading import GLOBAL, StateChange, TradingStates


def _states() -> tuple[TradingStates, IncidentLog, list[StateChange]]:
    changes: list[StateChange] = []
    incidents = IncidentLog(clock=lambda: 1000.0)
    return TradingStates(incidents, changes.append), incidents, changes


def test_active_when_any_order_is_allowed() -> None:
    states, _, _ = _states()
    assert states.allows("s", Decimal(0), Decimal(5))[0]


def test_reducing_when_order_shrinks_exposure_allows_it_and_refuses_growth_or_flip() -> None:
    states, _, _ = _states()
    states.set("s", "reduce", "risk:max_net_delta", "net delta 900 > 750")
    assert states.allows("s", Decimal(5), Decimal(2))[0]
    assert states.allows("s", Decimal(-5), Decimal(0))[0]
    allowed, why = states.allows("s", Decimal(5), Decimal(7))
    assert not allowed
    assert why == "s is reducing: order would move position 5 -> 7"
    assert not states.allows("s", Decimal(5), Decimal(-1))[0]  # through zero is a new exposure
    assert not states.allows("s", Decimal(0), Decimal(1))[0]


def test_halted_when_any_order_is_refused_even_reducing() -> None:
    states, _, _ = _states()
    states.set("s", "halt", "operator:alice", "manual stop")
    assert states.allows("s", Decimal(5), Decimal(0)) == (False, "s is halted: no new orders")


def test_global_halt_when_strategy_active_wins_as_stricter() -> None:
    states, _, _ = _states()
    states.set(GLOBAL, "halt", "kill_switch", "kill file present")
    assert states.state("s") == "halted"
    states.set(GLOBAL, "resume", "operator:alice", "cleared")
    assert states.state("s") == "active"


def test_state_change_when_tightened_raises_incident_with_who_and_why() -> None:
    states, incidents, changes = _states()
    states.set("s", "reduce", "risk:daily_loss", "loss 160 > 150")
    states.set("s", "halt", "risk:daily_loss", "loss 210 > 150")
    assert [(c.source, c.dest, c.by) for c in changes] == [
        ("active", "reducing", "risk:daily_loss"),
        ("reducing", "halted", "risk:daily_loss"),
    ]
    (incident,) = incidents.open()
    assert incident.key == "trading:s"
    assert incident.count == 2
    assert incident.reason == "halted: loss 210 > 150"


def test_state_change_when_repeated_is_idempotent_and_not_reported() -> None:
    states, _, changes = _states()
    states.set("s", "halt", "a", "x")
    states.set("s", "halt", "a", "x")
    states.set("s", "reduce", "a", "x")  # halted is already stricter
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
