"""Bybit codec on generated streams: books match a naive replay; a dropped frame is always caught."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.market import Side
from arbiter_bybit import BybitCodec
from tests.support.venue_frames import bybit_book, naive_bybit_replay

MID = 50_000  # in ticks of 0.01: bids strictly below, asks strictly above, so never crossed


def _px(ticks: int) -> str:
    return f"{ticks / 100:.2f}"


side_levels = st.lists(
    st.tuples(st.integers(1, 30), st.sampled_from(["0", "0.001", "1", "2.5", "10.000"])),
    max_size=5,
)
deltas = st.lists(st.tuples(side_levels, side_levels), min_size=1, max_size=30)


def _stream(changes: list[tuple[list[tuple[int, str]], list[tuple[int, str]]]]) -> list[bytes]:
    frames = [bybit_book("snapshot", 10, [[_px(MID - 1), "1"]], [[_px(MID + 1), "1"]])]
    for u, (bids, asks) in enumerate(changes, start=11):
        frames.append(
            bybit_book(
                "delta",
                u,
                [[_px(MID - k), size] for k, size in bids],
                [[_px(MID + k), size] for k, size in asks],
            )
        )
    return frames


@settings(derandomize=True, max_examples=200)
@given(deltas)
def test_codec_when_stream_continuous_matches_naive_book(
    changes: list[tuple[list[tuple[int, str]], list[tuple[int, str]]]],
) -> None:
    frames = _stream(changes)
    codec = BybitCodec()
    for frame in frames:
        codec.feed(frame)
    bids, asks = naive_bybit_replay(frames)
    book = codec.books["BTCUSDT"]
    assert codec.stats.gaps == 0
    assert not book.stale
    assert [(book.price(p), book.size(s)) for p, s in book.depth(Side.BID)] == sorted(
        bids.items(), reverse=True
    )
    assert [(book.price(p), book.size(s)) for p, s in book.depth(Side.ASK)] == sorted(asks.items())
    assert all(isinstance(k, Decimal) for k in bids)


@settings(derandomize=True, max_examples=200)
@given(deltas, st.data())
def test_codec_when_any_delta_dropped_detects_gap_and_stales(
    changes: list[tuple[list[tuple[int, str]], list[tuple[int, str]]]], data: st.DataObject
) -> None:
    frames = _stream(changes)
    if len(frames) < 3:
        return  # dropping the last delta leaves nothing after it to reveal the gap
    dropped = data.draw(st.integers(1, len(frames) - 2))
    codec = BybitCodec()
    for i, frame in enumerate(frames):
        if i != dropped:
            codec.feed(frame)
    assert codec.stats.gaps == 1
    assert codec.stats.resyncs == 1
    assert codec.books["BTCUSDT"].stale
