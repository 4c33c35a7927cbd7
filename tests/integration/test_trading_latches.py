"""Halts that latch, kills that hold every order path, halts a restart keeps, safety loops that
fail closed: a real runtime on the simulator with the real plugins, commands through the real
control API over loopback.

The market only moves when a test steps it. Whether an order reached a venue is read from the
simulator itself: the order requests its REST endpoint received and the orders its engine holds.
Waits are on conditions, never on a fixed sleep.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from typer.testing import CliRunner

from arbiter.cli import app
from arbiter.commands.run import control_commands
from arbiter.control.api import (
    ControlServer,
    Principal,
    Role,
    new_token_file,
    write_control_file,
)
from arbiter.execution.order_tracker import Applied
from arbiter.runtime.pair_runner import PairRunner
from arbiter.runtime.runtime import Runtime
from arbiter.sim import FaultKind, Simulation, start
from arbiter.sim.control import state
from arbiter.sim.generator import STILL_MARKET
from tests.support.sim_runtime import manifest, started
from tests.support.trading_harness import PLACE, records

D = Decimal
WAIT_S = 30.0
OKX_ORDER = "okx POST /api/v5/trade/order"
ENTRY = "buy_spot_short_perp"
TOKENS = {"to": Principal("otto", Role.OPERATOR), "ta": Principal("ada", Role.ADMIN)}


@dataclass
class Desk:
    """A runtime trading "alpha" (one BTC pair) on the simulator, and its control API."""

    sim: Simulation
    runtime: Runtime
    control: ControlServer

    @property
    def host(self) -> Any:
        return self.runtime.strategies["alpha"]

    @property
    def pair(self) -> PairRunner:
        pair: PairRunner = self.host.runner.pairs["btc"]
        return pair

    async def until(self, check: Callable[[], bool], what: str) -> None:
        assert await self.runtime.wait_for(check, WAIT_S), f"timed out waiting: {what}"

    def basis(self, bps: str) -> None:
        self.sim.generator.set_basis("okx", "BTC", float(D(bps) / 10_000))
        self.sim.step()

    async def command(self, token: str, name: str, **args: str) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.control.url}/commands/{name}",
                json=args,
                headers={"Authorization": f"Bearer {token}"},
            ) as resp,
        ):
            assert resp.status == 200, await resp.text()
            body: dict[str, Any] = await resp.json()
            return body

    def order_requests(self) -> dict[str, int]:
        """Order placements each venue's REST endpoint has received."""
        return {v: records(self.sim, v).requests.seen[PLACE[v]] for v in ("bybit", "okx")}

    def venue_orders(self, venue: str) -> list[str]:
        return [o["client_id"] for o in state(self.sim)[venue]["orders"]]

    def sources(self, scope: str) -> list[str]:
        return sorted(self.runtime.states.holds(scope))

    async def sees_entry_crossing(self) -> None:
        """Open the basis and wait until the pair's spread engine has computed it past the
        entry threshold: the crossing has then reached the pair (the engine hands it over in
        the same call), so a pair free to enter would have left `idle` already."""
        threshold = self.pair.pair.thresholds.entry_bps
        self.basis("80")

        def crossed() -> bool:
            entry = self.host.runner.spreads("btc")[ENTRY][0]
            return entry is not None and entry >= threshold

        await self.until(crossed, "the opened basis reached the spread engine")


async def open_desk(
    tmp_path: Path, text: str, sim: Simulation | None = None, **options: Any
) -> Desk:
    folder = tmp_path / "strategies"
    folder.mkdir(exist_ok=True)
    (folder / "alpha.yaml").write_text(text)
    sim = sim or await start(symbols=["BTC/USDT"], seed=3, market=STILL_MARKET)
    runtime = await started(folder, tmp_path, sim, **options)
    control = ControlServer(runtime.status, control_commands(runtime, asyncio.Event()), TOKENS)
    await control.start()
    desk = Desk(sim, runtime, control)
    await desk.until(lambda: desk.host.runner.engine is not None, "spread engine built")
    return desk


async def close_desk(desk: Desk) -> None:
    await desk.control.stop()
    await desk.runtime.stop()


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    simulation = await start(symbols=["BTC/USDT"], seed=3, market=STILL_MARKET)
    yield simulation
    await simulation.stop()


def kill_when_rejected(desk: Desk, kill: Path) -> None:
    """Touch the kill file the moment a venue rejects an order, and let its watcher see it
    at once: the kill then holds between a one-legged entry and its repair."""

    def on_applied(applied: Applied) -> None:
        if applied.state == "rejected" and not kill.exists():
            kill.touch()
            desk.runtime.kill_switches[kill].check()

    desk.runtime.gateway.on_applied.append(on_applied)


# -- kill files and the admin's kill --------------------------------------------------------


async def test_kill_files_when_one_of_two_is_removed_stay_halted_and_send_nothing(
    sim: Simulation, tmp_path: Path
) -> None:
    option, gate = tmp_path / "kill", tmp_path / "gate.kill"
    text = manifest(
        "alpha", gates=f"  - {{ name: k, type: kill_switch, when: always, file: '{gate}' }}\n"
    )
    option.touch()
    gate.touch()
    desk = await open_desk(tmp_path, text, sim, kill_file=option)
    try:
        runtime = desk.runtime
        assert desk.sources("*") == [f"kill-file:{gate}", f"kill-file:{option}"]
        gate.unlink()
        await desk.until(lambda: not runtime.kill_switches[gate].tripped, "gate file seen gone")
        assert desk.sources("*") == [f"kill-file:{option}"]
        assert runtime.states.state("alpha") == "halted"
        before = desk.order_requests()
        await desk.sees_entry_crossing()
        assert (desk.pair.machine.state, desk.pair.busy, desk.pair.stats.entries) == (
            "idle",
            None,
            0,
        )
        assert desk.order_requests() == before
        assert desk.venue_orders("bybit") == desk.venue_orders("okx") == []

        option.unlink()  # the last kill source: the next crossing enters
        await desk.until(lambda: runtime.states.state("alpha") == "active", "both files gone")
        desk.basis("0")
        desk.basis("80")
        await desk.until(lambda: desk.pair.machine.state == "open", "entered once both gone")
        assert desk.venue_orders("bybit") != []
    finally:
        await close_desk(desk)


async def test_admin_kill_when_a_kill_file_comes_and_goes_holds_until_an_admin_resumes(
    sim: Simulation, tmp_path: Path
) -> None:
    kill = tmp_path / "kill"
    desk = await open_desk(tmp_path, manifest("alpha"), sim, kill_file=kill)
    try:
        runtime, switch = desk.runtime, desk.runtime.kill_switches[kill]
        answer = await desk.command("ta", "kill")
        assert (answer["state"], [h["source"] for h in answer["holding"]]) == ("halted", ["kill"])
        kill.touch()
        await desk.until(lambda: switch.tripped, "kill file seen")
        kill.unlink()
        await desk.until(lambda: not switch.tripped, "kill file seen gone")
        assert desk.sources("*") == ["kill"]
        assert runtime.states.state("alpha") == "halted"

        answer = await desk.command("to", "resume", strategy="*")
        assert answer["state"] == "halted"
        assert answer["released"] == []
        (held,) = answer["holding"]
        assert (held["source"], held["by"], held["clears"], held["still"]) == (
            "kill",
            "admin:ada",
            "an admin's resume",
            "needs an admin's resume",
        )
        assert runtime.states.state("alpha") == "halted"

        answer = await desk.command("ta", "resume", strategy="*")
        assert (answer["state"], answer["released"], answer["holding"]) == (
            "active",
            ["kill"],
            [],
        )
        events = runtime.journal.connection.execute(
            "SELECT source, event, changed_by FROM trading_hold_events ORDER BY id"
        ).fetchall()
        assert events == [
            ("kill", "hold", "admin:ada"),
            (f"kill-file:{kill}", "hold", "kill-switch"),
            (f"kill-file:{kill}", "release", "kill-switch"),
            ("kill", "release", "admin:ada"),
        ]
    finally:
        await close_desk(desk)


async def test_operator_resume_when_a_kill_file_exists_stays_halted_and_says_why(
    sim: Simulation, tmp_path: Path
) -> None:
    kill = tmp_path / "kill"
    kill.touch()
    desk = await open_desk(tmp_path, manifest("alpha"), sim, kill_file=kill)
    try:
        await desk.command("to", "halt", strategy="*")
        assert desk.sources("*") == [f"kill-file:{kill}", "operator"]

        answer = await desk.command("to", "resume", strategy="*")
        assert (answer["state"], answer["released"]) == ("halted", ["operator"])
        (held,) = answer["holding"]
        assert held == {
            "scope": "*",
            "source": f"kill-file:{kill}",
            "state": "halted",
            "by": "kill-switch",
            "reason": f"kill file {kill} present",
            "clears": f"removing the file {kill}",
            "still": f"no resume clears it: it clears by removing the file {kill}",
        }
        status = desk.runtime.status()
        assert (status["global_state"], status["strategies"][0]["state"]) == ("halted", "halted")
        assert [h["source"] for h in status["strategies"][0]["holds"]] == [f"kill-file:{kill}"]
        before = desk.order_requests()
        await desk.sees_entry_crossing()
        assert (desk.pair.machine.state, desk.pair.stats.entries) == ("idle", 0)
        assert desk.order_requests() == before
    finally:
        await close_desk(desk)


# -- every order path: repairs and hedges ----------------------------------------------------


async def test_chase_repair_when_a_kill_file_trips_mid_cycle_is_refused_before_the_venue(
    tmp_path: Path,
) -> None:
    kill = tmp_path / "kill"
    desk = await open_desk(
        tmp_path, manifest("alpha", repair="chase", cooldown_s="3600"), kill_file=kill
    )
    try:
        kill_when_rejected(desk, kill)
        desk.sim.faults.add(FaultKind.REJECT, OKX_ORDER)  # the perp leg: the spot leg fills
        desk.basis("80")
        await desk.until(
            lambda: (
                bool(desk.pair.stats.repairs)
                and desk.pair.busy is not None
                and desk.pair.busy.done()
            ),
            "the repair is over",
        )
        assert desk.pair.machine.state == "halted"
        assert desk.pair.stats.repairs == {"refused": 1}
        assert desk.runtime.gateway.stats.refused == 1
        # The okx endpoint saw the one entry leg it rejected, and nothing after it.
        assert desk.order_requests() == {"bybit": 1, "okx": 1}
        assert desk.venue_orders("okx") == []
        legs = desk.runtime.journal.connection.execute("SELECT leg FROM intents").fetchall()
        assert sorted(leg for (leg,) in legs) == ["entry.perp", "entry.spot"]  # no chase
        assert desk.sources("alpha") == ["legging:btc"]
        assert desk.sources("*") == [f"kill-file:{kill}"]
        incidents = {i.key: i.reason for i in desk.runtime.incidents.open()}
        assert "refused: kill-file:" in incidents["legging:alpha/btc"]
    finally:
        await close_desk(desk)
        await desk.sim.stop()


async def test_hedge_when_an_admin_kill_outlasts_a_kill_file_sends_nothing(
    tmp_path: Path,
) -> None:
    kill = tmp_path / "kill"
    desk = await open_desk(
        tmp_path, manifest("alpha", repair="hedge", cooldown_s="3600"), kill_file=kill
    )
    try:
        kill_when_rejected(desk, kill)
        desk.sim.faults.add(FaultKind.REJECT, OKX_ORDER)
        desk.basis("80")
        await desk.until(lambda: desk.pair.stats.repairs == {"handed_to_hedger": 1}, "handed over")
        hedger = desk.host.hedger
        assert hedger is not None
        await desk.command("ta", "kill")
        kill.unlink()
        switch = desk.runtime.kill_switches[kill]
        await desk.until(lambda: not switch.tripped, "kill file seen gone")
        assert desk.sources("*") == ["kill"]
        residual = desk.host.runner.inventory.delta("BTC").base
        assert residual > 0  # the spot leg bought, the perp leg never sold: unhedged

        await hedger.on_residual()  # what the desk does with a residual: now, while killed

        assert desk.order_requests() == {"bybit": 1, "okx": 1}  # the entry's two legs only
        assert desk.venue_orders("okx") == []
        assert desk.host.runner.inventory.delta("BTC").base == residual
    finally:
        await close_desk(desk)
        await desk.sim.stop()


# -- a restart keeps every halt ---------------------------------------------------------------


async def test_restart_when_operator_halt_admin_kill_and_daily_loss_hold_restores_each(
    sim: Simulation, tmp_path: Path
) -> None:
    losing = manifest("alpha").replace("daily_loss_limit: 100000", "daily_loss_limit: 0.1")
    desk = await open_desk(tmp_path, losing, sim)
    try:
        desk.basis("80")  # an entry pays ~0.9 USDT of fees: a realized loss beyond 0.1
        await desk.until(lambda: "risk:daily_loss" in desk.sources("alpha"), "loss limit hit")
        answer = await desk.command("to", "resume", strategy="alpha")
        assert answer["released"] == []
        (held,) = answer["holding"]
        assert held["source"] == "risk:daily_loss"
        assert held["still"].startswith("loss today ")
        assert held["still"].endswith(" beyond 0.1")
        await desk.command("to", "halt", strategy="alpha")
        await desk.command("ta", "kill")
    finally:
        await close_desk(desk)

    desk = await open_desk(tmp_path, losing, sim)
    try:
        runtime = desk.runtime
        assert desk.sources("alpha") == ["operator", "risk:daily_loss"]
        assert desk.sources("*") == ["kill"]
        assert runtime.states.state("alpha") == "halted"
        assert runtime.states.admit(None) == "kill holds (admin:ada: kill)"  # type: ignore[arg-type]
        assert {i.key for i in runtime.incidents.open()} >= {"trading:alpha", "trading:*"}
        await runtime.tick()  # the risk monitor never clears a daily-loss halt by itself
        assert desk.sources("alpha") == ["operator", "risk:daily_loss"]

        # Raising the limit (journaled with its diff) makes the loss acceptable; the halt still
        # waits for an operator.
        (tmp_path / "strategies" / "alpha.yaml").write_text(manifest("alpha"))
        await desk.until(
            lambda: desk.host.loaded.manifest.risk.daily_loss_limit == 100000, "limit raised"
        )
        await runtime.tick()
        assert desk.sources("alpha") == ["operator", "risk:daily_loss"]

        answer = await desk.command("to", "resume", strategy="alpha")
        assert answer["state"] == "halted"
        assert sorted(answer["released"]) == ["operator", "risk:daily_loss"]
        assert [h["source"] for h in answer["holding"]] == ["kill"]
        answer = await desk.command("ta", "resume", strategy="*")
        assert (answer["state"], answer["released"]) == ("active", ["kill"])
        assert runtime.states.state("alpha") == "active"
    finally:
        await close_desk(desk)


async def test_restart_when_a_kill_file_was_removed_while_down_clears_its_halt(
    sim: Simulation, tmp_path: Path
) -> None:
    kill = tmp_path / "kill"
    kill.touch()
    desk = await open_desk(tmp_path, manifest("alpha"), sim, kill_file=kill)
    await close_desk(desk)
    kill.unlink()

    desk = await open_desk(tmp_path, manifest("alpha"), sim)  # no --kill-file this time
    try:
        assert desk.sources("*") == []
        assert desk.runtime.states.state("alpha") == "active"
        last = desk.runtime.journal.connection.execute(
            "SELECT source, event, changed_by, reason FROM trading_hold_events "
            "WHERE source LIKE 'kill-file:%' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        assert last == (f"kill-file:{kill}", "release", "kill-switch", f"kill file {kill} removed")
    finally:
        await close_desk(desk)


# -- the risk monitor clears its own halts, no one else's ----------------------------------------


async def test_risk_monitor_when_a_venue_comes_back_clears_only_its_own_halt(
    sim: Simulation, tmp_path: Path
) -> None:
    desk = await open_desk(tmp_path, manifest("alpha"), sim)
    try:
        runtime, host = desk.runtime, desk.host
        down_long_enough = runtime.options.venue_grace_s + 1
        # No await between these steps: the running tick cannot interleave its own checks.
        runtime.risk.unhealthy_since["okx"] = 0.0
        runtime.risk.check(host, now=down_long_enough)
        assert desk.sources("alpha") == ["risk:venue:okx"]
        runtime.halts.halt("alpha", "operator:otto")  # the strategy was halted already
        del runtime.risk.unhealthy_since["okx"]  # the venue is live again
        runtime.risk.check(host, now=down_long_enough)
        assert desk.sources("alpha") == ["operator"]
        assert runtime.states.state("alpha") == "halted"
    finally:
        await close_desk(desk)


# -- safety loops fail closed -----------------------------------------------------------------


async def test_tick_loop_when_it_keeps_failing_stops_entries_until_resumed_once_it_runs(
    sim: Simulation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = await open_desk(tmp_path, manifest("alpha"), sim, restart_backoff_s=0.001)
    try:
        runtime = desk.runtime

        def broken(now: float) -> None:
            raise RuntimeError("venue health check broke")

        monkeypatch.setattr(runtime.risk, "observe_venues", broken)
        await desk.until(lambda: runtime.supervisor.tasks["tick"].gave_up, "supervisor gave up")
        assert desk.sources("*") == ["supervisor:tick"]
        assert runtime.states.state("alpha") == "reducing"
        incidents = {i.key: i.reason for i in runtime.incidents.open()}
        assert incidents["task:tick"] == "tick: RuntimeError: venue health check broke"

        desk.basis("80")
        await desk.until(
            lambda: desk.pair.last_refusal == "strategy is reducing: no new entries",
            "the pair saw the crossing and refused to enter",
        )
        assert (desk.pair.machine.state, desk.pair.stats.entries) == ("armed", 0)
        assert desk.order_requests() == {"bybit": 0, "okx": 0}

        answer = await desk.command("to", "resume", strategy="*")
        assert (answer["state"], answer["released"]) == ("reducing", [])
        (held,) = answer["holding"]
        assert held["still"] == "tick still fails: RuntimeError: venue health check broke"

        monkeypatch.undo()  # the cause is fixed: a resume runs one tick, then the loop again
        answer = await desk.command("to", "resume", strategy="*")
        assert (answer["state"], answer["released"]) == ("active", ["supervisor:tick"])
        assert not runtime.supervisor.tasks["tick"].gave_up
        await desk.until(lambda: desk.pair.machine.state == "open", "entered once resumed")
    finally:
        await close_desk(desk)


async def test_kill_file_watcher_when_it_dies_counts_the_file_as_present_until_resumed(
    sim: Simulation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kill = tmp_path / "kill"
    desk = await open_desk(
        tmp_path, manifest("alpha"), sim, kill_file=kill, restart_backoff_s=0.001
    )
    try:
        runtime, switch = desk.runtime, desk.runtime.kill_switches[kill]
        task = f"kill-switch:{kill}"

        def blind() -> bool:
            raise RuntimeError("watcher broke")

        monkeypatch.setattr(switch, "check", blind)
        await desk.until(lambda: runtime.supervisor.tasks[task].gave_up, "supervisor gave up")
        assert desk.sources("*") == [f"kill-file:{kill}", f"supervisor:{task}"]
        assert runtime.states.admit(None).startswith(  # type: ignore[arg-type]
            f"kill-file:{kill} holds (supervisor: its watcher is dead, so the file counts as "
        )
        before = desk.order_requests()
        await desk.sees_entry_crossing()
        assert (desk.pair.machine.state, desk.order_requests()) == ("idle", before)

        monkeypatch.undo()
        answer = await desk.command("to", "resume", strategy="*")
        assert (answer["state"], answer["released"]) == ("active", [f"supervisor:{task}"])
        assert desk.sources("*") == []  # the live watcher saw no file, and cleared its source
        assert not runtime.supervisor.tasks[task].gave_up
    finally:
        await close_desk(desk)


async def test_cli_resume_when_a_kill_file_holds_prints_what_still_holds_and_status_shows_it(
    sim: Simulation, tmp_path: Path
) -> None:
    kill = tmp_path / "kill"
    kill.touch()
    desk = await open_desk(tmp_path, manifest("alpha"), sim, kill_file=kill)
    control = tmp_path / "control.json"
    new_token_file(tmp_path / "tokens.json", {"ta": TOKENS["ta"]})
    write_control_file(control, desk.control.url, tmp_path / "tokens.json")
    runner = CliRunner()
    try:
        resumed = await asyncio.to_thread(
            runner.invoke, app, ["resume", "*", "--control", str(control)]
        )
        status = await asyncio.to_thread(runner.invoke, app, ["status", "--control", str(control)])
    finally:
        await close_desk(desk)
    assert resumed.exit_code == 0, resumed.output
    answer = json.loads(resumed.output)
    assert (answer["state"], answer["released"]) == ("halted", [])
    assert [(h["source"], h["clears"]) for h in answer["holding"]] == [
        (f"kill-file:{kill}", f"removing the file {kill}")
    ]
    assert status.exit_code == 0, status.output
    assert status.output.splitlines()[:3] == [
        "* (every strategy)  state=halted",
        f"  held by kill-file:{kill} (halted, kill-switch: kill file {kill} present); "
        f"clears by removing the file {kill}",
        f"alpha  state=halted  manifest={desk.host.loaded.sha256[:12]}",
    ]
