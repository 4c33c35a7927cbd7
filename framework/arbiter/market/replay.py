"""Replay a recorded stream (one raw venue frame per line) through a codec and its books.

Used by `arbiter book replay` and by tests; the report is plain data so the CLI only formats it.
Latencies are floats in microseconds: they are measurements, not money.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from arbiter.market.book import OrderBook, Side
from arbiter.market.codec import CodecStats, MarketCodec


@dataclass(frozen=True, slots=True)
class BookSummary:
    symbol: str
    best_bid: str | None
    best_bid_size: str | None
    best_ask: str | None
    best_ask_size: str | None
    bid_levels: int
    ask_levels: int
    stale: bool

    @classmethod
    def of(cls, book: OrderBook) -> BookSummary:
        bid, ask = book.best_bid(), book.best_ask()
        return cls(
            symbol=book.symbol,
            best_bid=None if bid is None else _plain(book.price(bid[0])),
            best_bid_size=None if bid is None else _plain(book.size(bid[1])),
            best_ask=None if ask is None else _plain(book.price(ask[0])),
            best_ask_size=None if ask is None else _plain(book.size(ask[1])),
            bid_levels=book.level_count(Side.BID),
            ask_levels=book.level_count(Side.ASK),
            stale=book.stale,
        )


@dataclass(frozen=True, slots=True)
class ReplayReport:
    venue: str
    stats: CodecStats
    books: list[BookSummary]
    frames_per_s: float
    p50_us: float
    p99_us: float
    p999_us: float

    def as_dict(self) -> dict[str, Any]:
        stats = self.stats
        return {
            "venue": self.venue,
            "frames": stats.frames,
            "updates_applied": stats.updates_applied,
            "gaps": stats.gaps,
            "resyncs": stats.resyncs,
            "checksum_failures": stats.checksum_failures,
            "malformed": stats.malformed,
            "dropped_while_stale": stats.dropped_while_stale,
            "sequence_resets": stats.sequence_resets,
            "frames_per_s": round(self.frames_per_s, 1),
            "p50_us": round(self.p50_us, 2),
            "p99_us": round(self.p99_us, 2),
            "p999_us": round(self.p999_us, 2),
            "books": {
                b.symbol: {
                    "best_bid": b.best_bid,
                    "best_bid_size": b.best_bid_size,
                    "best_ask": b.best_ask,
                    "best_ask_size": b.best_ask_size,
                    "bid_levels": b.bid_levels,
                    "ask_levels": b.ask_levels,
                    "stale": b.stale,
                }
                for b in self.books
            },
        }


def replay(codec: MarketCodec, frames: Iterable[bytes]) -> ReplayReport:
    """Feed every non-empty line to `codec`, timing each frame."""
    clock = time.perf_counter_ns
    feed = codec.feed
    timings: list[int] = []
    for frame in frames:
        if not frame.strip():
            continue  # a blank line is not a frame the venue sent
        start = clock()
        feed(frame)
        timings.append(clock() - start)
    total_ns = sum(timings)
    return ReplayReport(
        venue=codec.venue,
        stats=codec.stats,
        books=[BookSummary.of(book) for _, book in sorted(codec.books.items())],
        frames_per_s=len(timings) / (total_ns / 1e9) if total_ns else 0.0,
        p50_us=percentile_us(timings, 50.0),
        p99_us=percentile_us(timings, 99.0),
        p999_us=percentile_us(timings, 99.9),
    )


def _plain(value: Decimal) -> str:
    # Books of unknown instruments carry 8 decimals; print the number, not the scale.
    return format(value.normalize(), "f")


def percentile_us(samples_ns: list[int], pct: float) -> float:
    """Nearest-rank percentile of nanosecond samples, in microseconds (0 when empty)."""
    if not samples_ns:
        return 0.0
    ordered = sorted(samples_ns)
    rank = min(len(ordered), max(1, math.ceil(pct * len(ordered) / 100.0)))
    return ordered[rank - 1] / 1_000.0
