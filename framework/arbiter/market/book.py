"""The L2 order book of one (venue, instrument): exact integer levels, O(1) top of book.

Each side is a dict (price -> size) for O(1) updates of existing levels plus a sorted list of its
keys for order. Bids are keyed by the *negated* price so both lists ascend toward the far side
and the best level is always index 0. A new or removed level costs one `bisect` and a C-level
memmove, which on books of a few hundred levels is far cheaper than any balanced tree in Python.

Prices and sizes are integers in units of `10**-price_scale` and `10**-size_scale`
(see `arbiter.market.units`); `Decimal` appears only at the edges.

The book does not know venue sequencing rules: the codec that feeds it decides when an update is
valid and marks the book stale when its chain breaks. A stale book keeps its last levels (useful
for diagnostics) but consumers must not trade on it.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from arbiter.market.units import from_units

Level = tuple[int, int]  # (price units, size units)


class Side(StrEnum):
    BID = "bid"
    ASK = "ask"


class OrderBook:
    __slots__ = (
        "_ask_keys",
        "_ask_sizes",
        "_bid_keys",
        "_bid_sizes",
        "price_scale",
        "size_scale",
        "stale",
        "stale_reason",
        "symbol",
        "update_id",
        "updated_ms",
        "venue",
    )

    def __init__(self, venue: str, symbol: str, price_scale: int, size_scale: int) -> None:
        self.venue = venue
        self.symbol = symbol
        self.price_scale = price_scale
        self.size_scale = size_scale
        self._bid_sizes: dict[int, int] = {}
        self._bid_keys: list[int] = []  # negated prices, ascending: best bid first
        self._ask_sizes: dict[int, int] = {}
        self._ask_keys: list[int] = []  # prices, ascending: best ask first
        # A book starts stale: it has no levels a strategy could trust until a snapshot lands.
        self.stale = True
        self.stale_reason = "no snapshot yet"
        self.update_id = 0  # the venue's sequence id of the last applied update
        self.updated_ms = 0  # venue timestamp of the last applied update

    # -- writing ---------------------------------------------------------------------------

    def reset(self, bids: Iterable[Level], asks: Iterable[Level], ts_ms: int = 0) -> None:
        """Replace both sides (a snapshot) and clear the stale flag."""
        # Later levels win, as in `apply`; zero sizes are dropped after that, not before.
        bid_sizes = {-price: size for price, size in bids}
        ask_sizes = dict(asks)
        self._bid_sizes = {key: size for key, size in bid_sizes.items() if size}
        self._bid_keys = sorted(self._bid_sizes)
        self._ask_sizes = {key: size for key, size in ask_sizes.items() if size}
        self._ask_keys = sorted(self._ask_sizes)
        self.stale = False
        self.stale_reason = ""
        self.updated_ms = ts_ms

    def apply(self, bids: Iterable[Level], asks: Iterable[Level], ts_ms: int = 0) -> None:
        """Apply absolute level sizes; size 0 deletes the level (unknown levels are ignored)."""
        sizes = self._bid_sizes
        keys = self._bid_keys
        for price, size in bids:
            key = -price
            if size:
                if key not in sizes:
                    insort(keys, key)
                sizes[key] = size
            elif sizes.pop(key, 0):
                del keys[bisect_left(keys, key)]
        sizes = self._ask_sizes
        keys = self._ask_keys
        for key, size in asks:
            if size:
                if key not in sizes:
                    insort(keys, key)
                sizes[key] = size
            elif sizes.pop(key, 0):
                del keys[bisect_left(keys, key)]
        self.updated_ms = ts_ms

    def mark_stale(self, reason: str) -> None:
        self.stale = True
        self.stale_reason = reason

    # -- reading (integer units) -----------------------------------------------------------

    def best_bid(self) -> Level | None:
        keys = self._bid_keys
        if not keys:
            return None
        key = keys[0]
        return (-key, self._bid_sizes[key])

    def best_ask(self) -> Level | None:
        keys = self._ask_keys
        if not keys:
            return None
        key = keys[0]
        return (key, self._ask_sizes[key])

    def is_crossed(self) -> bool:
        """True when best bid >= best ask, which a consistent venue book never shows."""
        return bool(self._bid_keys and self._ask_keys and -self._bid_keys[0] >= self._ask_keys[0])

    def level_count(self, side: Side) -> int:
        return len(self._bid_keys) if side is Side.BID else len(self._ask_keys)

    def depth(self, side: Side, levels: int | None = None) -> list[Level]:
        """The best `levels` levels of one side, best first (all when None)."""
        if side is Side.BID:
            keys = self._bid_keys if levels is None else self._bid_keys[:levels]
            bid_sizes = self._bid_sizes
            return [(-key, bid_sizes[key]) for key in keys]
        keys = self._ask_keys if levels is None else self._ask_keys[:levels]
        ask_sizes = self._ask_sizes
        return [(key, ask_sizes[key]) for key in keys]

    def size_at(self, side: Side, price: int) -> int:
        if side is Side.BID:
            return self._bid_sizes.get(-price, 0)
        return self._ask_sizes.get(price, 0)

    def cost_to_take(self, side: Side, size: int) -> int | None:
        """Notional (price units x size units) of taking `size` from `side`, best levels first.

        Returns None when the side holds less than `size`: a VWAP over missing depth would be a
        price nobody can trade at. VWAP = cost / size, kept as an exact ratio by the caller.
        """
        if size <= 0:
            raise ValueError(f"expected positive size, was {size}")
        return self.buy_cost(size) if side is Side.ASK else self.sell_proceeds(size)

    def buy_cost(self, size: int) -> int | None:
        """`cost_to_take(Side.ASK, size)` without the checks: the spread engine's inner loop."""
        sizes = self._ask_sizes
        remaining = size
        cost = 0
        for price in self._ask_keys:
            available = sizes[price]
            if available >= remaining:
                return cost + price * remaining
            cost += price * available
            remaining -= available
        return None

    def sell_proceeds(self, size: int) -> int | None:
        """`cost_to_take(Side.BID, size)` without the checks."""
        sizes = self._bid_sizes
        remaining = size
        proceeds = 0
        for key in self._bid_keys:
            available = sizes[key]
            if available >= remaining:
                return proceeds - key * remaining  # keys are negated prices
            proceeds -= key * available
            remaining -= available
        return None

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
            f" levels={len(self._bid_keys)}x{len(self._ask_keys)}, stale={self.stale})"
        )
