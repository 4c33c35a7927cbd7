"""The simulator's matching book: the simulated market's L2 liquidity as integer ticks -> lots.

Our own resting orders live in the engine, not here: this book is what the (simulated) rest of
the market offers. Every change is recorded so the wire dialects can publish exact deltas, and
every published change bumps `seq` by one, which is what Bybit's `u` and OKX's `seqId` carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


@dataclass(frozen=True, slots=True)
class BookDelta:
    """Levels that changed in one step; a size of 0 removes the level."""

    symbol: str
    seq: int
    prev_seq: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


@dataclass
class MatchingBook:
    symbol: str
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    seq: int = 0
    _pending_bids: dict[int, int] = field(default_factory=dict)
    _pending_asks: dict[int, int] = field(default_factory=dict)

    def set_level(self, side: Side, ticks: int, lots: int) -> None:
        if lots < 0:
            raise ValueError(f"{self.symbol}: expected non-negative lots, was {lots}")
        levels, pending = self._side(side)
        if lots == 0:
            if levels.pop(ticks, None) is None:
                return
        elif levels.get(ticks) == lots:
            return
        else:
            levels[ticks] = lots
        pending[ticks] = lots

    def best_bid(self) -> int | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> int | None:
        return min(self.asks) if self.asks else None

    def depth(self, side: Side, n: int) -> list[tuple[int, int]]:
        """The best `n` levels of one side, best first."""
        levels = self.bids if side is Side.BUY else self.asks
        keys = sorted(levels, reverse=side is Side.BUY)[:n]
        return [(k, levels[k]) for k in keys]

    def take(self, taker_side: Side, lots: int, limit_ticks: int | None) -> list[tuple[int, int]]:
        """Consume liquidity opposite `taker_side` up to `limit_ticks`; returns (ticks, lots) fills."""
        book_side = taker_side.opposite
        fills: list[tuple[int, int]] = []
        for ticks, size in self.depth(book_side, len(self.bids) + len(self.asks)):
            if lots == 0:
                break
            if limit_ticks is not None and (
                (taker_side is Side.BUY and ticks > limit_ticks)
                or (taker_side is Side.SELL and ticks < limit_ticks)
            ):
                break
            qty = min(size, lots)
            fills.append((ticks, qty))
            lots -= qty
            self.set_level(book_side, ticks, size - qty)
        return fills

    def available(self, taker_side: Side, limit_ticks: int | None) -> int:
        """Lots a taker could fill at `limit_ticks` or better (FOK needs this before it trades)."""
        levels = self.asks if taker_side is Side.BUY else self.bids
        if limit_ticks is None:
            return sum(levels.values())
        if taker_side is Side.BUY:
            return sum(s for t, s in levels.items() if t <= limit_ticks)
        return sum(s for t, s in levels.items() if t >= limit_ticks)

    def flush(self) -> BookDelta | None:
        """Everything changed since the last flush as one delta, or None if nothing did."""
        if not self._pending_bids and not self._pending_asks:
            return None
        prev = self.seq
        self.seq += 1
        delta = BookDelta(
            symbol=self.symbol,
            seq=self.seq,
            prev_seq=prev,
            bids=tuple(sorted(self._pending_bids.items(), reverse=True)),
            asks=tuple(sorted(self._pending_asks.items())),
        )
        self._pending_bids.clear()
        self._pending_asks.clear()
        return delta

    def _side(self, side: Side) -> tuple[dict[int, int], dict[int, int]]:
        if side is Side.BUY:
            return self.bids, self._pending_bids
        return self.asks, self._pending_asks
