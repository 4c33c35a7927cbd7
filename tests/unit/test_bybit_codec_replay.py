"""The real Bybit XRPUSDT recording replays with no gap and the right top of book."""

from __future__ import annotations

from arbiter.market import BookDelta, BookSnapshot, Side
from arbiter_bybit import BybitCodec
from tests.support.venue_frames import XRPUSDT_RECORDING, naive_bybit_replay


def test_xrpusdt_recording_when_replayed_has_no_gap_and_matches_naive_book() -> None:
    lines = XRPUSDT_RECORDING.read_bytes().splitlines()
    codec = BybitCodec()

    events = [event for line in lines for event in codec.feed(line)]

    assert codec.stats.gaps == 0
    assert codec.stats.malformed == 0
    assert codec.stats.resyncs == 0
    assert codec.stats.updates_applied == len(lines) == 50
    assert isinstance(events[0], BookSnapshot)
    assert all(isinstance(e, BookDelta) for e in events[1:])
    book = codec.books["XRPUSDT"]
    assert not book.stale
    bids, asks = naive_bybit_replay(lines)
    best_bid, best_ask = max(bids), min(asks)
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is not None
    assert ask is not None
    assert (book.price(bid[0]), book.size(bid[1])) == (best_bid, bids[best_bid])
    assert (book.price(ask[0]), book.size(ask[1])) == (best_ask, asks[best_ask])
    assert book.level_count(Side.BID) == len(bids)
    assert book.level_count(Side.ASK) == len(asks)
    depth = [(book.price(p), book.size(s)) for p, s in book.depth(Side.BID)]
    assert depth == sorted(bids.items(), reverse=True)


def test_xrpusdt_recording_when_one_delta_missing_reports_exactly_one_gap() -> None:
    lines = XRPUSDT_RECORDING.read_bytes().splitlines()
    codec = BybitCodec()
    for line in lines[:10] + lines[11:]:
        codec.feed(line)
    assert codec.stats.gaps == 1
    assert codec.stats.resyncs == 1
    assert codec.books["XRPUSDT"].stale
