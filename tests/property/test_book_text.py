"""The C book's text parsing (the codecs' fast path) against `UnitParser` + `apply`.

Whatever the texts, `parse_units` and `OrderBook.apply_next_json` either take exactly what the
validating path takes, with the same integer units and the same resulting book, or decline
(return None) and leave the book untouched so the validating path can report why.
"""

from __future__ import annotations

import json
import re

import pytest
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
    """The rules of `arbiter.market.units`, written out in Python (independent of the C parser
    that `UnitParser` asks first)."""
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text) is None:
        return None
    whole, _, frac = text.partition(".")
    if frac[scale:].strip("0"):
        return None  # off the grid
    units = int(whole + frac[:scale].ljust(scale, "0"))
    return units if units <= UNITS_MAX else None


@settings(derandomize=True, max_examples=1000)
@given(texts, scales)
def test_unit_parser_when_any_text_agrees_with_the_rules(text: str, scale: int) -> None:
    expected = _reference(text, scale)
    if expected is None:
        with pytest.raises(UnitsError):
            UnitParser(scale)(text)
    else:
        assert UnitParser(scale)(text) == expected


@settings(derandomize=True, max_examples=2000)
@given(texts, scales)
def test_parse_units_when_any_text_agrees_with_unit_parser(text: str, scale: int) -> None:
    assert parse_units(text, scale) == _reference(text, scale)


def test_parse_units_at_the_bound_takes_the_largest_and_refuses_one_more() -> None:
    assert parse_units(str(UNITS_MAX), 0) == UNITS_MAX
    assert parse_units(str(UNITS_MAX + 1), 0) is None
    assert parse_units("922337203685477580.6", 1) == UNITS_MAX
    assert parse_units("922337203685477580.7", 1) is None
    assert parse_units("0.000", 39) == 0
    assert parse_units("1", 19) is None  # 10**19 units: beyond the bound
    assert parse_units(b"1", 2) is None  # not text


level_texts = st.lists(st.tuples(texts, texts), max_size=6)
spaces = st.sampled_from(["", " ", "\n ", "\t"])


def _json(levels: list[tuple[str, str]], ws: str) -> bytes:
    """The levels as a venue writes them, with `ws` between every token."""
    items = [f"{ws}[{ws}{json.dumps(p)}{ws},{ws}{json.dumps(q)}{ws}]{ws}" for p, q in levels]
    return f"{ws}[{','.join(items)}]{ws}".encode()


@settings(derandomize=True, max_examples=500)
@given(level_texts, level_texts, st.integers(0, 4), st.integers(0, 4), spaces)
def test_apply_next_json_when_any_levels_matches_parse_then_apply_or_declines_untouched(
    bid_texts: list[tuple[str, str]],
    ask_texts: list[tuple[str, str]],
    price_scale: int,
    size_scale: int,
    ws: str,
) -> None:
    fast = OrderBook("v", "S", price_scale, size_scale)
    slow = OrderBook("v", "S", price_scale, size_scale)
    for book in (fast, slow):
        book.reset([(10**price_scale, 1)], [(2 * 10**price_scale, 1)], 1)
        book.update_id = 9
    before = (fast.depth(Side.BID), fast.depth(Side.ASK), fast.bid_epoch, fast.ask_epoch)

    result = fast.apply_next_json(10, _json(bid_texts, ws), _json(ask_texts, ws), 7)

    prices, sizes = UnitParser(price_scale), UnitParser(size_scale)
    try:
        bids = [(prices(p), sizes(q)) for p, q in bid_texts]
        asks = [(prices(p), sizes(q)) for p, q in ask_texts]
    except UnitsError:
        # (texts with characters JSON escapes are declined too: those never pass UnitParser)
        assert result is None
        after = (fast.depth(Side.BID), fast.depth(Side.ASK), fast.bid_epoch, fast.ask_epoch)
        assert after == before
        assert (fast.updated_ms, fast.update_id) == (1, 9)
        return
    crossed = slow.apply(bids, asks, 7)
    assert result == (bids, asks, crossed)
    assert fast.depth(Side.BID) == slow.depth(Side.BID)
    assert fast.depth(Side.ASK) == slow.depth(Side.ASK)
    assert (fast.updated_ms, fast.update_id) == (7, 10)


@pytest.mark.parametrize(
    "bids",
    [
        b"",
        b"[",
        b'[["1","2"]',
        b'[["1","2"],]',
        b'[["1","2"]]x',
        b'[["1","2","3"]]',  # Bybit levels are pairs
        b'[["1"]]',
        b'[[1,"2"]]',  # a number, not a string
        rb'[["1\u0030","2"]]',  # an escape
        b'{"1":"2"}',
        b"null",
    ],
)
def test_apply_next_json_when_bytes_are_not_levels_declines_untouched(bids: bytes) -> None:
    book = OrderBook("v", "S", 0, 0)
    book.reset([(1, 1)], [(5, 1)])
    book.update_id = 1
    assert book.apply_next_json(2, bids, b"[]", 3) is None
    assert (book.depth(Side.BID), book.update_id, book.updated_ms) == ([(1, 1)], 1, 0)


def test_apply_next_json_when_more_levels_than_the_stack_holds_reads_them_all() -> None:
    book = OrderBook("v", "S", 0, 0)
    book.reset([], [])
    levels = [(str(p), "1") for p in range(1, 201)]
    result = book.apply_next_json(1, _json(levels, ""), b"[]", 3)
    assert result is not None
    assert result[0] == [(p, 1) for p in range(1, 201)]
    assert book.level_count(Side.BID) == 200
