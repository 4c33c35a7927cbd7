"""Bybit v5 words for engine objects: instruments, orders, executions, positions, wallets.

Shared by the REST answers and the private WS topics so both always agree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.accounts import Account, Position
from arbiter.sim.engine import VenueEngine
from arbiter.sim.events import ForcedTraded, FundingSettled
from arbiter.sim.orders import (
    CancelReason,
    Execution,
    Order,
    OrderStatus,
    RejectReason,
    TimeInForce,
)

# Bybit's own error codes for the engine's reasons.
REJECT_CODES: dict[RejectReason, tuple[int, str]] = {
    RejectReason.DUPLICATE_CLIENT_ID: (110072, "OrderLinkedID is duplicate"),
    RejectReason.INSUFFICIENT_BALANCE: (110007, "ab not enough for new order"),
    RejectReason.REDUCE_ONLY_WOULD_INCREASE: (
        110017,
        "current position is zero, cannot fix reduce-only order qty",
    ),
    RejectReason.ORDER_NOT_FOUND: (110001, "order not exists or too late to cancel"),
    RejectReason.QTY_TOO_SMALL: (170136, "Order quantity is lower than the minimum"),
    RejectReason.NOTIONAL_TOO_SMALL: (170140, "Order value exceeded lower limit"),
    RejectReason.OFF_GRID: (170134, "Order price or quantity has too many decimals"),
    RejectReason.UNKNOWN_SYMBOL: (10001, "params error: symbol invalid"),
    RejectReason.INVALID_PARAM: (10001, "params error"),
}
# Spot orders on a unified account are refused with the spot engine's own code.
SPOT_INSUFFICIENT_BALANCE = (170131, "Insufficient balance.")
RATE_LIMIT = (10006, "Too many visits!")
GENERIC_REJECT = (10001, "params error")

_STATUS = {
    OrderStatus.NEW: "New",
    OrderStatus.PARTIALLY_FILLED: "PartiallyFilled",
    OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELLED: "Cancelled",
    OrderStatus.REJECTED: "Rejected",
}
_TIF = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
    TimeInForce.POST_ONLY: "PostOnly",
}
TIF_FROM_WIRE = {v: k for k, v in _TIF.items()}
_REJECT_REASON = {
    CancelReason.POST_ONLY_WOULD_TAKE: "EC_PostOnlyWillTakeLiquidity",
    CancelReason.FOK_NOT_FILLED: "EC_FOKCancel",
    CancelReason.IOC_REMAINDER: "EC_IOCCancel",
    CancelReason.NO_LIQUIDITY: "EC_NoImmediateQtyToFill",
}


def reject_code(reason: RejectReason, category: str) -> tuple[int, str]:
    """Bybit's code for a refused request in `category` ("spot", "linear")."""
    if reason is RejectReason.INSUFFICIENT_BALANCE and category == "spot":
        return SPOT_INSUFFICIENT_BALANCE
    return REJECT_CODES[reason]


def category(inst: Instrument) -> str:
    return "spot" if inst.kind is InstrumentKind.SPOT else "linear"


def s(value: Decimal) -> str:
    """Decimal as Bybit prints it: plain notation, no exponent."""
    return format(value.normalize(), "f") if value else "0"


def instrument_info(inst: Instrument) -> dict[str, Any]:
    info: dict[str, Any] = {
        "symbol": inst.symbol,
        "baseCoin": inst.base,
        "quoteCoin": inst.quote,
        "status": "Trading",
        "priceFilter": {
            "tickSize": s(inst.tick_size),
            "minPrice": s(inst.tick_size),
            "maxPrice": "10000000",
        },
    }
    if inst.kind is InstrumentKind.SPOT:
        info |= {
            "innovation": "0",
            "marginTrading": "utaOnly",
            "lotSizeFilter": {
                "basePrecision": s(inst.lot_size),
                "quotePrecision": "0.00000001",
                "minOrderQty": s(inst.min_qty),
                "maxOrderQty": "100000",
                "minOrderAmt": s(inst.min_notional),
                "maxOrderAmt": "10000000",
            },
        }
    else:
        info |= {
            "contractType": "LinearPerpetual",
            "launchTime": "1585526400000",
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": str(max(0, -inst.tick_size.normalize().as_tuple().exponent)),  # type: ignore[operator]
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100", "leverageStep": "0.01"},
            "lotSizeFilter": {
                "maxOrderQty": "1000",
                "minOrderQty": s(inst.min_qty),
                "qtyStep": s(inst.lot_size),
                "postOnlyMaxOrderQty": "1000",
                "maxMktOrderQty": "1000",
                "minNotionalValue": s(inst.min_notional),
            },
            "unifiedMarginTrade": True,
            "fundingInterval": 480,
            "settleCoin": inst.quote,
            "copyTrading": "both",
        }
    return info


def order(o: Order) -> dict[str, Any]:
    inst = o.instrument
    return {
        "orderId": o.order_id,
        "orderLinkId": o.client_id,
        "symbol": inst.symbol,
        "category": category(inst),
        "side": "Buy" if o.side.value == "buy" else "Sell",
        "orderType": "Market" if o.order_type.value == "market" else "Limit",
        "price": s(o.price) if o.price is not None else "0",
        "qty": s(o.qty),
        "timeInForce": _TIF[o.tif],
        "orderStatus": _STATUS[o.status],
        "cancelType": "CancelByUser" if o.cancel_reason is CancelReason.USER else "UNKNOWN",
        "rejectReason": _REJECT_REASON.get(o.cancel_reason, "EC_NoError")
        if o.cancel_reason
        else "EC_NoError",
        "avgPrice": s(o.avg_price) if o.filled else "",
        "leavesQty": s(o.leaves),
        "leavesValue": s(o.leaves * (o.price or Decimal(0))),
        "cumExecQty": s(o.filled),
        "cumExecValue": s(o.filled_value),
        "cumExecFee": s(o.fee),
        "feeCurrency": o.fee_coin,
        "reduceOnly": o.reduce_only,
        "closeOnTrigger": False,
        "positionIdx": 0,
        "triggerPrice": "",
        "takeProfit": "",
        "stopLoss": "",
        "stopOrderType": "",
        "marketUnit": "",
        "createdTime": str(o.created_ms),
        "updatedTime": str(o.updated_ms),
    }


def execution(e: Execution) -> dict[str, Any]:
    o = e.order
    return {
        "category": category(o.instrument),
        "symbol": o.instrument.symbol,
        "execId": e.exec_id,
        "execPrice": s(e.price),
        "execQty": s(e.qty),
        "execValue": s(o.instrument.base_qty(e.qty) * e.price),
        "execFee": s(e.fee),
        "feeCurrency": e.fee_coin,
        "feeRate": s(e.fee_rate),
        "execType": "Trade",
        "execTime": str(e.ts_ms),
        "isMaker": e.is_maker,
        "leavesQty": s(o.leaves),
        "orderId": o.order_id,
        "orderLinkId": o.client_id,
        "orderPrice": s(o.price) if o.price is not None else "0",
        "orderQty": s(o.qty),
        "orderType": "Market" if o.order_type.value == "market" else "Limit",
        "side": "Buy" if o.side.value == "buy" else "Sell",
        "seq": e.seq,
    }


def funding_execution(f: FundingSettled) -> dict[str, Any]:
    """A funding settlement as Bybit lists it among executions: `execType` Funding, `execFee`
    the fee (positive = paid, the opposite of our amount), `execPrice` the mark, `execQty` the
    position, `feeRate` the funding rate; no order behind it, and `feeCurrency` left empty as
    Bybit leaves it for linear funding (the settle coin is implied)."""
    p = f.position
    inst = p.instrument
    side = "Buy" if p.qty > 0 else "Sell"
    return {
        "category": "linear",
        "symbol": inst.symbol,
        "execId": f.settlement_id,
        "execPrice": s(f.mark),
        "execQty": s(abs(p.qty)),
        "execValue": s(abs(p.base_qty) * f.mark),
        "execFee": s(-f.amount),
        "feeCurrency": "",
        "feeRate": s(f.rate),
        "execType": "Funding",
        "execTime": str(f.ts_ms),
        "isMaker": False,
        "leavesQty": "0",
        "orderId": f"{f.ts_ms // 1000}-{inst.symbol}-{f.seq}-{side}",
        "orderLinkId": "",
        "orderPrice": "0",
        "orderQty": "0",
        "orderType": "UNKNOWN",
        "stopOrderType": "UNKNOWN",
        "markPrice": s(f.mark),
        "closedSize": "0",
        "side": side,
        "seq": f.seq,
    }


def forced_execution(f: ForcedTraded) -> dict[str, Any]:
    """A trade the venue forced on the position, as Bybit lists it among executions:
    `execType` AdlTrade or BustTrade, no orderLinkId (no order of the account's)."""
    inst = f.instrument
    return {
        "category": "linear",
        "symbol": inst.symbol,
        "execId": f.exec_id,
        "execPrice": s(f.price),
        "execQty": s(f.qty),
        "execValue": s(inst.base_qty(f.qty) * f.price),
        "execFee": s(f.fee),
        "feeCurrency": "",
        "feeRate": s(inst.taker_fee) if f.fee else "0",
        "execType": "AdlTrade" if f.kind == "adl" else "BustTrade",
        "execTime": str(f.ts_ms),
        "isMaker": False,
        "leavesQty": "0",
        "orderId": f.order_id,
        "orderLinkId": "",
        "orderPrice": s(f.price),
        "orderQty": s(f.qty),
        "orderType": "Market",
        "stopOrderType": "UNKNOWN",
        "closedSize": s(f.qty),
        "side": "Buy" if f.side.value == "buy" else "Sell",
        "seq": f.seq,
    }


def position(p: Position, mark: Decimal, ts_ms: int) -> dict[str, Any]:
    side = "Buy" if p.qty > 0 else "Sell" if p.qty < 0 else ""
    return {
        "category": "linear",
        "symbol": p.instrument.symbol,
        "positionIdx": 0,
        "side": side,
        "size": s(abs(p.qty)),
        "avgPrice": s(p.entry_price),
        "positionValue": s(abs(p.base_qty) * p.entry_price),
        "leverage": s(p.leverage),
        "markPrice": s(mark),
        "positionIM": s(p.margin()),
        "positionMM": "0",
        "unrealisedPnl": s(p.unrealized_pnl(mark)),
        "cumRealisedPnl": s(p.realized_pnl - p.funding_paid),
        "curRealisedPnl": s(p.realized_pnl),
        "tradeMode": 0,
        "positionStatus": "Normal",
        "liqPrice": "",
        "takeProfit": "",
        "stopLoss": "",
        "createdTime": str(p.updated_ms),
        "updatedTime": str(ts_ms),
        "seq": ts_ms,
    }


def wallet(engine: VenueEngine, account: Account) -> dict[str, Any]:
    upnl = sum(
        (p.unrealized_pnl(engine.mark(p.instrument)) for p in account.positions.values()),
        Decimal(0),
    )
    coins = []
    for coin, bal in sorted(account.balances.items()):
        locked = Decimal(0)
        coin_upnl = upnl if coin == "USDT" else Decimal(0)
        coins.append(
            {
                "coin": coin,
                "walletBalance": s(bal),
                "equity": s(bal + coin_upnl),
                "usdValue": s(bal),
                "locked": s(locked),
                "totalPositionIM": s(account.used_margin()) if coin == "USDT" else "0",
                "totalOrderIM": "0",
                "unrealisedPnl": s(coin_upnl),
                "cumRealisedPnl": "0",
                "borrowAmount": "0",
                "availableToWithdraw": "",
                "spotHedgingQty": "0",
            }
        )
    return {
        "accountType": "UNIFIED",
        "totalEquity": s(account.balance("USDT") + upnl),
        "totalWalletBalance": s(account.balance("USDT")),
        "totalAvailableBalance": s(account.balance("USDT") - account.used_margin()),
        "totalPerpUPL": s(upnl),
        "totalInitialMargin": s(account.used_margin()),
        "totalMaintenanceMargin": "0",
        "coin": coins,
    }
