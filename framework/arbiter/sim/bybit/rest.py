"""Bybit v5 REST on loopback: the endpoints ccxt's bybit client calls, signed like Bybit.

Signature (v5): HMAC-SHA256 hex of timestamp + api key + recv window + (query string for GET,
raw JSON body for POST), sent in X-BAPI-* headers. Requests outside the recv window, with an
unknown key or a wrong signature are refused with Bybit's codes (10002, 10003, 10004).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from arbiter.market.instrument import InstrumentKind
from arbiter.sim.accounts import Account
from arbiter.sim.book import Side
from arbiter.sim.bybit import codec
from arbiter.sim.engine import VenueEngine
from arbiter.sim.events import ForcedTraded, FundingSettled
from arbiter.sim.faults import FaultPlan, FaultRule
from arbiter.sim.fill_log import REST_RECORDS, FillLog, RestRecords, limit_param
from arbiter.sim.gate import endpoint_of, guarded
from arbiter.sim.orders import Execution, OrderType, Rejected, RejectReason

Params = dict[str, Any]
Route = Callable[[Account | None, Params], Awaitable[Any]]


class BybitError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


def _envelope(engine: VenueEngine, code: int | str, msg: str, result: Any) -> web.Response:
    body = {
        "retCode": code,
        "retMsg": msg,
        "result": result,
        "retExtInfo": {},
        "time": engine.clock.now_ms(),
    }
    return web.json_response(body)


def _dec(params: Params, key: str, required: bool = True) -> Decimal | None:
    raw = params.get(key)
    if raw in (None, ""):
        if required:
            raise BybitError(10001, f"params error: expected {key}")
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation as exc:
        raise BybitError(10001, f"params error: expected a number for {key}, was {raw!r}") from exc


class BybitRest:
    def __init__(self, engine: VenueEngine, faults: FaultPlan, hang: asyncio.Event) -> None:
        self.engine = engine
        self.faults = faults
        self.hang = hang
        self.records = RestRecords(fills=FillLog().attach(engine))
        self.routes: dict[tuple[str, str], tuple[bool, Route]] = {
            ("GET", "/v5/market/time"): (False, self._time),
            ("GET", "/v5/market/instruments-info"): (False, self._instruments),
            ("GET", "/v5/market/orderbook"): (False, self._orderbook),
            ("GET", "/v5/market/tickers"): (False, self._tickers),
            ("GET", "/v5/user/query-api"): (True, self._query_api),
            ("GET", "/v5/account/info"): (True, self._account_info),
            ("GET", "/v5/asset/coin/query-info"): (True, self._coin_info),
            ("GET", "/v5/account/fee-rate"): (True, self._fee_rate),
            ("GET", "/v5/account/wallet-balance"): (True, self._wallet),
            ("GET", "/v5/position/list"): (True, self._positions),
            ("POST", "/v5/position/set-leverage"): (True, self._set_leverage),
            ("POST", "/v5/position/switch-mode"): (True, self._switch_mode),
            ("POST", "/v5/order/create"): (True, self._create),
            ("POST", "/v5/order/amend"): (True, self._amend),
            ("POST", "/v5/order/cancel"): (True, self._cancel),
            ("GET", "/v5/order/realtime"): (True, self._realtime),
            ("GET", "/v5/order/history"): (True, self._history),
            ("GET", "/v5/execution/list"): (True, self._executions),
        }

    def install(self, app: web.Application) -> None:
        app.router.add_route("*", "/v5/{tail:.*}", self.dispatch)
        app[REST_RECORDS] = self.records

    async def dispatch(self, request: web.Request) -> web.Response:
        self.records.requests.count(request)

        async def handle() -> web.Response:
            return await self._handle(request)

        return await guarded(
            self.faults,
            endpoint_of(self.engine.name, request),
            handle=handle,
            rate_limited=self._rate_limited,
            rejected=self._rejected,
            hang=self.hang,
        )

    def _rate_limited(self) -> web.Response:
        # Bybit answers HTTP 200 with retCode 10006 and says in headers when the limit resets.
        response = _envelope(self.engine, *codec.RATE_LIMIT, {})
        now = self.engine.clock.now_ms()
        response.headers.update(
            {
                "X-Bapi-Limit-Status": "0",
                "X-Bapi-Limit": "10",
                "X-Bapi-Limit-Reset-Timestamp": str(now + 1000),
            }
        )
        return response

    def _rejected(self, rule: FaultRule) -> web.Response:
        code, msg = codec.GENERIC_REJECT
        ret: int | str = int(rule.code) if rule.code.lstrip("-").isdigit() else rule.code
        return _envelope(self.engine, ret or code, rule.message or msg, {})

    async def _handle(self, request: web.Request) -> web.Response:
        entry = self.routes.get((request.method, request.path))
        if entry is None:
            return web.json_response(
                {
                    "retCode": 10001,
                    "retMsg": f"expected a known endpoint, was {request.method} {request.path}",
                },
                status=404,
            )
        private, route = entry
        body = await request.text()
        try:
            account = self._authenticate(request, body) if private else None
            params: Params = dict(request.query)
            if request.method == "POST" and body:
                params |= json.loads(body)
            result = await route(account, params)
        except BybitError as exc:
            return _envelope(self.engine, exc.code, exc.msg, {})
        except Rejected as exc:
            code, msg = codec.reject_code(exc.reason, str(params.get("category", "")))
            return _envelope(self.engine, code, f"{msg} ({exc.detail})", {})
        return _envelope(self.engine, 0, "OK", result)

    def _authenticate(self, request: web.Request, body: str) -> Account:
        key = request.headers.get("X-BAPI-API-KEY", "")
        ts = request.headers.get("X-BAPI-TIMESTAMP", "")
        window = request.headers.get("X-BAPI-RECV-WINDOW", "5000")
        sign = request.headers.get("X-BAPI-SIGN", "")
        account = self.engine.accounts.get(key)
        if account is None:
            raise BybitError(10003, "API key is invalid.")
        payload = ts + key + window + (body if request.method == "POST" else request.query_string)
        expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sign):
            raise BybitError(10004, "error sign! origin_string[" + payload + "]")
        now = self.engine.clock.now_ms()
        try:
            ts_ms, window_ms = int(ts), int(window)
        except ValueError as exc:
            raise BybitError(
                10002, f"expected integer timestamp and recv window, was {ts!r}, {window!r}"
            ) from exc
        # Bybit's rule: server_time - recv_window <= timestamp < server_time + 1000.
        if not (now - window_ms <= ts_ms < now + 1000):
            raise BybitError(
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
        raise BybitError(10001, f"params error: expected category spot or linear, was {cat!r}")

    async def _time(self, _: Account | None, __: Params) -> Any:
        now = self.engine.clock.now_ms()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    async def _instruments(self, _: Account | None, params: Params) -> Any:
        cat = params.get("category", "")
        listed = [
            codec.instrument_info(i)
            for i in self.engine.instruments.values()
            if codec.category(i) == cat
            and (not params.get("symbol") or i.symbol == params["symbol"])
        ]
        return {"category": cat, "list": listed, "nextPageCursor": ""}

    async def _orderbook(self, _: Account | None, params: Params) -> Any:
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

    async def _tickers(self, _: Account | None, params: Params) -> Any:
        kind = self._kind(params)
        out = []
        for inst in self.engine.instruments.values():
            if inst.kind is not kind or (params.get("symbol") and inst.symbol != params["symbol"]):
                continue
            out.append(ticker(self.engine, inst))
        return {"category": params["category"], "list": out}

    # -- account ------------------------------------------------------------------------------

    async def _query_api(self, account: Account | None, _: Params) -> Any:
        assert account is not None
        return {
            "apiKey": account.api_key,
            "readOnly": 0,
            "unified": 0,
            "uta": 1,
            "isMaster": True,
            "permissions": {},
        }

    async def _account_info(self, _: Account | None, __: Params) -> Any:
        return {"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": False}

    async def _coin_info(self, _: Account | None, __: Params) -> Any:
        coins = sorted({c for i in self.engine.instruments.values() for c in (i.base, i.quote)})
        return {
            "rows": [{"name": c, "coin": c, "remainAmount": "1000000", "chains": []} for c in coins]
        }

    async def _fee_rate(self, _: Account | None, params: Params) -> Any:
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

    async def _wallet(self, account: Account | None, _: Params) -> Any:
        assert account is not None
        return {"list": [codec.wallet(self.engine, account)]}

    async def _positions(self, account: Account | None, params: Params) -> Any:
        assert account is not None
        now = self.engine.clock.now_ms()
        rows = [
            codec.position_row(p, self.engine.mark(p.instrument), now)
            for p in account.positions.values()
            if p.qty != 0 and (not params.get("symbol") or p.instrument.symbol == params["symbol"])
        ]
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    async def _set_leverage(self, account: Account | None, params: Params) -> Any:
        assert account is not None
        inst = self.engine.instrument(InstrumentKind.PERP, params.get("symbol", ""))
        lev = _dec(params, "buyLeverage")
        assert lev is not None
        if not Decimal(1) <= lev <= Decimal(100):
            raise BybitError(10001, f"params error: expected leverage in [1, 100], was {lev}")
        pos = account.position(inst)
        if pos.leverage == lev:
            raise BybitError(110043, "Set leverage not modified")
        pos.leverage = lev
        return {}

    async def _switch_mode(self, _: Account | None, params: Params) -> Any:
        if str(params.get("mode", "0")) != "0":
            raise BybitError(10001, "params error: the simulator supports one-way mode (0) only")
        return {}

    # -- orders -------------------------------------------------------------------------------

    async def _create(self, account: Account | None, params: Params) -> Any:
        assert account is not None
        inst = self.engine.instrument(self._kind(params), params.get("symbol", ""))
        side = {"Buy": Side.BUY, "Sell": Side.SELL}.get(params.get("side", ""))
        otype = {"Limit": OrderType.LIMIT, "Market": OrderType.MARKET}.get(
            params.get("orderType", "")
        )
        if side is None or otype is None:
            raise BybitError(
                10001,
                f"params error: expected side Buy/Sell and orderType Limit/Market, was {params.get('side')!r}/{params.get('orderType')!r}",
            )
        tif = codec.TIF_FROM_WIRE.get(params.get("timeInForce") or "GTC")
        if tif is None:
            raise BybitError(
                10001,
                f"params error: expected timeInForce GTC/IOC/FOK/PostOnly, was {params.get('timeInForce')!r}",
            )
        qty = _dec(params, "qty")
        assert qty is not None
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
            price=_dec(params, "price", required=False),
            tif=tif,
            client_id=str(params.get("orderLinkId") or ""),
            reduce_only=reduce_only,
            quote_amount=quote_amount,
        )
        return {"orderId": order.order_id, "orderLinkId": order.client_id}

    def _find(self, account: Account, params: Params) -> Any:
        return self.engine.find_order(
            account, params.get("orderId") or None, params.get("orderLinkId") or None
        )

    async def _amend(self, account: Account | None, params: Params) -> Any:
        assert account is not None
        order = self._find(account, params)
        self.engine.amend(account, order, _dec(params, "qty", False), _dec(params, "price", False))
        return {"orderId": order.order_id, "orderLinkId": order.client_id}

    async def _cancel(self, account: Account | None, params: Params) -> Any:
        assert account is not None
        try:
            order = self._find(account, params)
            self.engine.cancel(account, order)
        except Rejected as exc:
            if exc.reason is RejectReason.ORDER_NOT_FOUND:
                raise BybitError(110001, "order not exists or too late to cancel") from exc
            raise
        return {"orderId": order.order_id, "orderLinkId": order.client_id}

    def _select(self, account: Account, params: Params, open_only: bool) -> list[Any]:
        kind = self._kind(params)
        oid, cid = params.get("orderId") or None, params.get("orderLinkId") or None
        out = []
        for o in sorted(
            self.engine.orders.values(), key=lambda o: (-o.created_ms, -int(o.order_id))
        ):
            if (
                self.engine._owners.get(o.order_id) != account.api_key
                or o.instrument.kind is not kind
            ):
                continue
            if params.get("symbol") and o.instrument.symbol != params["symbol"]:
                continue
            if (oid and o.order_id != oid) or (cid and o.client_id != cid):
                continue
            # Realtime lists open orders, plus recent closed ones when asked for one by id.
            if open_only and not o.status.is_open and not (oid or cid):
                continue
            out.append(codec.order_row(o))
        return out

    async def _realtime(self, account: Account | None, params: Params) -> Any:
        """Pages of `limit` (default 20, at most 50); `cursor` is the last order id served."""
        assert account is not None
        try:
            limit = limit_param(params, default=20, maximum=50)
        except ValueError as exc:
            raise BybitError(10001, f"params error: {exc}") from exc
        rows = self._select(account, params, True)
        cursor = params.get("cursor") or ""
        if cursor:
            ids = [r["orderId"] for r in rows]
            if cursor not in ids:
                raise BybitError(
                    10001, f"params error: expected a cursor from a previous page, was {cursor!r}"
                )
            rows = rows[ids.index(cursor) + 1 :]
        page = rows[:limit]
        return {
            "category": params.get("category"),
            "list": page,
            "nextPageCursor": page[-1]["orderId"] if len(rows) > limit else "",
        }

    async def _executions(self, account: Account | None, params: Params) -> Any:
        """Executions newest first, trades, funding settlements (`execType` Funding) and forced
        trades (AdlTrade, BustTrade) in one history as Bybit lists them; `execType` keeps one
        kind; `cursor` is the `seq` of the last row of the previous page."""
        assert account is not None
        kind = self._kind(params)
        try:
            limit = limit_param(params, default=50, maximum=100)
            older_than = int(params["cursor"]) if params.get("cursor") else None
            start = int(params["startTime"]) if params.get("startTime") else None
            end = int(params["endTime"]) if params.get("endTime") else None
        except ValueError as exc:
            raise BybitError(10001, f"params error: {exc}") from exc
        exec_type = params.get("execType") or ""
        if exec_type not in ("", "Trade", "Funding", "AdlTrade", "BustTrade", "Settle"):
            raise BybitError(10001, f"params error: execType {exec_type!r} is not valid")

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

    async def _history(self, account: Account | None, params: Params) -> Any:
        assert account is not None
        rows = [
            r
            for r in self._select(account, params, False)
            if r["orderStatus"] not in ("New", "PartiallyFilled")
        ]
        return {"category": params.get("category"), "list": rows, "nextPageCursor": ""}


def ticker(engine: VenueEngine, inst: Any) -> dict[str, Any]:
    book = engine.book(inst)
    bid, ask = book.depth(Side.BUY, 1), book.depth(Side.SELL, 1)
    mark = engine.mark(inst)
    out = {
        "symbol": inst.symbol,
        "bid1Price": codec.s(inst.ticks_to_price(bid[0][0])) if bid else "",
        "bid1Size": codec.s(inst.lots_to_qty(bid[0][1])) if bid else "",
        "ask1Price": codec.s(inst.ticks_to_price(ask[0][0])) if ask else "",
        "ask1Size": codec.s(inst.lots_to_qty(ask[0][1])) if ask else "",
        "lastPrice": codec.s(mark),
        "prevPrice24h": codec.s(mark),
        "price24hPcnt": "0",
        "highPrice24h": codec.s(mark),
        "lowPrice24h": codec.s(mark),
        "turnover24h": "0",
        "volume24h": "0",
    }
    if inst.kind is InstrumentKind.PERP:
        state = engine.funding[f"perp:{inst.symbol}"]
        out |= {
            "markPrice": codec.s(mark),
            "indexPrice": codec.s(mark),
            "fundingRate": codec.s(state.rate),
            "nextFundingTime": str(state.next_ms),
            "fundingIntervalHour": "8",
            "openInterest": "0",
        }
    return out
