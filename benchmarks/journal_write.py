"""Journal write cost: intents and order events per second, and per-write p50/p99.

Each sample is one real commit (WAL, synchronous=NORMAL unless --full): an intent, then its
submit, ack and two fills, as the tracker writes them on the hot path. Also measures both legs
of a pair submitted together (`OrderTracker.submit_all`: both intents and both `submitted`
marks as one record of the journal's outbox file, moved into SQLite by the next write, here the
venue's expiry of the legs), which is what the order gateway's `place_all` writes before
sending.

Last line: `journal_write writes_per_s=N p50_us=N p99_us=N samples=N`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from arbiter.execution import Intent
from arbiter.execution.order_machines import new_order_machine
from arbiter.execution.order_tracker import OrderTracker
from arbiter.store import Durability, Journal
from arbiter.venues import Fill, OrderAck, OrderStatus, OrderType, OrderUpdate, Side
from arbiter.venues.contract.client_ids import IntentId
from arbiter_bybit.limits import BYBIT_CLIENT_IDS


def _intent(cycle: int, leg: str) -> Intent:
    return Intent.build(
        IntentId("bench", "btc", cycle, leg),
        "bybit",
        BYBIT_CLIENT_IDS,
        symbol="BTCUSDT",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=Decimal("0.010"),
        price=Decimal("65000.1"),
        decision_price=Decimal("65000.0"),
    )


def _fill(intent: Intent, n: int) -> Fill:
    return Fill(
        "bybit",
        "BTCUSDT",
        intent.client_id,
        "v",
        f"{intent.client_id}-{n}",
        Side.BUY,
        Decimal("65000.1"),
        Decimal("0.005"),
        Decimal("0.01"),
        "USDT",
    )


def _expired(intent: Intent) -> OrderUpdate:
    return OrderUpdate(
        "bybit",
        "BTCUSDT",
        intent.client_id,
        "v",
        OrderStatus.EXPIRED,
        Side.BUY,
        intent.request.qty,
        Decimal(0),
        None,
    )


def _pct(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--full", action="store_true", help="synchronous=FULL (fsync per commit)")
    parser.add_argument(
        "--checkpoint-thread",
        type=float,
        default=None,
        metavar="SECONDS",
        help="checkpoint the WAL from a background thread at this interval",
    )
    args = parser.parse_args()
    durability = Durability.FULL if args.full else Durability.NORMAL
    samples: list[int] = []
    pair_samples: list[int] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        Journal.open(
            Path(tmp) / "bench.sqlite",
            durability=durability,
            checkpoint_interval_s=args.checkpoint_thread,
        ) as journal,
    ):
        tracker = OrderTracker(journal)
        # Machines are built off the hot path (see prewarm), and final orders hand theirs back.
        tracker.prewarm(3 * args.orders)
        clock = time.perf_counter_ns
        started = clock()
        for cycle in range(args.orders):
            intent = _intent(cycle, "entry.spot")
            steps = (
                lambda i=intent: tracker.add(i),
                lambda i=intent: tracker.submitted(i.client_id),
                lambda i=intent: tracker.on_ack(OrderAck("bybit", i.client_id, "v")),
                lambda i=intent: tracker.on_fill(_fill(i, 1)),
                lambda i=intent: tracker.on_fill(_fill(i, 2)),
            )
            for step in steps:
                t0 = clock()
                step()
                samples.append(clock() - t0)
        elapsed = (clock() - started) / 1e9
        for cycle in range(args.orders):
            spot, perp = _intent(cycle, "pair.spot"), _intent(cycle, "pair.perp")
            t0 = clock()
            tracker.submit_all([spot, perp])
            pair_samples.append(clock() - t0)
            for leg in (spot, perp):  # the venue expires them: their machines are reused
                tracker.on_update(_expired(leg))
    build: list[int] = []
    for _ in range(200):
        t0 = time.perf_counter_ns()
        new_order_machine()
        build.append(time.perf_counter_ns() - t0)
    build.sort()
    samples.sort()
    pair_samples.sort()
    print(
        f"durability={durability.value} orders={args.orders} "
        f"checkpoint_thread={args.checkpoint_thread}"
    )
    print(f"order machine build (prewarm, off the hot path): p50_us={_pct(build, 0.5):.1f}")
    print(
        f"both legs intent+submit as one outbox record: p50_us={_pct(pair_samples, 0.5):.1f} "
        f"p99_us={_pct(pair_samples, 0.99):.1f} mean_us={statistics.mean(pair_samples) / 1000:.1f}"
    )
    print(
        f"journal_write writes_per_s={len(samples) / elapsed:.0f} p50_us={_pct(samples, 0.5):.1f} "
        f"p99_us={_pct(samples, 0.99):.1f} samples={len(samples)}"
    )


if __name__ == "__main__":
    main()
