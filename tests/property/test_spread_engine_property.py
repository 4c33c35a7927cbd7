"""SpreadEngine against a naive engine that recomputes every figure from scratch on every tick.

The engine skips figures whose book sides did not change within the depth their VWAP walked;
whatever the updates, its spreads and its signals must be exactly the naive engine's.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from fractions import Fraction
from math import floor

from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.market import (
    Instrument,
    InstrumentKind,
    LegRef,
    OrderBook,
    PairSpec,
    SignalKind,
    SpreadEngine,
)

SPOT = Instrument(
    "a", "X", InstrumentKind.SPOT, "X", "USDT", Decimal("0.1"), Decimal("0.1"),
    taker_fee=Decimal("0.001"),
)  # fmt: skip
PERP = Instrument(
    "b", "X-SWAP", InstrumentKind.PERP, "X", "USDT", Decimal("0.1"), Decimal("0.1"),
    contract_value=Decimal("0.5"), taker_fee=Decimal("0.0005"),
)  # fmt: skip
SCALE = 1  # both books: prices and sizes in tenths

# Bids below every ask on both books, so no update crosses a book. Ten prices a side, so updates
# often land exactly on the level where a VWAP walk stopped (the edge of what may be skipped).
bid_levels = st.lists(st.tuples(st.integers(990, 999), st.integers(0, 20)), max_size=4)
ask_levels = st.lists(st.tuples(st.integers(1000, 1009), st.integers(0, 20)), max_size=4)
operations = st.lists(
    st.tuples(
        st.sampled_from(["spot", "perp"]),
        st.sampled_from(["apply"] * 8 + ["reset"] * 2 + ["stale"]),
        bid_levels,
        ask_levels,
    ),
    min_size=1,
    max_size=40,
)
deep_book = st.tuples(
    st.lists(st.tuples(st.integers(990, 999), st.integers(1, 20)), min_size=3, max_size=8),
    st.lists(st.tuples(st.integers(1000, 1009), st.integers(1, 20)), min_size=3, max_size=8),
)


class NaivePair:
    """The module doc's formulas in exact fractions, straight from dict books, every time."""

    def __init__(self, spec: PairSpec) -> None:
        self.spec = spec
        self.spot_qty = _ceil_units(spec.size / SPOT.contract_value)
        self.perp_qty = _ceil_units(spec.size / PERP.contract_value)
        self.entry_active = self.exit_active = False

    def recompute(
        self, spot: dict[str, dict[int, int]], perp: dict[str, dict[int, int]], stale: bool
    ) -> tuple[tuple[int | None, int | None], list[tuple[SignalKind, bool, int | None, str]]]:
        entry = exit_ = None
        reason = "book stale"
        if not stale:
            reason = "book too thin for size"
            spot_ask = _vwap(spot["ask"], sorted(spot["ask"]), self.spot_qty)
            perp_bid = _vwap(perp["bid"], sorted(perp["bid"], reverse=True), self.perp_qty)
            if spot_ask is not None and perp_bid is not None:
                gain = perp_bid * (1 - Fraction(PERP.taker_fee)) - spot_ask * (
                    1 + Fraction(SPOT.taker_fee)
                )
                entry = floor(gain / spot_ask * 10**10)
            spot_bid = _vwap(spot["bid"], sorted(spot["bid"], reverse=True), self.spot_qty)
            perp_ask = _vwap(perp["ask"], sorted(perp["ask"]), self.perp_qty)
            if spot_bid is not None and perp_ask is not None:
                cost = perp_ask * (1 + Fraction(PERP.taker_fee)) - spot_bid * (
                    1 - Fraction(SPOT.taker_fee)
                )
                exit_ = floor(cost / spot_bid * 10**10)
        signals: list[tuple[SignalKind, bool, int | None, str]] = []
        hysteresis = _micro(self.spec.hysteresis_bps)
        entry_at, exit_at = _micro(self.spec.entry_bps), _micro(self.spec.exit_bps)
        active = entry is not None and (
            entry >= entry_at - hysteresis if self.entry_active else entry >= entry_at
        )
        if active != self.entry_active:
            self.entry_active = active
            signals.append((SignalKind.ENTRY, active, entry, "" if entry is not None else reason))
        active = exit_ is not None and (
            exit_ <= exit_at + hysteresis if self.exit_active else exit_ <= exit_at
        )
        if active != self.exit_active:
            self.exit_active = active
            signals.append((SignalKind.EXIT, active, exit_, "" if exit_ is not None else reason))
        return (entry, exit_), signals


def _vwap(levels: dict[int, int], best_first: list[int], qty: int) -> Fraction | None:
    remaining, cost = qty, 0
    for price in best_first:
        take = min(remaining, levels[price])
        cost += take * price
        remaining -= take
        if remaining == 0:
            return Fraction(cost, qty * 10**SCALE)
    return None


def _ceil_units(value: Decimal) -> int:
    return int(value.scaleb(SCALE).to_integral_value(rounding=ROUND_CEILING))


def _micro(bps: Decimal) -> int:
    return int(bps.scaleb(6))


def _bps(micro: int | None) -> Decimal | None:
    return None if micro is None else Decimal(micro).scaleb(-6)


@settings(derandomize=True, max_examples=250, deadline=None)
@given(
    st.tuples(deep_book, deep_book),
    operations,
    st.integers(1, 15).map(lambda n: Decimal(n) / 10),
    st.integers(-60, 0),
    st.integers(0, 60),
    st.integers(0, 10),
)
def test_engine_when_fed_any_updates_matches_naive_recompute(
    snapshots: tuple[
        tuple[list[tuple[int, int]], list[tuple[int, int]]],
        tuple[list[tuple[int, int]], list[tuple[int, int]]],
    ],
    ops: list[tuple[str, str, list[tuple[int, int]], list[tuple[int, int]]]],
    size: Decimal,
    entry_bps: int,
    exit_bps: int,
    hysteresis_bps: int,
) -> None:
    spec = PairSpec(
        "p",
        LegRef("a", "X"),
        LegRef("b", "X-SWAP"),
        size,
        Decimal(entry_bps),
        Decimal(exit_bps),
        Decimal(hysteresis_bps),
    )
    books = {
        "spot": OrderBook("a", "X", SCALE, SCALE),
        "perp": OrderBook("b", "X-SWAP", SCALE, SCALE),
    }
    engine = SpreadEngine(
        [spec], [SPOT, PERP], {"a": {"X": books["spot"]}, "b": {"X-SWAP": books["perp"]}}
    )
    naive_books: dict[str, dict[str, dict[int, int]]] = {
        leg: {"bid": {}, "ask": {}} for leg in books
    }
    naive = NaivePair(spec)
    snapshot_ops = [
        (leg, "reset", bids, asks) for leg, (bids, asks) in zip(books, snapshots, strict=True)
    ]
    for leg, op, bids, asks in snapshot_ops + ops:
        book = books[leg]
        if op == "stale":
            book.mark_stale("gap")
        elif op == "reset":
            book.reset(bids, asks)
            naive_books[leg] = {"bid": {}, "ask": {}}
        else:
            book.apply(bids, asks)
        if op != "stale":
            for side, changes in (("bid", bids), ("ask", asks)):
                for price, qty in changes:
                    if qty:
                        naive_books[leg][side][price] = qty
                    else:
                        naive_books[leg][side].pop(price, None)
        engine.mark_dirty(book.venue, book.symbol)

        signals = engine.recompute()

        stale = books["spot"].stale or books["perp"].stale
        (entry, exit_), expected = naive.recompute(naive_books["spot"], naive_books["perp"], stale)
        assert engine.spreads("p") == (_bps(entry), _bps(exit_))
        assert [(s.kind, s.active, s.spread_bps, s.reason) for s in signals] == [
            (kind, active, _bps(value), reason) for kind, active, value, reason in expected
        ]
