"""`OrderBook.apply_text` (the codecs' fast path, in C) against `UnitParser` + `apply`.

Whatever the texts, the fast path either takes exactly what the validating path takes, with the
same integer units and the same resulting book, or declines (returns None) and leaves the book
untouched so the validating path can report why.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.market import OrderBook, Side
from arbiter.market._book import parse_units
from arbiter.market.book import UNITS_MAX
from arbiter.market.units import UnitParser, UnitsError

# Plain decimals of every length (near and beyond the 63-bit bound), and near-misses.
digits = st.text("0123456789", min_size=1, max_size=21)
plain = st.builds(lambda w, f: w if f is None else f"{w}.{f}", digits, st.none() | digits)
noise = st.sampled_from(["", ".5", "5.", "-1", "+1", "1e3", " 1", "1_0", "nan", "0x1", "١"])
texts = plain | noise | st.text(max_size=6)
scales = st.integers(0, 12)


def _reference(text: str, scale: int) -> int | None:
    try:
        return UnitParser(scale)(text)
    except UnitsError:
        return None


@settings(derandomize=True, max_examples=2000)
@given(texts, scales)
def test_parse_units_when_any_text_agrees_with_unit_parser(text: str, scale: int) -> None:
    assert parse_units(text, scale) == _reference(text, scale)


def test_parse_units_at_the_bound_takes_the_largest_and_refuses_one_more() -> None:
    assert parse_units(str(UNITS_MAX), 0) == UNITS_MAX
    assert parse_units(str(UNITS_MAX + 1), 0) is None
    assert parse_units("922337203685477580.6", 1) == UNITS_MAX
    assert parse_units("922337203685477580.7", 1) is None
    assert parse_units("0.000", 38) == 0
    assert parse_units("1", 19) is None  # 10**19 units: beyond the bound
    assert parse_units(b"1", 2) is None  # not text


level_texts = st.lists(st.tuples(texts, texts), max_size=6)


@settings(derandomize=True, max_examples=500)
@given(level_texts, level_texts, st.integers(0, 4), st.integers(0, 4))
def test_apply_text_when_any_levels_matches_parse_then_apply_or_declines_untouched(
    bid_texts: list[tuple[str, str]],
    ask_texts: list[tuple[str, str]],
    price_scale: int,
    size_scale: int,
) -> None:
    fast = OrderBook("v", "S", price_scale, size_scale)
    slow = OrderBook("v", "S", price_scale, size_scale)
    for book in (fast, slow):
        book.reset([(10**price_scale, 1)], [(2 * 10**price_scale, 1)], 1)
    before = (fast.depth(Side.BID), fast.depth(Side.ASK), fast.bid_epoch, fast.ask_epoch)

    result = fast.apply_text(bid_texts, ask_texts, 7)

    prices, sizes = UnitParser(price_scale), UnitParser(size_scale)
    try:
        bids = [(prices(p), sizes(q)) for p, q in bid_texts]
        asks = [(prices(p), sizes(q)) for p, q in ask_texts]
    except UnitsError:
        assert result is None
        after = (fast.depth(Side.BID), fast.depth(Side.ASK), fast.bid_epoch, fast.ask_epoch)
        assert after == before
        assert fast.updated_ms == 1
        return
    crossed = slow.apply(bids, asks, 7)
    assert result == (bids, asks, crossed)
    assert fast.depth(Side.BID) == slow.depth(Side.BID)
    assert fast.depth(Side.ASK) == slow.depth(Side.ASK)
    assert fast.updated_ms == slow.updated_ms == 7


def test_apply_text_when_levels_are_lists_with_extra_fields_reads_price_and_size() -> None:
    # OKX levels: [price, size, "0", orders]
    book = OrderBook("v", "S", 1, 0)
    result = book.apply_text([["10.5", "3", "0", "2"]], [["11", "4", "0", "1"]], 5)
    assert result == ([(105, 3)], [(110, 4)], False)
    assert book.best_bid() == (105, 3)
    assert book.best_ask() == (110, 4)
