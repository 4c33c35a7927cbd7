"""A level-list book for gate tests, loaded from the venue fixtures.

It implements `arbiter.risk.snapshot.BookView` directly over sorted (price, size) levels; the
gates under test only compare what it reports, so its arithmetic is kept obvious.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from arbiter.risk.snapshot import BPS, Side

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "venues"


@dataclass
class LevelBook:
    bids: list[tuple[Decimal, Decimal]]  # best first
    asks: list[tuple[Decimal, Decimal]]  # best first
    updated_ns: int = 0
    is_stale: bool = False

    def best(self, side: Side) -> tuple[Decimal, Decimal] | None:
        levels = self.bids if side is Side.BID else self.asks
        return levels[0] if levels else None

    def depth_within(self, side: Side, bps: Decimal) -> Decimal:
        levels = self.bids if side is Side.BID else self.asks
        if not levels:
            return Decimal(0)
        touch = levels[0][0]
        if side is Side.BID:
            return sum((s for p, s in levels if p >= touch * (1 - bps / BPS)), Decimal(0))
        return sum((s for p, s in levels if p <= touch * (1 + bps / BPS)), Decimal(0))

    def age_ms(self, now_ns: int) -> float:
        return (now_ns - self.updated_ns) / 1e6

    @property
    def stale(self) -> bool:
        return self.is_stale


def xrp_snapshot_book() -> LevelBook:
    """The real Bybit XRPUSDT 500-level snapshot (first line of the recording)."""
    first = (FIXTURES / "bybit" / "2024-12-01_XRPUSDT_ob500.data").read_text().splitlines()[0]
    data = json.loads(first)["data"]
    return LevelBook(
        bids=[(Decimal(p), Decimal(s)) for p, s in data["b"]],
        asks=[(Decimal(p), Decimal(s)) for p, s in data["a"]],
    )


def scaled(book: LevelBook, factor: Decimal) -> LevelBook:
    """The same price levels with every size multiplied by `factor` (a thin or deep copy)."""
    return LevelBook(
        bids=[(p, s * factor) for p, s in book.bids],
        asks=[(p, s * factor) for p, s in book.asks],
        updated_ns=book.updated_ns,
        is_stale=book.is_stale,
    )
