"""`arbiter sim` as a user runs it: a separate process whose printed endpoints ccxt trades on."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt
import ccxt.pro as ccxtpro
import pytest
from typer.testing import CliRunner

from arbiter.cli import app
from arbiter.sim import VenueEndpoints
from arbiter.sim.clients import point_at_simulator

WAIT_S = 60.0  # a cold interpreter on a busy machine; the benchmark measures the real figure
PERP = "BTC/USDT:USDT"
AMOUNT = {"bybit": 0.01, "okx": 1.0}  # 0.01 BTC: coins on Bybit, contracts on OKX


def _command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("arbiter")
    if script.exists():
        return [str(script), "sim", *args]
    return [sys.executable, "-c", "from arbiter.cli import main; main()", "sim", *args]


async def _spawn(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, dict[str, str]]]:
    proc = await asyncio.create_subprocess_exec(
        *_command(*args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    printed: dict[str, dict[str, str]] = {}
    try:
        while len(printed) < 2:
            line = await asyncio.wait_for(proc.stdout.readline(), WAIT_S)
            assert line, f"arbiter sim ended early: {await _stderr(proc)}"
            info = json.loads(line)
            printed[info["venue"]] = info
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    return proc, printed


async def _stderr(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    return (await proc.stderr.read()).decode()


@pytest.fixture
async def running() -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, Any]]]:
    proc, printed = await _spawn("--rate", "20", "--seed", "3")
    yield proc, printed
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


def _client(module: Any, info: dict[str, str]) -> Any:
    exchange = getattr(module, info["venue"])({"enableRateLimit": False, "timeout": 30_000})
    return point_at_simulator(exchange, VenueEndpoints(**info))


async def test_sim_command_when_started_prints_endpoints_that_ccxt_trades_on(
    running: tuple[asyncio.subprocess.Process, dict[str, dict[str, str]]],
) -> None:
    proc, printed = running

    assert set(printed) == {"bybit", "okx"}
    for venue, info in printed.items():
        keys = {"venue", "rest", "ws_public", "ws_private", "api_key", "secret"}
        assert set(info) == (keys | {"passphrase"} if venue == "okx" else keys)
        assert info["rest"].startswith("http://127.0.0.1:")
        assert info["ws_public"].startswith("ws://127.0.0.1:")
        exchange = _client(ccxt, info)
        try:
            await exchange.load_markets()
            book = await exchange.fetch_order_book(PERP, 5)
            assert book["bids"][0][0] < book["asks"][0][0]
            await exchange.create_order(
                PERP, "market", "buy", AMOUNT[venue], None, {"clientOrderId": f"cli{venue}1"}
            )
            order_id, params = (
                ("", {"orderLinkId": f"cli{venue}1", "acknowledged": True})
                if venue == "bybit"
                else (None, {"clOrdId": f"cli{venue}1"})
            )
            order = await exchange.fetch_order(order_id, PERP, params)
            assert order["status"] == "closed"
            assert order["filled"] == AMOUNT[venue]
            positions = await exchange.fetch_positions([PERP])
            assert [p["contracts"] for p in positions] == [AMOUNT[venue]]
        finally:
            await exchange.close()
        streamer = _client(ccxtpro, info)
        try:
            book = await asyncio.wait_for(streamer.watch_order_book(PERP), WAIT_S)
            assert book["bids"][0][0] < book["asks"][0][0]
        finally:
            await streamer.close()

    proc.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(proc.wait(), WAIT_S) == 0


async def test_sim_command_when_fault_file_given_serves_its_faults(tmp_path: Path) -> None:
    plan = tmp_path / "faults.yaml"
    plan.write_text(
        "rules:\n"
        '  - {kind: rate_limit, target: "bybit POST /v5/order/create"}\n'
        '  - {kind: rate_limit, target: "okx POST /api/v5/trade/batch"}\n'
    )
    proc, printed = await _spawn("--rate", "0", "--faults", str(plan))
    try:
        for venue, info in printed.items():
            exchange = _client(ccxt, info)
            try:
                await exchange.load_markets()
                with pytest.raises(ccxt.RateLimitExceeded):
                    await exchange.create_order(PERP, "market", "buy", AMOUNT[venue])
                # The rule fired once; the same order now goes through.
                order = await exchange.create_order(PERP, "market", "buy", AMOUNT[venue])
                assert order["id"]
            finally:
                await exchange.close()
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), WAIT_S)


def test_sim_command_when_fault_file_bad_exits_naming_file_and_field(tmp_path: Path) -> None:
    plan = tmp_path / "faults.yaml"
    plan.write_text("rules:\n  - {kind: ws_delay, delay_ms: soon}\n")

    result = CliRunner().invoke(app, ["sim", "--faults", str(plan)])

    assert result.exit_code == 1
    assert f"{plan}:2:32: rules[0].delay_ms: Input should be a valid integer" in result.output


def test_sim_command_when_venue_unknown_exits_naming_it() -> None:
    result = CliRunner().invoke(app, ["sim", "--venues", "bybit,kraken"])

    assert result.exit_code == 1
    assert "expected venues among ('bybit', 'okx'), was ['kraken']" in result.output


async def test_sim_command_when_controlled_on_stdin_answers_and_stops_when_stdin_closes() -> None:
    args = _command("--rate", "0", "--still", "--control", "--symbols", "BTC/USDT")
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        venues = [json.loads(await asyncio.wait_for(proc.stdout.readline(), WAIT_S)) for _ in "ab"]
        assert [v["venue"] for v in venues] == ["bybit", "okx"]
        answers = []
        for command in (
            {"op": "basis", "venue": "okx", "base": "BTC", "bps": "80"},
            {"op": "step"},
            {"op": "state"},
            {"op": "jump"},
        ):
            proc.stdin.write(json.dumps(command).encode() + b"\n")
            await proc.stdin.drain()
            answers.append(json.loads(await asyncio.wait_for(proc.stdout.readline(), WAIT_S)))
        assert [a["ok"] for a in answers] == [True, True, True, False]
        assert set(answers[2]["state"]) == {"bybit", "okx"}
        proc.stdin.close()
        assert await asyncio.wait_for(proc.wait(), WAIT_S) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
