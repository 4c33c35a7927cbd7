"""ccxt's unified structures (orders, trades, positions) to our normalized, exact events.

The client runs with `number = str` (see `rest.client`), so every amount arrives as the venue's
decimal string. A float here would mean a path that rounded: it is refused, never converted.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from arbiter import clock as process_clock
from arbiter.venues.contract.orders import Fill, OrderStatus, OrderUpdate, PositionUpdate, Side

ZERO = Decimal(0)


class MalformedAnswer(ValueError):
    """A venue answer (as ccxt parsed it) that lacks a field or holds a wrong value."""


def dec(value: Any, what: str) -> Decimal:
    """An exact Decimal from a ccxt value (decimal string or integer)."""
    if isinstance(value, (bool, float)):
        raise MalformedAnswer(f"{what}: expected a decimal string, was the float {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str) and value != "":
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    raise MalformedAnswer(f"{what}: expected a decimal string, was {value!r}")


def dec_or_none(value: Any, what: str) -> Decimal | None:
    return None if value is None or value == "" else dec(value, what)


def side(value: Any, what: str) -> Side:
    try:
        return Side(str(value).lower())
    except ValueError:
        raise MalformedAnswer(f"{what}: expected side buy or sell, was {value!r}") from None


def order_status(unified: Any, filled: Decimal, qty: Decimal, what: str) -> OrderStatus:
    """ccxt's five statuses, refined by the quantities (ccxt calls a partly filled, then
    cancelled Bybit order "closed"; for us it is cancelled with a partial fill)."""
    if unified == "open":
        return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.NEW
    if unified == "closed":
        return OrderStatus.FILLED if filled >= qty else OrderStatus.CANCELLED
    if unified == "canceled":
        return OrderStatus.CANCELLED
    if unified == "rejected":
        return OrderStatus.REJECTED
    if unified == "expired":
        return OrderStatus.EXPIRED
    raise MalformedAnswer(
        f"{what}: expected status open, closed, canceled, rejected or expired, was {unified!r}"
    )


def order_update(
    venue: str, symbol: str, order: Mapping[str, Any], reason: str = ""
) -> OrderUpdate:
    """One ccxt order as an `OrderUpdate`; `symbol` is the venue's own symbol."""
    cid = order.get("clientOrderId") or ""
    what = f"{venue} order {order.get('id')!r} ({cid or 'no client id'})"
    qty = dec(order.get("amount"), f"{what} amount")
    filled = dec_or_none(order.get("filled"), f"{what} filled") or ZERO
    price = dec_or_none(order.get("price"), f"{what} price")
    avg = dec_or_none(order.get("average"), f"{what} average")
    return OrderUpdate(
        venue=venue,
        symbol=symbol,
        client_id=str(cid),
        venue_order_id=str(order.get("id") or ""),
        status=order_status(order.get("status"), filled, qty, what),
        side=side(order.get("side"), f"{what} side"),
        qty=qty,
        filled_qty=filled,
        avg_price=avg if filled > 0 and avg else None,
        # A market order has no price of its own (venues print 0, ccxt may show the average).
        price=price if price and order.get("type") != "market" else None,
        reason=reason,
        ts_venue_ms=int(order.get("lastUpdateTimestamp") or order.get("timestamp") or 0),
        ts_local_ns=process_clock.monotonic_ns(),
    )


def fill(venue: str, symbol: str, trade: Mapping[str, Any], client_id: str) -> Fill:
    """One ccxt trade of ours as a `Fill` (fee positive = paid, as ccxt reports it)."""
    what = f"{venue} trade {trade.get('id')!r}"
    fee = trade.get("fee") or {}
    trade_id = trade.get("id")
    if not trade_id:
        raise MalformedAnswer(f"{what}: expected a trade id")
    return Fill(
        venue=venue,
        symbol=symbol,
        client_id=client_id,
        venue_order_id=str(trade.get("order") or ""),
        trade_id=str(trade_id),
        side=side(trade.get("side"), f"{what} side"),
        price=dec(trade.get("price"), f"{what} price"),
        qty=dec(trade.get("amount"), f"{what} amount"),
        fee=dec_or_none(fee.get("cost"), f"{what} fee") or ZERO,
        fee_asset=str(fee.get("currency") or ""),
        is_maker=trade.get("takerOrMaker") == "maker",
        ts_venue_ms=int(trade.get("timestamp") or 0),
        ts_local_ns=process_clock.monotonic_ns(),
    )


def position(venue: str, symbol: str, pos: Mapping[str, Any]) -> PositionUpdate:
    """One ccxt position, signed: ccxt reports `contracts` unsigned with a `side`."""
    what = f"{venue} position {symbol}"
    size = dec_or_none(pos.get("contracts"), f"{what} contracts") or ZERO
    if pos.get("side") == "short":
        size = -abs(size)
    elif size and pos.get("side") != "long":
        raise MalformedAnswer(f"{what}: expected side long or short, was {pos.get('side')!r}")
    entry = dec_or_none(pos.get("entryPrice"), f"{what} entryPrice")
    return PositionUpdate(
        venue=venue,
        symbol=symbol,
        size=size,
        entry_price=entry if entry else None,
        unrealized_pnl=dec_or_none(pos.get("unrealizedPnl"), f"{what} unrealizedPnl") or ZERO,
        ts_venue_ms=int(pos.get("lastUpdateTimestamp") or pos.get("timestamp") or 0),
        ts_local_ns=process_clock.monotonic_ns(),
    )
