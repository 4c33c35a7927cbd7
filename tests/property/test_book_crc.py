"""The C book's interleaved level texts against the same joined in Python, and their CRC at
OKX's depth against OKX's checksum (the rule the OKX codec keeps)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbiter.market import OrderBook, Side
from arbiter_okx import okx_checksum
from arbiter_okx.codec import CHECKSUM_DEPTH, signed_crc32

# (price units, size units) per side, disjoint and uncrossed: bids below 1000, asks above.
bid_levels = st.dictionaries(st.integers(1, 999), st.integers(1, 10**6), max_size=40)
ask_levels = st.dictionaries(st.integers(1001, 5000), st.integers(1, 10**6), max_size=40)
# the texts as a venue might send them: any printable text, non-ASCII included
texts = st.text(min_size=1, max_size=12)


def _book(bids: dict[int, int], asks: dict[int, int]) -> OrderBook:
    book = OrderBook("okx", "X-USDT-SWAP", price_scale=1, size_scale=0)
    book.reset(list(bids.items()), list(asks.items()), 0)
    return book


@given(bid_levels, ask_levels, st.sampled_from([CHECKSUM_DEPTH]) | st.integers(0, 45), st.data())
def test_interleaved_texts_when_any_book_and_depth_equal_the_python_join(
    bids: dict[int, int], asks: dict[int, int], depth: int, data: st.DataObject
) -> None:
    book = _book(bids, asks)
    bid_text = {p: data.draw(texts) for p in bids}
    ask_text = {p: data.draw(texts) for p in asks}
    best_bids = [bid_text[p] for p, _ in book.depth(Side.BID, depth)]
    best_asks = [ask_text[p] for p, _ in book.depth(Side.ASK, depth)]
    interleaved = [t for k in range(depth) for t in (best_bids[k : k + 1] + best_asks[k : k + 1])]

    joined = book.interleaved_texts(bid_text, ask_text, depth, ":")

    assert joined == ":".join(interleaved).encode()
    if depth == CHECKSUM_DEPTH:  # what the OKX codec asks for: OKX's own checksum
        assert signed_crc32(joined) == okx_checksum(best_bids, best_asks)


def test_interleaved_texts_when_a_level_has_no_text_raises_key_error() -> None:
    book = _book({100: 1, 99: 2}, {101: 3})

    with pytest.raises(KeyError, match="99"):
        book.interleaved_texts({100: "10.0:1"}, {101: "10.1:3"}, 25, ":")
    with pytest.raises(TypeError, match="expected a str level text"):
        book.interleaved_texts({100: b"10.0:1", 99: "9.9:2"}, {101: "10.1:3"}, 25, ":")  # type: ignore[dict-item]


def test_interleaved_texts_when_deeper_than_it_joins_is_refused() -> None:
    book = _book({100: 1}, {101: 3})

    with pytest.raises(ValueError, match=r"expected depth in 0\.\.256, was 257"):
        book.interleaved_texts({100: "10.0:1"}, {101: "10.1:3"}, 257, ":")
