"""OKX v5 words for engine objects (instruments, tickers, book levels, funding rates, orders,
fills, positions, balances, bills), and the `books` checksum.

Shared by the REST answers (rest.py) and the WS channels (ws.py) so both always agree. Every row carries
the fields OKX's own messages carry (tests/fixtures/venues/real/okx; a test compares the key
paths), with OKX's quirks: "" for a number that does not apply, "0" where OKX prints a zero,
fees signed negative when charged, sizes in contracts for swaps. Fields the simulator has no
model for (algo orders, options, borrowing, portfolio margin) are sent as OKX sends them when
unused: "", "0", false or [].
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from decimal import Decimal
from itertools import zip_longest
from typing import Any

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.accounts import Account, Position
from arbiter.sim.book import MatchingBook, Side
from arbiter.sim.engine import VenueEngine, instrument_key
from arbiter.sim.events import ForcedTraded, FundingSettled
from arbiter.sim.orders import (
    CancelReason,
    Execution,
    Order,
    OrderStatus,
    OrderType,
    RejectReason,
    TimeInForce,
)
from arbiter.sim.wire import grid, grid_text

REJECT_CODES: dict[RejectReason, tuple[str, str]] = {
    RejectReason.DUPLICATE_CLIENT_ID: ("51016", "Duplicated clOrdId"),
    RejectReason.INSUFFICIENT_BALANCE: (
        "51008",
        "Order failed. Insufficient USDT balance in account.",
    ),
    RejectReason.REDUCE_ONLY_WOULD_INCREASE: (
        "51169",
        "Order failed because you don't have any positions in this direction for this contract to reduce or close.",
    ),
    RejectReason.ORDER_NOT_FOUND: ("51603", "Order does not exist"),
    RejectReason.QTY_TOO_SMALL: (
        "51020",
        "Your order should meet or exceed the minimum order amount.",
    ),
    RejectReason.NOTIONAL_TOO_SMALL: (
        "51020",
        "Your order should meet or exceed the minimum order amount.",
    ),
    RejectReason.OFF_GRID: ("51000", "Parameter sz or px error"),
    RejectReason.UNKNOWN_SYMBOL: ("51001", "Instrument ID does not exist."),
    RejectReason.INVALID_PARAM: ("51000", "Parameter error"),
}
RATE_LIMIT = (
    "50011",
    "Rate limit reached. Please refer to API documentation and throttle requests accordingly.",
)
# A plain refusal (the request is not acted on); a fault rule's `code` picks another.
GENERIC_REJECT = ("51000", "Parameter error")

_STATE = {
    OrderStatus.NEW: "live",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELLED: "canceled",
    OrderStatus.REJECTED: "canceled",
}
ORD_TYPES = {
    "limit": (OrderType.LIMIT, TimeInForce.GTC),
    "market": (OrderType.MARKET, TimeInForce.IOC),
    "ioc": (OrderType.LIMIT, TimeInForce.IOC),
    "fok": (OrderType.LIMIT, TimeInForce.FOK),
    "post_only": (OrderType.LIMIT, TimeInForce.POST_ONLY),
}
_ORD_TYPE_NAME = {v: k for k, v in ORD_TYPES.items()}
# OKX's own words for why an order was cancelled (`cancelSourceReason`), by `cancelSource`.
_CANCEL_REASON = {
    "1": "Order canceled by user",
    "13": "Order canceled: FOK order was canceled due to incompletely filled",
    "14": "Order canceled: IOC order was partially canceled due to incompletely filled",
    "31": "The post-only order will take liquidity in maker orders",
}
# Order fields of algo orders, options and attached TP/SL: unused here, as OKX sends them then.
_ORDER_UNUSED: dict[str, Any] = {
    "algoClOrdId": "",
    "algoId": "",
    "attachAlgoClOrdId": "",
    "attachAlgoOrds": [],
    "isTpLimit": "false",
    "linkedAlgoOrd": {"algoId": ""},
    "pxType": "",
    "pxUsd": "",
    "pxVol": "",
    "quickMgnType": "",
    "slOrdPx": "",
    "slTriggerPx": "",
    "slTriggerPxType": "",
    "source": "",
    "stpId": "",
    "stpMode": "cancel_maker",
    "tpOrdPx": "",
    "tpTriggerPx": "",
    "tpTriggerPxType": "",
}
# What an `orders` push carries beyond the REST row: the push's own fill (none here; a fill
# push overwrites them) and the answer to a WS order request (none: orders come over REST).
_PUSH_ONLY: dict[str, Any] = {
    "amendResult": "",
    "amendSource": "",
    "code": "0",
    "msg": "",
    "reqId": "",
    "execType": "",
    "fillFee": "0",
    "fillFeeCcy": "",
    "fillFwdPx": "",
    "fillIdxPx": "",
    "fillMarkPx": "",
    "fillMarkVol": "",
    "fillNotionalUsd": "",
    "fillPnl": "0",
    "fillPxUsd": "",
    "fillPxVol": "",
    "lastPx": "",
    "notionalUsd": "",
}
# OKX's cancelSource codes for why an order ended unfilled.
_CANCEL_SOURCE = {
    CancelReason.USER: "1",
    CancelReason.FOK_NOT_FILLED: "13",
    CancelReason.IOC_REMAINDER: "14",
    CancelReason.NO_LIQUIDITY: "14",
    CancelReason.POST_ONLY_WOULD_TAKE: "31",
}


def s(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def inst_type(inst: Instrument) -> str:
    return "SPOT" if inst.kind is InstrumentKind.SPOT else "SWAP"


def instrument_info(inst: Instrument) -> dict[str, Any]:
    spot = inst.kind is InstrumentKind.SPOT
    return {
        "instType": inst_type(inst),
        "instId": inst.symbol,
        "uly": "" if spot else f"{inst.base}-{inst.quote}",
        "instFamily": "" if spot else f"{inst.base}-{inst.quote}",
        "baseCcy": inst.base if spot else "",
        "quoteCcy": inst.quote if spot else "",
        "settleCcy": "" if spot else inst.quote,
        "ctVal": "" if spot else s(inst.contract_value),
        "ctMult": "" if spot else "1",
        "ctValCcy": "" if spot else inst.base,
        "ctType": "" if spot else "linear",
        "optType": "",
        "stk": "",
        "listTime": "1606468572000",
        "expTime": "",
        "lever": "" if spot else "100",
        "tickSz": s(inst.tick_size),
        "lotSz": s(inst.lot_size),
        "minSz": s(inst.min_qty),
        "alias": "",
        "state": "live",
        "maxLmtSz": "10000000",
        "maxMktSz": "1000000",
        "ruleType": "normal",
    }


def book_rows(inst: Instrument, levels: list[tuple[int, int]]) -> list[list[str]]:
    """Book levels (ticks, lots) as OKX prints them: price, size, "0" (a field OKX no longer
    fills), number of orders."""
    tick, lot = inst.tick_size, inst.lot_size
    return [[grid(tick, t), grid(lot, q), "0", "1"] for t, q in levels]


def ticker(engine: VenueEngine, inst: Instrument) -> dict[str, Any]:
    """A ticker as `/market/ticker` lists it and `tickers` pushes it."""
    book = engine.book(inst)
    bid, ask = book.depth(Side.BUY, 1), book.depth(Side.SELL, 1)
    mark = s(engine.mark(inst))
    now = str(engine.clock.now_ms())
    return {
        "instType": inst_type(inst),
        "instId": inst.symbol,
        "last": mark,
        "lastSz": "0",
        "askPx": s(inst.ticks_to_price(ask[0][0])) if ask else "",
        "askSz": s(inst.lots_to_qty(ask[0][1])) if ask else "",
        "bidPx": s(inst.ticks_to_price(bid[0][0])) if bid else "",
        "bidSz": s(inst.lots_to_qty(bid[0][1])) if bid else "",
        "open24h": mark,
        "high24h": mark,
        "low24h": mark,
        "volCcy24h": "0",
        "vol24h": "0",
        "sodUtc0": mark,
        "sodUtc8": mark,
        "ts": now,
    }


def funding(engine: VenueEngine, inst: Instrument) -> dict[str, Any]:
    """A swap's funding rate as `/public/funding-rate` lists it and `funding-rate` pushes it."""
    state = engine.funding[instrument_key(inst)]
    return {
        "instType": "SWAP",
        "instId": inst.symbol,
        "fundingRate": s(state.rate),
        "nextFundingRate": s(state.rate),
        "fundingTime": str(state.next_ms),
        "nextFundingTime": str(state.next_ms + 8 * 3600 * 1000),
        "ts": str(engine.clock.now_ms()),
    }


def order(o: Order, last_fill: Execution | None = None) -> dict[str, Any]:
    """An order as REST rows list it (`/trade/order`, `orders-pending`, `orders-history`),
    which name its last fill (`fillPx`, `fillSz`, `tradeId`, `fillTime`; "" and "0" before
    any)."""
    inst = o.instrument
    spot = inst.kind is InstrumentKind.SPOT
    source = "" if o.cancel_reason is None else _CANCEL_SOURCE[o.cancel_reason]
    row = _ORDER_UNUSED | {
        "instType": inst_type(inst),
        "instId": inst.symbol,
        "ordId": o.order_id,
        "clOrdId": o.client_id,
        "tag": "",
        "px": s(o.price) if o.price is not None else "",
        "sz": s(o.quote_amount if o.quote_amount is not None else o.qty),
        "tgtCcy": ("quote_ccy" if o.quote_amount is not None else "base_ccy")
        if spot and o.order_type is OrderType.MARKET
        else "",
        "ordType": _ORD_TYPE_NAME[(o.order_type, o.tif)],
        "side": o.side.value,
        "posSide": "" if spot else "net",
        "tdMode": "cash" if spot else "cross",
        "accFillSz": s(o.filled),
        "fillPx": "",
        "fillSz": "0",
        "tradeId": "",
        "avgPx": s(o.avg_price) if o.filled else "",
        "state": _STATE[o.status],
        "lever": "" if spot else "10",
        "fee": s(-o.fee),  # OKX reports charged fees as negative numbers
        "feeCcy": o.fee_coin or (inst.base if spot and o.side.value == "buy" else inst.quote),
        "rebate": "0",
        "rebateCcy": inst.quote,
        "pnl": "0",
        "reduceOnly": "true" if o.reduce_only else "false",
        "cancelSource": source,
        "cancelSourceReason": _CANCEL_REASON.get(source, ""),
        "category": "normal",
        "ccy": "" if spot else inst.quote,
        "fillTime": "",
        "tradeQuoteCcy": inst.quote if spot else "",
        "cTime": str(o.created_ms),
        "uTime": str(o.updated_ms),
    }
    if last_fill is not None:
        row |= {
            "fillPx": s(last_fill.price),
            "fillSz": s(last_fill.qty),
            "tradeId": last_fill.exec_id,
            "fillTime": str(last_fill.ts_ms),
        }
    return row


def order_push(o: Order) -> dict[str, Any]:
    """An order as the `orders` channel pushes it: the REST row plus the push's own fields;
    its fill fields name the fill this push reports, none unless `ws.py` adds one."""
    return order(o) | _PUSH_ONLY


def position(p: Position, mark: Decimal, ts_ms: int, pushed: bool = False) -> dict[str, Any]:
    """A swap position as `GET /api/v5/account/positions` lists it; `pushed`: as the
    `positions` channel pushes it (with `pTime`, the push time)."""
    row = _POSITION_UNUSED | {
        "instType": "SWAP",
        "instId": p.instrument.symbol,
        "mgnMode": "cross",
        "posSide": "net",
        "pos": s(p.qty),
        "posCcy": "",
        "ccy": p.instrument.quote,
        "avgPx": s(p.entry_price),
        "markPx": s(mark),
        "upl": s(p.unrealized_pnl(mark)),
        "uplRatio": "0",
        "lever": s(p.leverage),
        "imr": s(p.margin()),
        "margin": "",
        "mmr": "0",
        "notionalUsd": s(abs(p.base_qty) * mark),
        "liqPx": "",
        "realizedPnl": s(p.realized_pnl - p.funding_paid),
        "fundingFee": s(-p.funding_paid),
        "adl": "1",
        "availPos": s(abs(p.qty)),
        "bePx": "",
        "fee": "",
        "idxPx": s(mark),
        "last": s(mark),
        "mgnRatio": "",
        "pnl": "",
        "posId": str(zlib.crc32(p.instrument.symbol.encode())),
        "tradeId": "",
        "uplLastPx": s(p.unrealized_pnl(mark)),
        "uplRatioLastPx": "0",
        "usdPx": "",
        "cTime": str(p.updated_ms),
        "uTime": str(ts_ms),
    }
    if pushed:
        row["pTime"] = str(ts_ms)
    return row


# Position fields of margin, options, portfolio margin and spot-in-use: unused here.
_POSITION_UNUSED: dict[str, Any] = {
    "baseBal": "",
    "baseBorrowed": "",
    "baseInterest": "",
    "bizRefId": "",
    "bizRefType": "",
    "clSpotInUseAmt": "",
    "closeOrderAlgo": [],
    "deltaBS": "",
    "deltaPA": "",
    "gammaBS": "",
    "gammaPA": "",
    "hedgedPos": "",
    "interest": "",
    "liab": "",
    "liabCcy": "",
    "liqPenalty": "0",
    "maxSpotInUseAmt": "",
    "nonSettleAvgPx": "",
    "optVal": "",
    "pendingCloseOrdLiabVal": "",
    "quoteBal": "",
    "quoteBorrowed": "",
    "quoteInterest": "",
    "settledPnl": "",
    "spotInUseAmt": "",
    "spotInUseCcy": "",
    "thetaBS": "",
    "thetaPA": "",
    "vegaBS": "",
    "vegaPA": "",
}


def balance(engine: VenueEngine, account: Account, pushed: bool = False) -> dict[str, Any]:
    """The account as `GET /api/v5/account/balance` answers it; `pushed`: as the `account`
    channel pushes it (its details name the coin's USD price, not auto-lending)."""
    upnl = sum(
        (p.unrealized_pnl(engine.mark(p.instrument)) for p in account.positions.values()),
        Decimal(0),
    )
    now = engine.clock.now_ms()
    details = []
    for ccy, bal in sorted(account.balances.items()):
        ccy_upl = upnl if ccy == "USDT" else Decimal(0)
        frozen = account.used_margin() if ccy == "USDT" else Decimal(0)
        row = _DETAIL_UNUSED | {
            "ccy": ccy,
            "eq": s(bal + ccy_upl),
            "eqUsd": s(bal + ccy_upl) if ccy == "USDT" else "",
            "cashBal": s(bal),
            "availBal": s(bal - frozen),
            "availEq": s(bal + ccy_upl - frozen),
            "frozenBal": s(frozen),
            "ordFrozen": "0",
            "upl": s(ccy_upl),
            "uTime": str(now),
        }
        row |= {"coinUsdPrice": "1" if ccy == "USDT" else ""} if pushed else _DETAIL_REST_ONLY
        details.append(row)
    return _ACCOUNT_UNUSED | {
        "totalEq": s(account.balance("USDT") + upnl),
        "upl": s(upnl),
        "uTime": str(now),
        "details": details,
    }


# Account-level figures of multi-currency and portfolio margin: unused here.
_ACCOUNT_UNUSED: dict[str, Any] = {
    "adjEq": "",
    "availEq": "",
    "borrowFroz": "",
    "delta": "0",
    "deltaLever": "0",
    "deltaNeutralStatus": "0",
    "imr": "",
    "isoEq": "0",
    "mgnRatio": "",
    "mmr": "",
    "notionalUsd": "",
    "notionalUsdForBorrow": "",
    "notionalUsdForFutures": "",
    "notionalUsdForOption": "",
    "notionalUsdForSwap": "",
    "ordFroz": "",
}
# A currency's figures of borrowing, isolated margin, spot-in-use and bots: unused here.
_DETAIL_UNUSED: dict[str, Any] = {
    "accAvgPx": "",
    "borrowFroz": "",
    "clSpotInUseAmt": "",
    "colBorrAutoConversion": "0",
    "colRes": "0",
    "collateralEnabled": False,
    "collateralRestrict": False,
    "crossLiab": "",
    "disEq": "0",
    "fixedBal": "0",
    "frpType": "0",
    "imr": "",
    "interest": "",
    "isoEq": "0",
    "isoLiab": "",
    "isoUpl": "0",
    "liab": "",
    "maxLoan": "",
    "maxSpotInUseAmt": "",
    "mgnRatio": "",
    "mmr": "",
    "notionalLever": "",
    "openAvgPx": "",
    "rewardBal": "0",
    "smtSyncEq": "0",
    "spotBal": "",
    "spotCopyTradingEq": "0",
    "spotInUseAmt": "",
    "spotIsoBal": "0",
    "spotUpl": "",
    "spotUplRatio": "",
    "stgyEq": "0",
    "totalPnl": "",
    "totalPnlRatio": "",
    "twap": "0",
    "uplLiab": "",
}
_DETAIL_REST_ONLY: dict[str, Any] = {
    "autoLendMtAmt": "0",
    "autoLendStatus": "off",
    "maxSpotInUse": "",
}


def funding_bill(f: FundingSettled) -> dict[str, Any]:
    """One row of /api/v5/account/bills: a funding fee (type 8; subType 173 paid, 174
    received), cross margin, so `balChg` and `pnl` both carry the payment."""
    inst = f.position.instrument
    amount = s(f.amount)
    return {
        "bal": s(f.balance),
        "balChg": amount,
        "billId": f.settlement_id,
        "ccy": f.coin,
        "clOrdId": "",
        "earnAmt": "",
        "earnApr": "",
        "execType": "",
        "fee": "0",
        "fillFwdPx": "",
        "fillIdxPx": "",
        "fillMarkPx": "",
        "fillMarkVol": "",
        "fillPxUsd": "",
        "fillPxVol": "",
        "fillTime": "",
        "from": "",
        "instId": inst.symbol,
        "instType": "SWAP",
        "interest": "0",
        "mgnMode": "cross",
        "notes": "",
        "ordId": "",
        "pnl": amount,
        "posBal": "0",
        "posBalChg": "0",
        "px": s(f.mark),
        "subType": "173" if f.amount < 0 else "174",
        "sz": s(f.position.qty),
        "tag": "",
        "to": "",
        "tradeId": "",
        "ts": str(f.ts_ms),
        "type": "8",
    }


def forced_order(f: ForcedTraded) -> dict[str, Any]:
    """An `orders` push of the order the venue made to force a trade on the position: no
    clOrdId, `category` adl or full_liquidation, filled at once, its fill inside."""
    inst = f.instrument
    ts = str(f.ts_ms)
    return (
        _ORDER_UNUSED
        | _PUSH_ONLY
        | {
            "instType": "SWAP",
            "instId": inst.symbol,
            "ccy": inst.quote,
            "ordId": f.order_id,
            "clOrdId": "",
            "tag": "",
            "px": "",
            "sz": s(f.qty),
            "ordType": "market",
            "side": f.side.value,
            "posSide": "net",
            "tdMode": "cross",
            "accFillSz": s(f.qty),
            "fillPx": s(f.price),
            "tradeId": f.exec_id,
            "fillSz": s(f.qty),
            "fillTime": ts,
            "fillFee": s(-f.fee),
            "fillFeeCcy": inst.quote,
            "execType": "T",
            "state": "filled",
            "avgPx": s(f.price),
            "fee": s(-f.fee),
            "feeCcy": inst.quote,
            "pnl": "0",
            "reduceOnly": "false",
            "cancelSource": "",
            "cancelSourceReason": "",
            "category": "adl" if f.kind == "adl" else "full_liquidation",
            "rebate": "0",
            "rebateCcy": inst.quote,
            "lever": "10",
            "tgtCcy": "",
            "tradeQuoteCcy": "",
            "cTime": ts,
            "uTime": ts,
        }
    )


def balance_and_position(
    event_type: str, account: Account, positions: list[Position], ts_ms: int
) -> dict[str, Any]:
    """One push of the `balance_and_position` channel: cash balances and positions after an
    event (`snapshot` on subscribe, `funding_fee` after a settlement), no amounts of its own."""
    return {
        "pTime": str(ts_ms),
        "eventType": event_type,
        "balData": [
            {"ccy": ccy, "cashBal": s(bal), "uTime": str(ts_ms)}
            for ccy, bal in sorted(account.balances.items())
        ],
        "posData": [
            {
                "posId": str(zlib.crc32(p.instrument.symbol.encode())),
                "tradeId": "",
                "instId": p.instrument.symbol,
                "instType": "SWAP",
                "mgnMode": "cross",
                "posSide": "net",
                "pos": s(p.qty),
                "ccy": p.instrument.quote,
                "posCcy": "",
                "avgPx": s(p.entry_price),
                "nonSettleAvgPx": "",
                "settledPnl": "",
                "uTime": str(ts_ms),
            }
            for p in positions
        ],
        "trades": [],
    }


def book_checksum_of(inst: Instrument, book: MatchingBook) -> int:
    """`book_checksum` of the simulator's book itself, without building the rows first."""
    px, sz = grid_text(inst.tick_size), grid_text(inst.lot_size)
    parts: list[str] = []
    for bid, ask in zip_longest(book.depth(Side.BUY, 25), book.depth(Side.SELL, 25)):
        if bid is not None:
            parts.append(f"{px(bid[0])}:{sz(bid[1])}")
        if ask is not None:
            parts.append(f"{px(ask[0])}:{sz(ask[1])}")
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def book_checksum(bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]]) -> int:
    """OKX `books` checksum: CRC32 of the top 25 levels, bid and ask interleaved as price:size."""
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts.append(f"{bids[i][0]}:{bids[i][1]}")
        if i < len(asks):
            parts.append(f"{asks[i][0]}:{asks[i][1]}")
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc  # OKX sends it as signed 32-bit


def fill(e: Execution) -> dict[str, Any]:
    """One row of /api/v5/trade/fills, in OKX's words (fees charged are negative)."""
    o = e.order
    inst = o.instrument
    return {
        "instType": inst_type(inst),
        "instId": inst.symbol,
        "tradeId": e.exec_id,
        "ordId": o.order_id,
        "clOrdId": o.client_id,
        "billId": e.exec_id,
        "subType": "1" if o.side.value == "buy" else "2",
        "tag": "",
        "fillPx": s(e.price),
        "fillSz": s(e.qty),
        "fillIdxPx": "",
        "fillPnl": "0",
        "fillMarkPx": "",
        "fillFwdPx": "",
        "fillMarkVol": "",
        "fillPxUsd": "",
        "fillPxVol": "",
        "side": o.side.value,
        "posSide": "net" if inst.kind is InstrumentKind.PERP else "",
        "execType": "M" if e.is_maker else "T",
        "feeCcy": e.fee_coin,
        "fee": s(-e.fee),
        "feeRate": s(-e.fee_rate),
        "ts": str(e.ts_ms),
        "fillTime": str(e.ts_ms),
        "tradeQuoteCcy": inst.quote if inst.kind is InstrumentKind.SPOT else "",
    }
