"""Time from a decision to both orders written on the socket, against the simulator on loopback.

    .venv/bin/python benchmarks/order_path.py [samples] [--warmup N] [--sim-nice N]
        [--sim-cpu shared|any]

Our path, per sample: build both legs' intents (deterministic client ids), run the pre-trade
checks for both and reserve funds, then hand both to the order gateway (`place_all`), which
journals both intents and their `submitted` marks as one record of the journal's outbox file
(`arbiter.store.outbox`) *before* either request leaves, then sends both at once on the order
path's own keep-alive connections (`arbiter.venues.order_path.wire`). The venues are composed as the
runtime composes them: each account's session from its plugin (`make_session`), orders going
through the session's watched trading object, its private stream connected and applying every
order event to the gateway. The clock stops when the second request's bytes are handed to its
socket (`OrderWire.taps`), so the venue's answer is not part of the figure.

The simulated venues run in their own process (`arbiter sim`), so none of their work lands on
the event loop being measured, and at the lowest CPU priority (`--sim-nice`, default 19): a
real venue computes on its own machine, while on a small shared box a simulator woken by our
first request would otherwise take our CPU before the second request is written (on the shared
2-core development box, co-location added 0.6-0.8 ms to our p50 and ~0.2 ms to the peer's).
`--sim-nice 0` measures the co-located case.

And on the same CPU as this process (`--sim-cpu shared`, the default; both pinned to one core):
writing to a loopback socket runs the receiver's side of TCP inside our `send` and wakes the
simulator there. On this development VM, with the simulator wherever the scheduler put it, the
slowest 1% of decisions were all one thing: a request's `send` taking 0.85-1.7 ms (its median:
15 us), which is what waking a process on the other virtual CPU can cost
(`benchmarks/loopback_write.py`: `send` p99 0.15-1.4 ms across runs with the receiver on the
other CPU, 0.06-0.1 ms on the shared one). A venue across a network never costs the sender a
wake-up, so the shared CPU is the closer stand-in; `--sim-cpu any` leaves the placement to the
scheduler and measures the VM's wake-ups too.

The peer on the same loopback venues in the same run: ccxt's own `create_order` for both legs
at once, with no journal and no checks -- what a bot built straight on ccxt does, its clock
stopped when aiohttp reports the second body written (`TraceConfig.on_request_chunk_sent`). The
ratio is our path over that floor.

The orders are limit IOC buys 2% under the touch: the venue expires them at once, so every
sample meets the same books and balances. After each sample, outside the clock, the private
stream reports both orders expired and the gateway applies it, as in production. The venue's
order rate limits are raised for the run (a limiter's wait is not latency of the path);
everything else is set up as the runtime should run it: the journal
checkpoints from its own thread, and the heap built at start is frozen out of the garbage
collector (`gc.freeze()`) before trading. The first `--warmup` decisions (default 20) are not
counted. Besides the percentiles it prints where the time goes (p50 of each stage), our
thread's CPU time per window, how many windows the OS switched our thread out of (the machine is
shared; those windows carry other programs' time) and the garbage collections inside windows.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from arbiter.execution.gateway import OrderGateway
from arbiter.execution.intent import Intent
from arbiter.execution.order_tracker import OrderTracker
from arbiter.execution.pretrade import PlannedLeg, PretradeChecker
from arbiter.execution.reservations import Reservations
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.store.journal import Journal
from arbiter.venues import (
    ApiKeys,
    CcxtTrading,
    OrderType,
    Side,
    StreamingSession,
    TimeInForce,
    TradingVenue,
    VenueConfig,
    VenueLimits,
)
from arbiter.venues.contract.client_ids import IntentId
from arbiter.venues.streams.watched import WatchedTrading
from arbiter_bybit.session import make_session as bybit_session
from arbiter_bybit.trading import BybitTrading
from arbiter_okx.session import make_session as okx_session
from arbiter_okx.trading import OkxTrading

LEGS = (("bybit", InstrumentKind.SPOT, "BTCUSDT"), ("okx", InstrumentKind.PERP, "BTC-USDT-SWAP"))
CHECKPOINT_INTERVAL_S = 1.0


class SocketClock:
    """When the request carrying each given client id was written to its socket: ours through
    `tap` (`OrderWire.taps`), ccxt's through aiohttp's trace hooks (`config`)."""

    def __init__(self) -> None:
        self.written: dict[str, int] = {}
        self.written_cpu: dict[str, int] = {}  # this thread's CPU time at the same moment
        self.waiting: tuple[str, ...] = ()
        self.config = aiohttp.TraceConfig()
        self.config.on_request_chunk_sent.append(self._chunk)

    def arm(self, client_ids: tuple[str, ...]) -> None:
        self.waiting = client_ids

    def last_written(self) -> int:
        return max(self.written[c] for c in self.waiting)

    def last_written_cpu(self) -> int:
        return max(self.written_cpu[c] for c in self.waiting)

    def tap(self, data: bytes) -> None:
        self._seen(data, time.perf_counter_ns(), time.thread_time_ns())

    async def _chunk(
        self, session: Any, ctx: Any, params: aiohttp.TraceRequestChunkSentParams
    ) -> None:
        self._seen(params.chunk, time.perf_counter_ns(), time.thread_time_ns())

    def _seen(self, data: bytes, now: int, cpu: int) -> None:
        text = data.decode(errors="replace")
        for cid in self.waiting:
            if cid in text:
                self.written.setdefault(cid, now)
                self.written_cpu.setdefault(cid, cpu)


class GcWatch:
    """Every garbage collection's generation and (start, end), to count those in a window."""

    def __init__(self) -> None:
        self.runs: list[tuple[int, int, int]] = []
        self._start = 0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter_ns()
        else:
            self.runs.append((info["generation"], self._start, time.perf_counter_ns()))

    def inside(self, windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """(generation, duration ns) of each collection that overlaps a window."""
        found = []
        for generation, start, end in self.runs:
            if any(start < w_end and end > w_start for w_start, w_end in windows):
                found.append((generation, end - start))
        return found


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] / 1000


def report(label: str, samples: list[int]) -> None:
    print(
        f"{label:<34} p50 {percentile(samples, 0.5):8.1f} us   "
        f"p99 {percentile(samples, 0.99):8.1f} us   max {max(samples) / 1000:8.1f} us"
    )


async def start_venues(nice: int) -> tuple[asyncio.subprocess.Process, dict[str, dict[str, str]]]:
    """`arbiter sim` in its own process: the venue's work is not on our event loop."""
    proc = await asyncio.create_subprocess_exec(
        *(("nice", "-n", str(nice)) if nice else ()),
        sys.executable,
        "-m",
        "arbiter.cli",
        "sim",
        "--symbols",
        "BTC/USDT",
        "--rate",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    ends = {}
    while len(ends) < 2:
        line = json.loads(await proc.stdout.readline())
        ends[line["venue"]] = line
    return proc, ends


async def main(samples: int, warmup: int, sim_nice: int, sim_cpu: str) -> None:
    placement = "the scheduler's choice of CPU"
    if sim_cpu == "shared":
        # Pinned before the simulator starts: it inherits the one CPU, as do our threads.
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        placement = f"sharing CPU {cpu} with this process"
    print(f"simulator at nice {sim_nice}, {placement}")
    proc, endpoints = await start_venues(sim_nice)
    try:
        await measure(endpoints, samples, warmup, sim_nice)
    finally:  # the simulator never outlives the run, however it ends
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def measure(
    endpoints: dict[str, dict[str, str]], samples: int, warmup: int, sim_nice: int
) -> None:
    clock = SocketClock()
    scratch = tempfile.TemporaryDirectory(prefix="arbiter-order-path-")
    journal = Journal.open(
        Path(scratch.name) / "journal.sqlite", checkpoint_interval_s=CHECKPOINT_INTERVAL_S
    )
    # The runtime's composition: each account's session, its trading object the watched
    # wrapper orders go through, its private stream applying order events to the gateway.
    trading: dict[str, TradingVenue] = {}
    gateway = OrderGateway(OrderTracker(journal), trading)
    sessions: list[StreamingSession] = []
    venues: dict[str, CcxtTrading] = {}  # the plugins' clients inside the sessions
    for name, make_session, cls in (
        ("bybit", bybit_session, BybitTrading),
        ("okx", okx_session, OkxTrading),
    ):
        ends = endpoints[name]
        config = VenueConfig(
            account=name,
            endpoint="sim",
            urls={key: ends[key] for key in ("rest", "ws_public", "ws_private")},
            keys=ApiKeys(ends["api_key"], ends["secret"], ends.get("passphrase") or None),
        )
        # The venue's order rate limits raised for the run (see the module doc).
        session = make_session(
            config, limits=VenueLimits(cls.default_limits.client_ids, 100_000, 100_000)
        )
        watched = session.trading
        assert isinstance(watched, WatchedTrading), watched
        venue = watched.inner
        assert isinstance(venue, CcxtTrading), venue
        venue.client.session = aiohttp.ClientSession(trace_configs=[clock.config])
        session.on_private(gateway.on_private)
        await session.start()
        sessions.append(session)
        assert venue._entry is not None, f"expected {name} to write its own order requests"
        venue._entry.wire.taps.append(clock.tap)
        venues[name] = venue
        trading[name] = watched
    instruments: dict[str, Instrument] = {}
    limit: dict[str, Decimal] = {}
    for name, kind, symbol in LEGS:
        listed = await venues[name].instruments()
        inst = next(i for i in listed if (i.kind, i.symbol) == (kind, symbol))
        instruments[name] = inst
        book = await venues[name].client.fetch_order_book(_ccxt_symbol(kind))
        ask = Decimal(str(book["asks"][0][0]))
        limit[name] = inst.round_price_down(ask * Decimal("0.98"))  # the market does not move
    committed: list[int] = []  # when each decision's journal commit returned
    submit_all = gateway.tracker.submit_all

    def timed_submit_all(intents: Any) -> Any:
        try:
            return submit_all(intents)
        finally:
            committed.append(time.perf_counter_ns())

    gateway.tracker.submit_all = timed_submit_all  # type: ignore[method-assign]
    checker = PretradeChecker(Reservations())
    balances = {(name, asset): Decimal(10**9) for name in venues for asset in ("USDT", "BTC")}
    # Everything built so far lives as long as the process: keep it out of every collection.
    gc.collect()
    gc.freeze()
    watch = GcWatch()

    ours: list[int] = []
    ours_cpu: list[int] = []  # CPU time this thread spent in the window
    undisturbed: list[int] = []  # windows the OS did not switch this thread out of
    peer: list[int] = []
    stages: dict[str, list[int]] = {"checks": [], "journal": [], "send": []}
    windows: list[tuple[int, int]] = []
    for n in range(warmup + samples):
        # ours: decision -> intents -> pre-trade -> journal -> both requests on the socket
        switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
        t0, cpu0 = time.perf_counter_ns(), time.thread_time_ns()
        intents = [
            _intent(n, name, kind, symbol, instruments[name], limit[name])
            for name, kind, symbol in LEGS
        ]
        legs = [PlannedLeg(i, instruments[i.venue]) for i in intents]
        verdict = checker.check_and_reserve(legs, balances)
        assert verdict.passed, verdict.reason
        checked = time.perf_counter_ns()
        clock.arm(tuple(i.client_id for i in intents))
        placed = await gateway.place_all(intents)
        assert all(s.state not in ("rejected", "unknown") for s in placed), placed
        done = clock.last_written()
        if n >= warmup:
            ours.append(done - t0)
            ours_cpu.append(clock.last_written_cpu() - cpu0)
            if resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw == switches:
                undisturbed.append(done - t0)
            windows.append((t0, done))
            stages["checks"].append(checked - t0)
            stages["journal"].append(committed[-1] - checked)
            stages["send"].append(done - committed[-1])
        # The venue expired both (IOC): the private stream says so.
        finals = await asyncio.gather(*(gateway.wait_final(i.client_id, 10.0) for i in intents))
        assert all(s.is_final for s in finals), finals
        for i in intents:
            checker.reservations.release(i.client_id)
        # peer: ccxt create_order for both legs at once
        t0 = time.perf_counter_ns()
        cids = tuple(f"p{n}x{leg}" for leg in range(2))
        clock.arm(cids)
        await asyncio.gather(
            *(
                _ccxt_order(venues[name], kind, instruments[name], limit[name], cid)
                for (name, kind, _), cid in zip(LEGS, cids, strict=True)
            )
        )
        if n >= warmup:
            peer.append(clock.last_written() - t0)
    collections = watch.inside(windows)
    gc.callbacks.remove(watch._callback)
    for session in sessions:
        await session.close()  # its venue client too, and the client's aiohttp session
    journal.close()
    scratch.cleanup()

    print(
        f"{samples} decisions (+{warmup} warm-up), two legs each (Bybit spot + OKX perp), "
        f"simulator on loopback (nice {sim_nice})"
    )
    report("arbiter (checks + journal + send)", ours)
    report("ccxt create_order x2 (no journal)", peer)
    report("arbiter, CPU time of our thread", ours_cpu)
    print(f"arbiter / ccxt p50 = {percentile(ours, 0.5) / percentile(peer, 0.5):.2f}x")
    print(
        "where ours goes (p50): "
        f"intents + checks {percentile(stages['checks'], 0.5):.1f} us, "
        f"journal (submit_all) {percentile(stages['journal'], 0.5):.1f} us, "
        f"committed -> both requests written {percentile(stages['send'], 0.5):.1f} us"
    )
    print(
        f"windows in which the OS switched our thread out: {len(ours) - len(undisturbed)} "
        f"of {len(ours)} (the machine is shared: wall minus CPU time is time off the CPU)"
    )
    if undisturbed:
        report("arbiter, windows not switched out", undisturbed)
    worst = max((d for _, d in collections), default=0) / 1000
    print(
        f"garbage collections inside our windows: {len(collections)} "
        f"(gen2: {sum(1 for g, _ in collections if g == 2)}, longest {worst:.1f} us)"
    )
    print(
        f"order_path p50_us={percentile(ours, 0.5):.1f} p99_us={percentile(ours, 0.99):.1f} "
        f"samples={len(ours)}"
    )


def _intent(
    n: int, venue: str, kind: InstrumentKind, symbol: str, inst: Instrument, price: Decimal
) -> Intent:
    qty = inst.round_qty_down(Decimal("0.01") / inst.contract_value)
    return Intent.build(
        IntentId("bench", "btc", n + 1, f"entry.{kind.value}"),
        venue,
        None,
        symbol=symbol,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=qty,
        price=price,
        decision_price=price,
        tif=TimeInForce.IOC,
        kind=kind.value,
    )


async def _ccxt_order(
    venue: CcxtTrading, kind: InstrumentKind, inst: Instrument, price: Decimal, cid: str
) -> None:
    market = venue.client.market(_ccxt_symbol(kind))
    qty = inst.round_qty_down(Decimal("0.01") / inst.contract_value)
    params = {venue.client_id_param: cid, "timeInForce": "IOC"}
    await venue.client.create_order(market["symbol"], "limit", "buy", str(qty), str(price), params)


def _ccxt_symbol(kind: InstrumentKind) -> str:
    return "BTC/USDT:USDT" if kind is InstrumentKind.PERP else "BTC/USDT"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("samples", nargs="?", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--sim-nice", type=int, default=19, help="the simulator's nice value")
    parser.add_argument(
        "--sim-cpu",
        choices=("shared", "any"),
        default="shared",
        help="pin the simulator to this process's CPU (shared) or let the scheduler place it",
    )
    args = parser.parse_args()
    asyncio.run(main(args.samples, args.warmup, args.sim_nice, args.sim_cpu))
