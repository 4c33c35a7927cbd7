"""Exact conversions between the domain's values and SQLite columns.

Decimals go in as TEXT and come back as the same Decimal (`Decimal(str(d)) == d`, exponent
included). Anything that is not a Decimal is refused, so a float can never slip into money.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from arbiter.execution.intent import Intent
from arbiter.venues import Fill, OrderRequest, OrderType, Side, TimeInForce
from arbiter.venues.contract.client_ids import IntentId


def dec(value: Decimal) -> str:
    if not isinstance(value, Decimal):
        raise TypeError(
            f"expected Decimal for a money column, was {type(value).__name__} {value!r}"
        )
    if not value.is_finite():
        raise ValueError(f"expected a finite Decimal for a money column, was {value}")
    return str(value)


def dec_or_none(value: Decimal | None) -> str | None:
    return None if value is None else dec(value)


def to_dec_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


INTENT_COLUMNS = (
    "client_id, intent_id, strategy, pair, cycle, leg, attempt, venue, symbol, side, "
    "order_type, qty, price, tif, reduce_only, decision_price, created_ns, kind"
)


def intent_row(intent: Intent, ts_ns: int) -> tuple[object, ...]:
    r, i = intent.request, intent.id
    return (
        r.client_id,
        str(i),
        i.strategy,
        i.pair,
        i.cycle,
        i.leg,
        i.attempt,
        intent.venue,
        r.symbol,
        r.side.value,
        r.type.value,
        dec(r.qty),
        dec_or_none(r.price),
        r.tif.value,
        int(r.reduce_only),
        dec(intent.decision_price),
        ts_ns,
        r.kind,
    )


def intent_from_row(row: tuple[Any, ...]) -> Intent:
    request = OrderRequest(
        client_id=row[0],
        symbol=row[8],
        side=Side(row[9]),
        type=OrderType(row[10]),
        qty=Decimal(row[11]),
        price=to_dec_or_none(row[12]),
        tif=TimeInForce(row[13]),
        reduce_only=bool(row[14]),
        kind=row[17],
    )
    intent_id = IntentId(row[2], row[3], row[4], row[5], row[6])
    return Intent(intent_id, row[7], request, Decimal(row[15]))


FILL_COLUMNS = (
    "venue, symbol, trade_id, client_id, venue_order_id, side, price, qty, fee, fee_asset, "
    "is_maker, ts_venue_ms, ts_local_ns"
)


def fill_row(fill: Fill) -> tuple[object, ...]:
    return (
        fill.venue,
        fill.symbol,
        fill.trade_id,
        fill.client_id,
        fill.venue_order_id,
        fill.side.value,
        dec(fill.price),
        dec(fill.qty),
        dec(fill.fee),
        fill.fee_asset,
        int(fill.is_maker),
        fill.ts_venue_ms,
        fill.ts_local_ns,
    )


def fill_from_row(row: tuple[Any, ...]) -> Fill:
    return Fill(
        venue=row[0],
        symbol=row[1],
        trade_id=row[2],
        client_id=row[3],
        venue_order_id=row[4],
        side=Side(row[5]),
        price=Decimal(row[6]),
        qty=Decimal(row[7]),
        fee=Decimal(row[8]),
        fee_asset=row[9],
        is_maker=bool(row[10]),
        ts_venue_ms=row[11],
        ts_local_ns=row[12],
    )
