"""An order intent and the venue's answers to it, as the tracker, the journal and the
submission tests build them: one Bybit spot buy of BTCUSDT unless told otherwise, venue order id
"v1", prices near 100."""

from __future__ import annotations

from decimal import Decimal

from arbiter.execution import Intent
from arbiter.venues import Fill, OrderAck, OrderStatus, OrderType, OrderUpdate, Side
from arbiter.venues.contract.client_ids import IntentId
from arbiter_bybit.limits import BYBIT_CLIENT_IDS

D = Decimal


def make_intent(cycle: int = 1, leg: str = "entry.spot", qty: str = "1") -> Intent:
    return Intent.build(
        IntentId("basis", "btc", cycle, leg),
        "bybit",
        BYBIT_CLIENT_IDS,
        symbol="BTCUSDT",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=D(qty),
        price=D("100.5"),
        decision_price=D("100.0"),
        kind="spot",  # journaled with the intent: a restart must know which product it asks
    )


def make_fill(intent: Intent, trade_id: str, qty: str, price: str = "100.1") -> Fill:
    return Fill(
        venue=intent.venue,
        symbol=intent.request.symbol,
        client_id=intent.client_id,
        venue_order_id="v1",
        trade_id=trade_id,
        side=intent.request.side,
        price=D(price),
        qty=D(qty),
        fee=D("0.01"),
        fee_asset="USDT",
    )


def make_update(
    intent: Intent, status: OrderStatus, filled: str = "0", avg: str | None = None
) -> OrderUpdate:
    return OrderUpdate(
        venue=intent.venue,
        symbol=intent.request.symbol,
        client_id=intent.client_id,
        venue_order_id="v1",
        status=status,
        side=intent.request.side,
        qty=intent.request.qty,
        filled_qty=D(filled),
        avg_price=None if avg is None else D(avg),
    )


def make_ack(intent: Intent) -> OrderAck:
    return OrderAck(intent.venue, intent.client_id, "v1")
