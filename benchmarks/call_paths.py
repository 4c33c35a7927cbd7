"""Which files and functions an event crosses on its way through the runtime, counted.

A runtime trades one Bybit-spot / OKX-perp pair on the simulator (loopback sockets, the real
plugins); the basis opens once, so one entry goes out and fills. A profile hook records every
call into the project's own code (framework/ and plugins/; the simulator's excluded), and three
paths are cut out of the record:

  book delta  one public book frame, from the moment the venue reader resumes with it to the
              pair runner's `on_signal` (the cycle machine's hand-off)
  order out   from `on_signal` to the second leg's request bytes written (`OrderWire._write`)
  fill back   one private frame carrying a fill, from the reader resuming with it to the fill
              booked in the strategy's ledger (`Ledger.on_fill`)

A path is what runs in between, in one synchronous run of the event loop (a run starts where a
project frame is resumed by the loop). Prints each path's distinct files with the functions
called in each, and the counts. Not asserted anywhere; the figures go to benchmarks/README.md.

  .venv/bin/python benchmarks/call_paths.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import types
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from arbiter.runtime.runtime import Runtime, RuntimeOptions
from arbiter.sim import start
from arbiter.sim.generator import STILL_MARKET
from arbiter.venues import VenueLimits
from arbiter_bybit.trading import BybitTrading
from arbiter_okx.trading import OkxTrading

ROOT = Path(__file__).resolve().parents[1]
PROJECT = (str(ROOT / "framework" / "arbiter"), str(ROOT / "plugins"))
EXCLUDED = (str(ROOT / "framework" / "arbiter" / "sim"),)

MANIFEST = """\
strategy: { name: alpha, version: 1 }
venues:
  bybit: { plugin: bybit, endpoint: sim }
  okx: { plugin: okx, endpoint: sim }
pairs:
  - { id: btc, type: spot_perp, asset: BTC, spot: { venue: bybit, symbol: BTCUSDT },
      perp: { venue: okx, symbol: BTC-USDT-SWAP } }
thresholds: { entry_bps: 10, exit_bps: 2, min_profit_bps: 3 }
sizing: { order_notional: 600, max_position_notional: 5000 }
execution: { max_slippage_bps: 20, leg_timeout_ms: 3000 }
risk: { max_net_delta_notional: 100000, daily_loss_limit: 100000 }
"""

Call = tuple[int, str, str]  # (project frames on the stack, file, function)


def _project(code: types.CodeType) -> bool:
    name = code.co_filename
    return name.startswith(PROJECT) and not name.startswith(EXCLUDED)


def _depth(frame: types.FrameType | None) -> int:
    depth = 0
    while frame is not None:
        if _project(frame.f_code):
            depth += 1
        frame = frame.f_back
    return depth


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []

    def hook(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call" and _project(frame.f_code):
            rel = str(Path(frame.f_code.co_filename).relative_to(ROOT))
            self.calls.append((_depth(frame), rel, frame.f_code.co_qualname))


def _find(calls: list[Call], file: str, func: str, start: int = 0) -> int:
    for i in range(start, len(calls)):
        if calls[i][1].endswith(file) and calls[i][2].endswith(func):
            return i
    raise LookupError(f"no call of {file}:{func} after {start}")


def _run_start(calls: list[Call], end: int) -> int:
    """The first call of the loop's run that reached `end`: its last depth-1 call before."""
    for i in range(end, -1, -1):
        if calls[i][0] == 1:
            return i
    return 0


def _path(calls: list[Call]) -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    for _, file, func in calls:
        seen = files.setdefault(file, [])
        if func not in seen:
            seen.append(func)
    return files


def _show(name: str, files: dict[str, list[str]]) -> None:
    print(f"{name}: {len(files)} files")
    for file, funcs in files.items():
        print(f"  {file}: {', '.join(funcs)}")


def _lifted() -> dict[str, VenueLimits]:
    """Each venue's own client id rules, its rate limits out of the way (the simulator has
    none), so nothing waits for a token on the measured paths."""
    out = {}
    for name, trading in (("bybit", BybitTrading), ("okx", OkxTrading)):
        rules = trading.default_limits.client_ids
        out[name] = VenueLimits(rules, orders_per_second=1000, requests_per_second=1000)
    return out


async def _basis(sim: Any, bps: str) -> None:
    sim.generator.set_basis("okx", "BTC", float(Decimal(bps) / 10_000))
    sim.step()


async def main() -> None:
    sim = await start(symbols=["BTC/USDT"], seed=3, market=STILL_MARKET)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "strategies"
        folder.mkdir()
        (folder / "alpha.yaml").write_text(MANIFEST)
        runtime = Runtime(
            RuntimeOptions(
                targets=[folder],
                journal=Path(tmp) / "journal.sqlite",
                tick_s=0.05,
                venue_limits=_lifted(),
            ),
            sim=sim,
        )
        await runtime.start()
        try:
            ok: Callable[[], bool] = lambda: all(  # noqa: E731
                h.runner.engine is not None for h in runtime.strategies.values()
            )
            assert await runtime.wait_for(ok, 30), "engine built"
            pair = runtime.strategies["alpha"].runner.pairs["btc"]
            # One cycle first, so the connections are open and warm (as they are when trading),
            # then the entry of the second cycle is recorded.
            await _basis(sim, "80")
            assert await runtime.wait_for(lambda: pair.machine.state == "open", 30), "entered"
            await _basis(sim, "-40")
            assert await runtime.wait_for(lambda: pair.machine.state == "idle", 30), "exited"
            recorder = Recorder()
            sys.setprofile(recorder.hook)
            try:
                await _basis(sim, "80")
                entered = await runtime.wait_for(lambda: pair.machine.state == "open", 30)
            finally:
                sys.setprofile(None)
            assert entered, "the pair entered again"
        finally:
            await runtime.stop()
            await sim.stop()

    calls = recorder.calls
    signal = _find(calls, "runtime/pair_runner.py", "on_signal")
    book = calls[_run_start(calls, signal) : signal + 1]
    first_write = _find(calls, "venues/order_path/wire.py", "_write", signal)
    second_write = _find(calls, "venues/order_path/wire.py", "_write", first_write + 1)
    enter = _find(calls, "runtime/pair_runner.py", "_enter", signal)
    decision = calls[signal : _find(calls, "runtime/pair_runner.py", "_try", signal) + 1]
    order = decision + calls[enter : second_write + 1]
    booked = _find(calls, "runtime/ledger.py", "on_fill", second_write)
    fill = calls[_run_start(calls, booked) : booked + 1]
    for name, path in (("book delta", book), ("order out", order), ("fill back", fill)):
        _show(name, _path(path))
    counts = " ".join(
        f"{n}={len(_path(p))}" for n, p in (("book", book), ("order", order), ("fill", fill))
    )
    print(f"call_paths files: {counts}")


if __name__ == "__main__":
    asyncio.run(main())
