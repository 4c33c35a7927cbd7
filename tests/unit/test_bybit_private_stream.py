"""Bybit's private stream codec: auth, subscribe, the four topics, and bad input (sans-IO)."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

import pytest

from arbiter.market.instrument import Instrument, InstrumentKind
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
    Side,
    StreamError,
    StreamReady,
    StreamRejected,
)
from arbiter_bybit.executions import account_event, exec_type
from arbiter_bybit.streams import BybitPrivateCodec
from tests.support.venue_frames import fixture_bytes

KEYS = ApiKeys("key-1", "secret-1")
NOW_MS = 1_700_000_000_000
D = Decimal


def _instrument(kind: InstrumentKind, base: str = "BTC") -> Instrument:
    return Instrument("bybit", f"{base}USDT", kind, base, "USDT", D("0.1"), D("0.001"))


def _codec() -> BybitPrivateCodec:
    instruments = {
        ("spot", "BTCUSDT"): _instrument(InstrumentKind.SPOT),
        ("perp", "BTCUSDT"): _instrument(InstrumentKind.PERP),
    }
    return BybitPrivateCodec(KEYS, "bybit", instruments, clock_ms=lambda: NOW_MS)


def _live() -> BybitPrivateCodec:
    codec = _codec()
    codec.connect_frames()
    codec.feed(json.dumps({"op": "auth", "success": True, "ret_msg": ""}), 0)
    codec.pending_frames()
    codec.feed(json.dumps({"op": "subscribe", "success": True, "ret_msg": ""}), 0)
    codec.reconciled()
    assert codec.synced()
    return codec


def _frame(topic: str, *items: dict[str, Any]) -> str:
    return json.dumps({"topic": topic, "creationTime": NOW_MS, "data": list(items)})


def test_connect_frames_when_started_sign_auth_with_hmac_of_realtime_expiry() -> None:
    (frame,) = _codec().connect_frames()
    request = json.loads(frame)
    expires = NOW_MS + 10_000
    signature = hmac.new(b"secret-1", f"GET/realtime{expires}".encode(), hashlib.sha256)
    assert request["op"] == "auth"
    assert request["args"] == ["key-1", expires, signature.hexdigest()]


def test_session_phases_when_auth_and_subscribe_acked_ready_then_live_after_reconcile() -> None:
    codec = _codec()
    codec.connect_frames()
    assert codec.pending_frames() == ()
    assert codec.feed(json.dumps({"op": "auth", "success": True}), 0) == []
    (subscribe,) = codec.pending_frames()
    assert json.loads(subscribe)["args"] == ["order", "execution", "position", "wallet"]
    events = codec.feed(json.dumps({"op": "subscribe", "success": True}), 0)
    assert events == [StreamReady("bybit")]
    assert not codec.synced()  # not live before the REST reconciliation
    codec.reconciled()
    assert codec.synced()
    codec.reset()
    assert not codec.synced()
    assert codec.phase == "login"


def test_auth_when_refused_reports_rejection_with_venue_message() -> None:
    codec = _codec()
    events = codec.feed(json.dumps({"op": "auth", "success": False, "ret_msg": "Invalid"}), 0)
    assert events == [StreamRejected("bybit", "auth: Invalid")]
    assert codec.pending_frames() == ()


def test_order_fixture_when_filled_maps_every_field_exactly() -> None:
    (update,) = _live().feed(fixture_bytes("bybit", "ws_account_order_filled.json"), 42)
    assert update == OrderUpdate(
        venue="bybit",
        symbol="BTCUSDT",
        client_id="test-client-order-001",
        venue_order_id="5cf98598-39a7-459e-97bf-76ca765ee020",
        status=OrderStatus.FILLED,
        side=Side.BUY,
        qty=D("0.100"),
        filled_qty=D("0.100"),
        avg_price=D("30000.50"),
        price=D("30000.50"),
        reason="",
        ts_venue_ms=1672364262457,
        ts_local_ns=42,
    )


def test_execution_fixture_when_trade_maps_to_fill_with_settle_coin_fee() -> None:
    (fill,) = _live().feed(fixture_bytes("bybit", "ws_account_execution.json"), 7)
    assert fill == Fill(
        venue="bybit",
        symbol="BTCUSDT",
        client_id="test-order-link-001",
        venue_order_id="9aac161b-8ed6-450d-9cab-c5cc67c21784",
        trade_id="0ab1bdf7-4219-438b-b30a-32ec863018f7",
        side=Side.SELL,
        price=D("95900.1"),
        qty=D("0.5"),
        fee=D("26.3725275"),
        fee_asset="USDT",  # no feeCurrency in the sample: linear fees are in the settle coin
        is_maker=False,
        ts_venue_ms=1746270400353,
        ts_local_ns=7,
    )


def test_execution_when_spot_buy_without_fee_currency_charges_base_coin() -> None:
    item = json.loads(fixture_bytes("bybit", "ws_account_execution.json"))["data"][0]
    item |= {"category": "spot", "side": "Buy", "execFee": "0.0005"}
    (fill,) = _live().feed(_frame("execution", item), 0)
    assert isinstance(fill, Fill)
    assert (fill.fee, fill.fee_asset) == (D("0.0005"), "BTC")


def test_execution_when_funding_is_a_settlement_never_an_order_fill() -> None:
    codec = _live()
    item = json.loads(fixture_bytes("bybit", "ws_account_execution.json"))["data"][0]
    (event,) = codec.feed(_frame("execution", item | {"execType": "Funding"}), 0)
    assert isinstance(event, FundingSettlement)
    assert event.amount == -D("26.3725275")  # execFee: positive paid
    assert codec.skipped_executions == 0


def test_execution_when_settle_is_nothing_of_ours_and_is_skipped() -> None:
    codec = _live()
    item = json.loads(fixture_bytes("bybit", "ws_account_execution.json"))["data"][0]
    assert codec.feed(_frame("execution", item | {"execType": "Settle"}), 0) == []
    assert codec.skipped_executions == 1


def test_order_when_cancelled_by_user_carries_cancel_type_as_reason() -> None:
    item = json.loads(fixture_bytes("bybit", "ws_account_order_filled.json"))["data"][0]
    item |= {
        "orderStatus": "PartiallyFilledCanceled",
        "cancelType": "CancelByUser",
        "rejectReason": "EC_NoError",
        "avgPrice": "",
        "orderType": "Market",
        "price": "0",
    }
    (update,) = _live().feed(_frame("order", item), 0)
    assert isinstance(update, OrderUpdate)
    assert update.status is OrderStatus.CANCELLED
    assert update.reason == "CancelByUser"
    assert update.avg_price is None
    assert update.price is None


def test_position_when_short_is_negative_and_flat_has_no_entry_price() -> None:
    short = {
        "symbol": "BTCUSDT",
        "side": "Sell",
        "size": "0.25",
        "entryPrice": "60000.5",
        "unrealisedPnl": "-12.5",
        "updatedTime": "1700000000123",
    }
    flat = short | {"side": "", "size": "0", "entryPrice": "0", "unrealisedPnl": "0"}
    first, second = _live().feed(_frame("position", short, flat), 3)
    assert first == PositionUpdate(
        "bybit", "BTCUSDT", D("-0.25"), D("60000.5"), D("-12.5"), 1700000000123, 3
    )
    assert isinstance(second, PositionUpdate)
    assert (second.size, second.entry_price) == (D(0), None)


def test_wallet_when_available_missing_derives_free_from_locked_and_margin() -> None:
    coins = [
        {"coin": "USDT", "walletBalance": "1000.5", "locked": "0", "totalPositionIM": "100.25",
         "totalOrderIM": "0.25", "availableToWithdraw": ""},
        {"coin": "BTC", "walletBalance": "0.1", "availableToWithdraw": "0.09"},
    ]  # fmt: skip
    usdt, btc = _live().feed(_frame("wallet", {"coin": coins}), 5)
    assert usdt == BalanceUpdate("bybit", "USDT", D("900.00"), D("1000.5"), NOW_MS, 5)
    # availableToWithdraw is never read: nothing is locked or margined, so all of it is free.
    assert btc == BalanceUpdate("bybit", "BTC", D("0.1"), D("0.1"), NOW_MS, 5)


@pytest.mark.parametrize(
    ("frame", "detail"),
    [
        (b"{not json", "unreadable frame"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"topic": "order", "data": {}}', "expected `data` as a list"),
        (b'{"topic": "greeks", "data": []}', "unhandled topic"),
        (b'{"op": "unsubscribe", "success": false, "ret_msg": "no"}', "unsubscribe: no"),
        (b'{"topic": "order", "creationTime": [], "data": []}', "unreadable frame"),
    ],
)
def test_feed_when_frame_malformed_returns_counted_error_never_raises(
    frame: bytes, detail: str
) -> None:
    codec = _live()
    (event,) = codec.feed(frame, 0)
    assert isinstance(event, StreamError)
    assert detail in event.detail
    assert codec.stats.errors == 1


def test_feed_when_one_item_is_bad_keeps_the_good_ones() -> None:
    good = json.loads(fixture_bytes("bybit", "ws_account_order_filled.json"))["data"][0]
    bad_qty = good | {"qty": "-1"}
    bad_status = good | {"orderStatus": "Teleported"}
    events = _live().feed(_frame("order", bad_qty, good, bad_status), 0)
    assert [type(e) for e in events] == [StreamError, OrderUpdate, StreamError]
    assert "orderStatus" in events[2].detail  # type: ignore[union-attr]


def _funding_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        fixture_bytes("bybit", "http_execution_list_funding.json")
    )["result"]["list"]
    return rows


def test_execution_when_funding_rows_on_the_stream_are_settlements_or_counted_errors() -> None:
    paid, received = _funding_rows()
    # The stream sends the rows REST lists, with their category.
    events = _live().feed(_frame("execution", paid | {"category": "linear"}, received), 5)
    assert events == [
        FundingSettlement(
            venue="bybit",
            symbol="BTCUSDT",
            amount=D("-0.6364003"),  # execFee 0.6364003 paid
            asset="USDT",  # feeCurrency absent: the perp's settle coin
            settlement_id="11f1c4ed-ff20-4d73-acb7-96e43a917f25",
            ts_venue_ms=1682553600000,
            ts_local_ns=5,
        ),
        StreamError(
            "bybit",
            "execution: ValueError: expected feeCurrency or a known settle "
            "coin for 'ETHUSDT', was neither",
        ),
    ]
    assert not any(isinstance(e, Fill) for e in events)


def test_execution_rows_when_read_over_rest_follow_the_stream_rule() -> None:
    paid, received = _funding_rows()
    assert exec_type(paid) == "Funding"
    settled = account_event("bybit", received, "USDT", 0, 3)
    assert settled == FundingSettlement(
        "bybit",
        "ETHUSDT",
        D("0.08720013"),
        "USDT",
        "208751d8-f70e-4570-a5fd-d208c82af99d",
        1673136000000,
        3,
    )
    assert str(settled.amount) == "0.08720013"  # the message's own digits, sign turned


@pytest.mark.parametrize(
    ("exec_kind", "kind"), [("AdlTrade", ForcedKind.ADL), ("BustTrade", ForcedKind.LIQUIDATION)]
)
def test_execution_when_venue_forced_a_trade_is_a_forced_execution_not_a_fill(
    exec_kind: str, kind: ForcedKind
) -> None:
    item = json.loads(fixture_bytes("bybit", "ws_account_execution.json"))["data"][0]
    item |= {"execType": exec_kind, "orderLinkId": ""}
    (event,) = _live().feed(_frame("execution", item), 2)
    assert event == ForcedExecution(
        venue="bybit",
        symbol="BTCUSDT",
        kind=kind,
        trade_id="0ab1bdf7-4219-438b-b30a-32ec863018f7",
        side=Side.SELL,
        price=D("95900.1"),
        qty=D("0.5"),
        fee=D("26.3725275"),
        fee_asset="USDT",
        ts_venue_ms=1746270400353,
        ts_local_ns=2,
    )
