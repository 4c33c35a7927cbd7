"""OKX v5 WebSockets on loopback: public books and market channels, private account channels.

Public: `books` (snapshot then updates with seqId/prevSeqId and the CRC32 checksum), `books5`,
`bbo-tbt`, `tickers`, `funding-rate`, `trades`, and the text ping/pong. Private: `login` with
base64(hmac(secret, timestamp + "GET/users/self/verify")), then `orders`, `positions`, `account`,
`balance_and_position`. As on OKX, a fill is reported inside one `orders` push (`fillSz`,
`fillPx`, `tradeId`, `fillFee`, `execType`) in the order's state after that fill; there is no
separate state push. A funding settlement is pushed on `balance_and_position` (`eventType`
funding_fee, balances and positions after it, no amount: the amount is in the bills, over
REST); that channel also sends a `snapshot` on subscribe (its pushes after fills and transfers
are not simulated). A trade the venue forces on a position (auto-deleveraging, a liquidation) is
an `orders` push with no clOrdId and `category` adl or full_liquidation (OKX's fills history
would list it too; the simulator's does not).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
from typing import Any

from aiohttp import WSMsgType, web

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.book import BookDelta, Side
from arbiter.sim.engine import VenueEngine
from arbiter.sim.events import (
    BookChanged,
    Event,
    Filled,
    ForcedTraded,
    FundingSettled,
    OrderChanged,
    PositionChanged,
    PublicTrade,
    WalletChanged,
)
from arbiter.sim.faults import FaultPlan
from arbiter.sim.okx import codec
from arbiter.sim.wire import encode, grid_text
from arbiter.sim.wsconn import Connection

PUBLIC_CHANNELS = ("books", "books5", "bbo-tbt", "tickers", "funding-rate", "trades")
PRIVATE_CHANNELS = ("orders", "positions", "account", "balance_and_position")
LOGIN_WINDOW_S = 30


class OkxWs:
    def __init__(self, engine: VenueEngine, faults: FaultPlan) -> None:
        self.engine = engine
        self.faults = faults
        # Orders whose state push went out with their last fill: the engine's own state event
        # that follows each fill would repeat it.
        self._reported_with_fill: set[str] = set()
        self.public: list[Connection] = []
        self.private: list[Connection] = []
        self._conn_ids = itertools.count(1)
        # Per connection and instrument: the seqId of the last `books` message, sent or dropped,
        # and how far the wire's seqId run stands from the book's own seq after a reset.
        self._seq: dict[tuple[int, str], int] = {}
        self._shift: dict[tuple[int, str], int] = {}
        engine.listeners.append(self.on_event)

    def install(self, app: web.Application) -> None:
        app.router.add_get("/ws/v5/public", self._public_ws)
        app.router.add_get("/ws/v5/private", self._private_ws)
        app.router.add_get("/ws/v5/business", self._public_ws)

    async def _public_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, self.public, private=False)

    async def _private_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, self.private, private=True)

    async def _serve(
        self, request: web.Request, pool: list[Connection], private: bool
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = Connection(ws, self.faults, self.engine.name)
        conn_id = f"{next(self._conn_ids):08x}"
        writer = asyncio.create_task(conn.write_loop())
        pool.append(conn)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                if msg.data == "ping":
                    conn.send("pong")
                    continue
                try:
                    req = json.loads(msg.data)
                except json.JSONDecodeError:
                    conn.send(
                        json.dumps(
                            {
                                "event": "error",
                                "code": "60012",
                                "msg": f"Invalid request: {msg.data}",
                                "connId": conn_id,
                            }
                        )
                    )
                    continue
                self._on_request(conn, conn_id, private, req)
        finally:
            pool.remove(conn)
            writer.cancel()
            for key in [k for k in self._seq if k[0] == id(conn)]:
                del self._seq[key]
                self._shift.pop(key, None)
        return ws

    def _on_request(
        self, conn: Connection, conn_id: str, private: bool, req: dict[str, Any]
    ) -> None:
        op = req.get("op")
        if op == "login":
            code, msg = self._login(conn, (req.get("args") or [{}])[0])
            event = "login" if code == "0" else "error"
            conn.send(json.dumps({"event": event, "code": code, "msg": msg, "connId": conn_id}))
            return
        if op not in ("subscribe", "unsubscribe"):
            conn.send(
                json.dumps(
                    {
                        "event": "error",
                        "code": "60012",
                        "msg": f"Invalid request: expected op login/subscribe/unsubscribe, was {op!r}",
                        "connId": conn_id,
                    }
                )
            )
            return
        for arg in req.get("args") or []:
            channel = arg.get("channel", "")
            error = self._check_arg(conn, private, arg)
            if error:
                conn.send(
                    json.dumps({"event": "error", "code": "60018", "msg": error, "connId": conn_id})
                )
                continue
            topic = _topic(channel, arg.get("instId", ""))
            conn.send(json.dumps({"event": op, "arg": arg, "connId": conn_id}))
            if op == "subscribe":
                conn.topics.add(topic)
                if not private:
                    self._initial(conn, channel, self._inst(arg["instId"]))
                elif channel == "balance_and_position":
                    conn.send(self._balance_and_position(conn.authed_key, "snapshot"))
            else:
                conn.topics.discard(topic)

    def _check_arg(self, conn: Connection, private: bool, arg: dict[str, Any]) -> str:
        channel = arg.get("channel", "")
        if private:
            if not conn.authed_key:
                return "Wrong URL or channel: login first"
            return (
                ""
                if channel in PRIVATE_CHANNELS
                else f"Wrong URL or channel:{channel}, expected one of {PRIVATE_CHANNELS}"
            )
        if channel not in PUBLIC_CHANNELS:
            return f"Wrong URL or channel:{channel}, expected one of {PUBLIC_CHANNELS}"
        inst_id = arg.get("instId", "")
        if not any(i.symbol == inst_id for i in self.engine.instruments.values()):
            return f"Wrong URL or channel:{channel},instId:{inst_id} doesn't exist"
        if channel == "funding-rate" and not inst_id.endswith("-SWAP"):
            return f"Wrong URL or channel:{channel},instId:{inst_id}: expected a swap"
        return ""

    def _login(self, conn: Connection, arg: dict[str, Any]) -> tuple[str, str]:
        account = self.engine.accounts.get(str(arg.get("apiKey", "")))
        if account is None:
            return "60005", "Invalid apiKey"
        if arg.get("passphrase") != account.passphrase:
            return "60024", "Wrong passphrase"
        ts = str(arg.get("timestamp", ""))
        expected = base64.b64encode(
            hmac.new(
                account.secret.encode(), f"{ts}GET/users/self/verify".encode(), hashlib.sha256
            ).digest()
        ).decode()
        if not hmac.compare_digest(expected, str(arg.get("sign", ""))):
            return "60007", "Invalid sign"
        try:
            sent_s = float(ts)
        except ValueError:
            return "60006", f"Timestamp request expired: expected seconds, was {ts!r}"
        if abs(self.engine.clock.now_ms() / 1000 - sent_s) > LOGIN_WINDOW_S:
            return "60006", "Timestamp request expired"
        conn.authed_key = account.api_key
        return "0", ""

    def _inst(self, inst_id: str) -> Instrument:
        kind = InstrumentKind.PERP if inst_id.endswith("-SWAP") else InstrumentKind.SPOT
        return self.engine.instrument(kind, inst_id)

    def _initial(self, conn: Connection, channel: str, inst: Instrument) -> None:
        if channel == "books":
            conn.send(self._books_snapshot(conn, inst))
        elif channel in ("books5", "bbo-tbt"):
            conn.send(self._top_frame(channel, inst))
        elif channel == "tickers":
            conn.send(self._frame("tickers", inst, [codec.ticker(self.engine, inst)]))
        elif channel == "funding-rate":
            conn.send(self._frame("funding-rate", inst, [codec.funding(self.engine, inst)]))

    def _frame(
        self, channel: str, inst: Instrument, data: list[Any], action: str | None = None
    ) -> bytes:
        body: dict[str, Any] = {"arg": {"channel": channel, "instId": inst.symbol}}
        if action:
            body["action"] = action
        body["data"] = data
        return encode(body)

    def _books_snapshot(self, conn: Connection, inst: Instrument) -> bytes:
        book = self.engine.book(inst)
        bids = codec.book_rows(inst, book.depth(Side.BUY, 400))
        asks = codec.book_rows(inst, book.depth(Side.SELL, 400))
        key = (id(conn), inst.symbol)
        seq = book.seq + self._shift.get(key, 0)
        self._seq[key] = seq
        data = {
            "asks": asks,
            "bids": bids,
            "ts": str(self.engine.clock.now_ms()),
            "checksum": codec.book_checksum(bids, asks),
            "prevSeqId": -1,
            "seqId": seq,
        }
        return self._frame("books", inst, [data], action="snapshot")

    def _top_frame(self, channel: str, inst: Instrument) -> bytes:
        book = self.engine.book(inst)
        n = 5 if channel == "books5" else 1
        data = {
            "asks": codec.book_rows(inst, book.depth(Side.SELL, n)),
            "bids": codec.book_rows(inst, book.depth(Side.BUY, n)),
            "instId": inst.symbol,
            "ts": str(self.engine.clock.now_ms()),
            "seqId": book.seq,
        }
        return self._frame(channel, inst, [data])

    # -- engine events ------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if isinstance(event, BookChanged):
            self._on_book(event.instrument, event.delta)
        elif isinstance(event, PublicTrade):
            self._on_trade(event)
        elif isinstance(event, OrderChanged) and event.order.order_id in self._reported_with_fill:
            self._reported_with_fill.discard(event.order.order_id)
        elif isinstance(event, OrderChanged | Filled | PositionChanged | WalletChanged):
            self._on_private(event)
        elif isinstance(event, ForcedTraded):
            frame = json.dumps(
                {
                    "arg": {"channel": "orders", "instType": "ANY", "uid": event.account.api_key},
                    "data": [codec.forced_order(event)],
                }
            )
            for conn in self.private:
                if conn.authed_key == event.account.api_key and "orders" in conn.topics:
                    conn.send_private("private:orders", frame)
        elif isinstance(event, FundingSettled):
            key = event.account.api_key
            frame = self._balance_and_position(key, "funding_fee", event.ts_ms)
            for conn in self.private:
                if conn.authed_key == key and "balance_and_position" in conn.topics:
                    conn.send_private("private:balance_and_position", frame)

    def _balance_and_position(self, api_key: str, event_type: str, ts_ms: int = 0) -> str:
        account = self.engine.account(api_key)
        held = [p for _, p in sorted(account.positions.items()) if p.qty]
        now = ts_ms or self.engine.clock.now_ms()
        data = codec.balance_and_position(event_type, account, held, now)
        arg = {"channel": "balance_and_position", "uid": api_key}
        return json.dumps({"arg": arg, "data": [data]})

    def _on_book(self, inst: Instrument, delta: BookDelta) -> None:
        book = self.engine.book(inst)
        topic = _topic("books", inst.symbol)
        watchers = [c for c in self.public if topic in c.topics]
        if watchers:
            # The checksum is over the book *after* this update, as OKX computes it.
            checksum = codec.book_checksum_of(inst, book)
            px, sz = grid_text(inst.tick_size), grid_text(inst.lot_size)
            changed = [[px(t), sz(q), "0", "1" if q else "0"] for t, q in delta.bids]
            changed_asks = [[px(t), sz(q), "0", "1" if q else "0"] for t, q in delta.asks]
            now = str(self.engine.clock.now_ms())
        for conn in watchers:
            key = (id(conn), inst.symbol)
            seq = delta.seq + self._shift.get(key, 0)
            data = {
                "asks": changed_asks,
                "bids": changed,
                "ts": now,
                "checksum": checksum,
                "prevSeqId": self._seq.get(key, seq - 1),
                "seqId": seq,
            }
            # A dropped update still moves seqId on, so the next prevSeqId shows the gap.
            self._seq[key] = seq

            def restart(key: tuple[int, str] = key, data: dict[str, Any] = data) -> bytes:
                # Maintenance restarted OKX's sequence: this update's seqId falls below its
                # prevSeqId, and the chain goes on from the new, smaller number.
                new = data["prevSeqId"] // 2
                self._shift[key] = new - delta.seq
                self._seq[key] = new
                return self._frame("books", inst, [data | {"seqId": new}], action="update")

            frame = self._frame("books", inst, [data], action="update")
            conn.send_book(topic, frame, restart)
        for channel in ("books5", "bbo-tbt", "tickers"):
            topic = _topic(channel, inst.symbol)
            subscribers = [c for c in self.public if topic in c.topics]
            if not subscribers:
                continue
            frame = (
                self._frame("tickers", inst, [codec.ticker(self.engine, inst)])
                if channel == "tickers"
                else self._top_frame(channel, inst)
            )
            for conn in subscribers:
                conn.send_public(topic, frame)

    def _on_trade(self, trade: PublicTrade) -> None:
        inst = trade.instrument
        topic = _topic("trades", inst.symbol)
        frame = self._frame(
            "trades",
            inst,
            [
                {
                    "instId": inst.symbol,
                    "tradeId": trade.trade_id,
                    "px": codec.s(trade.price),
                    "sz": codec.s(trade.qty),
                    "side": trade.taker_side.value,
                    "ts": str(trade.ts_ms),
                    "count": "1",
                }
            ],
        )
        for conn in self.public:
            if topic in conn.topics:
                conn.send_public(topic, frame)

    def _on_private(self, event: OrderChanged | Filled | PositionChanged | WalletChanged) -> None:
        now = self.engine.clock.now_ms()
        uid = event.account.api_key
        # `account` and `positions` pushes after an event say so (a first snapshot would say
        # "snapshot"); both come whole, in one page.
        paged: dict[str, Any] = {"eventType": "event_update", "curPage": 1, "lastPage": True}
        body: dict[str, Any]
        if isinstance(event, OrderChanged):
            channel = "orders"
            body = {"arg": {"channel": "orders", "instType": "ANY", "uid": uid}}
            body["data"] = [codec.order_push(event.order)]
        elif isinstance(event, Filled):
            channel = "orders"
            body = {"arg": {"channel": "orders", "instType": "ANY", "uid": uid}}
            body["data"] = [_with_fill(codec.order_push(event.execution.order), event)]
            self._reported_with_fill.add(event.execution.order.order_id)
        elif isinstance(event, PositionChanged):
            pos = event.position
            channel = "positions"
            body = {"arg": {"channel": "positions", "instType": "ANY", "uid": uid}} | paged
            mark = self.engine.mark(pos.instrument)
            body["data"] = [codec.position(pos, mark, now, pushed=True)]
        else:
            channel = "account"
            body = {"arg": {"channel": "account", "uid": uid}} | paged
            body["data"] = [codec.balance(self.engine, event.account, pushed=True)]
        frame = json.dumps(body)
        for conn in self.private:
            if conn.authed_key == event.account.api_key and _topic(channel, "") in conn.topics:
                conn.send_private(f"private:{channel}", frame)


def _with_fill(order: dict[str, Any], event: Filled) -> dict[str, Any]:
    """An `orders` push that reports one fill, in OKX's fill fields."""
    execution = event.execution
    return order | {
        "fillPx": codec.s(execution.price),
        "fillSz": codec.s(execution.qty),
        "tradeId": execution.exec_id,
        "fillTime": str(execution.ts_ms),
        "fillFee": codec.s(-execution.fee),  # OKX signs a charged fee negative
        "fillFeeCcy": execution.fee_coin,
        "execType": "M" if execution.is_maker else "T",
    }


def _topic(channel: str, inst_id: str) -> str:
    return f"{channel}:{inst_id}" if inst_id else channel
