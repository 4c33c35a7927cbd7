"""OKX codec on generated streams with real checksums: every update verifies, books match."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.market import Side
from arbiter_okx import OkxCodec
from tests.support.venue_frames import okx_book, reference_checksum

MID = 3_000_0  # ticks of 0.1

side_levels = st.lists(
    st.tuples(st.integers(1, 40), st.sampled_from(["0", "1", "1.5", "1.50", "20", "0.01"])),
    max_size=6,
)
updates = st.lists(st.tuples(side_levels, side_levels), min_size=1, max_size=25)
Texts = dict[Decimal, tuple[str, str]]


def _px(ticks: int) -> str:
    return str(Decimal(ticks) / 10)


def _apply(side: Texts, changes: list[list[str]]) -> None:
    for price, size in changes:
        if Decimal(size) == 0:
            side.pop(Decimal(price), None)
        else:
            side[Decimal(price)] = (price, size)


def _checksum(bids: Texts, asks: Texts) -> int:
    best_bids = [list(bids[p]) for p in sorted(bids, reverse=True)]
    best_asks = [list(asks[p]) for p in sorted(asks)]
    return reference_checksum(best_bids, best_asks)


@settings(derandomize=True, max_examples=150)
@given(updates, st.integers(0, 3))
def test_codec_when_updates_carry_true_checksums_accepts_all_and_matches(
    changes: list[tuple[list[tuple[int, str]], list[tuple[int, str]]]], heartbeat_every: int
) -> None:
    bids: Texts = {}
    asks: Texts = {}
    snap_bids = [[_px(MID - k), "3"] for k in range(1, 31)]  # deeper than 25: top-25 rule bites
    snap_asks = [[_px(MID + k), "4"] for k in range(1, 31)]
    _apply(bids, snap_bids)
    _apply(asks, snap_asks)
    codec = OkxCodec()
    codec.feed(okx_book("snapshot", 100, -1, snap_bids, snap_asks))
    seq = 100
    for i, (bid_changes, ask_changes) in enumerate(changes):
        bid_levels = [[_px(MID - k), size] for k, size in bid_changes]
        ask_levels = [[_px(MID + k), size] for k, size in ask_changes]
        _apply(bids, bid_levels)
        _apply(asks, ask_levels)
        codec.feed(
            okx_book("update", seq + 7, seq, bid_levels, ask_levels, checksum=_checksum(bids, asks))
        )
        seq += 7
        if heartbeat_every and i % heartbeat_every == 0:
            codec.feed(okx_book("update", seq, seq, [], [], checksum=_checksum(bids, asks)))

    book = codec.books["BTC-USDT"]
    assert codec.stats.checksum_failures == 0
    assert codec.stats.gaps == 0
    assert codec.stats.malformed == 0
    assert not book.stale
    assert [book.price(p) for p, _ in book.depth(Side.BID)] == sorted(bids, reverse=True)
    assert [book.size(s) for _, s in book.depth(Side.ASK)] == [
        Decimal(asks[p][1]) for p in sorted(asks)
    ]


@settings(derandomize=True, max_examples=100)
@given(updates, st.data())
def test_codec_when_a_checksum_is_wrong_detects_exactly_that_update(
    changes: list[tuple[list[tuple[int, str]], list[tuple[int, str]]]], data: st.DataObject
) -> None:
    bad = data.draw(st.integers(0, len(changes) - 1))
    bids: Texts = {}
    asks: Texts = {}
    codec = OkxCodec()
    first_bid, first_ask = [[_px(MID - 50), "1"]], [[_px(MID + 50), "1"]]
    _apply(bids, first_bid)
    _apply(asks, first_ask)
    codec.feed(okx_book("snapshot", 1, -1, first_bid, first_ask))
    for i, (bid_changes, ask_changes) in enumerate(changes):
        bid_levels = [[_px(MID - k), size] for k, size in bid_changes]
        ask_levels = [[_px(MID + k), size] for k, size in ask_changes]
        _apply(bids, bid_levels)
        _apply(asks, ask_levels)
        checksum = _checksum(bids, asks) ^ (1 if i == bad else 0)
        codec.feed(okx_book("update", i + 2, i + 1, bid_levels, ask_levels, checksum=checksum))
        if i == bad:
            assert codec.books["BTC-USDT"].stale
            break
        assert not codec.books["BTC-USDT"].stale
    assert codec.stats.checksum_failures == 1
