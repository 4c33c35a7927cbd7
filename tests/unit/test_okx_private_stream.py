"""OKX's private stream codec: login, per-channel acks, fills inside orders, bad input (sans-IO)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

import pytest

from arbiter.venues import (
    ApiKeys,
    BalanceUpdate,
    Fill,
    ForcedExecution,
    ForcedKind,
    FundingSettlement,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    SettlementsDue,
    Side,
    StreamError,
    StreamReady,
    StreamRejected,
)
from arbiter_okx.bills import funding_from_bill
from arbiter_okx.streams import OkxPrivateCodec
from tests.support.venue_frames import fixture_bytes

KEYS = ApiKeys("key-1", "secret-1", "pass-1")
D = Decimal


def _codec() -> OkxPrivateCodec:
    return OkxPrivateCodec(KEYS, "okx", clock_s=lambda: "1700000000")


def _live() -> OkxPrivateCodec:
    codec = _codec()
    codec.feed(json.dumps({"event": "login", "code": "0", "msg": ""}), 0)
    codec.pending_frames()
    for channel in ("orders", "positions", "account", "balance_and_position"):
        codec.feed(json.dumps({"event": "subscribe", "arg": {"channel": channel}}), 0)
    codec.reconciled()
    assert codec.synced()
    return codec


def _order_item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = json.loads(fixture_bytes("okx", "ws_orders.json"))["data"][0]
    return item | changes


def _orders(*items: dict[str, Any]) -> str:
    return json.dumps({"arg": {"channel": "orders", "instType": "ANY"}, "data": list(items)})


def test_connect_frames_when_started_sign_login_as_okx_documents() -> None:
    (frame,) = _codec().connect_frames()
    (arg,) = json.loads(frame)["args"]
    digest = hmac.new(b"secret-1", b"1700000000GET/users/self/verify", hashlib.sha256).digest()
    assert json.loads(frame)["op"] == "login"
    assert arg == {
        "apiKey": "key-1",
        "passphrase": "pass-1",
        "timestamp": "1700000000",
        "sign": base64.b64encode(digest).decode(),
    }


def test_keys_when_passphrase_missing_refused_before_connecting() -> None:
    with pytest.raises(ValueError, match="expected an OKX passphrase"):
        OkxPrivateCodec(ApiKeys("k", "s"), "okx")


def test_session_phases_when_each_channel_acked_ready_only_after_the_last() -> None:
    codec = _codec()
    codec.feed(json.dumps({"event": "login", "code": "0"}), 0)
    (subscribe,) = codec.pending_frames()
    assert [a["channel"] for a in json.loads(subscribe)["args"]] == [
        "orders",
        "positions",
        "account",
        "balance_and_position",
    ]
    ack = {"event": "subscribe", "arg": {}}
    assert codec.feed(json.dumps(ack), 0) == []
    assert codec.feed(json.dumps(ack), 0) == []
    assert codec.feed(json.dumps(ack), 0) == []
    assert codec.feed(json.dumps(ack), 0) == [StreamReady("okx")]
    assert not codec.synced()
    codec.reconciled()
    assert codec.synced()


def test_login_when_refused_reports_rejection_with_code() -> None:
    events = _codec().feed(json.dumps({"event": "error", "code": "60007", "msg": "sign"}), 0)
    assert events == [StreamRejected("okx", "60007: sign")]


def test_orders_fixture_when_push_carries_a_fill_yields_fill_then_update() -> None:
    fill, update = _live().feed(fixture_bytes("okx", "ws_orders.json"), 9)
    assert fill == Fill(
        venue="okx",
        symbol="BTC-USDT-SWAP",
        client_id="001BTCUSDT20250106001",
        venue_order_id="2497956918703120384",
        trade_id="1518905529",
        side=Side.BUY,
        price=D("103698.9"),
        qty=D("0.03"),
        fee=D("0.021776769"),  # OKX's -0.021776769: charged, so positive here
        fee_asset="USDT",
        is_maker=True,  # execType M
        ts_venue_ms=1746947317402,
        ts_local_ns=9,
    )
    assert update == OrderUpdate(
        venue="okx",
        symbol="BTC-USDT-SWAP",
        client_id="001BTCUSDT20250106001",
        venue_order_id="2497956918703120384",
        status=OrderStatus.FILLED,
        side=Side.BUY,
        qty=D("0.03"),
        filled_qty=D("0.03"),
        avg_price=D("103698.9"),
        price=None,
        ts_venue_ms=1746947317402,
        ts_local_ns=9,
    )


def test_orders_when_push_has_no_fill_yields_only_the_update() -> None:
    item = _order_item(state="live", accFillSz="0", fillSz="0", tradeId="", avgPx="", fee="0")
    (update,) = _live().feed(_orders(item), 0)
    assert isinstance(update, OrderUpdate)
    assert (update.status, update.filled_qty, update.avg_price) == (OrderStatus.NEW, D(0), None)


def test_orders_when_fill_fee_given_uses_it_over_the_cumulative_fee() -> None:
    item = _order_item(fillFee="-0.01", fillFeeCcy="USDT", fee="-0.5", accFillSz="0.05")
    fill, _ = _live().feed(_orders(item), 0)
    assert isinstance(fill, Fill)
    assert fill.fee == D("0.01")


def test_orders_when_fill_fee_absent_takes_the_change_in_cumulative_fee() -> None:
    codec = _live()
    first = _order_item(sz="0.05", state="partially_filled", accFillSz="0.03", fee="-0.3")
    second = _order_item(
        sz="0.05", fillSz="0.02", accFillSz="0.05", fee="-0.5", tradeId="1518905530"
    )
    fill_1, _ = codec.feed(_orders(first), 0)
    fill_2, update = codec.feed(_orders(second), 0)
    assert isinstance(fill_1, Fill)
    assert isinstance(fill_2, Fill)
    assert (fill_1.fee, fill_2.fee) == (D("0.3"), D("0.2"))
    assert isinstance(update, OrderUpdate)
    assert update.filled_qty == D("0.05")


def test_orders_when_cancelled_maps_state_and_keeps_the_cancel_source() -> None:
    item = _order_item(state="canceled", fillSz="0", tradeId="", cancelSource="1")
    (update,) = _live().feed(_orders(item), 0)
    assert isinstance(update, OrderUpdate)
    assert (update.status, update.reason) == (OrderStatus.CANCELLED, "1")


def test_positions_when_net_short_and_hedge_mode_short_are_both_negative() -> None:
    net = {
        "instId": "BTC-USDT-SWAP",
        "posSide": "net",
        "pos": "-3",
        "avgPx": "60000",
        "upl": "1.5",
        "uTime": "1700000000001",
    }
    hedge = net | {"posSide": "short", "pos": "2"}
    first, second = _live().feed(json.dumps({"arg": {"channel": "positions"}, "data": [net, hedge]}), 4)  # fmt: skip
    assert first == PositionUpdate(
        "okx", "BTC-USDT-SWAP", D(-3), D(60000), D("1.5"), 1700000000001, 4
    )
    assert isinstance(second, PositionUpdate)
    assert second.size == D(-2)


def test_account_when_details_listed_yields_one_balance_per_currency() -> None:
    details = [
        {"ccy": "USDT", "cashBal": "1000", "availBal": "900.5", "uTime": "1700000000002"},
        {"ccy": "BTC", "cashBal": "0.5", "availBal": "", "uTime": "1700000000003"},
    ]
    frame = json.dumps({"arg": {"channel": "account"}, "data": [{"details": details}]})
    usdt, btc = _live().feed(frame, 1)
    assert usdt == BalanceUpdate("okx", "USDT", D("900.5"), D(1000), 1700000000002, 1)
    assert btc == BalanceUpdate("okx", "BTC", D("0.5"), D("0.5"), 1700000000003, 1)


def test_feed_when_pong_or_notice_changes_nothing() -> None:
    codec = _live()
    assert codec.feed("pong", 0) == []
    assert codec.feed(json.dumps({"event": "channel-conn-count", "connCount": "2"}), 0) == []
    assert codec.stats.errors == 0


@pytest.mark.parametrize(
    ("frame", "detail"),
    [
        ("garbage", "unreadable frame"),
        ('"text"', "expected a JSON object"),
        ('{"arg": {"channel": "orders"}}', "expected `arg` and a `data` list"),
        ('{"arg": {"channel": "greeks"}, "data": []}', "unhandled channel"),
        ('{"event": "error", "code": "60012", "msg": "bad"}', "60012: bad"),
    ],
)
def test_feed_when_frame_malformed_returns_counted_error_never_raises(
    frame: str, detail: str
) -> None:
    codec = _live()
    (event,) = codec.feed(frame, 0)
    assert isinstance(event, StreamError)
    assert detail in event.detail
    assert codec.stats.errors == 1


def test_feed_when_one_order_is_bad_keeps_the_good_ones() -> None:
    good = _order_item()
    bad = _order_item(state="teleported")
    events = _live().feed(_orders(bad, good, _order_item(fillPx="abc")), 0)
    assert [type(e) for e in events] == [StreamError, Fill, OrderUpdate, StreamError]


def _balance_and_position(event_type: str) -> str:
    item = {
        "pTime": "1789315200010",
        "eventType": event_type,
        "balData": [{"ccy": "USDT", "cashBal": "100", "uTime": "1789315200010"}],
        "posData": [],
        "trades": [],
    }
    return json.dumps({"arg": {"channel": "balance_and_position", "uid": "77"}, "data": [item]})


def test_balance_and_position_when_funding_fee_pushed_asks_for_the_bills() -> None:
    codec = _live()
    assert codec.feed(_balance_and_position("funding_fee"), 0) == [
        SettlementsDue("okx", 1789315200010)
    ]
    assert codec.feed(_balance_and_position("filled"), 0) == []  # account and positions say it


def test_bills_when_funding_fee_is_a_settlement_whatever_the_margin_mode() -> None:
    rows = json.loads(fixture_bytes("okx", "http_get_account_bills_funding.json"))["data"]
    isolated, cross = (funding_from_bill("okx", row, 4) for row in rows)
    # Isolated margin leaves the cash balance alone (balChg 0): pnl carries the payment.
    assert isolated == FundingSettlement(
        "okx", "SOL-USDT-SWAP", D("0.6798147560681625"), "USDT", "f1", 1788854401550, 4
    )
    assert str(isolated.amount) == "0.6798147560681625"
    assert (cross.amount, cross.settlement_id) == (D("-0.2"), "1")
    with pytest.raises(ValueError, match="expected a funding-fee bill"):
        funding_from_bill("okx", rows[0] | {"type": "2"})


@pytest.mark.parametrize(
    ("category", "kind"),
    [
        ("adl", ForcedKind.ADL),
        ("full_liquidation", ForcedKind.LIQUIDATION),
        ("partial_liquidation", ForcedKind.LIQUIDATION),
    ],
)
def test_orders_when_venue_made_the_order_its_fill_is_forced_never_ours(
    category: str, kind: ForcedKind
) -> None:
    item = _order_item(category=category, clOrdId="", fillFee="-12.3", fillFeeCcy="USDT")
    (event,) = _live().feed(_orders(item), 3)
    assert isinstance(event, ForcedExecution)
    assert event.kind is kind
    assert (event.fee, event.fee_asset) == (D("12.3"), "USDT")
    # The order's own status pushes (no fill) are not ours either.
    quiet = item | {"fillSz": "0", "tradeId": "", "state": "live"}
    assert _live().feed(_orders(quiet), 3) == []


def test_account_when_available_balance_is_empty_frees_the_cash_less_what_is_frozen() -> None:
    details = [{"ccy": "USDT", "cashBal": "100", "availBal": "", "frozenBal": "30.5"}]
    frame = json.dumps({"arg": {"channel": "account"}, "data": [{"details": details}]})
    (update,) = _live().feed(frame, 1)
    assert update == BalanceUpdate("okx", "USDT", D("69.5"), D(100), 0, 1)


def test_account_when_cash_balance_is_empty_is_a_counted_error_naming_it() -> None:
    details = [{"ccy": "USDT", "cashBal": "", "availBal": "1"}]
    codec = _live()
    (error,) = codec.feed(json.dumps({"arg": {"channel": "account"}, "data": [{"details": details}]}), 1)  # fmt: skip
    assert isinstance(error, StreamError)
    assert "cashBal" in error.detail
    assert codec.stats.errors == 1
