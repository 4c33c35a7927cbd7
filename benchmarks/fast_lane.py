"""Fast-lane benchmark: venue bytes -> codec -> book -> dirty set -> spread engine -> decision.

Generates a Bybit-format stream (2 venues x 20 symbols: a spot connection and a linear one,
each symbol paired spot-vs-perp; one snapshot per book, then N deltas of 1-5 levels), and in
the same run replays it through:

  fast lane  BybitCodec.feed + SpreadEngine.mark_dirty/recompute per frame
  ccxt       the decode ccxt's ws client does (orjson when installed, as here) + ccxt.pro bybit
             `handle_message` into ccxt's OrderBook (a stub stands in for the WebSocket client:
             its `resolve` is a no-op, as ccxt's is when nobody awaits the book; no event loop)
  floor      a bare JSON decode of each frame (msgspec, untyped; stdlib json and ccxt's
             decoder shown too)

Per-update latency is measured around each frame with perf_counter_ns (the same overhead for
every path); the paths take turns on ten chunks of the stream, so a shared machine's load swings
hit them alike. Prints the figures, then one summary line. Not asserted anywhere.

  .venv/bin/python benchmarks/fast_lane.py            # 200k deltas (well under a minute)
  .venv/bin/python benchmarks/fast_lane.py --deltas 1000000
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import ccxt.pro
import msgspec
from ccxt.async_support.base.ws.client import json_parser as ccxt_json

from arbiter.market import Instrument, InstrumentKind, LegRef, PairSpec, SpreadEngine
from arbiter.market.replay import percentile_us
from arbiter_bybit import BybitCodec

SYMBOLS = 20
ROUNDS = 10  # the paths take turns on this many chunks of the stream (see `measure`)
DEPTH = 50  # levels per side in each snapshot
TICK = Decimal("0.01")
SPOT_VENUE = "bybit-spot"
PERP_VENUE = "bybit"


def _symbols() -> list[str]:
    return [f"C{i:02d}USDT" for i in range(SYMBOLS)]


def generate(deltas: int, seed: int) -> list[tuple[int, bytes]]:
    """(connection index 0=spot 1=perp, frame bytes), exactly as a venue would send them."""
    rng = random.Random(seed)
    frames: list[tuple[int, bytes]] = []
    books: list[tuple[int, str, int, list[int]]] = []  # (conn, symbol, mid ticks, [u])
    for conn in (0, 1):
        for i, symbol in enumerate(_symbols()):
            mid = 10_000 + 1_000 * i
            mid += mid * 12 // 10_000 if conn == 1 else 0  # the perp trades ~12 bp rich
            books.append((conn, symbol, mid, [1_000]))
            bids = [[_px(mid - k), _sz(rng)] for k in range(1, DEPTH + 1)]
            asks = [[_px(mid + k), _sz(rng)] for k in range(1, DEPTH + 1)]
            frames.append((conn, _frame(symbol, "snapshot", 1_000, bids, asks, rng)))
    for _ in range(deltas):
        conn, symbol, mid, u = books[rng.randrange(len(books))]
        u[0] += 1
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        for _ in range(rng.randint(1, 5)):
            k = min(DEPTH, 1 + int(rng.expovariate(0.4)))  # most changes near the top
            size = "0" if rng.random() < 0.15 else _sz(rng)
            if rng.random() < 0.5:
                bids.append([_px(mid - k), size])
            else:
                asks.append([_px(mid + k), size])
        frames.append((conn, _frame(symbol, "delta", u[0], bids, asks, rng)))
    return frames


def _px(ticks: int) -> str:
    return str(ticks * TICK)


def _sz(rng: random.Random) -> str:
    return f"{rng.randint(1, 5_000) / 1000:.3f}"


def _frame(symbol: str, kind: str, u: int, bids: Any, asks: Any, rng: random.Random) -> bytes:
    ts = 1_733_011_200_000 + u
    data = {"s": symbol, "b": bids, "a": asks, "u": u, "seq": 7_000_000 + u}
    msg = {"topic": f"orderbook.50.{symbol}", "type": kind, "ts": ts, "data": data, "cts": ts - 2}
    return json.dumps(msg, separators=(",", ":")).encode()


# -- paths -----------------------------------------------------------------------------------


def fast_lane_path() -> tuple[Callable[[int, bytes], None], Callable[[], str]]:
    instruments = []
    pairs = []
    for symbol in _symbols():
        for venue, kind in ((SPOT_VENUE, InstrumentKind.SPOT), (PERP_VENUE, InstrumentKind.PERP)):
            instruments.append(
                Instrument(venue, symbol, kind, symbol[:-4], "USDT", TICK, Decimal("0.001"))
            )
        pairs.append(
            PairSpec(
                symbol,
                LegRef(SPOT_VENUE, symbol),
                LegRef(PERP_VENUE, symbol),
                size=Decimal("2"),
                # near the generated basis after fees, so book noise crosses them now and then
                entry_bps=Decimal("0"),
                exit_bps=Decimal("21"),
                hysteresis_bps=Decimal("0.5"),
            )
        )
    codecs = [BybitCodec(instruments, venue=SPOT_VENUE), BybitCodec(instruments, venue=PERP_VENUE)]
    engine = SpreadEngine(pairs, instruments, {c.venue: c.books for c in codecs})
    feeds = [c.feed for c in codecs]
    venues = [c.venue for c in codecs]
    mark_dirty = engine.mark_dirty
    recompute = engine.recompute
    signals = [0]

    def step(conn: int, frame: bytes) -> None:
        venue = venues[conn]
        for event in feeds[conn](frame):
            mark_dirty(venue, event.symbol)  # type: ignore[arg-type]
        if decisions := recompute():
            signals[0] += len(decisions)

    def summary() -> str:
        gaps = sum(c.stats.gaps for c in codecs)
        applied = sum(c.stats.updates_applied for c in codecs)
        return f"applied={applied} gaps={gaps} threshold_signals={signals[0]}"

    return step, summary


class _StubClient:
    """What ccxt's handlers touch on a WebSocket client, minus the futures and the socket."""

    def __init__(self, url: str) -> None:
        self.url = url

    def resolve(self, result: object, message_hash: str) -> None:
        return None


def ccxt_path() -> tuple[Callable[[int, bytes], None], Callable[[], str]]:
    exchanges = []
    clients = [
        _StubClient("wss://stream.bybit.com/v5/public/spot"),
        _StubClient("wss://stream.bybit.com/v5/public/linear"),
    ]
    for spot in (True, False):
        exchange = ccxt.pro.bybit({"enableRateLimit": False})
        exchange.set_markets([_ccxt_market(symbol, spot) for symbol in _symbols()])
        exchanges.append(exchange)
    handlers = [e.handle_message for e in exchanges]
    loads = ccxt_json.loads  # the decoder ccxt's ws client uses for each frame (orjson if present)

    def step(conn: int, frame: bytes) -> None:
        handlers[conn](clients[conn], loads(frame))

    def summary() -> str:
        return f"books={sum(len(e.orderbooks) for e in exchanges)}"

    return step, summary


def _ccxt_market(market_id: str, spot: bool) -> dict[str, Any]:
    base = market_id[:-4]
    return {
        "id": market_id,
        "symbol": f"{base}/USDT" if spot else f"{base}/USDT:USDT",
        "base": base,
        "quote": "USDT",
        "settle": None if spot else "USDT",
        "baseId": base,
        "quoteId": "USDT",
        "settleId": None if spot else "USDT",
        "type": "spot" if spot else "swap",
        "spot": spot,
        "margin": False,
        "swap": not spot,
        "future": False,
        "option": False,
        "contract": not spot,
        "linear": None if spot else True,
        "inverse": None if spot else False,
        "active": True,
        "contractSize": None if spot else 1.0,
        "precision": {"amount": 0.001, "price": 0.01},
        "limits": {"amount": {"min": 0.001, "max": None}, "price": {"min": None, "max": None}},
        "info": {},
    }


def floor_path(decode: Callable[[bytes], Any]) -> Callable[[int, bytes], None]:
    def step(conn: int, frame: bytes) -> None:
        decode(frame)

    return step


# -- measurement -----------------------------------------------------------------------------


def measure(
    steps: Mapping[str, Callable[[int, bytes], None]],
    frames: Sequence[tuple[int, bytes]],
    warm: int,
    rounds: int = ROUNDS,
) -> dict[str, list[int]]:
    """Per-frame nanoseconds of the deltas for each path (the first `warm` frames are setup).

    The deltas are cut into `rounds` consecutive chunks and the paths take turns on each chunk,
    every path keeping its own state from chunk to chunk: on a shared machine whose load swings
    within a run, each path then sees the same conditions, so the ratios stay comparable.
    """
    clock = time.perf_counter_ns
    for step in steps.values():
        for conn, frame in frames[:warm]:
            step(conn, frame)
    deltas = frames[warm:]
    timings = {name: [0] * len(deltas) for name in steps}
    bounds = [len(deltas) * k // rounds for k in range(rounds + 1)]
    gc.collect()
    for lo, hi in itertools.pairwise(bounds):
        for name, step in steps.items():
            out = timings[name]
            for i in range(lo, hi):
                conn, frame = deltas[i]
                start = clock()
                step(conn, frame)
                out[i] = clock() - start
    return timings


def report(name: str, timings: list[int]) -> tuple[float, float]:
    rate = len(timings) / (sum(timings) / 1e9)
    p50, p99, p999 = (percentile_us(timings, p) for p in (50, 99, 99.9))
    print(
        f"{name:<10} {rate:>12,.0f} updates/s   p50 {p50:7.2f} us   p99 {p99:7.2f} us   p99.9 {p999:7.2f} us"
    )
    return rate, p99


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--deltas", type=int, default=200_000, help="deltas to replay (default 200k)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    frames = generate(args.deltas, args.seed)
    warm = 2 * SYMBOLS  # the snapshots
    print(f"stream: {len(frames) - warm:,} deltas of 1-5 levels over 2 venues x {SYMBOLS} symbols")

    fast_step, fast_summary = fast_lane_path()
    ccxt_step, ccxt_summary = ccxt_path()
    timings = measure(
        {
            "fast": fast_step,
            "ccxt": ccxt_step,
            "floor": floor_path(msgspec.json.decode),
            "stdlib": floor_path(json.loads),
            "ccxt_decode": floor_path(ccxt_json.loads),
        },
        frames,
        warm,
    )
    fast, ccxt_t, floor_t = timings["fast"], timings["ccxt"], timings["floor"]
    stdlib_t, ccxt_decode_t = timings["stdlib"], timings["ccxt_decode"]

    fast_rate, fast_p99 = report("fast lane", fast)
    ccxt_rate, _ = report("ccxt.pro", ccxt_t)
    floor_rate, _ = report("floor", floor_t)
    report("json.loads", stdlib_t)
    report(f"{ccxt_json.__name__}", ccxt_decode_t)
    print(f"fast lane: {fast_summary()}   ccxt: {ccxt_summary()}")
    print(
        f"fast lane / ccxt = {fast_rate / ccxt_rate:.1f}x   floor / fast lane = {floor_rate / fast_rate:.1f}x"
    )
    print(
        f"fast_lane updates_per_s={fast_rate:.0f} p99_us={fast_p99:.2f}"
        f" ccxt_updates_per_s={ccxt_rate:.0f} ratio={fast_rate / ccxt_rate:.1f}"
        f" floor_updates_per_s={floor_rate:.0f}"
    )


if __name__ == "__main__":
    main()
