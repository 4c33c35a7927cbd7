"""The spread engine: book changes in, threshold crossings out, recomputing only what changed.

A pair buys spot and sells the perpetual to enter, and does the reverse to exit. For each pair
the engine keeps two figures, in basis points of the spot leg, after taker fees on both legs and
at the VWAP of the pair's size (not the top of book, which may hold a fraction of it):

    entry = (perp_bid_vwap * (1 - perp_fee) - spot_ask_vwap * (1 + spot_fee)) / spot_ask_vwap
    exit  = (perp_ask_vwap * (1 + perp_fee) - spot_bid_vwap * (1 - spot_fee)) / spot_bid_vwap

Entry turns *active* when entry >= entry_bps and inactive again only once it falls below
entry_bps - hysteresis_bps; exit turns active when exit <= exit_bps and inactive above
exit_bps + hysteresis_bps. A `SpreadSignal` is emitted on each of those changes only, never per
tick. A missing, stale or too-thin book makes a figure unknown, which deactivates it.

Arithmetic is exact integer arithmetic on book units; spreads are integers of micro-bps
(1e-6 bp), floored. No float touches a price.

A pair keeps the cost of its size on each of its four book sides together with that side's
epoch (see `arbiter.market.book`). A side whose epoch stands is not walked again, and a figure
whose two sides both stand is not recomputed: its VWAPs, hence the figure and its signal state,
are exactly what they were. On a live book most updates land beyond the depth a pair's size
consumes, or on one side only, so most recomputes walk one side or none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from math import gcd

import msgspec

from arbiter.market.book import OrderBook
from arbiter.market.instrument import Instrument
from arbiter.market.units import from_units, to_units

SPREAD_SCALE = 6  # spreads are integers of 10**-6 bp
_BPS_NUMERATOR = 10_000 * 10**SPREAD_SCALE
_TOO_THIN = "book too thin for size"
_NO_BOOKS: Mapping[str, OrderBook] = {}


@dataclass(frozen=True, slots=True)
class LegRef:
    venue: str
    symbol: str


@dataclass(frozen=True, slots=True)
class PairSpec:
    """One arbitrage pair as the engine needs it; a manifest pair maps onto this one to one.

    size: base-asset quantity of one cycle (e.g. 0.5 BTC), converted per leg with the
    instrument's contract value. Thresholds and hysteresis are in basis points.
    """

    pair_id: str
    spot: LegRef
    perp: LegRef
    size: Decimal
    entry_bps: Decimal
    exit_bps: Decimal
    hysteresis_bps: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if not self.pair_id:
            raise ValueError("expected a non-empty pair_id, was ''")
        if self.size <= 0:
            raise ValueError(f"{self.pair_id}: expected positive size, was {self.size}")
        if self.hysteresis_bps < 0:
            raise ValueError(
                f"{self.pair_id}: expected hysteresis_bps >= 0, was {self.hysteresis_bps}"
            )


class SignalKind(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class SpreadSignal(msgspec.Struct, frozen=True, gc=False):
    """A threshold crossing of one pair's entry or exit figure.

    A msgspec struct, like the market events: it is built on the reader's hot path, where a
    frozen dataclass costs about four times as much to construct.
    """

    pair_id: str
    kind: SignalKind
    active: bool
    spread_bps: Decimal | None  # None when the spread became unknown (stale or thin book)
    reason: str = ""


class _Pair:
    """A pair's books, precomputed integer constants (per book scale) and signal states."""

    __slots__ = (
        "_scales",
        "dirty",
        "entry_a",
        "entry_active",
        "entry_b",
        "entry_den",
        "entry_hold",
        "entry_on",
        "entry_release",
        "entry_threshold",
        "exit_a",
        "exit_active",
        "exit_b",
        "exit_den",
        "exit_hold",
        "exit_on",
        "exit_release",
        "exit_threshold",
        "perp",
        "perp_ask",
        "perp_ask_epoch",
        "perp_bid",
        "perp_bid_epoch",
        "perp_book",
        "perp_qty",
        "spec",
        "spot",
        "spot_ask",
        "spot_ask_epoch",
        "spot_bid",
        "spot_bid_epoch",
        "spot_book",
        "spot_qty",
    )

    def __init__(self, spec: PairSpec, spot: Instrument, perp: Instrument) -> None:
        self.spec = spec
        self.dirty = False  # listed in the engine's dirty pairs
        self.spot = spot
        self.perp = perp
        self.entry_threshold = to_units(spec.entry_bps, SPREAD_SCALE)
        self.exit_threshold = to_units(spec.exit_bps, SPREAD_SCALE)
        hysteresis = to_units(spec.hysteresis_bps, SPREAD_SCALE)
        self.entry_release = self.entry_threshold - hysteresis  # an active entry turns off below
        self.exit_release = self.exit_threshold + hysteresis  # an active exit turns off above
        self.entry_active = False
        self.exit_active = False
        # The cost of taking the pair's size from each book side, and the side's epoch when it
        # was walked (-1 is never an epoch): unchanged epoch, unchanged cost.
        self.spot_ask: int | None = None
        self.spot_bid: int | None = None
        self.perp_ask: int | None = None
        self.perp_bid: int | None = None
        self.spot_ask_epoch = self.spot_bid_epoch = self.perp_ask_epoch = self.perp_bid_epoch = -1
        self._scales: tuple[int, int, int, int] | None = None
        # A codec creates a symbol's book once and keeps it, so found books are cached.
        self.spot_book: OrderBook | None = None
        self.perp_book: OrderBook | None = None
        # filled by `constants` for the scales above
        self.spot_qty = self.perp_qty = 0
        self.entry_a = self.entry_b = self.entry_den = self.entry_on = self.entry_hold = 0
        self.exit_a = self.exit_b = self.exit_den = self.exit_on = self.exit_hold = 0

    def constants(self, spot_book: OrderBook, perp_book: OrderBook) -> None:
        scales = (
            spot_book.price_scale,
            spot_book.size_scale,
            perp_book.price_scale,
            perp_book.size_scale,
        )
        if scales == self._scales:
            return
        self._scales = scales
        size = self.spec.size
        self.spot_qty = _ceil_units(size / self.spot.contract_value, spot_book.size_scale)
        self.perp_qty = _ceil_units(size / self.perp.contract_value, perp_book.size_scale)
        sn, sd = self.spot.taker_fee.as_integer_ratio()
        pn, pd = self.perp.taker_fee.as_integer_ratio()
        spot_unit = self.spot_qty * 10**spot_book.price_scale
        perp_unit = self.perp_qty * 10**perp_book.price_scale
        # spread = (perp_cost * a - spot_cost * b) // (spot_cost * den), see module doc; the
        # three are divided by their gcd, which leaves every floor exact and the integers small.
        self.entry_a, self.entry_b, self.entry_den = _reduced(
            spot_unit * (pd - pn) * sd * _BPS_NUMERATOR,
            perp_unit * pd * (sd + sn) * _BPS_NUMERATOR,
            perp_unit * pd * sd,
        )
        self.exit_a, self.exit_b, self.exit_den = _reduced(
            spot_unit * (pd + pn) * sd * _BPS_NUMERATOR,
            perp_unit * pd * (sd - sn) * _BPS_NUMERATOR,
            perp_unit * pd * sd,
        )
        # Threshold tests without the division, exact because spot_cost * den > 0 and the
        # thresholds are integers: floor(n / d) >= t iff n >= t * d, and <= t iff n < (t + 1) * d.
        # So with n = perp_cost * a - spot_cost * b and d = spot_cost * den, each test is
        # perp_cost * a against spot_cost * (b + t * den).
        self.entry_on = self.entry_b + self.entry_threshold * self.entry_den  # entry >= threshold
        self.entry_hold = self.entry_b + self.entry_release * self.entry_den  # entry >= release
        self.exit_on = self.exit_b + (self.exit_threshold + 1) * self.exit_den  # exit <= threshold
        self.exit_hold = self.exit_b + (self.exit_release + 1) * self.exit_den  # exit <= release

    def entry(self) -> int | None:
        """The entry spread in micro-bps, floored, from the costs last walked; None if unknown."""
        spot_cost = self.spot_ask
        perp_cost = self.perp_bid
        if spot_cost and perp_cost:  # None (too thin) or 0 (zero price) is no spread
            return (perp_cost * self.entry_a - spot_cost * self.entry_b) // (
                spot_cost * self.entry_den
            )
        return None

    def exit(self) -> int | None:
        """The exit spread in micro-bps, floored, from the costs last walked; None if unknown."""
        spot_cost = self.spot_bid
        perp_cost = self.perp_ask
        if spot_cost and perp_cost:
            return (perp_cost * self.exit_a - spot_cost * self.exit_b) // (
                spot_cost * self.exit_den
            )
        return None

    def recompute(
        self, books: Mapping[str, Mapping[str, OrderBook]], signals: list[SpreadSignal]
    ) -> None:
        """Refresh both figures from the books, appending a signal per threshold crossing."""
        spot_book = self.spot_book
        perp_book = self.perp_book
        if spot_book is None or perp_book is None:
            spec = self.spec
            spot_book = books.get(spec.spot.venue, _NO_BOOKS).get(spec.spot.symbol)
            perp_book = books.get(spec.perp.venue, _NO_BOOKS).get(spec.perp.symbol)
            if spot_book is None or perp_book is None:
                self._unknown("book missing", signals)
                return
            self.spot_book = spot_book
            self.perp_book = perp_book
            self.constants(spot_book, perp_book)
        if spot_book.stale or perp_book.stale:
            self._unknown("book stale", signals)
            return

        # A figure is recomputed only when a book side it reads changed inside the depth its
        # VWAP walked (the side's epoch moved); otherwise it, and its signal state, stand.
        entry_changed = exit_changed = False
        epoch = spot_book.ask_epoch
        if epoch != self.spot_ask_epoch:
            self.spot_ask_epoch = epoch
            self.spot_ask = spot_book.buy_cost(self.spot_qty)
            entry_changed = True
        epoch = perp_book.bid_epoch
        if epoch != self.perp_bid_epoch:
            self.perp_bid_epoch = epoch
            self.perp_bid = perp_book.sell_proceeds(self.perp_qty)
            entry_changed = True
        epoch = spot_book.bid_epoch
        if epoch != self.spot_bid_epoch:
            self.spot_bid_epoch = epoch
            self.spot_bid = spot_book.sell_proceeds(self.spot_qty)
            exit_changed = True
        epoch = perp_book.ask_epoch
        if epoch != self.perp_ask_epoch:
            self.perp_ask_epoch = epoch
            self.perp_ask = perp_book.buy_cost(self.perp_qty)
            exit_changed = True

        if entry_changed:
            spot_cost = self.spot_ask
            perp_cost = self.perp_bid
            if spot_cost and perp_cost:
                gain = perp_cost * self.entry_a
                if self.entry_active:
                    if gain < spot_cost * self.entry_hold:
                        self._signal(SignalKind.ENTRY, False, signals)
                elif gain >= spot_cost * self.entry_on:
                    self._signal(SignalKind.ENTRY, True, signals)
            elif self.entry_active:
                self._signal(SignalKind.ENTRY, False, signals, _TOO_THIN)

        if exit_changed:
            spot_cost = self.spot_bid
            perp_cost = self.perp_ask
            if spot_cost and perp_cost:
                cost = perp_cost * self.exit_a
                if self.exit_active:
                    if cost >= spot_cost * self.exit_hold:
                        self._signal(SignalKind.EXIT, False, signals)
                elif cost < spot_cost * self.exit_on:
                    self._signal(SignalKind.EXIT, True, signals)
            elif self.exit_active:
                self._signal(SignalKind.EXIT, False, signals, _TOO_THIN)

    def _unknown(self, reason: str, signals: list[SpreadSignal]) -> None:
        """Both figures unknown (a book missing or stale): deactivate what was active."""
        self.spot_ask = self.spot_bid = self.perp_ask = self.perp_bid = None
        self.spot_ask_epoch = self.spot_bid_epoch = self.perp_ask_epoch = self.perp_bid_epoch = -1
        if self.entry_active:
            self._signal(SignalKind.ENTRY, False, signals, reason)
        if self.exit_active:
            self._signal(SignalKind.EXIT, False, signals, reason)

    def _signal(
        self, kind: SignalKind, active: bool, signals: list[SpreadSignal], reason: str = ""
    ) -> None:
        if kind is SignalKind.ENTRY:
            self.entry_active = active
            spread = self.entry()
        else:
            self.exit_active = active
            spread = self.exit()
        signals.append(SpreadSignal(self.spec.pair_id, kind, active, _bps(spread), reason))


class SpreadEngine:
    """Recomputes the spreads of pairs whose books changed since the last `recompute`.

    pairs: the pairs to watch. instruments: every leg's `Instrument` (fees, contract value).
    books: venue -> (symbol -> OrderBook), typically `{codec.venue: codec.books}`; read live at
    each recompute, so books a codec creates later are seen. Once a pair has found both books
    it keeps them (a codec keeps its book objects for life): build a new engine for a new codec.

    Call `mark_dirty` for every book event and `recompute` whenever a decision is wanted (per
    frame on the venue reader, or per batch); each call returns only threshold crossings.
    """

    def __init__(
        self,
        pairs: Iterable[PairSpec],
        instruments: Iterable[Instrument],
        books: Mapping[str, Mapping[str, OrderBook]],
    ) -> None:
        by_key = {(i.venue, i.symbol): i for i in instruments}
        self._books = books
        self._pairs: dict[str, _Pair] = {}
        self._pairs_by_leg: dict[str, dict[str, list[_Pair]]] = {}  # venue -> symbol -> pairs
        # Pairs touching a book marked dirty since the last recompute, in marking order (each
        # listed once, by its `dirty` flag), so signals come out in a deterministic order.
        self._dirty: list[_Pair] = []
        for spec in pairs:
            if spec.pair_id in self._pairs:
                raise ValueError(f"expected unique pair ids, was {spec.pair_id!r} twice")
            legs = []
            for leg in (spec.spot, spec.perp):
                instrument = by_key.get((leg.venue, leg.symbol))
                if instrument is None:
                    raise ValueError(
                        f"{spec.pair_id}: expected an instrument for {leg.venue}:{leg.symbol},"
                        " was missing"
                    )
                legs.append(instrument)
            pair = _Pair(spec, legs[0], legs[1])
            self._pairs[spec.pair_id] = pair
            for leg in (spec.spot, spec.perp):
                venue_pairs = self._pairs_by_leg.setdefault(leg.venue, {})
                venue_pairs.setdefault(leg.symbol, []).append(pair)

    def mark_dirty(self, venue: str, symbol: str) -> None:
        """A book changed (or went stale); O(1), called from the venue reader on every update."""
        venue_pairs = self._pairs_by_leg.get(venue)
        if venue_pairs is not None:
            for pair in venue_pairs.get(symbol, ()):
                if not pair.dirty:
                    pair.dirty = True
                    self._dirty.append(pair)

    def recompute(self) -> list[SpreadSignal]:
        """Recompute pairs touching a dirty book; return threshold crossings only."""
        signals: list[SpreadSignal] = []
        dirty = self._dirty
        if dirty:
            self._dirty = []
            books = self._books
            for pair in dirty:
                pair.dirty = False
                pair.recompute(books, signals)
        return signals

    def spreads(self, pair_id: str) -> tuple[Decimal | None, Decimal | None]:
        """(entry, exit) in bps as last computed; None while unknown."""
        pair = self._pairs[pair_id]
        return _bps(pair.entry()), _bps(pair.exit())


def _reduced(a: int, b: int, den: int) -> tuple[int, int, int]:
    g = gcd(a, b, den)
    return a // g, b // g, den // g


def _ceil_units(value: Decimal, scale: int) -> int:
    # Rounding a leg's size *up* keeps the VWAP honest: never price less than the pair needs.
    return int((value.scaleb(scale)).to_integral_value(rounding="ROUND_CEILING"))


def _bps(micro_bps: int | None) -> Decimal | None:
    return None if micro_bps is None else from_units(micro_bps, SPREAD_SCALE)
