"""Bybit v5 codec rules: snapshots, `u` continuity, restarts, malformed frames, requests."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from arbiter.market import (
    BookDelta,
    BookSnapshot,
    CodecError,
    CodecErrorKind,
    Funding,
    ResyncRequested,
    Side,
    Ticker,
    Trade,
    TradeSide,
)
from arbiter_bybit import BybitCodec, orderbook_topic, parse_instruments
from tests.support.venue_frames import bybit_book, fixture_bytes


def _synced(u: int = 100) -> BybitCodec:
    codec = BybitCodec()
    events = codec.feed(
        bybit_book("snapshot", u, [["100.0", "1"], ["99.5", "2"]], [["100.5", "3"], ["101", "4"]])
    )
    assert isinstance(events[0], BookSnapshot)
    return codec


def _top(codec: BybitCodec, symbol: str = "BTCUSDT") -> tuple[Decimal, Decimal, Decimal, Decimal]:
    book = codec.books[symbol]
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is not None
    assert ask is not None
    return book.price(bid[0]), book.size(bid[1]), book.price(ask[0]), book.size(ask[1])


def test_snapshot_fixture_when_fed_builds_book_and_keeps_seq_and_ts() -> None:
    codec = BybitCodec()
    (event,) = codec.feed(fixture_bytes("bybit", "ws_orderbook_snapshot.json"))
    assert isinstance(event, BookSnapshot)
    assert (event.update_id, event.seq, event.ts_ms) == (123456789, 987654321, 1709891679000)
    assert _top(codec) == (Decimal("27450"), Decimal("0.5"), Decimal("27451"), Decimal("0.75"))
    assert not codec.books["BTCUSDT"].stale


def test_delta_fixture_when_after_snapshot_updates_and_deletes_levels() -> None:
    codec = BybitCodec()
    codec.feed(fixture_bytes("bybit", "ws_orderbook_snapshot.json"))
    (event,) = codec.feed(fixture_bytes("bybit", "ws_orderbook_delta.json"))
    assert isinstance(event, BookDelta)
    # ask 27451.00 was deleted (size "0"), bid 27450.00 resized to 0.4
    assert _top(codec) == (Decimal("27450"), Decimal("0.4"), Decimal("27451.5"), Decimal("0.9"))
    assert codec.stats.updates_applied == 2


def test_delta_when_cts_present_is_kept_on_event() -> None:
    codec = _synced()
    (event,) = codec.feed(bybit_book("delta", 101, [], [], cts=1_699_999_999_990))
    assert isinstance(event, BookDelta)
    assert event.cts_ms == 1_699_999_999_990


def test_delta_when_u_skips_one_marks_stale_and_requests_resync() -> None:
    codec = _synced(u=100)
    events = codec.feed(bybit_book("delta", 102, [["100.0", "5"]], []))
    assert [type(e) for e in events] == [ResyncRequested]
    assert events[0].channel == orderbook_topic("BTCUSDT", 50)
    assert "expected u=101, was 102" in events[0].reason
    assert codec.books["BTCUSDT"].stale
    assert (codec.stats.gaps, codec.stats.resyncs) == (1, 1)
    assert codec.books["BTCUSDT"].size_at(Side.BID, 100_00000000) == 1 * 10**8  # not applied


@pytest.mark.parametrize("u", [100, 99, 1_000])
def test_delta_when_u_repeats_or_goes_back_or_jumps_is_a_gap(u: int) -> None:
    codec = _synced(u=100)
    codec.feed(bybit_book("delta", u, [], []))
    assert codec.stats.gaps == 1
    assert codec.books["BTCUSDT"].stale


def test_deltas_when_book_stale_are_dropped_and_resync_requested_once() -> None:
    codec = _synced(u=100)
    codec.feed(bybit_book("delta", 102, [], []))
    later = codec.feed(bybit_book("delta", 103, [["100.0", "9"]], []))
    assert later == []
    assert codec.stats.resyncs == 1
    assert codec.stats.dropped_while_stale == 1
    assert _top(codec)[1] == Decimal("1")


def test_snapshot_when_book_stale_resyncs_and_chain_continues() -> None:
    codec = _synced(u=100)
    codec.feed(bybit_book("delta", 105, [], []))
    codec.feed(bybit_book("snapshot", 200, [["90", "1"]], [["91", "1"]]))
    events = codec.feed(bybit_book("delta", 201, [["90", "2"]], []))
    assert isinstance(events[0], BookDelta)
    assert not codec.books["BTCUSDT"].stale
    assert _top(codec) == (Decimal("90"), Decimal("2"), Decimal("91"), Decimal("1"))


def test_delta_when_u_is_one_resets_book_like_a_snapshot() -> None:
    codec = _synced(u=5_000)
    (event,) = codec.feed(bybit_book("delta", 1, [["50", "1"]], [["51", "1"]]))
    assert isinstance(event, BookSnapshot)
    book = codec.books["BTCUSDT"]
    assert (book.level_count(Side.BID), book.level_count(Side.ASK)) == (1, 1)
    assert codec.stats.sequence_resets == 1
    assert codec.stats.gaps == 0
    assert isinstance(codec.feed(bybit_book("delta", 2, [], []))[0], BookDelta)


def test_delta_when_first_without_snapshot_requests_resync() -> None:
    codec = BybitCodec()
    events = codec.feed(bybit_book("delta", 7, [["1", "1"]], []))
    assert [type(e) for e in events] == [ResyncRequested]
    assert codec.stats.dropped_while_stale == 1


def test_delta_when_it_crosses_book_is_refused_and_book_stale() -> None:
    codec = _synced()
    events = codec.feed(bybit_book("delta", 101, [["100.5", "1"]], []))
    assert isinstance(events[0], CodecError)
    assert events[0].kind is CodecErrorKind.CROSSED
    assert isinstance(events[1], ResyncRequested)
    assert codec.books["BTCUSDT"].stale
    assert codec.stats.malformed == 1


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (b"{not json", CodecErrorKind.BAD_JSON),
        (b"\xff\xfe", CodecErrorKind.BAD_JSON),
        (b"[]", CodecErrorKind.BAD_JSON),
        (b'{"topic": 5}', CodecErrorKind.BAD_JSON),
        (b'{"topic": "kline.1.BTCUSDT", "data": []}', CodecErrorKind.UNKNOWN),
        (b'{"hello": 1}', CodecErrorKind.UNKNOWN),
    ],
)
def test_feed_when_frame_unusable_returns_typed_error_and_counts(
    frame: bytes, kind: CodecErrorKind
) -> None:
    codec = _synced()
    events = codec.feed(frame)
    assert isinstance(events[0], CodecError)
    assert events[0].kind is kind
    assert codec.stats.malformed == 1
    assert not codec.books["BTCUSDT"].stale  # no book named: no book harmed


@pytest.mark.parametrize(
    "data",
    [
        {"s": "BTCUSDT", "b": [["100", "-1"]], "a": [], "u": 101},  # negative size
        {"s": "BTCUSDT", "b": [["100", "1e3"]], "a": [], "u": 101},  # exponent
        {"s": "BTCUSDT", "b": [["100", 1]], "a": [], "u": 101},  # number, not string
        {"s": "BTCUSDT", "b": [["100"]], "a": [], "u": 101},  # half a level
        {"s": "BTCUSDT", "b": [], "a": [], "u": "101"},  # u as string
        {"s": "BTCUSDT", "b": [], "a": []},  # u missing
        {"s": "ETHUSDT", "b": [], "a": [], "u": 101},  # symbol disagrees with topic
        {"s": "BTCUSDT", "b": [["1.000000001", "1"]], "a": [], "u": 101},  # finer than scale
    ],
)
def test_book_frame_when_field_invalid_is_refused_and_book_stale(data: dict[str, object]) -> None:
    codec = _synced()
    frame = json.dumps({"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 1, "data": data})
    events = codec.feed(frame)
    assert isinstance(events[0], CodecError)
    assert events[0].kind is CodecErrorKind.BAD_FIELD
    assert events[0].symbol == "BTCUSDT"
    assert codec.books["BTCUSDT"].stale
    assert codec.stats.malformed == 1
    assert _top(codec)[1] == Decimal("1")  # nothing of the bad frame was applied


def test_book_frame_when_type_unknown_is_refused() -> None:
    codec = _synced()
    events = codec.feed(bybit_book("partial", 101, [], []))
    assert isinstance(events[0], CodecError)
    assert "expected type snapshot or delta, was 'partial'" in events[0].detail


def test_ticker_fixture_when_fed_yields_ticker_and_funding() -> None:
    ticker, funding = BybitCodec().feed(fixture_bytes("bybit", "ws_ticker_linear.json"))
    assert isinstance(ticker, Ticker)
    assert (ticker.bid, ticker.ask) == (Decimal("17215.50"), Decimal("17216.00"))
    assert ticker.mark_price == Decimal("17217.33")
    assert isinstance(funding, Funding)
    assert funding.rate == Decimal("-0.000212")
    assert funding.next_funding_ms == 1673280000000


def test_ticker_delta_when_fields_omitted_leaves_them_none() -> None:
    frame = {"topic": "tickers.BTCUSDT", "type": "delta", "ts": 5, "data": {"symbol": "BTCUSDT"}}
    (ticker,) = BybitCodec().feed(json.dumps(frame))
    assert isinstance(ticker, Ticker)
    assert ticker.bid is None
    assert ticker.funding_rate is None


def test_trade_fixture_when_fed_yields_trade_with_taker_side() -> None:
    (trade,) = BybitCodec().feed(fixture_bytes("bybit", "ws_public_trade.json"))
    assert isinstance(trade, Trade)
    assert (trade.price, trade.size, trade.side) == (
        Decimal("27451.00"),
        Decimal("0.010"),
        TradeSide.BUY,
    )


def test_trade_when_side_unknown_is_refused() -> None:
    frame = {
        "topic": "publicTrade.BTCUSDT",
        "ts": 1,
        "data": [{"T": 1, "s": "BTCUSDT", "S": "Up", "v": "1", "p": "1", "i": "x"}],
    }
    (error,) = BybitCodec().feed(json.dumps(frame))
    assert isinstance(error, CodecError)
    assert "expected side Buy or Sell, was 'Up'" in error.detail


def test_control_frames_when_acknowledged_yield_nothing_and_failures_yield_venue_error() -> None:
    codec = BybitCodec()
    assert codec.feed(b'{"success":true,"ret_msg":"pong","conn_id":"c","op":"ping"}') == []
    (error,) = codec.feed(b'{"success":false,"ret_msg":"bad topic","op":"subscribe"}')
    assert isinstance(error, CodecError)
    assert error.kind is CodecErrorKind.VENUE_ERROR
    assert codec.stats.malformed == 0


def test_requests_when_built_are_bybit_json_frames() -> None:
    codec = BybitCodec()
    sub = json.loads(codec.subscribe([orderbook_topic("BTCUSDT", 50)]))
    assert sub["op"] == "subscribe"
    assert sub["args"] == ["orderbook.50.BTCUSDT"]
    ping = json.loads(codec.ping())
    assert ping["op"] == "ping"
    assert ping["req_id"] != sub["req_id"]
    auth = json.loads(codec.auth("key", "secret", 1_700_000_000_000))
    expected = hmac.new(b"secret", b"GET/realtime1700000000000", hashlib.sha256).hexdigest()
    assert auth["args"] == ["key", 1_700_000_000_000, expected]


def test_resync_frames_when_book_known_resubscribe_its_topic() -> None:
    codec = _synced()
    unsub, sub = (json.loads(f) for f in codec.resync_frames("BTCUSDT"))
    assert (unsub["op"], sub["op"]) == ("unsubscribe", "subscribe")
    assert sub["args"] == ["orderbook.50.BTCUSDT"]
    assert codec.resync_frames("NOPE") == []


def test_parse_instruments_when_fixture_given_reads_tick_lot_and_min_notional() -> None:
    btc, eth = parse_instruments(fixture_bytes("bybit", "http_get_instruments_linear.json"))
    assert (btc.symbol, btc.tick_size, btc.lot_size) == (
        "BTCUSDT",
        Decimal("0.5"),
        Decimal("0.001"),
    )
    assert btc.min_notional == Decimal("5")
    assert eth.kind == "perp"


def test_codec_when_given_instrument_uses_its_scales_and_refuses_finer_prices() -> None:
    btc, _ = parse_instruments(fixture_bytes("bybit", "http_get_instruments_linear.json"))
    codec = BybitCodec([btc])
    codec.feed(bybit_book("snapshot", 1, [["27450.50", "0.500"]], [["27451.00", "0.001"]]))
    book = codec.books["BTCUSDT"]
    assert (book.price_scale, book.size_scale) == (1, 3)
    assert book.best_bid() == (274505, 500)
    events = codec.feed(bybit_book("delta", 2, [["27450.55", "1"]], []))
    assert isinstance(events[0], CodecError)


def test_feed_when_non_book_topic_carries_book_shaped_data_touches_no_book() -> None:
    codec = _synced()
    frame = json.dumps(
        {
            "topic": "tickers.BTCUSDT",
            "type": "delta",
            "ts": 1,
            "data": {"s": "BTCUSDT", "b": [["100.0", "9"]], "a": [], "u": 101},
        }
    )
    events = codec.feed(frame)
    assert isinstance(events[0], CodecError)
    assert events[0].detail.startswith("tickers.BTCUSDT: ")
    assert _top(codec)[1] == Decimal("1")
    assert codec.books["BTCUSDT"].update_id == 100


def test_delta_when_level_text_new_then_seen_again_gives_same_units() -> None:
    codec = _synced()
    (first,) = codec.feed(bybit_book("delta", 101, [["99.9", "1.25"]], []))
    (second,) = codec.feed(bybit_book("delta", 102, [["99.9", "1.250"]], [["100.5", "1.25"]]))
    assert isinstance(first, BookDelta)
    assert isinstance(second, BookDelta)
    assert first.bids == second.bids
    assert second.asks == [(second.asks[0][0], first.bids[0][1])]
    assert codec.stats.updates_applied == 3
