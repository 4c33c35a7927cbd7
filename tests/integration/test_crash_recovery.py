"""SIGKILL a runtime at each step of a cycle, restart it on the same journal, and check the
venue: nothing duplicated, nothing forgotten, every position hedged or reported.

The simulator runs in a process of its own (`arbiter sim --still --control`), so it outlives
the runtime it trades with; its market moves only when this test says so. The runtime runs in
a child (`tests/support/crash_driver.py`) that wraps one method for that run only and kills
itself when the cycle reaches the crash point. After the restart has reconciled and settled, the
journal is compared with the engines' own state, exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pytest

from arbiter.sim.catalog import REFERENCE_PRICES
from tests.support.journal_agreement import assert_journal_agrees, intents, journal_orders, net_base
from tests.support.journal_view import restart_view

WAIT_S = 60.0  # a cold interpreter on a busy machine; a bug fails the wait, never hangs it
SETTLE_S = 30.0
SYMBOLS = ("BTC/USDT",)
ROOT = Path(__file__).resolve().parents[2]


class Child:
    """A child process spoken to in JSON lines (stdin in, stdout out); stderr to a file."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path, handle: IO[bytes]) -> None:
        self.proc, self.log, self._handle = proc, log, handle

    @classmethod
    async def spawn(cls, args: list[str], log: Path, env: dict[str, str] | None = None) -> Child:
        handle = log.open("wb")
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=handle,
            cwd=ROOT,
            env=env,
        )
        return cls(proc, log, handle)

    async def line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        try:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), WAIT_S)
        except TimeoutError:
            raise AssertionError(f"no answer in {WAIT_S} s; log:\n{self.tail()}") from None
        assert raw, f"the process ended (code {await self.proc.wait()}); log:\n{self.tail()}"
        answer: dict[str, Any] = json.loads(raw)
        return answer

    async def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command).encode() + b"\n")
        await self.proc.stdin.drain()
        return await self.line()

    async def expect(self, event: str) -> dict[str, Any]:
        message = await self.line()
        assert message.get("event") == event, f"expected {event}, got {message}"
        return message

    async def exit_code(self) -> int:
        try:
            return await asyncio.wait_for(self.proc.wait(), WAIT_S)
        except TimeoutError:
            raise AssertionError(f"still running after {WAIT_S} s:\n{self.tail()}") from None

    def tail(self) -> str:
        self._handle.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])

    async def close(self) -> None:
        if self.proc.returncode is None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()  # the simulator's cue to stop
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._handle.close()


@dataclass
class Sim:
    child: Child
    endpoints: dict[str, dict[str, str]]

    async def ask(self, **command: Any) -> dict[str, Any]:
        answer = await self.child.ask(command)
        assert answer["ok"], answer
        return answer

    async def basis(self, bps: str) -> None:
        await self.ask(op="basis", venue="okx", base="BTC", bps=bps)
        await self.ask(op="step")

    async def state(self) -> dict[str, Any]:
        state: dict[str, Any] = (await self.ask(op="state"))["state"]
        return state


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Sim]:
    args = [sys.executable, "-m", "arbiter.cli", "sim", "--rate", "0", "--still", "--control"]
    child = await Child.spawn(
        [*args, "--seed", "5", "--symbols", ",".join(SYMBOLS)], tmp_path / "sim.log"
    )
    try:
        endpoints = {}
        for _ in range(2):
            info = await child.line()
            endpoints[info["venue"]] = info
        yield Sim(child, endpoints)
    finally:
        await child.close()


def manifest(endpoints: dict[str, dict[str, str]]) -> str:
    def venue(name: str) -> str:
        e = endpoints[name]
        creds = f"api_key_env: SIM_{name.upper()}_KEY, api_secret_env: SIM_{name.upper()}_SECRET"
        if name == "okx":
            creds += ", passphrase_env: SIM_OKX_PASSPHRASE"
        urls = f"rest: {e['rest']}, ws_public: {e['ws_public']}, ws_private: {e['ws_private']}"
        return (
            f"{{ plugin: {name}, endpoint: sim, urls: {{ {urls} }}, credentials: {{ {creds} }} }}"
        )

    return textwrap.dedent(
        f"""\
        strategy: {{ name: crash, version: 1 }}
        venues:
          bybit: {venue("bybit")}
          okx: {venue("okx")}
        pairs:
          - id: btc
            type: spot_perp
            asset: BTC
            spot: {{ venue: bybit, symbol: BTCUSDT }}
            perp: {{ venue: okx, symbol: BTC-USDT-SWAP }}
        thresholds: {{ entry_bps: 10, exit_bps: 2, min_profit_bps: 3, cooldown_s: 3600 }}
        sizing: {{ order_notional: 600, max_position_notional: 5000 }}
        hedge: {{ band_notional: 100, interval_s: 3600, max_order_notional: 2000 }}
        execution:
          max_slippage_bps: 20
          leg_timeout_ms: 3000
          repair: {{ policy: chase, max_chase_steps: 3, chase_step_bps: 5 }}
        risk: {{ max_net_delta_notional: 100000, daily_loss_limit: 100000 }}
        """
    )


def credentials(endpoints: dict[str, dict[str, str]]) -> dict[str, str]:
    """The runtime's environment: the simulator's keys under the names the manifest gives."""
    env = dict(os.environ)
    for name, e in endpoints.items():
        env[f"SIM_{name.upper()}_KEY"] = e["api_key"]
        env[f"SIM_{name.upper()}_SECRET"] = e["secret"]
    env["SIM_OKX_PASSPHRASE"] = endpoints["okx"]["passphrase"]
    return env


async def runtime(
    tmp_path: Path, sim: Sim, run: str, crash_at: str | None = None
) -> tuple[Child, dict[str, Any]]:
    folder = tmp_path / "strategies"
    if not folder.exists():
        folder.mkdir()
        (folder / "crash.yaml").write_text(manifest(sim.endpoints))
    args = [sys.executable, "-m", "tests.support.crash_driver", "--manifests", str(folder)]
    args += ["--journal", str(tmp_path / "journal.sqlite")]
    if crash_at is not None:
        args += ["--crash-at", crash_at]
    child = await Child.spawn(args, tmp_path / f"{run}.log", credentials(sim.endpoints))
    ready = await child.expect("ready")
    assert ready["engines_built"], child.tail()
    return child, ready


def journal(tmp_path: Path) -> sqlite3.Connection:
    """The journal as the restart reads it (rows a crash left in the outbox in their tables)."""
    return restart_view(tmp_path / "journal.sqlite")


async def settle(child: Child, *pair_states: str) -> dict[str, Any]:
    command: dict[str, Any] = {"op": "settle", "timeout": SETTLE_S}
    if pair_states:
        command["pair_states"] = pair_states
    answer = await child.ask(command)
    assert answer["ok"], f"runtime not at rest: {answer['status']}\n{child.tail()}"
    status: dict[str, Any] = answer["status"]
    return status


@pytest.mark.parametrize("point", ["intent", "first_send", "between_acks", "fill"])
async def test_crash_when_killed_mid_cycle_restart_agrees_with_venue_and_leaves_nothing_naked(
    point: str, sim: Sim, tmp_path: Path
) -> None:
    first, _ = await runtime(tmp_path, sim, "run1", crash_at=point)
    try:
        await sim.basis("80")  # perp 80 bps rich: the entry fires
        crash = await first.expect("crash")
        assert crash["point"] == point
        assert await first.exit_code() == -signal.SIGKILL
    finally:
        await first.close()
    with contextlib.closing(journal(tmp_path)) as conn:
        crashed = intents(conn)
        crashed_orders = journal_orders(conn)
    assert crashed, "the crashed run journaled nothing"
    assert {c for _, _, c, _, _ in crashed.values()} == {1}

    second, ready = await runtime(tmp_path, sim, "run2")
    try:
        status = await settle(second)
        pair = status["strategies"]["crash"]["pairs"]["btc"]
        if pair["state"] == "open":  # the restart holds a hedged position: it must exit it
            await sim.basis("-40")
            status = await settle(second, "cooling_down", "idle")
            pair = status["strategies"]["crash"]["pairs"]["btc"]
        stopped = await second.ask({"op": "stop"})
        assert stopped["event"] == "stopped"
        assert await second.exit_code() == 0
    finally:
        await second.close()

    venue = await sim.state()
    (tmp_path / "venue.json").write_text(json.dumps(venue, indent=1))  # for a failure's reader
    with contextlib.closing(journal(tmp_path)) as conn:
        # The journal and the venue agree on every order, fill, balance and position.
        assert_journal_agrees(conn, venue, SYMBOLS)
        after = intents(conn)
        after_orders = journal_orders(conn)
    # Nothing was sent twice: every venue order is one journaled intent, and a cycle the
    # restart enters is numbered past every cycle the crashed run journaled (the restored
    # cycle's own exit keeps its number, under its own legs).
    restarted = {cid: i for cid, i in after.items() if cid not in crashed}
    entries = [i for i in restarted.values() if i[1] == "btc" and i[3].startswith("entry")]
    assert all(cycle > 1 for _, _, cycle, _, _ in entries), restarted
    on_venue = {o["client_id"] for v in venue.values() for o in v["orders"]}
    assert on_venue <= set(after)
    # Every position is hedged, or the pair is halted with an incident that says why.
    held = net_base(venue, SYMBOLS, "BTC")
    incidents = [i for i in status["incidents"] if i["kind"] == "legging"]
    band = Decimal(status["strategies"]["crash"]["band_notional"])
    reported = pair["state"] == "halted" and bool(incidents)
    assert abs(held) * REFERENCE_PRICES["BTC"] <= band or reported, (held, status)
    legs = set(crashed)
    recovery = "\n".join(ready["status"]["recovery"])
    if point == "intent":
        # Both legs journaled as submitted (one commit) and neither sent: the restart asks the
        # venue for each, learns it never saw them, and the next entry is cycle 2.
        assert [state for _, state, _, _ in crashed_orders.values()] == ["submitted"] * 2
        assert all(f"order {cid}: rejected" in recovery for cid in legs), recovery
        assert not legs & on_venue
        assert (pair["cycle"], pair["cycles_completed"], incidents) == (2, 1, [])
    elif point == "first_send":
        # One leg on the venue, the other journaled as sent but never sent: one-legged, so
        # the pair is halted and reported, and the hedger has taken the residual back.
        assert len(legs & on_venue) == 1
        (lost,) = legs - on_venue
        assert after_orders[lost][1] == "rejected"
        assert pair["state"] == "halted", status
        assert incidents, status
        assert any(i[1] == "hedge" for i in after.values()), "no hedge order went out"
    else:
        # Both legs reached the venue: the restart finds them filled, holds the hedged
        # position and exits it in the same cycle; nothing to report.
        assert legs <= on_venue
        assert (pair["cycle"], pair["cycles_completed"], incidents) == (1, 1, [])
        assert not any(i[1] == "hedge" for i in after.values())
