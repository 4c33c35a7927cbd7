"""OKX v5 REST on loopback: the endpoints ccxt's okx client calls, signed like OKX.

Signature: base64 HMAC-SHA256 of timestamp (ISO 8601) + method + request path (with query) +
body, in OK-ACCESS-* headers with the passphrase. A timestamp more than 30 s from the server
clock answers 50102; wrong key, passphrase or signature answer 50111, 50105, 50113.
Every answer is OKX's envelope (`code`, `msg`, `data`); the order endpoints answer code "1"
("2" for a batch only partly refused) and carry each order's own code in `data[i].sCode`. The
way through is the shared skeleton's (sim/rest.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.accounts import Account
from arbiter.sim.book import Side
from arbiter.sim.engine import VenueEngine, instrument_key
from arbiter.sim.events import Event, Filled, FundingSettled
from arbiter.sim.faults import FaultPlan, FaultRule
from arbiter.sim.okx import codec
from arbiter.sim.orders import Execution, Order, Rejected, RejectReason
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

Data = list[Any]
TIMESTAMP_WINDOW_MS = 30_000


def _reply(code: str, msg: str, data: Data, status: int = 200) -> web.Response:
    return web.json_response({"code": code, "msg": msg, "data": data}, status=status)


def _order_error(code: int | str, msg: str) -> RestError:
    # Order endpoints answer code "1" and put the specific code in data[0].sCode.
    return RestError(
        "1", "All operations failed", [{"ordId": "", "clOrdId": "", "sCode": code, "sMsg": msg}]
    )


class OkxRest(VenueRest[Data]):
    prefix = "/api/v5"
    order_id_param = "ordId"
    client_id_param = "clOrdId"

    def __init__(self, engine: VenueEngine, faults: FaultPlan, hang: asyncio.Event) -> None:
        super().__init__(engine, faults, hang)
        self._last_fill: dict[str, Execution] = {}  # order id -> its latest execution
        engine.listeners.append(self._on_event)

    def route_table(self) -> dict[tuple[str, str], Public[Data] | Private[Data]]:
        return {
            ("GET", "/api/v5/public/time"): Public(self._time),
            ("GET", "/api/v5/public/instruments"): Public(self._instruments),
            ("GET", "/api/v5/public/underlying"): Public(self._empty),
            ("GET", "/api/v5/public/funding-rate"): Public(self._funding_rate),
            ("GET", "/api/v5/market/books"): Public(self._books),
            ("GET", "/api/v5/market/ticker"): Public(self._ticker),
            ("GET", "/api/v5/asset/currencies"): Private(self._currencies),
            ("GET", "/api/v5/account/config"): Private(self._config),
            ("GET", "/api/v5/account/balance"): Private(self._balance),
            ("GET", "/api/v5/account/positions"): Private(self._positions),
            ("GET", "/api/v5/account/trade-fee"): Private(self._trade_fee),
            ("POST", "/api/v5/account/set-leverage"): Private(self._set_leverage),
            ("POST", "/api/v5/account/set-position-mode"): Private(self._position_mode),
            ("POST", "/api/v5/trade/order"): Private(self._place),
            ("POST", "/api/v5/trade/batch-orders"): Private(self._batch),
            ("POST", "/api/v5/trade/amend-order"): Private(self._amend),
            ("POST", "/api/v5/trade/cancel-order"): Private(self._cancel),
            ("GET", "/api/v5/trade/order"): Private(self._order),
            ("GET", "/api/v5/trade/orders-pending"): Private(self._pending),
            ("GET", "/api/v5/trade/orders-history"): Private(self._history),
            # Both answer from the same record here: the simulator forgets nothing, so the
            # venue's 3-day and 3-month windows are the same window.
            ("GET", "/api/v5/trade/fills"): Private(self._fills),
            ("GET", "/api/v5/trade/fills-history"): Private(self._fills),
            # Likewise the bills' 7-day and 3-month windows. Only funding fees (type 8) are
            # recorded as bills here; asking for any other type finds none.
            ("GET", "/api/v5/account/bills"): Private(self._bills),
            ("GET", "/api/v5/account/bills-archive"): Private(self._bills),
        }

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Filled):
            self._last_fill[event.execution.order.order_id] = event.execution

    def _row(self, order: Order) -> dict[str, Any]:
        return codec.order(order, self._last_fill.get(order.order_id))

    # -- envelopes ----------------------------------------------------------------------------

    def answer(self, result: Data) -> web.Response:
        return _reply("0", "", result)

    def refused(self, error: RestError) -> web.Response:
        return _reply(str(error.code), error.msg, error.data)

    def reject_code(self, reason: RejectReason, params: Params) -> tuple[int | str, str]:
        return codec.REJECT_CODES[reason]

    def bad_param(self, error: ParamError) -> RestError:
        return RestError("51000", f"Parameter {error.key} error: {error.problem}")

    def no_route(self, message: str) -> web.Response:
        return _reply("50000", message, [])

    def rate_limited(self) -> web.Response:
        # OKX answers a rate limit with HTTP 429 and code 50011.
        return _reply(*codec.RATE_LIMIT, [], status=429)

    def fault_refusal(self, request: web.Request, rule: FaultRule) -> web.Response:
        code = rule.code or codec.GENERIC_REJECT[0]
        msg = rule.message or codec.GENERIC_REJECT[1]
        if "/trade/" in request.path:  # order endpoints carry the code per order, in sCode
            return self.refused(_order_error(code, msg))
        return _reply(code, msg, [])

    def authenticate(self, request: web.Request, body: str) -> Account:
        key = request.headers.get("OK-ACCESS-KEY", "")
        account = self.engine.accounts.get(key)
        if account is None:
            raise RestError("50111", "Invalid OK-ACCESS-KEY.")
        if request.headers.get("OK-ACCESS-PASSPHRASE") != account.passphrase:
            raise RestError("50105", "Invalid OK-ACCESS-PASSPHRASE.")
        ts = request.headers.get("OK-ACCESS-TIMESTAMP", "")
        path = request.path_qs if request.method == "GET" else request.path
        payload = ts + request.method + path + body
        expected = base64.b64encode(
            hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected, request.headers.get("OK-ACCESS-SIGN", "")):
            raise RestError("50113", "Invalid Sign.")
        try:
            sent_ms = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError as exc:
            raise RestError(
                "50112", f"Invalid OK-ACCESS-TIMESTAMP: expected ISO 8601, was {ts!r}"
            ) from exc
        if abs(self.engine.clock.now_ms() - sent_ms) > TIMESTAMP_WINDOW_MS:
            raise RestError("50102", "Timestamp request expired.")
        return account

    # -- public -------------------------------------------------------------------------------

    def _inst(self, inst_id: str) -> Instrument:
        kind = InstrumentKind.PERP if inst_id.endswith("-SWAP") else InstrumentKind.SPOT
        return self.engine.instrument(kind, inst_id)

    async def _empty(self, _: Params) -> Data:
        return []

    async def _time(self, _: Params) -> Data:
        return [{"ts": str(self.engine.clock.now_ms())}]

    async def _instruments(self, params: Params) -> Data:
        wanted = params.get("instType", "")
        return [
            codec.instrument_info(i)
            for i in self.engine.instruments.values()
            if codec.inst_type(i) == wanted
            and (not params.get("instId") or i.symbol == params["instId"])
        ]

    async def _books(self, params: Params) -> Data:
        inst = self._inst(params.get("instId", ""))
        depth = int(params.get("sz") or 1)
        book = self.engine.book(inst)
        return [
            {
                "bids": codec.book_rows(inst, book.depth(Side.BUY, depth)),
                "asks": codec.book_rows(inst, book.depth(Side.SELL, depth)),
                "ts": str(self.engine.clock.now_ms()),
            }
        ]

    async def _ticker(self, params: Params) -> Data:
        return [codec.ticker(self.engine, self._inst(params.get("instId", "")))]

    async def _funding_rate(self, params: Params) -> Data:
        inst = self._inst(params.get("instId", ""))
        if instrument_key(inst) not in self.engine.funding:
            raise RestError(
                "51001", f"Instrument ID does not exist: expected a swap, was {inst.symbol}"
            )
        return [codec.funding(self.engine, inst)]

    # -- account ------------------------------------------------------------------------------

    async def _currencies(self, _: Account, __: Params) -> Data:
        return []

    async def _config(self, account: Account, _: Params) -> Data:
        return [{"uid": account.api_key, "acctLv": "3", "posMode": "net_mode", "autoLoan": False}]

    async def _balance(self, account: Account, _: Params) -> Data:
        return [codec.balance(self.engine, account)]

    async def _positions(self, account: Account, params: Params) -> Data:
        now = self.engine.clock.now_ms()
        ids = set(filter(None, str(params.get("instId", "")).split(",")))
        return [
            codec.position(p, self.engine.mark(p.instrument), now)
            for p in account.positions.values()
            if p.qty != 0 and (not ids or p.instrument.symbol in ids)
        ]

    async def _trade_fee(self, _: Account, params: Params) -> Data:
        """One row: the account's rate for an instrument type, narrowed by instId (spot) or by
        instFamily/uly (swaps). USDT-margined swap rates are in makerU/takerU, as on OKX."""
        wanted = params.get("instType", "")
        if wanted not in ("SPOT", "SWAP"):
            raise RestError(
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
        raise RestError("51001", f"Instrument ID does not exist: no {wanted} matches {params}")

    async def _set_leverage(self, account: Account, params: Params) -> Data:
        inst = self._inst(params.get("instId", ""))
        lever = decimal_param(params, "lever")
        if not Decimal(1) <= lever <= Decimal(100):
            raise RestError(
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

    async def _position_mode(self, _: Account, params: Params) -> Data:
        if params.get("posMode") != "net_mode":
            raise RestError(
                "51000", "Parameter posMode error: the simulator supports net_mode only"
            )
        return [{"posMode": "net_mode"}]

    # -- orders -------------------------------------------------------------------------------

    async def _place(self, account: Account, params: Params) -> Data:
        try:
            inst = self._inst(params.get("instId", ""))
            side = {"buy": Side.BUY, "sell": Side.SELL}.get(params.get("side", ""))
            kind = codec.ORD_TYPES.get(params.get("ordType", ""))
            if side is None or kind is None:
                raise RestError(
                    "51000",
                    f"Parameter side/ordType error: was {params.get('side')!r}/{params.get('ordType')!r}",
                )
            sz = decimal_param(params, "sz")
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
                price=optional_decimal(params, "px"),
                tif=tif,
                client_id=str(params.get("clOrdId") or ""),
                reduce_only=params.get("reduceOnly") in (True, "true"),
                quote_amount=quote_amount,
            )
        except Rejected as exc:
            code, msg = codec.REJECT_CODES[exc.reason]
            raise _order_error(code, f"{msg} ({exc.detail})") from exc
        except RestError as exc:
            raise _order_error(exc.code, exc.msg) from exc
        except ParamError as exc:
            refusal = self.bad_param(exc)
            raise _order_error(refusal.code, refusal.msg) from exc
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

    async def _batch(self, account: Account, params: Params) -> Data:
        results: Data = []
        for item in params.get("batch", []):
            try:
                results.extend(await self._place(account, item))
            except RestError as exc:
                results.extend(exc.data)
        failed = sum(1 for r in results if r["sCode"] != "0")
        if failed:
            # OKX: "1" when every order failed, "2" when only some did.
            code = "1" if failed == len(results) else "2"
            raise RestError(
                code,
                "All operations failed" if code == "1" else "Bulk operation partially succeeded",
                results,
            )
        return results

    async def _amend(self, account: Account, params: Params) -> Data:
        try:
            order = self.named_order(account, params)
            self.engine.amend(
                account, order, optional_decimal(params, "newSz"), optional_decimal(params, "newPx")
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

    async def _cancel(self, account: Account, params: Params) -> Data:
        try:
            order = self.named_order(account, params)
            self.engine.cancel(account, order)
        except Rejected as exc:
            raise _order_error(
                "51400",
                f"Order cancellation failed as the order has been filled, canceled or does not exist ({exc.detail})",
            ) from exc
        return [{"ordId": order.order_id, "clOrdId": order.client_id, "sCode": "0", "sMsg": ""}]

    async def _order(self, account: Account, params: Params) -> Data:
        try:
            order = self.named_order(account, params)
        except Rejected as exc:
            raise RestError("51603", f"Order does not exist ({exc.detail})") from exc
        if params.get("instId") and order.instrument.symbol != params["instId"]:
            raise RestError(
                "51603",
                f"Order does not exist: it trades {order.instrument.symbol}, not {params['instId']}",
            )
        return [self._row(order)]

    def _rows(self, account: Account, params: Params, open_only: bool) -> Data:
        inst_id, inst_type = params.get("instId"), params.get("instType")

        def keep(o: Order) -> bool:
            return (
                o.status.is_open == open_only
                and (not inst_id or o.instrument.symbol == inst_id)
                and (not inst_type or codec.inst_type(o.instrument) == inst_type)
            )

        return [self._row(o) for o in self.engine.orders_of(account, keep)]

    async def _pending(self, account: Account, params: Params) -> Data:
        """Newest first, `limit` rows (at most 100), `after` an ordId: only older orders."""
        limit = limit_param(params, default=100, maximum=100)
        after = int_param(params, "after")
        rows = self._rows(account, params, open_only=True)
        if after is not None:
            rows = [r for r in rows if int(r["ordId"]) < after]
        return rows[:limit]

    async def _history(self, account: Account, params: Params) -> Data:
        return self._rows(account, params, open_only=False)

    async def _fills(self, account: Account, params: Params) -> Data:
        """Fills newest first; `after`/`before` page by billId (older / newer than it)."""
        limit = limit_param(params, default=100, maximum=100)
        after = int_param(params, "after")
        before = int_param(params, "before")
        begin = int_param(params, "begin")
        end = int_param(params, "end")

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

    async def _bills(self, account: Account, params: Params) -> Data:
        """Bills newest first; `after`/`before` page by billId (older / newer than it)."""
        limit = limit_param(params, default=100, maximum=100)
        after = int_param(params, "after")
        before = int_param(params, "before")
        begin = int_param(params, "begin")
        end = int_param(params, "end")

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
