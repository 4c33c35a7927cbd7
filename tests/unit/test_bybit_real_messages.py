"""Bybit's own WebSocket messages (tests/fixtures/venues/real/bybit, see SOURCES.md) through
the code the runtime reads them with: the public codec, the private stream codec, the order
tracker. Every parsed field is checked against the message's own text, exactly; a message the
code does not handle is asserted ignored, with why."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbiter.execution import OrderTracker
from arbiter.market.events import BookDelta, BookSnapshot, Funding, Ticker, Trade, TradeSide
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.store import Journal
from arbiter.venues import (
    ApiKeys,
    BalanceUpdate,
    Fill,
    ForcedExecution,
    ForcedKind,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    Side,
    StreamError,
    StreamReady,
    StreamRejected,
)
from arbiter_bybit.codec import BybitCodec
from arbiter_bybit.streams import BybitPrivateCodec
from tests.support.bybit_corpus import REAL, channel_files, corpus_files, load, raw, rows
from tests.support.order_events import make_ack, make_fill, make_intent

D = Decimal
KEYS = ApiKeys("key-1", "secret-1")
STATUS = {
    "New": OrderStatus.NEW,
    "Untriggered": OrderStatus.NEW,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
}

# What each captured file is read by. A file in the corpus that no test reads fails
# `test_every_captured_message_is_read_or_ignored_on_purpose`.
READ_HERE = {
    "ws_public_orderbook",
    "ws_public_trade",
    "ws_public_ticker",
    "ws_op",
    "ws_order",
    "ws_execution",
    "ws_fast_execution",
    "ws_position",
    "ws_wallet",
}
READ_OVER_REST = {  # tests/integration/test_bybit_real_rest.py, through ccxt and the plugin
    "rest_order_realtime",
    "rest_order_history",
    "rest_execution_list",
    "rest_position_list",
    "rest_wallet_balance",
    "rest_reference",
    "rest_errors",
}


def _instrument(kind: InstrumentKind, base: str) -> Instrument:
    return Instrument("bybit", f"{base}USDT", kind, base, "USDT", D("0.01"), D("0.001"))


def _private() -> BybitPrivateCodec:
    instruments = {
        (kind.value, f"{base}USDT"): _instrument(kind, base)
        for kind in (InstrumentKind.SPOT, InstrumentKind.PERP)
        for base in ("BTC", "ETH", "APEX")
    }
    codec = BybitPrivateCodec(KEYS, "bybit", instruments, clock_ms=lambda: 0)
    codec.connect_frames()
    assert codec.feed(raw("ws_op/nautilus_auth_success.json"), 0) == []
    codec.pending_frames()
    assert codec.feed(raw("ws_op/nautilus_subscribe_ack.json"), 0) == [StreamReady("bybit")]
    codec.reconciled()
    return codec


def _dec(text: str) -> Decimal | None:
    value = D(text) if text else None
    return value or None


# Channels whose every file a test reads by listing the folder.
READ_ALL = {"ws_order", "ws_position", "ws_wallet"}
# Files no plugin code reads, and why; the simulator's shape check still compares with them.
SHAPE_ONLY = {
    "rest_position_list/docs_inverse.json": "an inverse position: the plugin lists linear ones",
}
READERS = [Path(__file__), Path(__file__).parents[1] / "integration" / "test_bybit_real_rest.py"]


def test_every_captured_message_is_read_or_ignored_on_purpose() -> None:
    channels = {path.parent.name for path in corpus_files()}
    assert channels == READ_HERE | READ_OVER_REST
    sources = (REAL / "SOURCES.md").read_text()
    tests = "".join(reader.read_text() for reader in READERS)
    for path in corpus_files():
        name = f"{path.parent.name}/{path.name}"
        assert name in sources, f"{name} has no source in SOURCES.md"
        read = path.parent.name in READ_ALL or name in tests or f'"{path.name}"' in tests
        assert read or name in SHAPE_ONLY, f"{name}: no test reads it, nor says why not"


# -- public market data ----------------------------------------------------------------------


def test_book_snapshot_then_delta_when_captured_apply_every_level_exactly() -> None:
    codec = BybitCodec()
    snap_doc = load("ws_public_orderbook/nautilus_snapshot.json")
    delta_doc = load("ws_public_orderbook/nautilus_delta.json")
    (snapshot,) = codec.feed(raw("ws_public_orderbook/nautilus_snapshot.json"))
    book = codec.books["BTCUSDT"]

    def levels(side: list[tuple[int, int]]) -> list[tuple[Decimal, Decimal]]:
        return [(book.price(p), book.size(q)) for p, q in side]

    assert isinstance(snapshot, BookSnapshot)
    assert levels(snapshot.bids) == [(D(p), D(q)) for p, q in snap_doc["data"]["b"]]
    assert levels(snapshot.asks) == [(D(p), D(q)) for p, q in snap_doc["data"]["a"]]
    assert (snapshot.update_id, snapshot.ts_ms, snapshot.seq, snapshot.cts_ms) == (
        snap_doc["data"]["u"],
        snap_doc["ts"],
        snap_doc["data"]["seq"],
        None,  # this capture has no `cts`
    )
    (delta,) = codec.feed(raw("ws_public_orderbook/nautilus_delta.json"))
    assert isinstance(delta, BookDelta)
    assert levels(delta.bids) == [(D("27450.00"), D("0.400"))]
    assert levels(delta.asks) == [(D("27451.00"), D("0"))]  # size "0" deletes the level
    assert (delta.update_id, delta.ts_ms, delta.seq) == (
        delta_doc["data"]["u"],
        delta_doc["ts"],
        delta_doc["data"]["seq"],
    )
    best_bid, best_ask = book.best_bid(), book.best_ask()
    assert best_bid is not None
    assert best_ask is not None
    assert (book.price(best_bid[0]), book.size(best_bid[1])) == (D("27450.00"), D("0.400"))
    assert (book.price(best_ask[0]), book.size(best_ask[1])) == (D("27451.50"), D("0.900"))


def test_book_delta_when_no_snapshot_came_first_is_dropped_not_applied() -> None:
    # Bybit's documentation example is a depth-50 delta: without the snapshot before it, the
    # book cannot be trusted, so the codec drops it and waits for a snapshot.
    codec = BybitCodec()
    events = codec.feed(raw("ws_public_orderbook/docs_delta.json"))
    assert not any(isinstance(e, BookDelta | BookSnapshot) for e in events)
    assert codec.books["BTCUSDT"].stale


@pytest.mark.parametrize("name", ["nautilus_trade.json", "docs_trade.json"])
def test_public_trade_when_captured_maps_every_field_exactly(name: str) -> None:
    doc = load(f"ws_public_trade/{name}")
    events = BybitCodec().feed(raw(f"ws_public_trade/{name}"))
    assert events == [
        Trade(
            "bybit",
            t["s"],
            t["i"],
            D(t["p"]),
            D(t["v"]),
            TradeSide.BUY if t["S"] == "Buy" else TradeSide.SELL,
            t["T"],
        )
        for t in doc["data"]
    ]


def test_linear_ticker_when_captured_maps_prices_and_funding_exactly() -> None:
    data = load("ws_public_ticker/nautilus_linear.json")["data"]
    ticker, funding = BybitCodec().feed(raw("ws_public_ticker/nautilus_linear.json"))
    assert ticker == Ticker(
        "bybit",
        "BTCUSDT",
        1673272861686,
        bid=D(data["bid1Price"]),
        bid_size=D(data["bid1Size"]),
        ask=D(data["ask1Price"]),
        ask_size=D(data["ask1Size"]),
        last=D(data["lastPrice"]),
        mark_price=D(data["markPrice"]),
        index_price=D(data["indexPrice"]),
        funding_rate=D(data["fundingRate"]),
    )
    assert funding == Funding(
        "bybit", "BTCUSDT", D("-0.000212"), int(data["nextFundingTime"]), 1673272861686
    )


def test_spot_ticker_when_captured_has_no_book_or_funding_fields() -> None:
    (ticker,) = BybitCodec().feed(raw("ws_public_ticker/docs_spot.json"))
    assert isinstance(ticker, Ticker)
    assert ticker.last == D("21109.77")
    assert (ticker.bid, ticker.ask, ticker.funding_rate) == (None, None, None)


# -- private: login and subscribe answers -----------------------------------------------------


def test_auth_refusal_when_bybit_answers_with_ret_msg_and_code_quotes_both() -> None:
    codec = BybitPrivateCodec(KEYS, "bybit", {}, clock_ms=lambda: 0)
    codec.connect_frames()
    events = codec.feed(raw("ws_op/nautilus_auth_failure.json"), 0)
    assert events == [StreamRejected("bybit", "auth: Invalid apikey (code 10003)")]


def test_subscribe_refusal_when_captured_quotes_the_venue() -> None:
    codec = BybitPrivateCodec(KEYS, "bybit", {}, clock_ms=lambda: 0)
    codec.connect_frames()
    codec.feed(raw("ws_op/nautilus_auth_success.json"), 0)
    events = codec.feed(raw("ws_op/nautilus_subscribe_failure.json"), 0)
    assert events == [StreamRejected("bybit", "subscribe: Invalid topic: invalid.topic.BTCUSDT")]


# -- private: orders --------------------------------------------------------------------------

ORDER_REASON = {
    "nautilus_cancelled_stop_loss.json": "CancelByUser",
    "nautilus_filled.json": "",
    "nautilus_spot_filled.json": "",
    "nautilus_partially_filled_rejected.json": "UNKNOWN",  # the venue's own word, kept
    "nautilus_untriggered_stop_market.json": "",
    "docs_option_filled.json": "",
}


@pytest.mark.parametrize("path", channel_files("ws_order"), ids=lambda p: p.name)
def test_order_push_when_captured_maps_every_field_exactly(path: Path) -> None:
    doc = json.loads(path.read_bytes())
    events = _private().feed(path.read_bytes(), 9)
    assert events == [
        OrderUpdate(
            venue="bybit",
            symbol=item["symbol"],
            client_id=item["orderLinkId"],
            venue_order_id=item["orderId"],
            status=STATUS[item["orderStatus"]],
            side=Side.BUY if item["side"] == "Buy" else Side.SELL,
            qty=D(item["qty"]),
            filled_qty=D(item["cumExecQty"]),
            avg_price=_dec(item["avgPrice"]),
            price=_dec(item["price"]),
            reason=ORDER_REASON[path.name],
            ts_venue_ms=int(item["updatedTime"]),
            ts_local_ns=9,
        )
        for item in rows(doc)
    ]


def test_rejected_after_a_partial_fill_when_tracked_ends_like_a_cancel_with_its_fills(
    tmp_path: Path,
) -> None:
    (update,) = _private().feed(raw("ws_order/nautilus_partially_filled_rejected.json"), 0)
    assert isinstance(update, OrderUpdate)
    assert (update.status, update.filled_qty, update.reason) == (
        OrderStatus.REJECTED,
        D("50.0"),
        "UNKNOWN",
    )
    with Journal.open(tmp_path / "journal.sqlite") as journal:
        tracker = OrderTracker(journal, clock=iter(range(10**9)).__next__)
        intent = make_intent(qty="100.0")
        tracker.add(intent)
        tracker.submitted(intent.client_id)
        tracker.apply(make_ack(intent))
        tracker.apply(make_fill(intent, "t1", "50.0", "1.500"))
        # The venue's push, addressed to this intent (the capture's orderLinkId is another's).
        tracker.apply(replace(update, client_id=intent.client_id, symbol=intent.request.symbol))
        snapshot = tracker.snapshot(intent.client_id)
    assert snapshot.state == "cancelled"
    assert snapshot.filled_qty == D("50.0")


# -- private: executions ----------------------------------------------------------------------


def _fill(item: dict[str, Any], fee_asset: str, ts_local_ns: int) -> Fill:
    return Fill(
        venue="bybit",
        symbol=item["symbol"],
        client_id=item["orderLinkId"],
        venue_order_id=item["orderId"],
        trade_id=item["execId"],
        side=Side.BUY if item["side"] == "Buy" else Side.SELL,
        price=D(item["execPrice"]),
        qty=D(item["execQty"]),
        fee=D(item["execFee"]),
        fee_asset=fee_asset,
        is_maker=item["isMaker"],
        ts_venue_ms=int(item["execTime"]),
        ts_local_ns=ts_local_ns,
    )


@pytest.mark.parametrize(
    ("name", "fee_asset"),
    [
        ("nautilus_trade_linear.json", "USDT"),  # no feeCurrency: the perp's settle coin
        ("nautilus_trade_spot.json", "BTC"),  # no feeCurrency: a spot buy pays in base
        ("docs_trade_linear.json", "USDT"),  # feeCurrency given
    ],
)
def test_trade_execution_when_captured_is_a_fill_with_every_field_exact(
    name: str, fee_asset: str
) -> None:
    (item,) = rows(load(f"ws_execution/{name}"))
    assert _private().feed(raw(f"ws_execution/{name}"), 4) == [_fill(item, fee_asset, 4)]


def test_adl_execution_when_captured_is_a_forced_execution_never_a_fill() -> None:
    (item,) = rows(load("ws_execution/nautilus_adl.json"))
    assert _private().feed(raw("ws_execution/nautilus_adl.json"), 2) == [
        ForcedExecution(
            venue="bybit",
            symbol="BTCUSDT",
            kind=ForcedKind.ADL,
            trade_id=item["execId"],
            side=Side.SELL,
            price=D(item["execPrice"]),
            qty=D(item["execQty"]),
            fee=D(item["execFee"]),
            fee_asset="USDT",
            ts_venue_ms=int(item["execTime"]),
            ts_local_ns=2,
        )
    ]


def test_fast_execution_when_pushed_is_ignored_on_purpose() -> None:
    # `execution.fast` (no fee, no execType) is a topic the plugin never subscribes to: the
    # full `execution` topic carries the same trades with their fees. Were it to arrive, it is
    # counted as an unhandled topic, never read as a fill without a fee.
    codec = _private()
    (event,) = codec.feed(raw("ws_fast_execution/nautilus_fast.json"), 0)
    assert event == StreamError("bybit", "unhandled topic 'execution.fast'")


# -- private: positions and wallet ------------------------------------------------------------


@pytest.mark.parametrize("path", channel_files("ws_position"), ids=lambda p: p.name)
def test_position_push_when_captured_reads_entry_price_by_the_push_name(path: Path) -> None:
    doc = json.loads(path.read_bytes())
    events = _private().feed(path.read_bytes(), 1)
    expected = []
    for item in rows(doc):
        size = D(item["size"]) * (-1 if item["side"] == "Sell" else 1)
        expected.append(
            PositionUpdate(
                "bybit",
                item["symbol"],
                size,
                _dec(item["entryPrice"]) if size else None,
                D(item["unrealisedPnl"]),
                int(item["updatedTime"]),
                1,
            )
        )
    assert events == expected
    if path.name == "nautilus_short.json":
        assert events[0] == replace(expected[0], entry_price=D("3641.075"), size=D("-0.01"))


FREE = {  # coin -> free, by hand from the message: walletBalance - locked - IM of positions, orders
    "nautilus_wallet.json": {"BTC": "0.00092964", "USDT": "9519.89806037"},
    # availableToWithdraw "0" with 51k USDT in the wallet: free is not 0.
    "nautilus_available_zero.json": {"USDT": "51283.79743837"},
    # margins above the wallet balance: nothing is free, never less.
    "nautilus_margin_exceeds_wallet.json": {"USDT": "0"},
    "docs_wallet.json": {"BTC": "0.00102964"},  # margins "" count 0
}


@pytest.mark.parametrize("path", channel_files("ws_wallet"), ids=lambda p: p.name)
def test_wallet_push_when_captured_frees_balance_less_locked_and_margins(path: Path) -> None:
    doc = json.loads(path.read_bytes())
    events = _private().feed(path.read_bytes(), 3)
    coins = [coin for account in rows(doc) for coin in account["coin"]]
    assert events == [
        BalanceUpdate(
            "bybit",
            coin["coin"],
            D(FREE[path.name][coin["coin"]]),
            D(coin["walletBalance"]),
            doc["creationTime"],
            3,
        )
        for coin in coins
    ]
