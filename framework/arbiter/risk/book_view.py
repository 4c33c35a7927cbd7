"""A gate's read-only view of a live `OrderBook`, in base units and Decimal.

Read at decision time (a threshold crossing), never per tick, so it walks the book directly:
what a gate checks is the book at that instant. Sizes are converted from venue units to base
units with the instrument's contract value (OKX swaps trade contracts of 0.01 BTC).
"""

from __future__ import annotations

from decimal import Decimal

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
        levels = self._book.depth(_BOOK_SIDE[side])
        if not levels:
            return Decimal(0)
        touch = self._book.price(levels[0][0])
        limit = touch * (1 - bps / BPS) if side is Side.BID else touch * (1 + bps / BPS)
        total = 0
        for price_units, size_units in levels:
            price = self._book.price(price_units)
            if (side is Side.BID and price < limit) or (side is Side.ASK and price > limit):
                break
            total += size_units
        return self._book.size(total) * self._contract_value

    def age_ms(self, now_ns: int) -> float:
        return float(self._book.age_ms(now_ns // 1_000_000))

    @property
    def stale(self) -> bool:
        return self._book.stale
