"""OKX v5 codec rules: seqId chains, heartbeat, maintenance reset, checksum, both sync modes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib
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
from arbiter_okx import OkxCodec, book_arg, okx_checksum, parse_instruments
from tests.support.venue_frames import fixture_bytes, okx_book, reference_checksum

BIDS = [["100.1", "7"], ["100", "6"]]
ASKS = [["100.8", "9"], ["101", "8"]]


def _synced(seq: int = 10) -> OkxCodec:
    codec = OkxCodec()
    (event,) = codec.feed(okx_book("snapshot", seq, -1, BIDS, ASKS))
    assert isinstance(event, BookSnapshot)
    return codec


def _top(codec: OkxCodec, inst: str = "BTC-USDT") -> tuple[Decimal, Decimal, Decimal, Decimal]:
    book = codec.books[inst]
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is not None
    assert ask is not None
    return book.price(bid[0]), book.size(bid[1]), book.price(ask[0]), book.size(ask[1])


# -- checksum ------------------------------------------------------------------------------


def test_checksum_when_two_levels_each_interleaves_bid_ask_pairs() -> None:
    text = b"3366.1:7:3366.8:9:3366:6:3368:8"
    unsigned = zlib.crc32(text)
    expected = unsigned - 2**32 if unsigned >= 2**31 else unsigned
    assert okx_checksum(["3366.1:7", "3366:6"], ["3366.8:9", "3368:8"]) == expected


def test_checksum_when_sides_uneven_continues_with_longer_side() -> None:
    expected = zlib.crc32(b"1:1:2:2:0.9:3:0.8:4")
    expected = expected - 2**32 if expected >= 2**31 else expected
    assert okx_checksum(["1:1", "0.9:3", "0.8:4"], ["2:2"]) == expected


def test_checksum_when_more_than_25_levels_uses_top_25_only() -> None:
    bids = [f"{100 - i}:1" for i in range(30)]
    asks = [f"{200 + i}:1" for i in range(30)]
    assert okx_checksum(bids, asks) == okx_checksum(bids[:25], asks[:25])
    assert okx_checksum(bids, asks) != okx_checksum(bids[:24], asks[:25])


def test_checksum_when_crc_above_int32_max_is_negative() -> None:
    # Search a small input whose unsigned CRC has the top bit set, then check the signed view.
    texts = (f"{i}:1" for i in range(1000))
    text = next(t for t in texts if zlib.crc32(f"{t}:2:1".encode()) >= 2**31)
    value = okx_checksum([text], ["2:1"])
    assert value < 0
    assert value + 2**32 == zlib.crc32(f"{text}:2:1".encode())


def test_snapshot_when_checksum_matches_received_strings_is_accepted() -> None:
    # "1.50" and "1.5" are the same size but different text; OKX sums the text as sent.
    bids = [["99.0", "1.50"]]
    asks = [["99.5", "2.000"]]
    codec = OkxCodec()
    (event,) = codec.feed(okx_book("snapshot", 1, -1, bids, asks))
    assert isinstance(event, BookSnapshot)
    assert codec.stats.checksum_failures == 0
    assert reference_checksum(bids, asks) != reference_checksum([["99", "1.5"]], [["99.5", "2"]])


def test_update_when_checksum_wrong_counts_failure_and_stales_book() -> None:
    codec = _synced(seq=10)
    events = codec.feed(okx_book("update", 11, 10, [["100.1", "3"]], [], checksum=12345))
    assert isinstance(events[0], CodecError)
    assert events[0].kind is CodecErrorKind.CHECKSUM
    assert isinstance(events[1], ResyncRequested)
    assert codec.stats.checksum_failures == 1
    assert codec.books["BTC-USDT"].stale


def test_update_when_checksum_right_after_change_is_accepted() -> None:
    codec = _synced(seq=10)
    after = reference_checksum([["100.1", "3"], ["100", "6"]], ASKS)
    events = codec.feed(okx_book("update", 11, 10, [["100.1", "3"]], [], checksum=after))
    assert isinstance(events[0], BookDelta)
    assert codec.checksum_of("BTC-USDT") == after


def test_update_when_checksum_zero_skips_verification() -> None:
    codec = _synced(seq=10)
    events = codec.feed(okx_book("update", 11, 10, [["100.1", "3"]], [], checksum=0))
    assert isinstance(events[0], BookDelta)
    assert codec.stats.checksum_failures == 0


def test_fixture_snapshot_when_checksum_does_not_match_levels_is_reported() -> None:
    # The shared sample was cut short, so its checksum cannot match (see fixtures README).
    codec = OkxCodec()
    events = codec.feed(fixture_bytes("okx", "ws_books_snapshot.json"))
    assert isinstance(events[0], CodecError)
    assert codec.stats.checksum_failures == 1


def test_fixture_snapshot_when_checksum_removed_builds_book() -> None:
    frame = json.loads(fixture_bytes("okx", "ws_books_snapshot.json"))
    frame["data"][0]["checksum"] = 0
    codec = OkxCodec()
    (event,) = codec.feed(json.dumps(frame))
    assert isinstance(event, BookSnapshot)
    assert event.update_id == 123456
    assert _top(codec) == (Decimal("8476.97"), Decimal("256"), Decimal("8476.98"), Decimal("415"))


# -- sequence rules (snapshot pushed on subscribe) ----------------------------------------


def test_update_when_prev_seq_matches_applies_and_advances() -> None:
    codec = _synced(seq=10)
    after = reference_checksum(BIDS, [["100.8", "9"]])
    (event,) = codec.feed(okx_book("update", 15, 10, [], [["101", "0"]], checksum=after))
    assert isinstance(event, BookDelta)
    assert codec.books["BTC-USDT"].update_id == 15
    assert codec.books["BTC-USDT"].level_count(Side.ASK) == 1


def test_update_when_prev_seq_differs_is_a_gap() -> None:
    codec = _synced(seq=10)
    events = codec.feed(okx_book("update", 13, 12, [], [], checksum=0))
    assert [type(e) for e in events] == [ResyncRequested]
    assert "expected prevSeqId=10, was 12" in events[0].reason
    assert codec.stats.gaps == 1
    assert codec.books["BTC-USDT"].stale


def test_heartbeat_when_levels_empty_and_prev_equals_seq_keeps_chain() -> None:
    codec = _synced(seq=10)
    (event,) = codec.feed(okx_book("update", 10, 10, [], []))
    assert isinstance(event, BookDelta)
    assert codec.stats.gaps == 0
    assert _top(codec) == (Decimal("100.1"), Decimal("7"), Decimal("100.8"), Decimal("9"))
    assert isinstance(codec.feed(okx_book("update", 11, 10, [], []))[0], BookDelta)


def test_update_when_seq_below_prev_maintenance_reset_is_accepted_and_continued() -> None:
    codec = _synced(seq=500)
    (reset,) = codec.feed(okx_book("update", 3, 500, [], []))
    assert isinstance(reset, BookDelta)
    assert codec.stats.sequence_resets == 1
    (nxt,) = codec.feed(okx_book("update", 4, 3, [], []))
    assert isinstance(nxt, BookDelta)
    assert codec.stats.gaps == 0


def test_update_when_book_has_no_snapshot_is_dropped_with_resync() -> None:
    codec = OkxCodec()
    events = codec.feed(okx_book("update", 11, 10, [], []))
    assert [type(e) for e in events] == [ResyncRequested]
    assert codec.stats.dropped_while_stale == 1


def test_snapshot_when_stale_restores_book() -> None:
    codec = _synced(seq=10)
    codec.feed(okx_book("update", 30, 29, [], [], checksum=0))
    codec.feed(okx_book("snapshot", 40, -1, BIDS, ASKS))
    assert not codec.books["BTC-USDT"].stale
    assert isinstance(codec.feed(okx_book("update", 41, 40, [], []))[0], BookDelta)


def test_update_when_it_crosses_book_is_refused() -> None:
    codec = _synced(seq=10)
    events = codec.feed(okx_book("update", 11, 10, [["100.9", "1"]], [], checksum=0))
    assert isinstance(events[0], CodecError)
    assert events[0].kind is CodecErrorKind.CROSSED
    assert codec.books["BTC-USDT"].stale


@pytest.mark.parametrize(
    "level",
    [["100", "-1", "0", "1"], ["100"], ["abc", "1", "0", "1"], [100, "1", "0", "1"]],
)
def test_update_when_level_malformed_is_refused_and_book_stale(level: list[object]) -> None:
    codec = _synced(seq=10)
    frame = json.loads(okx_book("update", 11, 10, [], [], checksum=0))
    frame["data"][0]["bids"] = [level]
    events = codec.feed(json.dumps(frame))
    assert isinstance(events[0], CodecError)
    assert events[0].kind is CodecErrorKind.BAD_FIELD
    assert codec.books["BTC-USDT"].stale
    assert codec.stats.malformed == 1


def test_books5_when_pushed_replaces_whole_book_each_time() -> None:
    codec = OkxCodec()
    codec.feed(okx_book(None, 1, -1, BIDS, ASKS, channel="books5"))
    codec.feed(okx_book(None, 9, -1, [["50", "1"]], [["51", "1"]], channel="books5"))
    book = codec.books["BTC-USDT"]
    assert _top(codec) == (Decimal("50"), Decimal("1"), Decimal("51"), Decimal("1"))
    assert book.level_count(Side.BID) == 1
    assert codec.stats.gaps == 0


# -- other channels and requests -----------------------------------------------------------


def test_ticker_trade_funding_fixtures_when_fed_yield_normalized_events() -> None:
    codec = OkxCodec()
    (ticker,) = codec.feed(fixture_bytes("okx", "ws_tickers.json"))
    (trade,) = codec.feed(fixture_bytes("okx", "ws_trades.json"))
    (funding,) = codec.feed(fixture_bytes("okx", "ws_funding_rate.json"))
    assert isinstance(ticker, Ticker)
    assert (ticker.bid, ticker.ask) == (Decimal("8888.88"), Decimal("9999.99"))
    assert isinstance(trade, Trade)
    assert (trade.price, trade.side) == (Decimal("42219.9"), TradeSide.BUY)
    assert isinstance(funding, Funding)
    assert (funding.rate, funding.next_rate) == (Decimal("0.0001"), Decimal("0.0002"))


def test_control_frames_when_pong_or_ack_yield_nothing_and_error_yields_venue_error() -> None:
    codec = OkxCodec()
    assert codec.feed(b"pong") == []
    assert codec.feed(b'{"event":"subscribe","arg":{"channel":"books","instId":"X"}}') == []
    (error,) = codec.feed(b'{"event":"error","code":"60012","msg":"Invalid request"}')
    assert isinstance(error, CodecError)
    assert error.kind is CodecErrorKind.VENUE_ERROR
    assert codec.stats.malformed == 0


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"ping",
        b"{",
        b'{"arg":{"channel":"books"},"data":[]}',
        b'{"arg":{"channel":"candle1m","instId":"X"},"data":[]}',
    ],
)
def test_feed_when_frame_unusable_returns_error_never_raises(frame: bytes) -> None:
    codec = OkxCodec()
    events = codec.feed(frame)
    assert isinstance(events[0], CodecError)
    assert codec.stats.malformed == 1


def test_requests_when_built_are_okx_frames() -> None:
    codec = OkxCodec()
    sub = json.loads(codec.subscribe([book_arg("BTC-USDT")]))
    assert sub == {"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]}
    assert codec.ping() == b"ping"
    login = json.loads(codec.login("k", "s", "p", "1700000000"))["args"][0]
    digest = hmac.new(b"s", b"1700000000GET/users/self/verify", hashlib.sha256).digest()
    assert login["sign"] == base64.b64encode(digest).decode()


def test_parse_instruments_when_fixture_given_keeps_linear_swaps_with_contract_value() -> None:
    instruments = parse_instruments(fixture_bytes("okx", "http_get_instruments_swap.json"))
    assert [i.symbol for i in instruments] == ["ETH-USDT-SWAP", "BTC-USDT-SWAP"]
    btc = instruments[1]
    assert (btc.tick_size, btc.lot_size, btc.contract_value) == (
        Decimal("0.1"),
        Decimal("0.01"),
        Decimal("0.01"),
    )
    assert (btc.base, btc.quote) == ("BTC", "USDT")
