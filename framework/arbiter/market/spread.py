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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from arbiter.market.book import OrderBook
from arbiter.market.instrument import Instrument
from arbiter.market.units import from_units, to_units

SPREAD_SCALE = 6  # spreads are integers of 10**-6 bp
_BPS_NUMERATOR = 10_000 * 10**SPREAD_SCALE


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


@dataclass(frozen=True, slots=True)
class SpreadSignal:
    pair_id: str
    kind: SignalKind
    active: bool
    spread_bps: Decimal | None  # None when the spread became unknown (stale or thin book)
    reason: str = ""


class _Pair:
    """A pair's precomputed integer constants (per book scale) and its signal states."""

    def __init__(self, spec: PairSpec, spot: Instrument, perp: Instrument) -> None:
        self.spec = spec
        self.spot = spot
        self.perp = perp
        self.entry_threshold = to_units(spec.entry_bps, SPREAD_SCALE)
        self.exit_threshold = to_units(spec.exit_bps, SPREAD_SCALE)
        self.hysteresis = to_units(spec.hysteresis_bps, SPREAD_SCALE)
        self.entry_active = False
        self.exit_active = False
        self.entry: int | None = None
        self.exit: int | None = None
        self._scales: tuple[int, int, int, int] | None = None
        # A codec creates a symbol's book once and keeps it, so found books are cached.
        self.spot_book: OrderBook | None = None
        self.perp_book: OrderBook | None = None
        # filled by `constants` for the scales above
        self.spot_qty = self.perp_qty = 0
        self.entry_a = self.entry_b = self.exit_a = self.exit_b = self.denominator = 0

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
        # spread = (perp_cost * a - spot_cost * b) / (spot_cost * denominator), see module doc
        self.entry_a = spot_unit * (pd - pn) * sd * _BPS_NUMERATOR
        self.entry_b = perp_unit * pd * (sd + sn) * _BPS_NUMERATOR
        self.exit_a = spot_unit * (pd + pn) * sd * _BPS_NUMERATOR
        self.exit_b = perp_unit * pd * (sd - sn) * _BPS_NUMERATOR
        self.denominator = perp_unit * pd * sd


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
        self._pairs_by_leg: dict[tuple[str, str], list[_Pair]] = {}
        self._dirty: set[tuple[str, str]] = set()
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
                self._pairs_by_leg.setdefault((leg.venue, leg.symbol), []).append(pair)

    def mark_dirty(self, venue: str, symbol: str) -> None:
        """A book changed (or went stale); O(1), called from the venue reader on every update."""
        self._dirty.add((venue, symbol))

    def recompute(self) -> list[SpreadSignal]:
        """Recompute pairs touching a dirty book; return threshold crossings only."""
        dirty = self._dirty
        if not dirty:
            return []
        signals: list[SpreadSignal] = []
        pairs_by_leg = self._pairs_by_leg
        if len(dirty) == 1:
            # The common case when called per frame: one book changed; no dedup needed.
            for pair in pairs_by_leg.get(dirty.pop(), ()):
                self._recompute_pair(pair, signals)
            return signals
        self._dirty = set()
        touched: dict[str, _Pair] = {}
        for key in dirty:
            for pair in pairs_by_leg.get(key, ()):
                touched[pair.spec.pair_id] = pair
        for pair in touched.values():
            self._recompute_pair(pair, signals)
        return signals

    def spreads(self, pair_id: str) -> tuple[Decimal | None, Decimal | None]:
        """(entry, exit) in bps as last computed; None while unknown."""
        pair = self._pairs[pair_id]
        return _bps(pair.entry), _bps(pair.exit)

    def _book(self, leg: LegRef) -> OrderBook | None:
        venue_books = self._books.get(leg.venue)
        return None if venue_books is None else venue_books.get(leg.symbol)

    def _recompute_pair(self, pair: _Pair, signals: list[SpreadSignal]) -> None:
        spec = pair.spec
        spot_book = pair.spot_book or self._book(spec.spot)
        perp_book = pair.perp_book or self._book(spec.perp)
        entry: int | None = None
        exit_: int | None = None
        reason = ""
        if spot_book is None or perp_book is None:
            reason = "book missing"
        elif spot_book.stale or perp_book.stale:
            reason = "book stale"
        else:
            if pair.perp_book is None:
                pair.spot_book = spot_book
                pair.perp_book = perp_book
                pair.constants(spot_book, perp_book)
            spot_cost = spot_book.buy_cost(pair.spot_qty)
            perp_cost = perp_book.sell_proceeds(pair.perp_qty)
            if spot_cost and perp_cost:  # None (too thin) or 0 (zero price) is no spread
                entry = (perp_cost * pair.entry_a - spot_cost * pair.entry_b) // (
                    spot_cost * pair.denominator
                )
            spot_cost = spot_book.sell_proceeds(pair.spot_qty)
            perp_cost = perp_book.buy_cost(pair.perp_qty)
            if spot_cost and perp_cost:
                exit_ = (perp_cost * pair.exit_a - spot_cost * pair.exit_b) // (
                    spot_cost * pair.denominator
                )
            reason = "book too thin for size"
        pair.entry = entry
        pair.exit = exit_

        if entry is None:
            active = False
        elif pair.entry_active:
            active = entry >= pair.entry_threshold - pair.hysteresis
        else:
            active = entry >= pair.entry_threshold
        if active != pair.entry_active:
            pair.entry_active = active
            why = "" if entry is not None else reason
            signals.append(SpreadSignal(spec.pair_id, SignalKind.ENTRY, active, _bps(entry), why))

        if exit_ is None:
            active = False
        elif pair.exit_active:
            active = exit_ <= pair.exit_threshold + pair.hysteresis
        else:
            active = exit_ <= pair.exit_threshold
        if active != pair.exit_active:
            pair.exit_active = active
            why = "" if exit_ is not None else reason
            signals.append(SpreadSignal(spec.pair_id, SignalKind.EXIT, active, _bps(exit_), why))


def _ceil_units(value: Decimal, scale: int) -> int:
    # Rounding a leg's size *up* keeps the VWAP honest: never price less than the pair needs.
    return int((value.scaleb(scale)).to_integral_value(rounding="ROUND_CEILING"))


def _bps(micro_bps: int | None) -> Decimal | None:
    return None if micro_bps is None else from_units(micro_bps, SPREAD_SCALE)
