"""Bybit v5 words for engine objects: instruments, tickers, orders, executions, positions,
wallets.

Shared by the REST answers (rest.py) and the WS topics (ws.py) so both always agree, and shaped
as Bybit's own messages are (the tests compare them, key path by key path, with captured ones):
where a push and a listing differ, there is one function for each (`order` / `order_row`,
`position` / `position_row`, `execution` / `execution_row`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.accounts import Account, Position
from arbiter.sim.book import Side
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
    # What Bybit printed for a partly filled order it then rejected (a captured push).
    CancelReason.VENUE_REJECTED: "UNKNOWN",
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


def ticker(engine: VenueEngine, inst: Instrument) -> dict[str, Any]:
    """A ticker as `/v5/market/tickers` lists it and the `tickers` topic pushes it."""
    book = engine.book(inst)
    bid, ask = book.depth(Side.BUY, 1), book.depth(Side.SELL, 1)
    mark = engine.mark(inst)
    out = {
        "symbol": inst.symbol,
        "bid1Price": s(inst.ticks_to_price(bid[0][0])) if bid else "",
        "bid1Size": s(inst.lots_to_qty(bid[0][1])) if bid else "",
        "ask1Price": s(inst.ticks_to_price(ask[0][0])) if ask else "",
        "ask1Size": s(inst.lots_to_qty(ask[0][1])) if ask else "",
        "lastPrice": s(mark),
        "prevPrice24h": s(mark),
        "price24hPcnt": "0",
        "highPrice24h": s(mark),
        "lowPrice24h": s(mark),
        "turnover24h": "0",
        "volume24h": "0",
    }
    if inst.kind is InstrumentKind.PERP:
        state = engine.funding[f"perp:{inst.symbol}"]
        out |= {
            "markPrice": s(mark),
            "indexPrice": s(mark),
            "fundingRate": s(state.rate),
            "nextFundingTime": str(state.next_ms),
            "fundingIntervalHour": "8",
            "openInterest": "0",
        }
    return out


def order(o: Order) -> dict[str, Any]:
    """An order as Bybit pushes it on the private `order` topic."""
    inst = o.instrument
    return {
        "category": category(inst),
        "symbol": inst.symbol,
        "orderId": o.order_id,
        "side": "Buy" if o.side.value == "buy" else "Sell",
        "orderType": "Market" if o.order_type.value == "market" else "Limit",
        "cancelType": "CancelByUser" if o.cancel_reason is CancelReason.USER else "UNKNOWN",
        "price": s(o.price) if o.price is not None else "0",
        "qty": s(o.qty),
        "orderIv": "",
        "timeInForce": _TIF[o.tif],
        "orderStatus": _STATUS[o.status],
        "orderLinkId": o.client_id,
        "lastPriceOnCreated": "",
        "reduceOnly": o.reduce_only,
        "leavesQty": s(o.leaves),
        "leavesValue": s(o.leaves * (o.price or Decimal(0))),
        "cumExecQty": s(o.filled),
        "cumExecValue": s(o.filled_value),
        # Bybit prints "0" until something fills (the documentation's example, open orders).
        "avgPrice": s(o.avg_price),
        "blockTradeId": "",
        "positionIdx": 0,
        "cumExecFee": s(o.fee),
        "createdTime": str(o.created_ms),
        "updatedTime": str(o.updated_ms),
        "rejectReason": _REJECT_REASON.get(o.cancel_reason, "EC_NoError")
        if o.cancel_reason
        else "EC_NoError",
        "stopOrderType": "",
        "tpslMode": "",
        "triggerPrice": "",
        "takeProfit": "",
        "stopLoss": "",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "tpLimitPrice": "",
        "slLimitPrice": "",
        "triggerDirection": 0,
        "triggerBy": "",
        "closeOnTrigger": False,
        "placeType": "",
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "feeCurrency": o.fee_coin,
        "createType": "CreateByUser",
    }


def order_row(o: Order) -> dict[str, Any]:
    """An order as `/v5/order/realtime` and `/v5/order/history` list it: the push's fields less
    `category` (the answer names it once, beside the list), `feeCurrency` and `createType`,
    plus `isLeverage`."""
    row = order(o)
    for key in ("category", "feeCurrency", "createType"):
        del row[key]
    row["isLeverage"] = ""
    return row


def execution(e: Execution) -> dict[str, Any]:
    """A trade of one of the account's orders as the private `execution` topic pushes it."""
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
        "stopOrderType": "UNKNOWN",
        "closedSize": "0",
        "markPrice": "",
        "indexPrice": "",
        "underlyingPrice": "",
        "blockTradeId": "",
        "tradeIv": "",
        "markIv": "",
        "isLeverage": "0",
        "createType": "CreateByUser",
        "seq": e.seq,
    }


def execution_row(push: dict[str, Any]) -> dict[str, Any]:
    """An execution (trade, funding, forced) as `/v5/execution/list` lists it: the push less
    `category` (named once, beside the list) and `isLeverage`."""
    row = dict(push)
    row.pop("category", None)
    row.pop("isLeverage", None)
    return row


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
        "indexPrice": "",
        "underlyingPrice": "",
        "blockTradeId": "",
        "tradeIv": "",
        "markIv": "",
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
        "markPrice": s(f.price),
        "indexPrice": "",
        "underlyingPrice": "",
        "blockTradeId": "",
        "tradeIv": "",
        "markIv": "",
        "isLeverage": "0",
        "side": "Buy" if f.side.value == "buy" else "Sell",
        "seq": f.seq,
    }


def position(p: Position, mark: Decimal, ts_ms: int) -> dict[str, Any]:
    """A position as the private `position` topic pushes it: the entry price is `entryPrice`."""
    side = "Buy" if p.qty > 0 else "Sell" if p.qty < 0 else ""
    return {
        "positionIdx": 0,
        "tradeMode": 0,
        "riskId": 1,
        "riskLimitValue": "2000000",
        "symbol": p.instrument.symbol,
        "side": side,
        "size": s(abs(p.qty)),
        "entryPrice": s(p.entry_price),
        "sessionAvgPrice": "",
        "leverage": s(p.leverage),
        "positionValue": s(abs(p.base_qty) * p.entry_price),
        "positionBalance": s(p.margin()),
        "markPrice": s(mark),
        "positionIM": s(p.margin()),
        "positionIMByMp": s(p.margin()),
        "positionMM": "0",
        "positionMMByMp": "0",
        "takeProfit": "0",
        "stopLoss": "0",
        "trailingStop": "0",
        "unrealisedPnl": s(p.unrealized_pnl(mark)),
        "cumRealisedPnl": s(p.realized_pnl - p.funding_paid),
        "curRealisedPnl": s(p.realized_pnl),
        "createdTime": str(p.updated_ms),
        "updatedTime": str(ts_ms),
        "tpslMode": "Full",
        "liqPrice": "",
        "bustPrice": "",
        "category": "linear",
        "positionStatus": "Normal",
        "adlRankIndicator": 0,
        "autoAddMargin": 0,
        "leverageSysUpdatedTime": "",
        "mmrSysUpdatedTime": "",
        "seq": ts_ms,
        "isReduceOnly": False,
    }


def position_row(p: Position, mark: Decimal, ts_ms: int) -> dict[str, Any]:
    """A position as `/v5/position/list` lists it: the entry price is `avgPrice` there, and
    `category` is named once, beside the list."""
    row = position(p, mark, ts_ms)
    row["avgPrice"] = row.pop("entryPrice")
    for key in ("category", "sessionAvgPrice", "positionIMByMp", "positionMMByMp"):
        del row[key]
    return row


def wallet(engine: VenueEngine, account: Account) -> dict[str, Any]:
    """The unified wallet as the `wallet` topic pushes it and `/v5/account/wallet-balance`
    lists it. `availableToWithdraw` is "0", as Bybit sends it on a unified account whatever
    the wallet holds: what is free is the wallet balance less `locked` (spot orders) and the
    initial margin of positions and orders, which a client must compute."""
    upnl = sum(
        (p.unrealized_pnl(engine.mark(p.instrument)) for p in account.positions.values()),
        Decimal(0),
    )
    holds = engine.holds(account)
    coins = []
    for coin, bal in sorted(account.balances.items()):
        locked, order_im = holds.get(coin, (Decimal(0), Decimal(0)))
        settle = coin == "USDT"
        coin_upnl = upnl if settle else Decimal(0)
        coins.append(
            {
                "coin": coin,
                "equity": s(bal + coin_upnl),
                "usdValue": s(bal),
                "walletBalance": s(bal),
                "availableToWithdraw": "0",
                "availableToBorrow": "",
                "borrowAmount": "0",
                "accruedInterest": "0",
                "totalOrderIM": s(order_im),
                "totalPositionIM": s(account.used_margin()) if settle else "0",
                "totalPositionMM": "0",
                "unrealisedPnl": s(coin_upnl),
                "cumRealisedPnl": "0",
                "bonus": "0",
                "collateralSwitch": True,
                "marginCollateral": True,
                "locked": s(locked),
                "spotHedgingQty": "0",
                "spotBorrow": "0",
            }
        )
    margin = account.used_margin() + holds.get("USDT", (Decimal(0), Decimal(0)))[1]
    return {
        "accountIMRate": "0",
        "accountMMRate": "0",
        "totalEquity": s(account.balance("USDT") + upnl),
        "totalWalletBalance": s(account.balance("USDT")),
        "totalMarginBalance": s(account.balance("USDT") + upnl),
        "totalAvailableBalance": s(account.balance("USDT") - margin),
        "totalPerpUPL": s(upnl),
        "totalInitialMargin": s(margin),
        "totalMaintenanceMargin": "0",
        "coin": coins,
        "accountLTV": "0",
        "accountType": "UNIFIED",
    }
