"""A gate's read-only view of a live `OrderBook`, in base units and Decimal.

Read at decision time (a threshold crossing), never per tick, so it walks the book directly:
what a gate checks is the book at that instant. Sizes are converted from venue units to base
units with the instrument's contract value (OKX swaps trade contracts of 0.01 BTC).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from arbiter.market.book import OrderBook
from arbiter.market.book import Side as BookSide
from arbiter.market.instrument import Instrument
from arbiter.risk.snapshot import BPS, Side

_BOOK_SIDE = {Side.BID: BookSide.BID, Side.ASK: BookSide.ASK}


class OrderBookView:
    __slots__ = ("_book", "_contract_value")

    def __init__(self, book: OrderBook, instrument: Instrument) -> None:
        self._book = book
        self._contract_value = instrument.contract_value

    def best(self, side: Side) -> tuple[Decimal, Decimal] | None:
        level = self._book.best_bid() if side is Side.BID else self._book.best_ask()
        if level is None:
            return None
        return self._book.price(level[0]), self._book.size(level[1]) * self._contract_value

    def depth_within(self, side: Side, bps: Decimal) -> Decimal:
        book_side = _BOOK_SIDE[side]
        first = self._book.depth(book_side, 1)
        if not first:
            return Decimal(0)
        touch = first[0][0]
        # The limit in integer price units, rounded toward the touch: a level exactly on the
        # boundary counts, one a fraction of a unit beyond it does not. Integers in the loop.
        if side is Side.BID:
            bound = int((touch * (1 - bps / BPS)).to_integral_value(rounding=ROUND_CEILING))
        else:
            bound = int((touch * (1 + bps / BPS)).to_integral_value(rounding=ROUND_FLOOR))
        wanted = 16  # most windows hold a few dozen levels: do not copy a 500-level side
        while True:
            levels = self._book.depth(book_side, wanted)
            total = 0
            for price, size in levels:
                if (price < bound) if side is Side.BID else (price > bound):
                    return self._book.size(total) * self._contract_value
                total += size
            if len(levels) < wanted:  # the whole side is inside the window
                return self._book.size(total) * self._contract_value
            wanted *= 4

    def age_ms(self, now_ns: int) -> float:
        return float(self._book.age_ms(now_ns // 1_000_000))

    @property
    def stale(self) -> bool:
        return self._book.stale
