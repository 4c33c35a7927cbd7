"""Bybit v5 REST on loopback: the endpoints ccxt's bybit client calls, signed like Bybit.

Signature (v5): HMAC-SHA256 hex of timestamp + api key + recv window + (query string for GET,
raw JSON body for POST), sent in X-BAPI-* headers. Requests outside the recv window, with an
unknown key or a wrong signature are refused with Bybit's codes (10002, 10003, 10004).
Every answer is Bybit's envelope (`retCode`, `retMsg`, `result`, `retExtInfo`, `time`), HTTP 200
but for an unknown path (404); the way through is the shared skeleton's (sim/rest.py).
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any

from aiohttp import web

from arbiter.market.instrument import InstrumentKind
from arbiter.sim.accounts import Account
from arbiter.sim.book import Side
from arbiter.sim.bybit import codec
from arbiter.sim.events import ForcedTraded, FundingSettled
from arbiter.sim.faults import FaultRule
from arbiter.sim.orders import Execution, Order, OrderType, Rejected, RejectReason
from arbiter.sim.rest import (
    ParamError,
    Params,
    Private,
    Public,
    RestError,
    VenueRest,
    decimal_param,
    int_param,
    limit_param,
    optional_decimal,
)

Result = dict[str, Any]


class BybitRest(VenueRest[Result]):
    prefix = "/v5"
    order_id_param = "orderId"
    client_id_param = "orderLinkId"

    def route_table(self) -> dict[tuple[str, str], Public[Result] | Private[Result]]:
        return {
            ("GET", "/v5/market/time"): Public(self._time),
            ("GET", "/v5/market/instruments-info"): Public(self._instruments),
            ("GET", "/v5/market/orderbook"): Public(self._orderbook),
            ("GET", "/v5/market/tickers"): Public(self._tickers),
            ("GET", "/v5/user/query-api"): Private(self._query_api),
            ("GET", "/v5/account/info"): Private(self._account_info),
            ("GET", "/v5/asset/coin/query-info"): Private(self._coin_info),
            ("GET", "/v5/account/fee-rate"): Private(self._fee_rate),
            ("GET", "/v5/account/wallet-balance"): Private(self._wallet),
            ("GET", "/v5/position/list"): Private(self._positions),
            ("POST", "/v5/position/set-leverage"): Private(self._set_leverage),
            ("POST", "/v5/position/switch-mode"): Private(self._switch_mode),
            ("POST", "/v5/order/create"): Private(self._create),
            ("POST", "/v5/order/amend"): Private(self._amend),
            ("POST", "/v5/order/cancel"): Private(self._cancel),
            ("GET", "/v5/order/realtime"): Private(self._realtime),
            ("GET", "/v5/order/history"): Private(self._history),
            ("GET", "/v5/execution/list"): Private(self._executions),
        }

    # -- envelopes ----------------------------------------------------------------------------

    def _envelope(self, code: int | str, msg: str, result: Result) -> web.Response:
        body = {
            "retCode": code,
            "retMsg": msg,
            "result": result,
            "retExtInfo": {},
            "time": self.engine.clock.now_ms(),
        }
        return web.json_response(body)

    def answer(self, result: Result) -> web.Response:
        return self._envelope(0, "OK", result)

    def refused(self, error: RestError) -> web.Response:
        return self._envelope(error.code, error.msg, {})

    def reject_code(self, reason: RejectReason, params: Params) -> tuple[int | str, str]:
        return codec.reject_code(reason, str(params.get("category", "")))

    def bad_param(self, error: ParamError) -> RestError:
        return RestError(10001, f"params error: {error.key}: {error.problem}")

    def no_route(self, message: str) -> web.Response:
        return web.json_response({"retCode": 10001, "retMsg": message}, status=404)

    def rate_limited(self) -> web.Response:
        # Bybit answers HTTP 200 with retCode 10006 and says in headers when the limit resets.
        response = self._envelope(*codec.RATE_LIMIT, {})
        now = self.engine.clock.now_ms()
        response.headers.update(
            {
                "X-Bapi-Limit-Status": "0",
                "X-Bapi-Limit": "10",
                "X-Bapi-Limit-Reset-Timestamp": str(now + 1000),
            }
        )
        return response

    def fault_refusal(self, request: web.Request, rule: FaultRule) -> web.Response:
        code, msg = codec.GENERIC_REJECT
        ret: int | str = int(rule.code) if rule.code.lstrip("-").isdigit() else rule.code
        return self._envelope(ret or code, rule.message or msg, {})

    def authenticate(self, request: web.Request, body: str) -> Account:
        key = request.headers.get("X-BAPI-API-KEY", "")
        ts = request.headers.get("X-BAPI-TIMESTAMP", "")
        window = request.headers.get("X-BAPI-RECV-WINDOW", "5000")
        sign = request.headers.get("X-BAPI-SIGN", "")
        account = self.engine.accounts.get(key)
        if account is None:
            raise RestError(10003, "API key is invalid.")
        payload = ts + key + window + (body if request.method == "POST" else request.query_string)
        expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sign):
            raise RestError(10004, "error sign! origin_string[" + payload + "]")
        now = self.engine.clock.now_ms()
        try:
            ts_ms, window_ms = int(ts), int(window)
        except ValueError as exc:
            raise RestError(
                10002, f"expected integer timestamp and recv window, was {ts!r}, {window!r}"
            ) from exc
        # Bybit's rule: server_time - recv_window <= timestamp < server_time + 1000.
        if not (now - window_ms <= ts_ms < now + 1000):
            raise RestError(
                10002,
                f"invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts_ms}],server_timestamp[{now}],recv_window[{window_ms}]",
            )
        return account

    # -- public -------------------------------------------------------------------------------

    def _kind(self, params: Params) -> InstrumentKind:
        cat = params.get("category", "")
        if cat == "spot":
            return InstrumentKind.SPOT
        if cat == "linear":
            return InstrumentKind.PERP
        raise RestError(10001, f"params error: expected category spot or linear, was {cat!r}")

    async def _time(self, _: Params) -> Result:
        now = self.engine.clock.now_ms()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    async def _instruments(self, params: Params) -> Result:
        cat = params.get("category", "")
        listed = [
            codec.instrument_info(i)
            for i in self.engine.instruments.values()
            if codec.category(i) == cat
            and (not params.get("symbol") or i.symbol == params["symbol"])
        ]
        return {"category": cat, "list": listed, "nextPageCursor": ""}

    async def _orderbook(self, params: Params) -> Result:
        inst = self.engine.instrument(self._kind(params), params.get("symbol", ""))
        limit = int(params.get("limit") or 25)
        book = self.engine.book(inst)
        return {
            "s": inst.symbol,
            "b": [
                [codec.s(inst.ticks_to_price(t)), codec.s(inst.lots_to_qty(q))]
                for t, q in book.depth(Side.BUY, limit)
            ],
            "a": [
                [codec.s(inst.ticks_to_price(t)), codec.s(inst.lots_to_qty(q))]
                for t, q in book.depth(Side.SELL, limit)
            ],
            "ts": self.engine.clock.now_ms(),
            "u": book.seq,
            "seq": book.seq,
            "cts": self.engine.clock.now_ms(),
        }

    async def _tickers(self, params: Params) -> Result:
        kind = self._kind(params)
        out = []
        for inst in self.engine.instruments.values():
            if inst.kind is not kind or (params.get("symbol") and inst.symbol != params["symbol"]):
                continue
            out.append(codec.ticker(self.engine, inst))
        return {"category": params["category"], "list": out}

    # -- account ------------------------------------------------------------------------------

    async def _query_api(self, account: Account, _: Params) -> Result:
        return {
            "apiKey": account.api_key,
            "readOnly": 0,
            "unified": 0,
            "uta": 1,
            "isMaster": True,
            "permissions": {},
        }

    async def _account_info(self, _: Account, __: Params) -> Result:
        return {"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": False}

    async def _coin_info(self, _: Account, __: Params) -> Result:
        coins = sorted({c for i in self.engine.instruments.values() for c in (i.base, i.quote)})
        return {
            "rows": [{"name": c, "coin": c, "remainAmount": "1000000", "chains": []} for c in coins]
        }

    async def _fee_rate(self, _: Account, params: Params) -> Result:
        self._kind(params)  # category is required
        rows = [
            {
                "symbol": i.symbol,
                "makerFeeRate": codec.s(i.maker_fee),
                "takerFeeRate": codec.s(i.taker_fee),
            }
            for i in self.engine.instruments.values()
            if codec.category(i) == params["category"]
            and (not params.get("symbol") or i.symbol == params["symbol"])
        ]
        return {"list": rows}

    async def _wallet(self, account: Account, _: Params) -> Result:
        return {"list": [codec.wallet(self.engine, account)]}

    async def _positions(self, account: Account, params: Params) -> Result:
        now = self.engine.clock.now_ms()
        rows = [
            codec.position_row(p, self.engine.mark(p.instrument), now)
            for p in account.positions.values()
            if p.qty != 0 and (not params.get("symbol") or p.instrument.symbol == params["symbol"])
        ]
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    async def _set_leverage(self, account: Account, params: Params) -> Result:
        inst = self.engine.instrument(InstrumentKind.PERP, params.get("symbol", ""))
        lev = decimal_param(params, "buyLeverage")
        if not Decimal(1) <= lev <= Decimal(100):
            raise RestError(10001, f"params error: expected leverage in [1, 100], was {lev}")
        pos = account.position(inst)
        if pos.leverage == lev:
            raise RestError(110043, "Set leverage not modified")
        pos.leverage = lev
        return {}

    async def _switch_mode(self, _: Account, params: Params) -> Result:
        if str(params.get("mode", "0")) != "0":
            raise RestError(10001, "params error: the simulator supports one-way mode (0) only")
        return {}

    # -- orders -------------------------------------------------------------------------------

    async def _create(self, account: Account, params: Params) -> Result:
        inst = self.engine.instrument(self._kind(params), params.get("symbol", ""))
        side = {"Buy": Side.BUY, "Sell": Side.SELL}.get(params.get("side", ""))
        otype = {"Limit": OrderType.LIMIT, "Market": OrderType.MARKET}.get(
            params.get("orderType", "")
        )
        if side is None or otype is None:
            raise RestError(
                10001,
                f"params error: expected side Buy/Sell and orderType Limit/Market, was {params.get('side')!r}/{params.get('orderType')!r}",
            )
        tif = codec.TIF_FROM_WIRE.get(params.get("timeInForce") or "GTC")
        if tif is None:
            raise RestError(
                10001,
                f"params error: expected timeInForce GTC/IOC/FOK/PostOnly, was {params.get('timeInForce')!r}",
            )
        qty = decimal_param(params, "qty")
        quote_amount = None
        # Spot market buys are sized in quote coin unless marketUnit says baseCoin.
        unit = params.get("marketUnit") or ("quoteCoin" if side is Side.BUY else "baseCoin")
        if inst.kind is InstrumentKind.SPOT and otype is OrderType.MARKET and unit == "quoteCoin":
            quote_amount = qty
        reduce_only = params.get("reduceOnly") in (True, "true")
        order = self.engine.place(
            account,
            inst,
            side=side,
            order_type=otype,
            qty=qty,
            price=optional_decimal(params, "price"),
            tif=tif,
            client_id=str(params.get("orderLinkId") or ""),
            reduce_only=reduce_only,
            quote_amount=quote_amount,
        )
        return {"orderId": order.order_id, "orderLinkId": order.client_id}

    async def _amend(self, account: Account, params: Params) -> Result:
        order = self.named_order(account, params)
        self.engine.amend(
            account, order, optional_decimal(params, "qty"), optional_decimal(params, "price")
        )
        return {"orderId": order.order_id, "orderLinkId": order.client_id}

    async def _cancel(self, account: Account, params: Params) -> Result:
        try:
            order = self.named_order(account, params)
            self.engine.cancel(account, order)
        except Rejected as exc:
            if exc.reason is RejectReason.ORDER_NOT_FOUND:
                raise RestError(110001, "order not exists or too late to cancel") from exc
            raise
        return {"orderId": order.order_id, "orderLinkId": order.client_id}

    def _rows(self, account: Account, params: Params, open_only: bool) -> list[Result]:
        kind = self._kind(params)
        symbol = params.get("symbol")
        oid, cid = params.get("orderId") or None, params.get("orderLinkId") or None

        def keep(o: Order) -> bool:
            return (
                o.instrument.kind is kind
                and (not symbol or o.instrument.symbol == symbol)
                and (not oid or o.order_id == oid)
                and (not cid or o.client_id == cid)
                # Realtime lists open orders, plus recent closed ones when asked for one by id.
                and (not open_only or o.status.is_open or bool(oid or cid))
            )

        return [codec.order_row(o) for o in self.engine.orders_of(account, keep)]

    async def _realtime(self, account: Account, params: Params) -> Result:
        """Pages of `limit` (default 20, at most 50); `cursor` is the last order id served."""
        limit = limit_param(params, default=20, maximum=50)
        rows = self._rows(account, params, open_only=True)
        cursor = params.get("cursor") or ""
        if cursor:
            ids = [r["orderId"] for r in rows]
            if cursor not in ids:
                raise RestError(
                    10001, f"params error: expected a cursor from a previous page, was {cursor!r}"
                )
            rows = rows[ids.index(cursor) + 1 :]
        page = rows[:limit]
        return {
            "category": params.get("category"),
            "list": page,
            "nextPageCursor": page[-1]["orderId"] if len(rows) > limit else "",
        }

    async def _executions(self, account: Account, params: Params) -> Result:
        """Executions newest first, trades, funding settlements (`execType` Funding) and forced
        trades (AdlTrade, BustTrade) in one history as Bybit lists them; `execType` keeps one
        kind; `cursor` is the `seq` of the last row of the previous page."""
        kind = self._kind(params)
        limit = limit_param(params, default=50, maximum=100)
        older_than = int_param(params, "cursor")
        start = int_param(params, "startTime")
        end = int_param(params, "endTime")
        exec_type = params.get("execType") or ""
        if exec_type not in ("", "Trade", "Funding", "AdlTrade", "BustTrade", "Settle"):
            raise RestError(10001, f"params error: execType {exec_type!r} is not valid")

        def when(seq: int, ts_ms: int) -> bool:
            return (
                (start is None or ts_ms >= start)
                and (end is None or ts_ms <= end)
                and (older_than is None or seq < older_than)
            )

        def keep(e: Execution) -> bool:
            o = e.order
            return (
                exec_type in ("", "Trade")
                and o.instrument.kind is kind
                and (not params.get("symbol") or o.instrument.symbol == params["symbol"])
                and (not params.get("orderId") or o.order_id == params["orderId"])
                and (not params.get("orderLinkId") or o.client_id == params["orderLinkId"])
                and when(e.seq, e.ts_ms)
            )

        def keep_funding(f: FundingSettled) -> bool:
            inst = f.position.instrument
            return (
                exec_type in ("", "Funding")
                and inst.kind is kind
                and not params.get("orderId")
                and not params.get("orderLinkId")
                and (not params.get("symbol") or inst.symbol == params["symbol"])
                and when(f.seq, f.ts_ms)
            )

        def keep_forced(f: ForcedTraded) -> bool:
            wanted = "AdlTrade" if f.kind == "adl" else "BustTrade"
            return (
                exec_type in ("", wanted)
                and f.instrument.kind is kind
                and not params.get("orderLinkId")
                and (not params.get("orderId") or f.order_id == params["orderId"])
                and (not params.get("symbol") or f.instrument.symbol == params["symbol"])
                and when(f.seq, f.ts_ms)
            )

        log = self.records.fills
        rows: list[tuple[int, dict[str, Any]]] = [
            (e.seq, codec.execution_row(codec.execution(e)))
            for e in log.newest_first(account.api_key, keep)
        ]
        rows += [
            (f.seq, codec.execution_row(codec.funding_execution(f)))
            for f in log.fundings_newest_first(account.api_key, keep_funding)
        ]
        rows += [
            (f.seq, codec.execution_row(codec.forced_execution(f)))
            for f in log.forced_newest_first(account.api_key, keep_forced)
        ]
        rows.sort(key=lambda row: row[0], reverse=True)
        page = rows[:limit]
        more = len(rows) > limit
        return {
            "category": params["category"],
            "list": [row for _, row in page],
            "nextPageCursor": str(page[-1][0]) if more else "",
        }

    async def _history(self, account: Account, params: Params) -> Result:
        rows = [
            r
            for r in self._rows(account, params, open_only=False)
            if r["orderStatus"] not in ("New", "PartiallyFilled")
        ]
        return {"category": params.get("category"), "list": rows, "nextPageCursor": ""}
