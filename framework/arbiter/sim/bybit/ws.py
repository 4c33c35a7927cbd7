"""Bybit v5 WebSockets on loopback: public books/tickers/trades and the private account topics.

Public: `orderbook.{1,50,200}.SYMBOL` (snapshot then deltas; `u` rises by one per message of a
topic, size "0" deletes a level), `tickers.SYMBOL`, `publicTrade.SYMBOL`, `{"op":"ping"}`.
Private: `{"op":"auth","args":[key, expires, hex(hmac(secret, "GET/realtime"+expires))]}`, then
`order` (an order refused after a partial fill is Rejected with its fills), `execution` (trades;
funding settlements as executions of type Funding, forced trades as AdlTrade or BustTrade),
`position` (the entry price is `entryPrice`), `wallet` (`availableToWithdraw` "0", as on a
unified account). Shapes as in Bybit's own messages (`codec.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from typing import Any

from aiohttp import WSMsgType, web

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.book import BookDelta, Side
from arbiter.sim.bybit import codec
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
from arbiter.sim.wire import encode, grid_text
from arbiter.sim.wsconn import Connection

BOOK_DEPTHS = (1, 50, 200)


def _levels(inst: Instrument, levels: Any) -> list[list[str]]:
    px, sz = grid_text(inst.tick_size), grid_text(inst.lot_size)
    return [[px(t), sz(q)] for t, q in levels]


class BybitWs:
    def __init__(self, engine: VenueEngine, faults: FaultPlan) -> None:
        self.engine = engine
        self.faults = faults
        self.public: dict[str, list[Connection]] = {"spot": [], "linear": []}
        self.private: list[Connection] = []
        self._conn_ids = itertools.count(1)
        self._u: dict[tuple[int, str], int] = {}  # (connection id, topic) -> last u sent
        engine.listeners.append(self.on_event)

    def install(self, app: web.Application) -> None:
        app.router.add_get("/v5/public/spot", self._public_spot)
        app.router.add_get("/v5/public/linear", self._public_linear)
        app.router.add_get("/v5/private", self._private)

    async def _public_spot(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, self.public["spot"], InstrumentKind.SPOT)

    async def _public_linear(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, self.public["linear"], InstrumentKind.PERP)

    async def _private(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, self.private, None)

    async def _serve(
        self, request: web.Request, pool: list[Connection], kind: InstrumentKind | None
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(ws, self.faults, self.engine.name)
        conn_id = str(next(self._conn_ids))
        writer = asyncio.create_task(conn.write_loop())
        pool.append(conn)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                self._on_request(conn, conn_id, kind, json.loads(msg.data))
        finally:
            pool.remove(conn)
            writer.cancel()
            for key in [k for k in self._u if k[0] == id(conn)]:
                del self._u[key]
        return ws

    def _on_request(
        self, conn: Connection, conn_id: str, kind: InstrumentKind | None, req: dict[str, Any]
    ) -> None:
        op = req.get("op")
        reply: dict[str, Any] = {"success": True, "ret_msg": "", "conn_id": conn_id, "op": op}
        if "req_id" in req:
            reply["req_id"] = req["req_id"]
        if op == "ping":
            reply["ret_msg"] = "pong"
        elif op == "auth":
            ok, msg = self._auth(conn, req.get("args") or [])
            reply |= {"success": ok, "ret_msg": msg}
        elif op in ("subscribe", "unsubscribe"):
            args = [str(a) for a in req.get("args") or []]
            bad = [a for a in args if not self._valid_topic(a, kind)]
            if bad or (kind is None and not conn.authed_key):
                reply |= {
                    "success": False,
                    "ret_msg": f"error:handler not found,topic:{','.join(bad) or 'auth required'}",
                }
                conn.send(json.dumps(reply))
                return
            conn.send(json.dumps(reply))
            for topic in args:
                if op == "subscribe":
                    conn.topics.add(topic)
                    self._initial(conn, kind, topic)
                else:
                    conn.topics.discard(topic)
            return
        else:
            reply |= {
                "success": False,
                "ret_msg": f"expected op ping/auth/subscribe/unsubscribe, was {op!r}",
            }
        conn.send(json.dumps(reply))

    def _auth(self, conn: Connection, args: list[Any]) -> tuple[bool, str]:
        if len(args) != 3:
            return False, "expected args [api_key, expires, signature]"
        key, expires, sign = str(args[0]), int(args[1]), str(args[2])
        account = self.engine.accounts.get(key)
        if account is None:
            return False, "Invalid apikey"
        expected = hmac.new(
            account.secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, sign):
            return False, "Signature verification failed"
        if expires <= self.engine.clock.now_ms():
            return False, "Params Error: expires is in the past"
        conn.authed_key = key
        return True, ""

    def _valid_topic(self, topic: str, kind: InstrumentKind | None) -> bool:
        if kind is None:
            return topic in ("order", "execution", "position", "wallet")
        parts = topic.split(".")
        symbols = {i.symbol for i in self.engine.instruments.values() if i.kind is kind}
        if parts[0] == "orderbook" and len(parts) == 3:
            return parts[1].isdigit() and int(parts[1]) in BOOK_DEPTHS and parts[2] in symbols
        return parts[0] in ("tickers", "publicTrade") and len(parts) == 2 and parts[1] in symbols

    def _initial(self, conn: Connection, kind: InstrumentKind | None, topic: str) -> None:
        if kind is None:
            return
        parts = topic.split(".")
        inst = self.engine.instrument(kind, parts[-1])
        if parts[0] == "orderbook":
            conn.send(self._snapshot(conn, topic, inst))
        elif parts[0] == "tickers":
            conn.send(self._ticker_frame(inst, topic))

    def _snapshot(self, conn: Connection, topic: str, inst: Instrument) -> bytes:
        depth = int(topic.split(".")[1])
        book = self.engine.book(inst)
        u = self._next_u(conn, topic, reset=True)
        now = self.engine.clock.now_ms()
        data = {
            "s": inst.symbol,
            "b": _levels(inst, book.depth(Side.BUY, depth)),
            "a": _levels(inst, book.depth(Side.SELL, depth)),
            "u": u,
            "seq": book.seq,
        }
        return encode({"topic": topic, "type": "snapshot", "ts": now, "data": data, "cts": now})

    def _next_u(self, conn: Connection, topic: str, reset: bool = False) -> int:
        key = (id(conn), topic)
        u = 1 if reset and key not in self._u else self._u.get(key, 0) + 1
        self._u[key] = u
        return u

    def _ticker_frame(self, inst: Instrument, topic: str) -> bytes:
        now = self.engine.clock.now_ms()
        return encode(
            {
                "topic": topic,
                "type": "snapshot",
                "data": codec.ticker(self.engine, inst),
                "cs": now,
                "ts": now,
            }
        )

    # -- engine events ------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if isinstance(event, BookChanged):
            self._on_book(event.instrument, event.delta)
        elif isinstance(event, PublicTrade):
            self._on_trade(event)
        else:
            self._on_private(event)

    def _pool(self, inst: Instrument) -> list[Connection]:
        return self.public[codec.category(inst)]

    def _on_book(self, inst: Instrument, delta: BookDelta) -> None:
        now = self.engine.clock.now_ms()
        ticker_topic = f"tickers.{inst.symbol}"
        bids: list[list[str]] | None = None
        asks: list[list[str]] = []
        for conn in self._pool(inst):
            for depth in BOOK_DEPTHS:
                topic = f"orderbook.{depth}.{inst.symbol}"
                if topic not in conn.topics:
                    continue
                if depth == 1:
                    # Depth 1 is pushed as a fresh snapshot of the touch whenever it may move.
                    conn.send_public(topic, self._snapshot(conn, topic, inst))
                    continue
                if bids is None:
                    bids, asks = _levels(inst, delta.bids), _levels(inst, delta.asks)
                key = (id(conn), topic)
                u = self._u.get(key, 0) + 1
                data = {"s": inst.symbol, "b": bids, "a": asks, "u": u, "seq": delta.seq}
                frame = encode(
                    {"topic": topic, "type": "delta", "ts": now, "data": data, "cts": now}
                )

                def restart(conn: Connection = conn, topic: str = topic) -> bytes:
                    # Bybit's book service restarted: a snapshot with u=1, deltas go on from it.
                    del self._u[(id(conn), topic)]
                    return self._snapshot(conn, topic, inst)

                # A dropped delta still uses up its u, so the client sees the gap.
                self._u[key] = u
                conn.send_book(topic, frame, restart)
            if ticker_topic in conn.topics:
                conn.send_public(ticker_topic, self._ticker_frame(inst, ticker_topic))

    def _on_trade(self, trade: PublicTrade) -> None:
        inst = trade.instrument
        topic = f"publicTrade.{inst.symbol}"
        frame = json.dumps(
            {
                "topic": topic,
                "type": "snapshot",
                "ts": trade.ts_ms,
                "data": [
                    {
                        "T": trade.ts_ms,
                        "s": inst.symbol,
                        "S": "Buy" if trade.taker_side is Side.BUY else "Sell",
                        "v": codec.s(trade.qty),
                        "p": codec.s(trade.price),
                        "i": trade.trade_id,
                        "BT": False,
                    }
                ],
            }
        )
        for conn in self._pool(inst):
            if topic in conn.topics:
                conn.send_public(topic, frame)

    def _on_private(self, event: Event) -> None:
        now = self.engine.clock.now_ms()
        topic: str
        data: list[dict[str, Any]]
        if isinstance(event, OrderChanged):
            topic, data, key = "order", [codec.order(event.order)], event.account.api_key
        elif isinstance(event, Filled):
            topic, data, key = (
                "execution",
                [codec.execution(event.execution)],
                event.account.api_key,
            )
        elif isinstance(event, ForcedTraded):
            topic, data, key = "execution", [codec.forced_execution(event)], event.account.api_key
        elif isinstance(event, FundingSettled):
            # Bybit reports a settlement among the executions, as it lists it over REST.
            topic, data, key = "execution", [codec.funding_execution(event)], event.account.api_key
        elif isinstance(event, PositionChanged):
            pos = event.position
            data = [codec.position(pos, self.engine.mark(pos.instrument), now)]
            topic, key = "position", event.account.api_key
        elif isinstance(event, WalletChanged):
            topic, data, key = (
                "wallet",
                [codec.wallet(self.engine, event.account)],
                event.account.api_key,
            )
        else:
            return
        frame = json.dumps(
            {"id": f"{topic}-{now}", "topic": topic, "creationTime": now, "data": data}
        )
        for conn in self.private:
            if conn.authed_key == key and topic in conn.topics:
                conn.send_private(f"private:{topic}", frame)
