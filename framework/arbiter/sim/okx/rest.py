"""OKX v5 REST on loopback: the endpoints ccxt's okx client calls, signed like OKX.

Signature: base64 HMAC-SHA256 of timestamp (ISO 8601) + method + request path (with query) +
body, in OK-ACCESS-* headers with the passphrase. A timestamp more than 30 s from the server
clock answers 50102; wrong key, passphrase or signature answer 50111, 50105, 50113.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.accounts import Account
from arbiter.sim.book import Side
from arbiter.sim.engine import VenueEngine
from arbiter.sim.events import Event, Filled, FundingSettled
from arbiter.sim.faults import FaultPlan, FaultRule
from arbiter.sim.fill_log import REST_RECORDS, FillLog, RestRecords, limit_param
from arbiter.sim.gate import endpoint_of, guarded
from arbiter.sim.okx import codec
from arbiter.sim.orders import Execution, Order, Rejected
from arbiter.sim.wire import grid

Params = dict[str, Any]
Route = Callable[[Account | None, Params], Awaitable[list[Any]]]
TIMESTAMP_WINDOW_MS = 30_000


class OkxError(Exception):
    def __init__(self, code: str, msg: str, data: list[Any] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.data = data or []


def _reply(code: str, msg: str, data: list[Any], status: int = 200) -> web.Response:
    return web.json_response({"code": code, "msg": msg, "data": data}, status=status)


def _dec(params: Params, key: str, required: bool = True) -> Decimal | None:
    raw = params.get(key)
    if raw in (None, ""):
        if required:
            raise OkxError("51000", f"Parameter {key} error: expected a value")
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation as exc:
        raise OkxError("51000", f"Parameter {key} error: expected a number, was {raw!r}") from exc


def _order_error(code: str, msg: str) -> OkxError:
    # Order endpoints answer code "1" and put the specific code in data[0].sCode.
    return OkxError(
        "1", "All operations failed", [{"ordId": "", "clOrdId": "", "sCode": code, "sMsg": msg}]
    )


class OkxRest:
    def __init__(self, engine: VenueEngine, faults: FaultPlan, hang: asyncio.Event) -> None:
        self.engine = engine
        self.faults = faults
        self.hang = hang
        self.records = RestRecords(fills=FillLog().attach(engine))
        self._last_fill: dict[str, Execution] = {}  # order id -> its latest execution
        engine.listeners.append(self._on_event)
        self.routes: dict[tuple[str, str], tuple[bool, Route]] = {
            ("GET", "/api/v5/public/time"): (False, self._time),
            ("GET", "/api/v5/public/instruments"): (False, self._instruments),
            ("GET", "/api/v5/public/underlying"): (False, self._empty),
            ("GET", "/api/v5/public/funding-rate"): (False, self._funding_rate),
            ("GET", "/api/v5/market/books"): (False, self._books),
            ("GET", "/api/v5/market/ticker"): (False, self._ticker),
            ("GET", "/api/v5/asset/currencies"): (True, self._currencies),
            ("GET", "/api/v5/account/config"): (True, self._config),
            ("GET", "/api/v5/account/balance"): (True, self._balance),
            ("GET", "/api/v5/account/positions"): (True, self._positions),
            ("GET", "/api/v5/account/trade-fee"): (True, self._trade_fee),
            ("POST", "/api/v5/account/set-leverage"): (True, self._set_leverage),
            ("POST", "/api/v5/account/set-position-mode"): (True, self._position_mode),
            ("POST", "/api/v5/trade/order"): (True, self._place),
            ("POST", "/api/v5/trade/batch-orders"): (True, self._batch),
            ("POST", "/api/v5/trade/amend-order"): (True, self._amend),
            ("POST", "/api/v5/trade/cancel-order"): (True, self._cancel),
            ("GET", "/api/v5/trade/order"): (True, self._order),
            ("GET", "/api/v5/trade/orders-pending"): (True, self._pending),
            ("GET", "/api/v5/trade/orders-history"): (True, self._history),
            # Both answer from the same record here: the simulator forgets nothing, so the
            # venue's 3-day and 3-month windows are the same window.
            ("GET", "/api/v5/trade/fills"): (True, self._fills),
            ("GET", "/api/v5/trade/fills-history"): (True, self._fills),
            # Likewise the bills' 7-day and 3-month windows. Only funding fees (type 8) are
            # recorded as bills here; asking for any other type finds none.
            ("GET", "/api/v5/account/bills"): (True, self._bills),
            ("GET", "/api/v5/account/bills-archive"): (True, self._bills),
        }

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Filled):
            self._last_fill[event.execution.order.order_id] = event.execution

    def _row(self, order: Order) -> dict[str, Any]:
        return codec.order(order, self._last_fill.get(order.order_id))

    def install(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/v5/{tail:.*}", self.dispatch)
        app[REST_RECORDS] = self.records

    async def dispatch(self, request: web.Request) -> web.Response:
        self.records.requests.count(request)

        async def handle() -> web.Response:
            return await self._handle(request)

        def rejected(rule: FaultRule) -> web.Response:
            code, msg = (
                rule.code or codec.GENERIC_REJECT[0],
                rule.message or codec.GENERIC_REJECT[1],
            )
            if "/trade/" in request.path:  # order endpoints carry the code per order, in sCode
                err = _order_error(code, msg)
                return _reply(err.code, err.msg, err.data)
            return _reply(code, msg, [])

        return await guarded(
            self.faults,
            endpoint_of(self.engine.name, request),
            handle=handle,
            # OKX answers a rate limit with HTTP 429 and code 50011.
            rate_limited=lambda: _reply(*codec.RATE_LIMIT, [], status=429),
            rejected=rejected,
            hang=self.hang,
        )

    async def _handle(self, request: web.Request) -> web.Response:
        entry = self.routes.get((request.method, request.path))
        if entry is None:
            return _reply(
                "50000", f"expected a known endpoint, was {request.method} {request.path}", []
            )
        private, route = entry
        body = await request.text()
        try:
            account = self._authenticate(request, body) if private else None
            params: Params = dict(request.query)
            if request.method == "POST" and body:
                payload = json.loads(body)
                params |= {"batch": payload} if isinstance(payload, list) else payload
            data = await route(account, params)
        except OkxError as exc:
            return _reply(exc.code, exc.msg, exc.data)
        except Rejected as exc:
            code, msg = codec.REJECT_CODES[exc.reason]
            return _reply(code, f"{msg} ({exc.detail})", [])
        return _reply("0", "", data)

    def _authenticate(self, request: web.Request, body: str) -> Account:
        key = request.headers.get("OK-ACCESS-KEY", "")
        account = self.engine.accounts.get(key)
        if account is None:
            raise OkxError("50111", "Invalid OK-ACCESS-KEY.")
        if request.headers.get("OK-ACCESS-PASSPHRASE") != account.passphrase:
            raise OkxError("50105", "Invalid OK-ACCESS-PASSPHRASE.")
        ts = request.headers.get("OK-ACCESS-TIMESTAMP", "")
        path = request.path_qs if request.method == "GET" else request.path
        payload = ts + request.method + path + body
        expected = base64.b64encode(
            hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected, request.headers.get("OK-ACCESS-SIGN", "")):
            raise OkxError("50113", "Invalid Sign.")
        try:
            sent_ms = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError as exc:
            raise OkxError(
                "50112", f"Invalid OK-ACCESS-TIMESTAMP: expected ISO 8601, was {ts!r}"
            ) from exc
        if abs(self.engine.clock.now_ms() - sent_ms) > TIMESTAMP_WINDOW_MS:
            raise OkxError("50102", "Timestamp request expired.")
        return account

    # -- public -------------------------------------------------------------------------------

    def _inst(self, inst_id: str) -> Instrument:
        kind = InstrumentKind.PERP if inst_id.endswith("-SWAP") else InstrumentKind.SPOT
        return self.engine.instrument(kind, inst_id)

    async def _empty(self, _: Account | None, __: Params) -> list[Any]:
        return []

    async def _time(self, _: Account | None, __: Params) -> list[Any]:
        return [{"ts": str(self.engine.clock.now_ms())}]

    async def _instruments(self, _: Account | None, params: Params) -> list[Any]:
        wanted = params.get("instType", "")
        return [
            codec.instrument_info(i)
            for i in self.engine.instruments.values()
            if codec.inst_type(i) == wanted
            and (not params.get("instId") or i.symbol == params["instId"])
        ]

    async def _books(self, _: Account | None, params: Params) -> list[Any]:
        inst = self._inst(params.get("instId", ""))
        depth = int(params.get("sz") or 1)
        book = self.engine.book(inst)
        return [
            {
                "bids": book_rows(inst, book.depth(Side.BUY, depth)),
                "asks": book_rows(inst, book.depth(Side.SELL, depth)),
                "ts": str(self.engine.clock.now_ms()),
            }
        ]

    async def _ticker(self, _: Account | None, params: Params) -> list[Any]:
        return [ticker(self.engine, self._inst(params.get("instId", "")))]

    async def _funding_rate(self, _: Account | None, params: Params) -> list[Any]:
        return [funding(self.engine, self._inst(params.get("instId", "")))]

    # -- account ------------------------------------------------------------------------------

    async def _currencies(self, _: Account | None, __: Params) -> list[Any]:
        return []

    async def _config(self, account: Account | None, _: Params) -> list[Any]:
        assert account is not None
        return [{"uid": account.api_key, "acctLv": "3", "posMode": "net_mode", "autoLoan": False}]

    async def _balance(self, account: Account | None, _: Params) -> list[Any]:
        assert account is not None
        return [codec.balance(self.engine, account)]

    async def _positions(self, account: Account | None, params: Params) -> list[Any]:
        assert account is not None
        now = self.engine.clock.now_ms()
        ids = set(filter(None, str(params.get("instId", "")).split(",")))
        return [
            codec.position(p, self.engine.mark(p.instrument), now)
            for p in account.positions.values()
            if p.qty != 0 and (not ids or p.instrument.symbol in ids)
        ]

    async def _trade_fee(self, _: Account | None, params: Params) -> list[Any]:
        """One row: the account's rate for an instrument type, narrowed by instId (spot) or by
        instFamily/uly (swaps). USDT-margined swap rates are in makerU/takerU, as on OKX."""
        wanted = params.get("instType", "")
        if wanted not in ("SPOT", "SWAP"):
            raise OkxError(
                "51000", f"Parameter instType error: expected SPOT or SWAP, was {wanted!r}"
            )
        family = params.get("instFamily") or params.get("uly") or ""
        for inst in self.engine.instruments.values():
            if codec.inst_type(inst) != wanted:
                continue
            if params.get("instId") and inst.symbol != params["instId"]:
                continue
            if family and f"{inst.base}-{inst.quote}" != family:
                continue
            maker, taker = codec.s(-inst.maker_fee), codec.s(-inst.taker_fee)
            row = {
                "instType": wanted,
                "level": "Lv1",
                "maker": maker,
                "taker": taker,
                "makerU": "",
                "takerU": "",
                "ts": str(self.engine.clock.now_ms()),
            }
            if wanted == "SWAP":
                # OKX: maker/taker are the crypto-margined rates, makerU/takerU the USDT ones.
                row |= {"makerU": maker, "takerU": taker}
            return [row]
        raise OkxError("51001", f"Instrument ID does not exist: no {wanted} matches {params}")

    async def _set_leverage(self, account: Account | None, params: Params) -> list[Any]:
        assert account is not None
        inst = self._inst(params.get("instId", ""))
        lever = _dec(params, "lever")
        assert lever is not None
        if not Decimal(1) <= lever <= Decimal(100):
            raise OkxError(
                "59102", f"Leverage exceeds the maximum limit: expected 1..100, was {lever}"
            )
        account.position(inst).leverage = lever
        return [
            {
                "instId": inst.symbol,
                "lever": codec.s(lever),
                "mgnMode": params.get("mgnMode", "cross"),
                "posSide": "net",
            }
        ]

    async def _position_mode(self, _: Account | None, params: Params) -> list[Any]:
        if params.get("posMode") != "net_mode":
            raise OkxError("51000", "Parameter posMode error: the simulator supports net_mode only")
        return [{"posMode": "net_mode"}]

    # -- orders -------------------------------------------------------------------------------

    async def _place(self, account: Account | None, params: Params) -> list[Any]:
        assert account is not None
        try:
            inst = self._inst(params.get("instId", ""))
            side = {"buy": Side.BUY, "sell": Side.SELL}.get(params.get("side", ""))
            kind = codec.ORD_TYPES.get(params.get("ordType", ""))
            if side is None or kind is None:
                raise OkxError(
                    "51000",
                    f"Parameter side/ordType error: was {params.get('side')!r}/{params.get('ordType')!r}",
                )
            sz = _dec(params, "sz")
            assert sz is not None
            otype, tif = kind
            quote_amount = None
            if inst.kind is InstrumentKind.SPOT and otype.value == "market":
                # Spot market buys are sized in quote coin unless tgtCcy says base_ccy.
                default = "quote_ccy" if side is Side.BUY else "base_ccy"
                if (params.get("tgtCcy") or default) == "quote_ccy":
                    quote_amount = sz
            order = self.engine.place(
                account,
                inst,
                side=side,
                order_type=otype,
                qty=sz,
                price=_dec(params, "px", required=False),
                tif=tif,
                client_id=str(params.get("clOrdId") or ""),
                reduce_only=params.get("reduceOnly") in (True, "true"),
                quote_amount=quote_amount,
            )
        except Rejected as exc:
            code, msg = codec.REJECT_CODES[exc.reason]
            raise _order_error(code, f"{msg} ({exc.detail})") from exc
        except OkxError as exc:
            raise _order_error(exc.code, exc.msg) from exc
        return [
            {
                "ordId": order.order_id,
                "clOrdId": order.client_id,
                "tag": "",
                "ts": str(order.created_ms),
                "sCode": "0",
                "sMsg": "Order placed",
            }
        ]

    async def _batch(self, account: Account | None, params: Params) -> list[Any]:
        results: list[Any] = []
        for item in params.get("batch", []):
            try:
                results.extend(await self._place(account, item))
            except OkxError as exc:
                results.extend(exc.data)
        failed = sum(1 for r in results if r["sCode"] != "0")
        if failed:
            # OKX: "1" when every order failed, "2" when only some did.
            code = "1" if failed == len(results) else "2"
            raise OkxError(
                code,
                "All operations failed" if code == "1" else "Bulk operation partially succeeded",
                results,
            )
        return results

    def _find(self, account: Account, params: Params) -> Any:
        return self.engine.find_order(
            account, params.get("ordId") or None, params.get("clOrdId") or None
        )

    async def _amend(self, account: Account | None, params: Params) -> list[Any]:
        assert account is not None
        try:
            order = self._find(account, params)
            self.engine.amend(
                account, order, _dec(params, "newSz", False), _dec(params, "newPx", False)
            )
        except Rejected as exc:
            raise _order_error(
                "51503", f"Order modification failed as the order does not exist ({exc.detail})"
            ) from exc
        return [
            {
                "ordId": order.order_id,
                "clOrdId": order.client_id,
                "sCode": "0",
                "sMsg": "",
                "reqId": "",
            }
        ]

    async def _cancel(self, account: Account | None, params: Params) -> list[Any]:
        assert account is not None
        try:
            order = self._find(account, params)
            self.engine.cancel(account, order)
        except Rejected as exc:
            raise _order_error(
                "51400",
                f"Order cancellation failed as the order has been filled, canceled or does not exist ({exc.detail})",
            ) from exc
        return [{"ordId": order.order_id, "clOrdId": order.client_id, "sCode": "0", "sMsg": ""}]

    async def _order(self, account: Account | None, params: Params) -> list[Any]:
        assert account is not None
        try:
            order = self._find(account, params)
        except Rejected as exc:
            raise OkxError("51603", f"Order does not exist ({exc.detail})") from exc
        if params.get("instId") and order.instrument.symbol != params["instId"]:
            raise OkxError(
                "51603",
                f"Order does not exist: it trades {order.instrument.symbol}, not {params['instId']}",
            )
        return [self._row(order)]

    def _select(self, account: Account, params: Params, open_only: bool) -> list[Any]:
        out = []
        for o in sorted(
            self.engine.orders.values(), key=lambda o: (-o.created_ms, -int(o.order_id))
        ):
            if (
                self.engine._owners.get(o.order_id) != account.api_key
                or o.status.is_open != open_only
            ):
                continue
            if params.get("instId") and o.instrument.symbol != params["instId"]:
                continue
            if params.get("instType") and codec.inst_type(o.instrument) != params["instType"]:
                continue
            out.append(self._row(o))
        return out

    async def _pending(self, account: Account | None, params: Params) -> list[Any]:
        """Newest first, `limit` rows (at most 100), `after` an ordId: only older orders."""
        assert account is not None
        try:
            limit = limit_param(params, default=100, maximum=100)
            after = int(params["after"]) if params.get("after") else None
        except ValueError as exc:
            raise OkxError("51000", f"Parameter error: {exc}") from exc
        rows = self._select(account, params, True)
        if after is not None:
            rows = [r for r in rows if int(r["ordId"]) < after]
        return rows[:limit]

    async def _history(self, account: Account | None, params: Params) -> list[Any]:
        assert account is not None
        return self._select(account, params, False)

    async def _fills(self, account: Account | None, params: Params) -> list[Any]:
        """Fills newest first; `after`/`before` page by billId (older / newer than it)."""
        assert account is not None
        try:
            limit = limit_param(params, default=100, maximum=100)
            after = int(params["after"]) if params.get("after") else None
            before = int(params["before"]) if params.get("before") else None
            begin = int(params["begin"]) if params.get("begin") else None
            end = int(params["end"]) if params.get("end") else None
        except ValueError as exc:
            raise OkxError("51000", f"Parameter error: {exc}") from exc

        def keep(e: Execution) -> bool:
            inst = e.order.instrument
            bill = int(e.exec_id)
            return (
                (not params.get("instType") or codec.inst_type(inst) == params["instType"])
                and (not params.get("instId") or inst.symbol == params["instId"])
                and (not params.get("ordId") or e.order.order_id == params["ordId"])
                and (after is None or bill < after)
                and (before is None or bill > before)
                and (begin is None or e.ts_ms >= begin)
                and (end is None or e.ts_ms <= end)
            )

        rows = self.records.fills.newest_first(account.api_key, keep)
        return [codec.fill(e) for e in rows[:limit]]

    async def _bills(self, account: Account | None, params: Params) -> list[Any]:
        """Bills newest first; `after`/`before` page by billId (older / newer than it)."""
        assert account is not None
        try:
            limit = limit_param(params, default=100, maximum=100)
            after = int(params["after"]) if params.get("after") else None
            before = int(params["before"]) if params.get("before") else None
            begin = int(params["begin"]) if params.get("begin") else None
            end = int(params["end"]) if params.get("end") else None
        except ValueError as exc:
            raise OkxError("51000", f"Parameter error: {exc}") from exc

        def keep(f: FundingSettled) -> bool:
            bill = int(f.settlement_id)
            return (
                params.get("type") in (None, "", "8")
                and params.get("subType") in (None, "", "173" if f.amount < 0 else "174")
                and params.get("instType") in (None, "", "SWAP")
                and (not params.get("ccy") or f.coin == params["ccy"])
                and (not params.get("instId") or f.position.instrument.symbol == params["instId"])
                and (after is None or bill < after)
                and (before is None or bill > before)
                and (begin is None or f.ts_ms >= begin)
                and (end is None or f.ts_ms <= end)
            )

        rows = self.records.fills.fundings_newest_first(account.api_key, keep)
        return [codec.funding_bill(f) for f in rows[:limit]]


def book_rows(inst: Instrument, levels: list[tuple[int, int]]) -> list[list[str]]:
    tick, lot = inst.tick_size, inst.lot_size
    return [[grid(tick, t), grid(lot, q), "0", "1"] for t, q in levels]


def ticker(engine: VenueEngine, inst: Instrument) -> dict[str, Any]:
    book = engine.book(inst)
    bid, ask = book.depth(Side.BUY, 1), book.depth(Side.SELL, 1)
    mark = codec.s(engine.mark(inst))
    now = str(engine.clock.now_ms())
    return {
        "instType": codec.inst_type(inst),
        "instId": inst.symbol,
        "last": mark,
        "lastSz": "0",
        "askPx": codec.s(inst.ticks_to_price(ask[0][0])) if ask else "",
        "askSz": codec.s(inst.lots_to_qty(ask[0][1])) if ask else "",
        "bidPx": codec.s(inst.ticks_to_price(bid[0][0])) if bid else "",
        "bidSz": codec.s(inst.lots_to_qty(bid[0][1])) if bid else "",
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
    state = engine.funding.get(f"perp:{inst.symbol}")
    if state is None:
        raise OkxError("51001", f"Instrument ID does not exist: expected a swap, was {inst.symbol}")
    return {
        "instType": "SWAP",
        "instId": inst.symbol,
        "fundingRate": codec.s(state.rate),
        "nextFundingRate": codec.s(state.rate),
        "fundingTime": str(state.next_ms),
        "nextFundingTime": str(state.next_ms + 8 * 3600 * 1000),
        "ts": str(engine.clock.now_ms()),
    }
