"""Plain venue clients on loopback, for the simulator tests.

They speak each venue's wire format by hand (signed REST requests, raw WS frames), so a test
sees exactly the bytes a venue client would, with nothing in between that could hide a fault.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp

from arbiter.sim import VenueEndpoints

WAIT_S = 10.0  # generous: a fault the simulator fails to produce fails the test, never hangs it


# -- REST --------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


async def bybit_request(
    session: aiohttp.ClientSession,
    ep: VenueEndpoints,
    method: str,
    path: str,
    params: dict[str, Any],
    give_up_s: float = WAIT_S,
    now_ms: int | None = None,
) -> Reply:
    """A Bybit v5 request signed as Bybit documents it (timestamp+key+window+payload)."""
    ts, window = str(now_ms or int(time.time() * 1000)), "5000"
    query = urlencode(params) if method == "GET" else ""
    body = json.dumps(params) if method == "POST" else ""
    payload = ts + ep.api_key + window + (body or query)
    sign = hmac.new(ep.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    headers = {
        "X-BAPI-API-KEY": ep.api_key,
        "X-BAPI-TIMESTAMP": ts,
        "X-BAPI-RECV-WINDOW": window,
        "X-BAPI-SIGN": sign,
        "Content-Type": "application/json",
    }
    url = ep.rest + path + (f"?{query}" if query else "")
    async with session.request(
        method, url, data=body or None, headers=headers, timeout=aiohttp.ClientTimeout(give_up_s)
    ) as resp:
        return Reply(resp.status, dict(resp.headers), await resp.text())


async def okx_request(
    session: aiohttp.ClientSession,
    ep: VenueEndpoints,
    method: str,
    path: str,
    params: dict[str, Any],
    give_up_s: float = WAIT_S,
    now_ms: int | None = None,
) -> Reply:
    """An OKX v5 request signed as OKX documents it (ISO time+method+path+body, base64)."""
    now = datetime.fromtimestamp(now_ms / 1000, UTC) if now_ms else datetime.now(UTC)
    ts = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    query = urlencode(params) if method == "GET" else ""
    target = path + (f"?{query}" if query else "")
    body = json.dumps(params) if method == "POST" else ""
    digest = hmac.new(ep.secret.encode(), (ts + method + target + body).encode(), hashlib.sha256)
    headers = {
        "OK-ACCESS-KEY": ep.api_key,
        "OK-ACCESS-SIGN": base64.b64encode(digest.digest()).decode(),
        "OK-ACCESS-TIMESTAMP": ts,
        "OK-ACCESS-PASSPHRASE": ep.passphrase,
        "Content-Type": "application/json",
    }
    async with session.request(
        method,
        ep.rest + target,
        data=body or None,
        headers=headers,
        timeout=aiohttp.ClientTimeout(give_up_s),
    ) as resp:
        return Reply(resp.status, dict(resp.headers), await resp.text())


# -- WebSocket ---------------------------------------------------------------------------------


@dataclass
class WsProbe:
    """One raw WebSocket client: every text frame it receives, in order, and how it ended."""

    ws: aiohttp.ClientWebSocketResponse
    frames: list[str] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # perf_counter() per frame
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, url: str) -> WsProbe:
        probe = cls(await session.ws_connect(url, autoping=True, max_msg_size=0))
        probe._task = asyncio.create_task(probe._read())
        return probe

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.frames.append(msg.data)
                self.arrived.append(time.perf_counter())
                self._changed.set()
        self.close_code = self.ws.close_code
        self.closed.set()
        self._changed.set()

    def parsed(self) -> list[Any]:
        return [json.loads(f) for f in self.frames if f != "pong"]

    async def wait_for(
        self, predicate: Callable[[list[Any]], bool], what: str, give_up_s: float = WAIT_S
    ) -> list[Any]:
        """Wait until `predicate(parsed frames)` holds; fails naming `what` after `give_up_s`."""
        deadline = asyncio.get_running_loop().time() + give_up_s
        while True:
            frames = self.parsed()
            if predicate(frames):
                return frames
            if self.closed.is_set():
                raise AssertionError(f"socket closed while waiting for {what}; got {frames}")
            self._changed.clear()
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(
                    f"timed out after {give_up_s} s waiting for {what}; got {frames}"
                )
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                continue

    async def close(self) -> None:
        await self.ws.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, WAIT_S)


def bybit_auth(ep: VenueEndpoints) -> dict[str, Any]:
    expires = int(time.time() * 1000) + 60_000
    sign = hmac.new(ep.secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256)
    return {"op": "auth", "args": [ep.api_key, expires, sign.hexdigest()]}


def okx_login(ep: VenueEndpoints) -> dict[str, Any]:
    ts = str(int(time.time()))
    digest = hmac.new(ep.secret.encode(), f"{ts}GET/users/self/verify".encode(), hashlib.sha256)
    arg = {
        "apiKey": ep.api_key,
        "passphrase": ep.passphrase,
        "timestamp": ts,
        "sign": base64.b64encode(digest.digest()).decode(),
    }
    return {"op": "login", "args": [arg]}


# -- one venue, spoken plainly ------------------------------------------------------------------

_STATUS = {
    "New": "new",
    "PartiallyFilled": "partially_filled",
    "Filled": "filled",
    "Cancelled": "cancelled",
    "live": "new",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "canceled": "cancelled",
}


@dataclass
class Speaker:
    """A venue client for one simulated venue's BTC perpetual, in that venue's own words."""

    venue: str
    ep: VenueEndpoints
    session: aiohttp.ClientSession
    # A client that keeps its clock on the venue's (as ccxt can): signs with this time.
    clock: Callable[[], int] | None = None

    @property
    def perp(self) -> str:
        return "BTCUSDT" if self.venue == "bybit" else "BTC-USDT-SWAP"

    @property
    def lot(self) -> str:
        """One order's size in the venue's perp units: 0.01 BTC either way."""
        return "0.01" if self.venue == "bybit" else "1"

    @property
    def book_target(self) -> str:
        """The fault target of the perp's book stream."""
        return (
            f"bybit orderbook.50.{self.perp}"
            if self.venue == "bybit"
            else "okx books:BTC-USDT-SWAP"
        )

    @property
    def order_path(self) -> str:
        return "/v5/order/create" if self.venue == "bybit" else "/api/v5/trade/order"

    async def request(
        self, method: str, path: str, params: dict[str, Any], give_up_s: float = WAIT_S
    ) -> Reply:
        call = bybit_request if self.venue == "bybit" else okx_request
        now_ms = self.clock() if self.clock is not None else None
        return await call(self.session, self.ep, method, path, params, give_up_s, now_ms)

    async def place(
        self,
        client_id: str,
        side: str,
        price: str | None = None,
        tif: str = "GTC",
        *,
        qty: str | None = None,
        reduce_only: bool = False,
        spot: bool = False,
        give_up_s: float = WAIT_S,
    ) -> Reply:
        """A limit order (a market order when `price` is None) on the perp, or on the spot
        pair; `tif` is GTC, IOC, FOK or PostOnly; `qty` defaults to one lot of the perp."""
        size = qty or self.lot
        if self.venue == "bybit":
            params: dict[str, Any] = {
                "category": "spot" if spot else "linear",
                "symbol": self.perp,
                "side": side.capitalize(),
                "orderType": "Market" if price is None else "Limit",
                "qty": size,
                "orderLinkId": client_id,
            }
            if price is not None:
                params |= {"price": price, "timeInForce": tif}
            if reduce_only:
                params["reduceOnly"] = True
        else:
            kinds = {"GTC": "limit", "IOC": "ioc", "FOK": "fok", "PostOnly": "post_only"}
            params = {
                "instId": "BTC-USDT" if spot else self.perp,
                "tdMode": "cash" if spot else "cross",
                "side": side.lower(),
                "ordType": "market" if price is None else kinds[tif],
                "sz": size,
                "clOrdId": client_id,
            }
            if price is not None:
                params["px"] = price
            if reduce_only:
                params["reduceOnly"] = True
        return await self.request("POST", self.order_path, params, give_up_s)

    async def order_row(self, client_id: str) -> Any:
        """The venue's own order record for a perp order, as its order query returns it."""
        if self.venue == "bybit":
            params = {"category": "linear", "orderLinkId": client_id}
            body = (await self.request("GET", "/v5/order/realtime", params)).json()
            return body["result"]["list"][0]
        params = {"instId": self.perp, "clOrdId": client_id}
        return (await self.request("GET", "/api/v5/trade/order", params)).json()["data"][0]

    async def usdt(self) -> Decimal:
        """The USDT wallet balance the venue's balance endpoint reports."""
        if self.venue == "bybit":
            params = {"accountType": "UNIFIED"}
            body = (await self.request("GET", "/v5/account/wallet-balance", params)).json()
            coins = body["result"]["list"][0]["coin"]
            return Decimal(next(c["walletBalance"] for c in coins if c["coin"] == "USDT"))
        body = (await self.request("GET", "/api/v5/account/balance", {})).json()
        details = body["data"][0]["details"]
        return Decimal(next(d["cashBal"] for d in details if d["ccy"] == "USDT"))

    async def cancel(self, client_id: str) -> Reply:
        if self.venue == "bybit":
            params = {"category": "linear", "symbol": self.perp, "orderLinkId": client_id}
            return await self.request("POST", "/v5/order/cancel", params)
        params = {"instId": self.perp, "clOrdId": client_id}
        return await self.request("POST", "/api/v5/trade/cancel-order", params)

    async def status(self, client_id: str) -> str | None:
        """The order's state as the venue's order query reports it; None if it has no such order."""
        if self.venue == "bybit":
            params = {"category": "linear", "orderLinkId": client_id}
            body = (await self.request("GET", "/v5/order/realtime", params)).json()
            rows = body["result"]["list"] if body["retCode"] == 0 else []
            return _STATUS[rows[0]["orderStatus"]] if rows else None
        params = {"instId": self.perp, "clOrdId": client_id}
        body = (await self.request("GET", "/api/v5/trade/order", params)).json()
        return _STATUS[body["data"][0]["state"]] if body["code"] == "0" else None

    def accepted(self, reply: Reply) -> bool:
        body = reply.json()
        if self.venue == "bybit":
            return reply.status == 200 and body["retCode"] == 0
        return reply.status == 200 and body["code"] == "0" and body["data"][0]["sCode"] == "0"

    def error_code(self, reply: Reply) -> str:
        """The venue's own error code: Bybit's retCode, OKX's sCode (per order) or code."""
        body = reply.json()
        if self.venue == "bybit":
            return str(body["retCode"])
        if body.get("data") and "sCode" in body["data"][0]:
            return str(body["data"][0]["sCode"])
        return str(body["code"])

    # -- streams --

    async def book_probe(self) -> WsProbe:
        """A public socket subscribed to the perp's book, once its snapshot is in."""
        if self.venue == "bybit":
            probe = await WsProbe.open(self.session, self.ep.ws_public + "/linear")
            await probe.send({"op": "subscribe", "args": [f"orderbook.50.{self.perp}"]})
        else:
            probe = await WsProbe.open(self.session, self.ep.ws_public)
            await probe.send(
                {"op": "subscribe", "args": [{"channel": "books", "instId": self.perp}]}
            )
        await probe.wait_for(lambda fs: len(self.book_frames(fs)) >= 1, "the book snapshot")
        return probe

    def book_frames(self, frames: list[Any]) -> list[tuple[str, int, int]]:
        """The book messages as (kind, prev, seq): Bybit (type, u - 1, u), OKX (action,
        prevSeqId, seqId). A contiguous stream has each prev equal to the seq before it."""
        out = []
        for f in frames:
            if not isinstance(f, dict):
                continue
            if self.venue == "bybit" and str(f.get("topic", "")).startswith("orderbook."):
                u = f["data"]["u"]
                out.append((f["type"], u - 1, u))
            elif self.venue == "okx" and f.get("arg", {}).get("channel") == "books" and "data" in f:
                d = f["data"][0]
                out.append((f["action"], d["prevSeqId"], d["seqId"]))
        return out

    async def private_probe(self) -> WsProbe:
        """An authenticated private socket subscribed to order updates (and Bybit executions)."""
        probe = await WsProbe.open(self.session, self.ep.ws_private)
        if self.venue == "bybit":
            await probe.send(bybit_auth(self.ep))
            await probe.wait_for(lambda fs: any(f.get("op") == "auth" for f in fs), "auth")
            await probe.send({"op": "subscribe", "args": ["order", "execution"]})
            await probe.wait_for(lambda fs: any(f.get("op") == "subscribe" for f in fs), "sub")
        else:
            await probe.send(okx_login(self.ep))
            await probe.wait_for(lambda fs: any(f.get("event") == "login" for f in fs), "login")
            await probe.send(
                {"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]}
            )
            await probe.wait_for(
                lambda fs: any(f.get("event") == "subscribe" for f in fs), "subscribe"
            )
        return probe

    def order_updates(self, frames: list[Any], client_id: str) -> list[str]:
        """The states the private stream reported for one order, in arrival order."""
        out = []
        channel = "order" if self.venue == "bybit" else "orders"
        for f in frames:
            if not isinstance(f, dict):
                continue
            if f.get("topic") != channel and f.get("arg", {}).get("channel") != channel:
                continue
            for row in f.get("data") or []:
                if row.get("orderLinkId", row.get("clOrdId")) == client_id:
                    state = row.get("orderStatus", row.get("state"))
                    out.append(_STATUS[state])
        return out

    def private_kinds(self, frames: list[Any]) -> list[str]:
        """The private messages in arrival order, each named by its topic or channel."""
        out = []
        for f in frames:
            if isinstance(f, dict) and "data" in f:
                out.append(f.get("topic") or f.get("arg", {}).get("channel", "?"))
        return out
