"""ccxt structures to our events: exact numbers, statuses refined by quantities, signed sizes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from arbiter.venues import MalformedAnswer, OrderStatus, Side, dec
from arbiter.venues.rest.convert import fill, order_status, order_update, position

D = Decimal


def _order(**kw: Any) -> dict[str, Any]:
    return {
        "id": "7",
        "clientOrderId": "a1",
        "status": "open",
        "side": "buy",
        "type": "limit",
        "amount": "0.010",
        "filled": "0",
        "price": "60000.1",
        "average": None,
        "timestamp": 1,
        "lastUpdateTimestamp": 2,
    } | kw


def test_dec_when_given_a_long_decimal_string_keeps_every_digit() -> None:
    assert dec("60123.456789012345678", "x") == D("60123.456789012345678")


@pytest.mark.parametrize("value", [0.1, None, "", "abc", True])
def test_dec_when_float_or_garbage_refused_naming_the_field(value: Any) -> None:
    with pytest.raises(MalformedAnswer, match="price: expected a decimal string"):
        dec(value, "price")


@pytest.mark.parametrize(
    ("unified", "filled", "expected"),
    [
        ("open", "0", OrderStatus.NEW),
        ("open", "0.004", OrderStatus.PARTIALLY_FILLED),
        ("closed", "0.01", OrderStatus.FILLED),
        ("closed", "0.004", OrderStatus.CANCELLED),  # Bybit PartiallyFilledCanceled
        ("canceled", "0", OrderStatus.CANCELLED),
        ("rejected", "0", OrderStatus.REJECTED),
        ("expired", "0", OrderStatus.EXPIRED),
    ],
)
def test_order_status_when_mapped_accounts_for_partial_fills(
    unified: str, filled: str, expected: OrderStatus
) -> None:
    assert order_status(unified, D(filled), D("0.01"), "o") is expected


def test_order_status_when_unknown_refused() -> None:
    with pytest.raises(MalformedAnswer, match="expected status open"):
        order_status(None, D(0), D(1), "o")


def test_order_update_when_market_order_has_no_price_of_its_own() -> None:
    update = order_update(
        "bybit",
        "BTCUSDT",
        _order(type="market", status="closed", filled="0.01", price="60001", average="60001"),
    )

    assert update.price is None
    assert (update.status, update.avg_price, update.filled_qty) == (
        OrderStatus.FILLED,
        D("60001"),
        D("0.01"),
    )
    assert (update.client_id, update.venue_order_id, update.ts_venue_ms) == ("a1", "7", 2)


def test_fill_when_fee_given_is_exact_and_positive_when_paid() -> None:
    trade = {
        "id": "t1",
        "order": "7",
        "side": "sell",
        "price": "60000.5",
        "amount": "0.01",
        "fee": {"cost": "0.330002750", "currency": "USDT"},
        "takerOrMaker": "maker",
        "timestamp": 5,
    }

    f = fill("okx", "BTC-USDT", trade, "a1")

    assert (f.side, f.price, f.qty, f.fee, f.fee_asset, f.is_maker) == (
        Side.SELL,
        D("60000.5"),
        D("0.01"),
        D("0.330002750"),
        "USDT",
        True,
    )


@pytest.mark.parametrize(("side", "signed"), [("long", D(3)), ("short", D(-3))])
def test_position_when_side_given_is_signed(side: str, signed: Decimal) -> None:
    pos = position("okx", "BTC-USDT-SWAP", {"contracts": "3", "side": side, "entryPrice": "1"})
    assert pos.size == signed


def test_position_when_side_missing_on_a_nonzero_size_refused() -> None:
    with pytest.raises(MalformedAnswer, match="expected side long or short"):
        position("okx", "BTC-USDT-SWAP", {"contracts": "3", "side": None})
