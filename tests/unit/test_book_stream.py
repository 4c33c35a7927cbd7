"""The venue-neutral book stream: subscriptions, resync on gaps, reset, unwatch (real codecs)."""

from __future__ import annotations

import json

from arbiter.market import BookDelta, BookSnapshot, ResyncRequested
from arbiter.venues import BookStream
from arbiter_bybit import BybitCodec
from arbiter_bybit.streams import BybitBooks
from arbiter_okx import OkxCodec
from arbiter_okx.streams import OkxBooks
from tests.support.venue_frames import bybit_book, okx_book

BIDS = [["100.1", "7"], ["100", "6"]]
ASKS = [["100.8", "9"], ["101", "8"]]


def _bybit(depth: int = 50) -> BookStream:
    codec = BybitCodec()
    return BookStream(codec, BybitBooks(codec, depth))


def _ops(frames: object) -> list[tuple[str, list[str]]]:
    return [(json.loads(f)["op"], json.loads(f)["args"]) for f in frames]  # type: ignore[attr-defined]


def test_watch_when_symbols_new_subscribes_only_those_as_text_frames() -> None:
    stream = _bybit()
    first = stream.watch(["BTCUSDT", "ETHUSDT"])
    again = stream.watch(["BTCUSDT", "SOLUSDT"])
    assert all(isinstance(f, str) for f in first + again)
    assert _ops(first) == [("subscribe", ["orderbook.50.BTCUSDT", "orderbook.50.ETHUSDT"])]
    assert _ops(again) == [("subscribe", ["orderbook.50.SOLUSDT"])]
    assert _ops(stream.connect_frames()) == [
        ("subscribe", ["orderbook.50.BTCUSDT", "orderbook.50.ETHUSDT", "orderbook.50.SOLUSDT"])
    ]


def test_bybit_subscribe_when_more_than_ten_topics_splits_requests() -> None:
    stream = _bybit()
    frames = stream.watch([f"S{i}USDT" for i in range(23)])
    assert [len(args) for _, args in _ops(frames)] == [10, 10, 3]


def test_synced_when_watched_book_has_no_snapshot_is_false_until_it_lands() -> None:
    stream = _bybit()
    assert stream.synced()  # nothing watched, nothing to wait for
    stream.watch(["BTCUSDT"])
    assert not stream.synced()
    events = stream.feed(bybit_book("snapshot", 1, BIDS, ASKS), 0)
    assert isinstance(events[0], BookSnapshot)
    assert stream.synced()


def test_feed_when_delta_skips_a_u_queues_resync_frames_from_that_message() -> None:
    stream = _bybit()
    stream.watch(["BTCUSDT"])
    stream.feed(bybit_book("snapshot", 1, BIDS, ASKS), 0)
    assert stream.pending_frames() == ()
    events = stream.feed(bybit_book("delta", 3, [["100.1", "1"]], []), 0)
    assert any(isinstance(e, ResyncRequested) for e in events)
    assert not stream.synced()
    assert _ops(stream.pending_frames()) == [
        ("unsubscribe", ["orderbook.50.BTCUSDT"]),
        ("subscribe", ["orderbook.50.BTCUSDT"]),
    ]
    assert stream.stats.resyncs_sent == 1
    # Later deltas of the broken chain ask for nothing more; the fresh snapshot heals it.
    stream.feed(bybit_book("delta", 4, [["100.1", "2"]], []), 0)
    assert stream.pending_frames() == ()
    stream.feed(bybit_book("snapshot", 10, BIDS, ASKS), 0)
    assert stream.synced()
    assert not stream.books["BTCUSDT"].stale


def test_reset_when_socket_dropped_stales_every_book_and_waits_for_snapshots() -> None:
    stream = _bybit()
    stream.watch(["BTCUSDT"])
    stream.feed(bybit_book("snapshot", 1, BIDS, ASKS), 0)
    stream.feed(bybit_book("delta", 2, [["100.1", "1"]], []), 0)
    stream.reset()
    assert stream.books["BTCUSDT"].stale
    assert not stream.synced()
    stream.feed(bybit_book("snapshot", 1, BIDS, ASKS), 0)
    assert stream.synced()


def test_unwatch_when_late_frames_arrive_swallows_them_and_keeps_book_stale() -> None:
    stream = _bybit()
    stream.watch(["BTCUSDT", "ETHUSDT"])
    stream.feed(bybit_book("snapshot", 1, BIDS, ASKS), 0)
    frames = stream.unwatch(["BTCUSDT"])
    assert _ops(frames) == [("unsubscribe", ["orderbook.50.BTCUSDT"])]
    assert stream.books["BTCUSDT"].stale
    late = stream.feed(bybit_book("snapshot", 2, BIDS, ASKS), 0)
    assert late == []
    assert stream.books["BTCUSDT"].stale
    assert stream.stats.late_frames == 1
    eth = stream.feed(bybit_book("snapshot", 1, BIDS, ASKS, symbol="ETHUSDT"), 0)
    assert [type(e) for e in eth] == [BookSnapshot]
    assert stream.synced()


def test_okx_stream_when_checksum_fails_resubscribes_that_instrument() -> None:
    codec = OkxCodec()
    stream = BookStream(codec, OkxBooks(codec))
    frames = stream.watch(["BTC-USDT"])
    assert [json.loads(f) for f in frames] == [
        {"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]}
    ]
    stream.feed(okx_book("snapshot", 10, -1, BIDS, ASKS), 0)
    assert stream.synced()
    events = stream.feed(okx_book("update", 11, 10, [["100.1", "8"]], [], checksum=123), 0)
    assert any(isinstance(e, ResyncRequested) for e in events)
    assert [json.loads(f)["op"] for f in stream.pending_frames()] == ["unsubscribe", "subscribe"]
    assert not stream.synced()
    assert stream.ping_frame() == "ping"


def test_feed_when_delta_in_sequence_passes_events_through_untouched() -> None:
    stream = _bybit()
    stream.watch(["BTCUSDT"])
    stream.feed(bybit_book("snapshot", 1, BIDS, ASKS), 0)
    events = stream.feed(bybit_book("delta", 2, [["100.1", "1"]], []), 0)
    assert [type(e) for e in events] == [BookDelta]
    assert stream.synced()


def test_funding_when_asked_subscribes_each_perp_funding_source_with_its_book() -> None:
    bybit_codec, okx_codec = BybitCodec(), OkxCodec()
    bybit = BookStream(bybit_codec, BybitBooks(bybit_codec, funding=True))
    okx = BookStream(okx_codec, OkxBooks(okx_codec, funding=True))
    assert _ops(bybit.watch(["BTCUSDT"])) == [
        ("subscribe", ["orderbook.50.BTCUSDT", "tickers.BTCUSDT"])
    ]
    assert [json.loads(f)["args"] for f in okx.watch(["BTC-USDT-SWAP"])] == [
        [
            {"channel": "books", "instId": "BTC-USDT-SWAP"},
            {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"},
        ]
    ]
    assert _ops(bybit.unwatch(["BTCUSDT"])) == [
        ("unsubscribe", ["orderbook.50.BTCUSDT", "tickers.BTCUSDT"])
    ]
