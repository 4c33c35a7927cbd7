"""The L2 order book of one (venue, instrument): exact integer levels, O(1) top of book.

Each side is a dict (price -> size) for O(1) updates of existing levels plus an ascending list of
its prices for order: the best ask is the first ask price, the best bid the last bid price. A new
or removed level costs one `bisect` and a C-level memmove, which on books of a few hundred levels
is far cheaper than any balanced tree in Python.

Prices and sizes are integers in units of `10**-price_scale` and `10**-size_scale`
(see `arbiter.market.units`); `Decimal` appears only at the edges.

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

from bisect import bisect_left, insort
from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from arbiter.market.units import from_units

Level = tuple[int, int]  # (price units, size units)

# Integer prices beyond any real one, for the walked-depth bounds (see the module doc): an ask
# touch at or below the ask bound, or a bid touch at or above the bid bound, is inside.
_ABOVE_ALL = 1 << 256
_BELOW_ALL = -_ABOVE_ALL


class Side(StrEnum):
    BID = "bid"
    ASK = "ask"


class OrderBook:
    __slots__ = (
        "_ask_bound",
        "_ask_prices",
        "_ask_sizes",
        "_bid_bound",
        "_bid_prices",
        "_bid_sizes",
        "ask_epoch",
        "bid_epoch",
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
        self._bid_prices: list[int] = []  # ascending: best bid last
        self._ask_sizes: dict[int, int] = {}
        self._ask_prices: list[int] = []  # ascending: best ask first
        # A book starts stale: it has no levels a strategy could trust until a snapshot lands.
        self.stale = True
        self.stale_reason = "no snapshot yet"
        self.update_id = 0  # the venue's sequence id of the last applied update
        self.updated_ms = 0  # venue timestamp of the last applied update
        # Epochs advance when a change may alter a cost query's answer (see the module doc).
        # A bound is the deepest price walked since the last advance; none walked yet.
        self.bid_epoch = 0
        self.ask_epoch = 0
        self._bid_bound = _ABOVE_ALL
        self._ask_bound = _BELOW_ALL

    # -- writing ---------------------------------------------------------------------------

    def reset(self, bids: Iterable[Level], asks: Iterable[Level], ts_ms: int = 0) -> None:
        """Replace both sides (a snapshot) and clear the stale flag."""
        # Later levels win, as in `apply`; zero sizes are dropped after that, not before.
        bid_sizes = dict(bids)
        ask_sizes = dict(asks)
        self._bid_sizes = {price: size for price, size in bid_sizes.items() if size}
        self._bid_prices = sorted(self._bid_sizes)
        self._ask_sizes = {price: size for price, size in ask_sizes.items() if size}
        self._ask_prices = sorted(self._ask_sizes)
        self.bid_epoch += 1
        self.ask_epoch += 1
        self._bid_bound = _ABOVE_ALL
        self._ask_bound = _BELOW_ALL
        self.stale = False
        self.stale_reason = ""
        self.updated_ms = ts_ms

    def apply(self, bids: Iterable[Level], asks: Iterable[Level], ts_ms: int = 0) -> bool:
        """Apply absolute level sizes; size 0 deletes the level (unknown levels are ignored).

        Returns whether the book is now crossed (see `is_crossed`): the caller's cue to refuse
        the update, checked here because it costs a comparison rather than another call.
        """
        if bids:  # a delta often touches one side only: skip the other's setup
            sizes = self._bid_sizes
            prices = self._bid_prices
            bound = self._bid_bound
            inside = False
            for price, size in bids:
                if price >= bound:
                    inside = True
                if size:
                    if price not in sizes:
                        insort(prices, price)
                    sizes[price] = size
                elif sizes.pop(price, 0):
                    del prices[bisect_left(prices, price)]
            if inside:
                self.bid_epoch += 1
                self._bid_bound = _ABOVE_ALL
        if asks:
            sizes = self._ask_sizes
            prices = self._ask_prices
            bound = self._ask_bound
            inside = False
            for price, size in asks:
                if price <= bound:
                    inside = True
                if size:
                    if price not in sizes:
                        insort(prices, price)
                    sizes[price] = size
                elif sizes.pop(price, 0):
                    del prices[bisect_left(prices, price)]
            if inside:
                self.ask_epoch += 1
                self._ask_bound = _BELOW_ALL
        self.updated_ms = ts_ms
        bid_prices = self._bid_prices
        ask_prices = self._ask_prices
        if bid_prices and ask_prices:
            return bid_prices[-1] >= ask_prices[0]
        return False

    def mark_stale(self, reason: str) -> None:
        self.stale = True
        self.stale_reason = reason

    # -- reading (integer units) -----------------------------------------------------------

    def best_bid(self) -> Level | None:
        prices = self._bid_prices
        if not prices:
            return None
        price = prices[-1]
        return (price, self._bid_sizes[price])

    def best_ask(self) -> Level | None:
        prices = self._ask_prices
        if not prices:
            return None
        price = prices[0]
        return (price, self._ask_sizes[price])

    def is_crossed(self) -> bool:
        """True when best bid >= best ask, which a consistent venue book never shows."""
        bids = self._bid_prices
        asks = self._ask_prices
        return bool(bids and asks and bids[-1] >= asks[0])

    def level_count(self, side: Side) -> int:
        return len(self._bid_prices) if side is Side.BID else len(self._ask_prices)

    def depth(self, side: Side, levels: int | None = None) -> list[Level]:
        """The best `levels` levels of one side, best first (all when None)."""
        if side is Side.BID:
            bid_sizes = self._bid_sizes
            bids = self._bid_prices
            if levels is not None:
                bids = bids[max(0, len(bids) - levels) :]
            return [(price, bid_sizes[price]) for price in reversed(bids)]
        ask_sizes = self._ask_sizes
        asks = self._ask_prices if levels is None else self._ask_prices[:levels]
        return [(price, ask_sizes[price]) for price in asks]

    def size_at(self, side: Side, price: int) -> int:
        if side is Side.BID:
            return self._bid_sizes.get(price, 0)
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
        """`cost_to_take(Side.ASK, size)` without the checks: the spread engine's inner loop.

        Valid until `ask_epoch` changes (see the module doc).
        """
        sizes = self._ask_sizes
        walked = self._ask_bound
        remaining = size
        cost = 0
        for price in self._ask_prices:
            available = sizes[price]
            if available >= remaining:
                if price > walked:  # a comparison, not a `max` call: this is the inner loop
                    self._ask_bound = price
                return cost + price * remaining
            cost += price * available
            remaining -= available
        self._ask_bound = _ABOVE_ALL
        return None

    def sell_proceeds(self, size: int) -> int | None:
        """`cost_to_take(Side.BID, size)` without the checks; valid until `bid_epoch` changes."""
        sizes = self._bid_sizes
        walked = self._bid_bound
        remaining = size
        proceeds = 0
        for price in reversed(self._bid_prices):
            available = sizes[price]
            if available >= remaining:
                if price < walked:
                    self._bid_bound = price
                return proceeds + price * remaining
            proceeds += price * available
            remaining -= available
        self._bid_bound = _BELOW_ALL
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
            f" levels={len(self._bid_prices)}x{len(self._ask_prices)}, stale={self.stale})"
        )
