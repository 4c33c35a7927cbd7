"""The L2 order book of one (venue, instrument): exact integer levels, O(1) top of book.

The levels live in C (`arbiter.market._book.BookCore`): per side a sorted array of integer prices
with their sizes, best level last, so an update near the touch moves only the few levels behind
it and the best bid or ask is one array read. `apply_next_json` reads a venue's JSON levels
straight into the book (the codecs' fast path), exact and without a float.

Prices and sizes are integers in units of `10**-price_scale` and `10**-size_scale`
(see `arbiter.market.units`), at most `UNITS_MAX`; `Decimal` appears only at the edges.

Cost queries (`buy_cost`, `sell_proceeds`) remember how deep they walked. Each side keeps an
*epoch* that `apply` advances only when it touches a level at or inside the deepest level any
cost query used since the last advance (or, after a query found the side too thin, any level).
A reader that cached a cost together with the side's epoch may keep using it while the epoch is
unchanged: a level beyond the last one a walk consumed cannot change what that walk returns.
This is how the spread engine skips recomputing a pair that a far-from-the-touch update left
exactly as it was.

The book does not know venue sequencing rules: the codec that feeds it decides when an update is
valid and marks the book stale when its chain breaks. A stale book keeps its last levels (useful
for diagnostics) but consumers must not trade on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from arbiter.market._book import UNITS_MAX, BookCore
from arbiter.market.units import from_units

__all__ = ["UNITS_MAX", "Level", "OrderBook", "Side"]

Level = tuple[int, int]  # (price units, size units)


class Side(StrEnum):
    BID = "bid"
    ASK = "ask"


class OrderBook(BookCore):
    """Levels, epochs, `updated_ms` and the hot queries come from `BookCore` (C):

    - `apply(bids, asks, ts_ms=0) -> bool`: absolute level sizes, size 0 deletes the level
      (unknown levels are ignored); returns whether the book is now crossed, the caller's cue to
      refuse the update. Levels are applied atomically: a bad one leaves the book untouched.
    - `apply_next_json(update_id, bids, asks, ts_ms) -> (bids, asks, crossed) | None`: the
      update that follows the last one (`update_id`, the venue's sequence id, is the last one
      + 1) on a live book, each side's levels as the venue's JSON bytes
      (`[["price","size"],...]`, any buffer, e.g. a `msgspec.Raw`), so the hot path creates no
      string per level; returns the parsed levels. None, with the book untouched, when the book
      is stale, the id does not follow, or the bytes are anything else (a text off the grid,
      escapes, other shapes): the caller then takes its validating path.
    - `best_bid()`, `best_ask()`, `is_crossed()`, `bid_levels`, `ask_levels`, `bid_epoch`,
      `ask_epoch`, `buy_cost(size)`, `sell_proceeds(size)`, the `stale` flag and `update_id`
      (a signed 64-bit integer).
    """

    __slots__ = ("stale_reason", "symbol", "venue")

    def __init__(self, venue: str, symbol: str, price_scale: int, size_scale: int) -> None:
        super().__init__(price_scale, size_scale)
        self.venue = venue
        self.symbol = symbol
        # A book starts stale: it has no levels a strategy could trust until a snapshot lands.
        self.stale = True
        self.stale_reason = "no snapshot yet"

    # -- writing ---------------------------------------------------------------------------

    def reset(self, bids: Iterable[Level], asks: Iterable[Level], ts_ms: int = 0) -> None:
        """Replace both sides (a snapshot) and clear the stale flag.

        Later levels win, as in `apply`; zero sizes are dropped after that, not before.
        """
        self._reset_levels(bids, asks, ts_ms)
        self.stale = False
        self.stale_reason = ""

    def mark_stale(self, reason: str) -> None:
        self.stale = True
        self.stale_reason = reason

    # -- reading (integer units) -----------------------------------------------------------

    def level_count(self, side: Side) -> int:
        return self.bid_levels if side is Side.BID else self.ask_levels

    def depth(self, side: Side, levels: int | None = None) -> list[Level]:
        """The best `levels` levels of one side, best first (all when None)."""
        return self._depth_of(side is Side.BID, levels)

    def size_at(self, side: Side, price: int) -> int:
        return self._size_of(side is Side.BID, price)

    def cost_to_take(self, side: Side, size: int) -> int | None:
        """Notional (price units x size units) of taking `size` from `side`, best levels first.

        Returns None when the side holds less than `size`: a VWAP over missing depth would be a
        price nobody can trade at. VWAP = cost / size, kept as an exact ratio by the caller.
        """
        if size <= 0:
            raise ValueError(f"expected positive size, was {size}")
        return self.buy_cost(size) if side is Side.ASK else self.sell_proceeds(size)

    def age_ms(self, now_ms: int) -> int:
        """Milliseconds since the venue timestamp of the last applied update."""
        return now_ms - self.updated_ms

    # -- edges (Decimal) -------------------------------------------------------------------

    def price(self, units: int) -> Decimal:
        return from_units(units, self.price_scale)

    def size(self, units: int) -> Decimal:
        return from_units(units, self.size_scale)

    def vwap(self, side: Side, size: Decimal) -> Decimal | None:
        """Volume-weighted price of taking `size` (venue size units as Decimal) from `side`."""
        size_units = int(size.scaleb(self.size_scale))
        cost = self.cost_to_take(side, size_units)
        if cost is None:
            return None
        return (Decimal(cost) / Decimal(size_units)).scaleb(-self.price_scale)

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.venue}:{self.symbol}, bid={self.best_bid()}, ask={self.best_ask()},"
            f" levels={self.bid_levels}x{self.ask_levels}, stale={self.stale})"
        )
