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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from math import gcd

import msgspec

from arbiter.market._book import (
    ENTRY_OFF,
    ENTRY_ON,
    ENTRY_THIN,
    EXIT_OFF,
    EXIT_ON,
    EXIT_THIN,
    NEED_BOOKS,
    STALE,
    DirtyPairs,
    PairCore,
)
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
    frozen dataclass costs several times as much to construct.
    """

    pair_id: str
    kind: SignalKind
    active: bool
    spread_bps: Decimal | None  # None when the spread became unknown (stale or thin book)
    reason: str = ""


class _Pair(PairCore):
    """A pair's spec, instruments and integer constants (per book scale) over its C core.

    The core (`arbiter.market._book.PairCore`) holds the bound books, the cost of the pair's
    size on each of the four book sides with that side's epoch, and the two signal states; its
    `refresh` recomputes only sides whose epoch moved, applies the threshold tests below and
    reports crossings as flags, which this class turns into signals.
    """

    __slots__ = (
        "_entry_a",
        "_exit_a",
        "_scales",
        "entry_b",
        "entry_den",
        "entry_release",
        "entry_threshold",
        "exit_b",
        "exit_den",
        "exit_release",
        "exit_threshold",
        "perp",
        "spec",
        "spot",
    )

    def __init__(self, spec: PairSpec, spot: Instrument, perp: Instrument) -> None:
        super().__init__()
        self.spec = spec
        self.spot = spot
        self.perp = perp
        self.entry_threshold = to_units(spec.entry_bps, SPREAD_SCALE)
        self.exit_threshold = to_units(spec.exit_bps, SPREAD_SCALE)
        hysteresis = to_units(spec.hysteresis_bps, SPREAD_SCALE)
        self.entry_release = self.entry_threshold - hysteresis  # an active entry turns off below
        self.exit_release = self.exit_threshold + hysteresis  # an active exit turns off above
        self._scales: tuple[int, int, int, int] | None = None
        # filled by `constants` for the books' scales
        self._entry_a = self.entry_b = self.entry_den = 0
        self._exit_a = self.exit_b = self.exit_den = 0

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
        spot_qty = _ceil_units(size / self.spot.contract_value, spot_book.size_scale)
        perp_qty = _ceil_units(size / self.perp.contract_value, perp_book.size_scale)
        sn, sd = self.spot.taker_fee.as_integer_ratio()
        pn, pd = self.perp.taker_fee.as_integer_ratio()
        spot_unit = spot_qty * 10**spot_book.price_scale
        perp_unit = perp_qty * 10**perp_book.price_scale
        # spread = (perp_cost * a - spot_cost * b) // (spot_cost * den), see module doc; the
        # three are divided by their gcd, which leaves every floor exact and the integers small.
        entry_a, self.entry_b, self.entry_den = _reduced(
            spot_unit * (pd - pn) * sd * _BPS_NUMERATOR,
            perp_unit * pd * (sd + sn) * _BPS_NUMERATOR,
            perp_unit * pd * sd,
        )
        exit_a, self.exit_b, self.exit_den = _reduced(
            spot_unit * (pd + pn) * sd * _BPS_NUMERATOR,
            perp_unit * pd * (sd - sn) * _BPS_NUMERATOR,
            perp_unit * pd * sd,
        )
        self._entry_a, self._exit_a = entry_a, exit_a
        # Threshold tests without the division, exact because spot_cost * den > 0 and the
        # thresholds are integers: floor(n / d) >= t iff n >= t * d, and <= t iff n < (t + 1) * d.
        # So with n = perp_cost * a - spot_cost * b and d = spot_cost * den, each test is
        # perp_cost * a against spot_cost * (b + t * den).
        self.set_rules(
            spot_qty,
            perp_qty,
            entry_a,
            self.entry_b + self.entry_threshold * self.entry_den,  # entry >= threshold
            self.entry_b + self.entry_release * self.entry_den,  # entry >= release
            exit_a,
            self.exit_b + (self.exit_threshold + 1) * self.exit_den,  # exit <= threshold
            self.exit_b + (self.exit_release + 1) * self.exit_den,  # exit <= release
        )

    def entry(self) -> int | None:
        """The entry spread in micro-bps, floored, from the costs last walked; None if unknown."""
        spot_cost = self.spot_ask
        perp_cost = self.perp_bid
        if spot_cost and perp_cost:  # None (too thin) or 0 (zero price) is no spread
            return (perp_cost * self._entry_a - spot_cost * self.entry_b) // (
                spot_cost * self.entry_den
            )
        return None

    def exit(self) -> int | None:
        """The exit spread in micro-bps, floored, from the costs last walked; None if unknown."""
        spot_cost = self.spot_bid
        perp_cost = self.perp_ask
        if spot_cost and perp_cost:
            return (perp_cost * self._exit_a - spot_cost * self.exit_b) // (
                spot_cost * self.exit_den
            )
        return None

    def settle(
        self,
        flags: int,
        books: Mapping[str, Mapping[str, OrderBook]],
        signals: list[SpreadSignal],
    ) -> None:
        """Act on what `refresh` reported (never 0: the engine skips those)."""
        if flags & NEED_BOOKS:
            spec = self.spec
            spot_book = books.get(spec.spot.venue, _NO_BOOKS).get(spec.spot.symbol)
            perp_book = books.get(spec.perp.venue, _NO_BOOKS).get(spec.perp.symbol)
            if spot_book is None or perp_book is None:
                self._unknown("book missing", signals)
                return
            self.constants(spot_book, perp_book)
            self.bind(spot_book, perp_book)
            flags = self.refresh()
        if flags & STALE:
            self._unknown("book stale", signals)
            return
        if flags & (ENTRY_ON | ENTRY_OFF | ENTRY_THIN):
            reason = _TOO_THIN if flags & ENTRY_THIN else ""
            self._emit(SignalKind.ENTRY, bool(flags & ENTRY_ON), signals, reason)
        if flags & (EXIT_ON | EXIT_OFF | EXIT_THIN):
            reason = _TOO_THIN if flags & EXIT_THIN else ""
            self._emit(SignalKind.EXIT, bool(flags & EXIT_ON), signals, reason)

    def _unknown(self, reason: str, signals: list[SpreadSignal]) -> None:
        """Both figures unknown (a book missing or stale): deactivate what was active."""
        self.forget()
        if self.entry_active:
            self.entry_active = False
            self._emit(SignalKind.ENTRY, False, signals, reason)
        if self.exit_active:
            self.exit_active = False
            self._emit(SignalKind.EXIT, False, signals, reason)

    def _emit(
        self, kind: SignalKind, active: bool, signals: list[SpreadSignal], reason: str
    ) -> None:
        spread = self.entry() if kind is SignalKind.ENTRY else self.exit()
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
        # Pairs touching a book marked dirty since the last recompute, in marking order (each
        # listed once, by its `dirty` flag), so signals come out in a deterministic order.
        self._dirty = DirtyPairs(self._pairs_by_leg)
        self.mark_dirty = self._dirty.mark

    # A book changed (or went stale): `mark_dirty(venue, symbol)`, O(1), called from the venue
    # reader on every update (the C dirty set's own method, bound in `__init__`).
    mark_dirty: Callable[[str, str], None]

    def recompute(self) -> list[SpreadSignal]:
        """Recompute pairs touching a dirty book; return threshold crossings only."""
        signals: list[SpreadSignal] = []
        reports = self._dirty.refresh()
        if reports:
            books = self._books
            for pair, flags in reports:
                pair.settle(flags, books, signals)  # type: ignore[attr-defined]
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
