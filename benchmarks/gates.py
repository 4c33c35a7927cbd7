"""Cost of one gated decision: every gate bound to `enter`, evaluated on live books.

Gates run only when a spread crosses its threshold, never per book update; this measures what
one such decision costs, so it can be compared with the per-update cost of the fast lane.
Books: the real Bybit XRPUSDT 500-level snapshot applied by the Bybit codec, used for both legs.

    .venv/bin/python benchmarks/gates.py [--decisions N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from arbiter.compiler import compile_manifest
from arbiter.fsm import MachineRunner
from arbiter.manifest import load_manifest_bytes
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.risk.book_view import OrderBookView
from arbiter.risk.gates import Decision, PairGates
from arbiter.risk.snapshot import BalanceView, RiskSnapshot
from arbiter_bybit.codec import BybitCodec

REPO = Path(__file__).resolve().parents[1]
RECORDING = (
    REPO.parent / "shared" / "fixtures" / "venues" / "bybit" / "2024-12-01_XRPUSDT_ob500.data"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=20_000)
    args = parser.parse_args()

    text = (REPO / "strategies" / "bybit_spot_okx_perp_basis.yaml").read_text()
    text = (
        text.replace("BTCUSDT", "XRPUSDT")
        .replace("BTC-USDT-SWAP", "XRP-USDT-SWAP")
        .replace("asset: BTC", "asset: XRP")
    )
    (pair,) = compile_manifest(load_manifest_bytes(text)).pairs
    instrument = Instrument(
        "bybit", "XRPUSDT", InstrumentKind.SPOT, "XRP", "USDT", Decimal("0.0001"), Decimal("1")
    )
    codec = BybitCodec([instrument])
    codec.feed(RECORDING.read_bytes().splitlines()[0])
    view = OrderBookView(codec.books["XRPUSDT"], instrument)
    ts_ms = json.loads(RECORDING.read_bytes().splitlines()[0])["ts"]
    snapshot = RiskSnapshot(
        now_ns=(ts_ms + 20) * 1_000_000,
        wall_clock=datetime(2026, 11, 25, 12, tzinfo=UTC),
        books={("bybit", "XRPUSDT"): view, ("okx", "XRP-USDT-SWAP"): view},
        balances={("bybit", "USDT"): BalanceView(Decimal(10_000), Decimal(10_000))},
        funding_rates={("okx", "XRP-USDT-SWAP"): Decimal("0.0001")},
        venue_healthy={"bybit": True, "okx": True},
        file_exists=lambda path: False,
    )
    decision = Decision("enter", "buy_spot_short_perp", Decimal(1000), Decimal(1953))
    gates = PairGates(pair)
    enter_gates = [g.name for g in pair.gates if "enter" in g.triggers]

    timings = []
    for _ in range(args.decisions):
        start = time.perf_counter_ns()
        for name in enter_gates:
            gates.evaluate(name, decision, snapshot)
        timings.append(time.perf_counter_ns() - start)

    runner = MachineRunner(pair.cycle, gates.resolve)
    fsm_timings = []
    for _ in range(args.decisions // 10):
        runner.fire("spread_entered")
        start = time.perf_counter_ns()
        runner.fire("enter", decision=decision, snapshot=snapshot)
        fsm_timings.append(time.perf_counter_ns() - start)
        runner = MachineRunner(
            pair.cycle, gates.resolve
        )  # a fresh machine: building it is not timed

    def pct(values: list[int], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000

    passed = sum(gates.stats.passed.values())
    failed = sum(gates.stats.failed.values())
    print(f"gates bound to enter: {len(enter_gates)} ({', '.join(enter_gates)})")
    print(
        f"evaluations: {passed} passed, {failed} failed; last failures: {dict(gates.stats.last_failure)}"
    )
    print(
        f"all enter gates, direct: p50={pct(timings, 0.5):.1f}us p99={pct(timings, 0.99):.1f}us "
        f"mean={statistics.fmean(timings) / 1000:.1f}us over {len(timings)} decisions"
    )
    print(
        f"enter through the cycle machine (gates + transition): p50={pct(fsm_timings, 0.5):.1f}us "
        f"p99={pct(fsm_timings, 0.99):.1f}us over {len(fsm_timings)} decisions"
    )
    print(
        f"gates p50_us={pct(timings, 0.5):.1f} p99_us={pct(timings, 0.99):.1f} fsm_enter_p99_us={pct(fsm_timings, 0.99):.1f}"
    )


if __name__ == "__main__":
    main()
