"""Every order of a cycle has its own attempt number, so its own client id, across exits that
trade nothing, partial exits, repairs and restarts; a pair that broke an invariant waits for an
operator, visibly, and the operator's reset and resume are journaled.

A runtime trades one Bybit-spot / OKX-perp pair on the simulator with the real plugins; the
venues' own records decide (`tests.support.journal_agreement`), and no client id may ever reach a venue twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from arbiter.commands.run import control_commands
from arbiter.control.api import ControlServer, Principal, Role
from arbiter.execution.dual_leg import LegOrder
from arbiter.sim import FaultKind
from arbiter.sim.generator import STILL_MARKET
from tests.support.dual_leg_desk import OKX_ORDER, Desk, open_desk

D = Decimal
BYBIT_ORDER = "bybit POST /v5/order/create"


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    opened = await open_desk(tmp_path, "chase", STILL_MARKET)
    try:
        yield opened
    finally:
        await opened.runtime.stop()
        await opened.sim.stop()


def attempts(desk: Desk, cycle: int = 1) -> dict[str, list[tuple[int, str]]]:
    """leg -> [(attempt, state)] of every order of the cycle, from the journal."""
    rows = desk.runtime.journal.connection.execute(
        "SELECT i.leg, i.attempt, o.state FROM intents i JOIN orders o USING (client_id) "
        "WHERE i.pair = 'btc' AND i.cycle = ? ORDER BY i.attempt",
        (cycle,),
    ).fetchall()
    out: dict[str, list[tuple[int, str]]] = {}
    for leg, attempt, state in rows:
        out.setdefault(leg, []).append((attempt, state))
    return out


async def test_exit_when_the_first_traded_nothing_the_next_takes_new_client_ids(
    desk: Desk,
) -> None:
    runtime = desk.runtime
    await desk.basis("80")
    await desk.cycle_settles("open")
    held = desk.pair.open_base
    desk.sim.faults.add(FaultKind.REJECT, BYBIT_ORDER)  # both exit legs refused, once
    desk.sim.faults.add(FaultKind.REJECT, OKX_ORDER)

    await desk.basis("-40")
    await desk.cycle_settles("cooling_down")

    legs = attempts(desk)
    assert legs["exit.spot"] == [(1, "rejected"), (2, "filled")]
    assert legs["exit.perp"] == [(1, "rejected"), (2, "filled")]
    assert desk.pair.stats.exits_failed == 1
    assert desk.pair.stats.cycles_completed == 1
    # The refused exit left the pair open, hedged, with an incident the next exit resolved.
    rows = runtime.journal.connection.execute(
        "SELECT source, dest FROM cycle_transitions WHERE pair = 'btc' AND trigger = 'exit_failed'"
    ).fetchall()
    assert rows == [("exiting", "open")]
    incident = runtime.incidents.get("exit:alpha/btc")
    assert incident is not None
    assert incident.state == "resolved"
    assert held > 0
    desk.agrees()
    desk.hedged()
    desk.no_client_id_twice()


async def test_exit_when_restarted_between_attempts_never_reuses_an_attempt(
    desk: Desk, tmp_path: Path
) -> None:
    await desk.basis("80")
    await desk.cycle_settles("open")
    refusals = [
        desk.sim.faults.add(FaultKind.REJECT, target, probability=1.0)
        for target in (BYBIT_ORDER, OKX_ORDER)
    ]
    await desk.basis("-40")
    await desk.until(lambda: desk.pair.stats.exits_failed >= 1, "an exit traded nothing")
    await desk.basis("80")  # the exit window closes: nothing more is tried
    await desk.cycle_settles("open")

    await desk.restart(tmp_path)
    tried = max(a for leg in ("exit.spot", "exit.perp") for a, _ in attempts(desk)[leg])
    assert desk.pair.machine.state == "open"
    assert desk.pair.attempt == tried  # the journal's last, not 0
    for rule in refusals:
        desk.sim.faults.rules.remove(rule)
    await desk.basis("-40")
    await desk.cycle_settles("cooling_down")

    legs = attempts(desk)
    assert legs["exit.spot"][-1] == (tried + 1, "filled")
    assert legs["exit.perp"][-1] == (tried + 1, "filled")
    assert all(state == "rejected" for _, state in legs["exit.spot"][:-1])
    desk.agrees()
    desk.no_client_id_twice()


async def _post(url: str, token: str, command: str, body: dict[str, str]) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/commands/{command}", headers=headers, json=body) as resp,
    ):
        return resp.status, await resp.json()


async def test_pair_in_error_waits_for_an_operator_across_a_restart_then_trades_again(
    desk: Desk, tmp_path: Path
) -> None:
    def broken(pair: Any, legs: list[LegOrder], held: Decimal) -> str:
        raise RuntimeError("a bug in the pre-trade checks")

    checks = desk.pair.services.checks
    checks.check = broken  # type: ignore[method-assign]
    await desk.basis("80")
    await desk.until(lambda: desk.pair.machine.state == "error", "the pair broke")
    del checks.check  # the class's own again
    incident = desk.runtime.incidents.get("error:alpha/btc")
    assert incident is not None
    assert incident.state == "open"

    # A restart does not clear it: the pair still waits, visibly.
    await desk.restart(tmp_path)
    assert desk.pair.machine.state == "error"
    (row,) = desk.runtime.status()["strategies"][0]["pairs"]
    assert (row["state"], row["needs_operator"]) == ("error", True)
    desk.sim.step()
    assert desk.pair.stats.entries == 0

    tokens: Mapping[str, Principal] = {
        "viewer": Principal("vera", Role.VIEWER),
        "operator": Principal("otto", Role.OPERATOR),
    }
    import asyncio

    server = ControlServer(
        desk.runtime.status, control_commands(desk.runtime, asyncio.Event()), tokens
    )
    await server.start()
    try:
        body = {"strategy": "alpha", "pair": "btc"}
        assert (await _post(server.url, "viewer", "pair_reset", body))[0] == 403
        assert await _post(server.url, "operator", "pair_resume", body) == (
            400,
            {"error": "alpha/btc: resume moves a halted pair; it is error"},
        )
        assert await _post(server.url, "operator", "pair_reset", body) == (
            200,
            {"state": "halted"},
        )
        assert await _post(server.url, "operator", "pair_resume", body) == (
            200,
            {"state": "idle"},  # nothing was ever sent: flat
        )
    finally:
        await server.stop()
    desk.sim.step()
    await desk.cycle_settles("open")  # it trades again
    events = desk.runtime.journal.connection.execute(
        "SELECT event, source FROM incident_events WHERE incident_key = 'pair:alpha/btc' "
        "ORDER BY id"
    ).fetchall()
    assert events == [("reset", "operator:otto"), ("resume", "operator:otto")]
    assert desk.runtime.incidents.get("error:alpha/btc").state == "resolved"  # type: ignore[union-attr]
    desk.agrees()
