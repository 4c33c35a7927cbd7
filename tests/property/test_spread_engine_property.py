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
LEGS = ("spot", "perp")

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


Figures = tuple[int | None, int | None, str]  # entry, exit (micro-bps), why unknown
Ops = list[tuple[str, str, list[tuple[int, int]], list[tuple[int, int]]]]


def naive_figures(ops: Ops, size: Decimal) -> list[Figures]:
    """The module doc's formulas in exact fractions, from dict books, after every operation."""
    spot_qty = _ceil_units(size / SPOT.contract_value)
    perp_qty = _ceil_units(size / PERP.contract_value)
    books: dict[str, dict[str, dict[int, int]]] = {leg: {"bid": {}, "ask": {}} for leg in LEGS}
    stale = dict.fromkeys(LEGS, True)  # a book is stale until its first snapshot
    figures: list[Figures] = []
    for leg, op, bids, asks in ops:
        if op == "stale":
            stale[leg] = True
            figures.append(_figures(books, stale, spot_qty, perp_qty))
            continue
        if op == "reset":
            books[leg] = {"bid": {}, "ask": {}}
            stale[leg] = False
        for side, changes in (("bid", bids), ("ask", asks)):
            for price, qty in changes:
                if qty:
                    books[leg][side][price] = qty
                else:
                    books[leg][side].pop(price, None)
        figures.append(_figures(books, stale, spot_qty, perp_qty))
    return figures


def _figures(
    books: dict[str, dict[str, dict[int, int]]],
    stale: dict[str, bool],
    spot_qty: int,
    perp_qty: int,
) -> Figures:
    if stale["spot"] or stale["perp"]:
        return None, None, "book stale"
    spot, perp = books["spot"], books["perp"]
    entry = exit_ = None
    spot_ask = _vwap(spot["ask"], sorted(spot["ask"]), spot_qty)
    perp_bid = _vwap(perp["bid"], sorted(perp["bid"], reverse=True), perp_qty)
    if spot_ask is not None and perp_bid is not None:
        gain = perp_bid * (1 - Fraction(PERP.taker_fee)) - spot_ask * (1 + Fraction(SPOT.taker_fee))
        entry = floor(gain / spot_ask * 10**10)
    spot_bid = _vwap(spot["bid"], sorted(spot["bid"], reverse=True), spot_qty)
    perp_ask = _vwap(perp["ask"], sorted(perp["ask"]), perp_qty)
    if spot_bid is not None and perp_ask is not None:
        cost = perp_ask * (1 + Fraction(PERP.taker_fee)) - spot_bid * (1 - Fraction(SPOT.taker_fee))
        exit_ = floor(cost / spot_bid * 10**10)
    return entry, exit_, "book too thin for size"


def naive_signals(
    figures: list[Figures], entry_at: int, exit_at: int, hysteresis: int
) -> list[list[tuple[SignalKind, bool, int | None, str]]]:
    """Threshold crossings with hysteresis, decided afresh on every figure."""
    entry_active = exit_active = False
    out = []
    for entry, exit_, reason in figures:
        signals = []
        active = entry is not None and (
            entry >= entry_at - hysteresis if entry_active else entry >= entry_at
        )
        if active != entry_active:
            entry_active = active
            signals.append((SignalKind.ENTRY, active, entry, "" if entry is not None else reason))
        active = exit_ is not None and (
            exit_ <= exit_at + hysteresis if exit_active else exit_ <= exit_at
        )
        if active != exit_active:
            exit_active = active
            signals.append((SignalKind.EXIT, active, exit_, "" if exit_ is not None else reason))
        out.append(signals)
    return out


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


def _bps(micro: int | None) -> Decimal | None:
    return None if micro is None else Decimal(micro).scaleb(-6)


@settings(derandomize=True, max_examples=250, deadline=None)
@given(
    st.tuples(deep_book, deep_book),
    operations,
    st.integers(1, 15).map(lambda n: Decimal(n) / 10),
    st.data(),
)
def test_engine_when_fed_any_updates_matches_naive_recompute(
    snapshots: tuple[
        tuple[list[tuple[int, int]], list[tuple[int, int]]],
        tuple[list[tuple[int, int]], list[tuple[int, int]]],
    ],
    updates: Ops,
    size: Decimal,
    data: st.DataObject,
) -> None:
    ops = [(leg, "reset", bids, asks) for leg, (bids, asks) in zip(LEGS, snapshots, strict=True)]
    ops += updates
    figures = naive_figures(ops, size)
    # Thresholds and hysteresis drawn from the spreads this stream goes through, so crossings
    # land exactly on a threshold (or a release level) as often as past it.
    entries = sorted({e for e, _, _ in figures if e is not None}) or [0]
    exits = sorted({x for _, x, _ in figures if x is not None}) or [0]
    entry_at = data.draw(st.sampled_from(entries) | st.integers(-600_000_000, 0))
    exit_at = data.draw(st.sampled_from(exits) | st.integers(0, 600_000_000))
    hysteresis = data.draw(
        st.sampled_from(
            [entry_at - e for e in entries if e <= entry_at]
            + [x - exit_at for x in exits if x >= exit_at]
            + [0]
        )
        | st.integers(0, 10_000_000)
    )
    spec = PairSpec(
        "p",
        LegRef("a", "X"),
        LegRef("b", "X-SWAP"),
        size,
        _bps(entry_at) or Decimal(0),
        _bps(exit_at) or Decimal(0),
        _bps(hysteresis) or Decimal(0),
    )
    books = {
        "spot": OrderBook("a", "X", SCALE, SCALE),
        "perp": OrderBook("b", "X-SWAP", SCALE, SCALE),
    }
    engine = SpreadEngine(
        [spec], [SPOT, PERP], {"a": {"X": books["spot"]}, "b": {"X-SWAP": books["perp"]}}
    )
    expected = naive_signals(figures, entry_at, exit_at, hysteresis)
    for (leg, op, bids, asks), (entry, exit_, _), wanted in zip(
        ops, figures, expected, strict=True
    ):
        book = books[leg]
        if op == "stale":
            book.mark_stale("gap")
        elif op == "reset":
            book.reset(bids, asks)
        else:
            book.apply(bids, asks)
        engine.mark_dirty(book.venue, book.symbol)

        signals = engine.recompute()

        assert engine.spreads("p") == (_bps(entry), _bps(exit_))
        assert [(s.kind, s.active, s.spread_bps, s.reason) for s in signals] == [
            (kind, active, _bps(value), reason) for kind, active, value, reason in wanted
        ]
