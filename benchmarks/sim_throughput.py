"""Measure `arbiter sim` as a user runs it: a separate process, real sockets, real clients.

  startup     time from spawning `arbiter sim` until it has printed both JSON endpoint lines
              (a fresh interpreter: imports included), best and worst of several runs
  paced       `arbiter sim --rate R` (R market steps/s, each updating all 4 books of a venue);
              one client per venue subscribes to all of that venue's books (Bybit
              `orderbook.50` on the spot and linear sockets, OKX `books` on one socket), checks
              every sequence number (Bybit `u`, OKX `prevSeqId`/`seqId`) and counts the book
              updates it receives per second, while market orders go in over signed REST and
              their fills come back on the private WS, on both venues at once
  flat out    the same with `--rate 8R`, more than the simulator can do: what it can serve
  ceiling     (the peer) the same client against a bare aiohttp server that pushes recorded
              sim frames as fast as it can: what one client on this machine can take in at all

Prints figures and, last, one `sim_throughput key=value ...` line. Asserts nothing.

    .venv/bin/python benchmarks/sim_throughput.py [--seconds 5] [--rate 600] [--orders 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

decode = msgspec.json.Decoder().decode

BYBIT_BOOKS = ["orderbook.50.BTCUSDT", "orderbook.50.ETHUSDT"]
OKX_BOOKS = ["BTC-USDT", "ETH-USDT", "BTC-USDT-SWAP", "ETH-USDT-SWAP"]


def sim_command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("arbiter")
    if script.exists():
        return [str(script), "sim", *args]
    return [sys.executable, "-c", "from arbiter.cli import main; main()", "sim", *args]


async def spawn_sim(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, dict[str, str]]]:
    proc = await asyncio.create_subprocess_exec(
        *sim_command(*args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    endpoints: dict[str, dict[str, str]] = {}
    while len(endpoints) < 2:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            err = await proc.stderr.read() if proc.stderr else b""
            raise RuntimeError(f"arbiter sim exited before printing its endpoints: {err!r}")
        info = json.loads(line)
        endpoints[info["venue"]] = info
    return proc, endpoints


async def stop_sim(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def measure_startup(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc, _ = await spawn_sim("--rate", "0")
        times.append(time.perf_counter() - t0)
        await stop_sim(proc)
    return times


# -- the book client ----------------------------------------------------------------------------


@dataclass
class BookClient:
    """Counts book updates and checks their sequence the way a venue client must."""

    counting: bool = False
    updates: int = 0
    gaps: int = 0
    frames: list[bytes] = field(default_factory=list)  # a sample, for the ceiling server
    _last: dict[str, int] = field(default_factory=dict)

    def on_bybit(self, raw: bytes, socket: str) -> None:
        msg = decode(raw)
        topic = msg.get("topic")
        if topic is None or not topic.startswith("orderbook."):
            return
        topic = f"{socket} {topic}"  # spot and linear books share their topic names
        u = msg["data"]["u"]
        if msg["type"] == "delta":
            if self._last.get(topic, u - 1) != u - 1:
                self.gaps += 1
            self._count(raw)
        self._last[topic] = u

    def on_okx(self, raw: bytes) -> None:
        msg = decode(raw)
        if msg.get("arg", {}).get("channel") != "books" or "data" not in msg:
            return
        inst, data = msg["arg"]["instId"], msg["data"][0]
        if msg.get("action") == "update":
            if self._last.get(inst) != data["prevSeqId"]:
                self.gaps += 1
            self._count(raw)
        self._last[inst] = data["seqId"]

    def _count(self, raw: bytes) -> None:
        if self.counting:
            self.updates += 1
            if len(self.frames) < 2000:
                self.frames.append(raw)


async def read_ws(
    session: aiohttp.ClientSession, url: str, subscribe: dict[str, Any], on_frame: Any
) -> None:
    async with session.ws_connect(url, max_msg_size=0) as ws:
        await ws.send_str(json.dumps(subscribe))
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                on_frame(msg.data.encode())


# -- orders over signed REST, fills over the private WS ---------------------------------------


def bybit_headers(ep: dict[str, str], body: str) -> dict[str, str]:
    ts, window = str(int(time.time() * 1000)), "5000"
    sign = hmac.new(
        ep["secret"].encode(), (ts + ep["api_key"] + window + body).encode(), hashlib.sha256
    ).hexdigest()
    return {
        "X-BAPI-API-KEY": ep["api_key"],
        "X-BAPI-TIMESTAMP": ts,
        "X-BAPI-RECV-WINDOW": window,
        "X-BAPI-SIGN": sign,
        "Content-Type": "application/json",
    }


def okx_headers(ep: dict[str, str], method: str, path: str, body: str) -> dict[str, str]:
    ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sign = base64.b64encode(
        hmac.new(
            ep["secret"].encode(), (ts + method + path + body).encode(), hashlib.sha256
        ).digest()
    ).decode()
    return {
        "OK-ACCESS-KEY": ep["api_key"],
        "OK-ACCESS-SIGN": sign,
        "OK-ACCESS-TIMESTAMP": ts,
        "OK-ACCESS-PASSPHRASE": ep["passphrase"],
        "Content-Type": "application/json",
    }


@dataclass
class OrderFlow:
    accepted: dict[str, int] = field(default_factory=lambda: {"bybit": 0, "okx": 0})
    refused: dict[str, int] = field(default_factory=lambda: {"bybit": 0, "okx": 0})
    fills: dict[str, int] = field(default_factory=lambda: {"bybit": 0, "okx": 0})


async def place_orders(
    session: aiohttp.ClientSession,
    endpoints: dict[str, dict[str, str]],
    per_second: float,
    flow: OrderFlow,
) -> None:
    n = 0
    while True:
        side = n % 2 == 0
        bybit = json.dumps(
            {
                "category": "linear",
                "symbol": "BTCUSDT",
                "side": "Buy" if side else "Sell",
                "orderType": "Market",
                "qty": "0.002",
                "orderLinkId": f"bench-{n}",
            }
        )
        okx = json.dumps(
            {
                "instId": "BTC-USDT-SWAP",
                "tdMode": "cross",
                "side": "buy" if side else "sell",
                "ordType": "market",
                "sz": "1",
                "clOrdId": f"bench{n}",
            }
        )
        ep_b, ep_o = endpoints["bybit"], endpoints["okx"]
        async with session.post(
            ep_b["rest"] + "/v5/order/create", data=bybit, headers=bybit_headers(ep_b, bybit)
        ) as resp:
            ok = (await resp.json())["retCode"] == 0
            flow.accepted["bybit"] += ok
            flow.refused["bybit"] += not ok
        path = "/api/v5/trade/order"
        async with session.post(
            ep_o["rest"] + path, data=okx, headers=okx_headers(ep_o, "POST", path, okx)
        ) as resp:
            ok = (await resp.json())["code"] == "0"
            flow.accepted["okx"] += ok
            flow.refused["okx"] += not ok
        n += 1
        await asyncio.sleep(1 / per_second)


async def watch_fills(
    session: aiohttp.ClientSession, endpoints: dict[str, dict[str, str]], flow: OrderFlow
) -> None:
    async def bybit() -> None:
        ep = endpoints["bybit"]
        expires = int(time.time() * 1000) + 60_000
        sign = hmac.new(
            ep["secret"].encode(), f"GET/realtime{expires}".encode(), hashlib.sha256
        ).hexdigest()
        async with session.ws_connect(ep["ws_private"]) as ws:
            await ws.send_str(json.dumps({"op": "auth", "args": [ep["api_key"], expires, sign]}))
            await ws.send_str(json.dumps({"op": "subscribe", "args": ["execution"]}))
            async for msg in ws:
                flow.fills["bybit"] += len(json.loads(msg.data).get("data") or [])

    async def okx() -> None:
        ep = endpoints["okx"]
        ts = str(int(time.time()))
        sign = base64.b64encode(
            hmac.new(
                ep["secret"].encode(), f"{ts}GET/users/self/verify".encode(), hashlib.sha256
            ).digest()
        ).decode()
        login = {"apiKey": ep["api_key"], "passphrase": ep["passphrase"], "timestamp": ts}
        async with session.ws_connect(ep["ws_private"]) as ws:
            await ws.send_str(json.dumps({"op": "login", "args": [login | {"sign": sign}]}))
            await ws.receive()
            sub = {"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]}
            await ws.send_str(json.dumps(sub))
            async for msg in ws:
                for order in json.loads(msg.data).get("data") or []:
                    flow.fills["okx"] += order.get("state") == "filled"

    await asyncio.gather(bybit(), okx())


async def measure_throughput(
    seconds: float, rate: float, orders_per_second: float
) -> tuple[dict[str, BookClient], OrderFlow, float]:
    proc, endpoints = await spawn_sim("--rate", str(rate), "--seed", "1")
    bybit = BookClient()
    clients = {"bybit": bybit, "okx": BookClient()}
    flow = OrderFlow()
    try:
        async with aiohttp.ClientSession() as session:
            bybit_sub = {"op": "subscribe", "args": BYBIT_BOOKS}
            okx_sub = {
                "op": "subscribe",
                "args": [{"channel": "books", "instId": i} for i in OKX_BOOKS],
            }
            public_b, public_o = endpoints["bybit"]["ws_public"], endpoints["okx"]["ws_public"]
            tasks = [
                read_ws(
                    session, public_b + "/spot", bybit_sub, partial(bybit.on_bybit, socket="spot")
                ),
                read_ws(
                    session,
                    public_b + "/linear",
                    bybit_sub,
                    partial(bybit.on_bybit, socket="linear"),
                ),
                read_ws(session, public_o, okx_sub, clients["okx"].on_okx),
                watch_fills(session, endpoints, flow),
                place_orders(session, endpoints, orders_per_second, flow),
            ]
            running = [asyncio.create_task(t) for t in tasks]
            await asyncio.sleep(1.0)  # subscriptions land, the first orders go in
            for c in clients.values():
                c.counting = True
            t0 = time.perf_counter()
            await asyncio.sleep(seconds)
            for c in clients.values():
                c.counting = False
            elapsed = time.perf_counter() - t0
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
    finally:
        await stop_sim(proc)
    return clients, flow, elapsed


# -- the ceiling: a bare server pushing the same frames -----------------------------------------


async def serve_ceiling(frames_file: str) -> None:
    """Child process: send the recorded frames round and round to whoever connects."""
    with open(frames_file, "rb") as fh:  # noqa: ASYNC230 - read once, before serving
        frames = fh.read().split(b"\n")

    async def push(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        with contextlib.suppress(ConnectionError):
            while not ws.closed:
                for frame in frames:
                    await ws.send_frame(frame, aiohttp.WSMsgType.TEXT)
                await asyncio.sleep(0)
        return ws

    app = web.Application()
    app.router.add_get("/", push)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


async def measure_ceiling(frames: list[bytes], seconds: float) -> float:
    # The server is its own process, as the simulator is, so the client keeps its core.
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"sim_throughput_frames_{os.getpid()}"
    path.write_bytes(b"\n".join(frames))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-ceiling", str(path), stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    count = 0
    try:
        port = int(await asyncio.wait_for(proc.stdout.readline(), 30))
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"ws://127.0.0.1:{port}/", max_msg_size=0) as ws,
        ):
            t0 = time.perf_counter()
            async for msg in ws:
                decode(msg.data.encode())
                count += 1
                if time.perf_counter() - t0 >= seconds:
                    break
            elapsed = time.perf_counter() - t0
            proc.kill()  # it never reads, so it would never answer a polite close
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        path.unlink(missing_ok=True)
    return count / elapsed


def report(label: str, rate: float, run: tuple[dict[str, BookClient], OrderFlow, float]) -> None:
    clients, flow, elapsed = run
    for venue, c in clients.items():
        print(
            f"{label} {venue}: {c.updates / elapsed:,.0f} book updates/s received by one client"
            f" (asked {rate * 4:,.0f}/s: {rate:g} steps x 4 books; {c.updates} in"
            f" {elapsed:.1f} s; sequence gaps {c.gaps}); orders accepted"
            f" {flow.accepted[venue]}, refused {flow.refused[venue]}; fills on the private WS"
            f" {flow.fills[venue]}"
        )


def per_second(run: tuple[dict[str, BookClient], OrderFlow, float], venue: str) -> float:
    clients, _, elapsed = run
    return clients[venue].updates / elapsed


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=600.0, help="market steps per second")
    parser.add_argument("--orders", type=float, default=20.0, help="orders/s on each venue")
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--serve-ceiling", metavar="FRAMES", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_ceiling:
        await serve_ceiling(args.serve_ceiling)
        return

    startup = await measure_startup(args.startup_runs)
    print(
        f"startup: `arbiter sim` printed both venues' endpoints in {min(startup):.2f} s"
        f" (worst {max(startup):.2f} s of {len(startup)}; a fresh interpreter each)"
    )
    paced = await measure_throughput(args.seconds, args.rate, args.orders)
    report("paced", args.rate, paced)
    flat_out = await measure_throughput(args.seconds, args.rate * 8, args.orders)
    report("flat out", args.rate * 8, flat_out)
    sample = paced[0]["bybit"].frames + paced[0]["okx"].frames
    ceiling = await measure_ceiling(sample, min(args.seconds, 3.0)) if sample else 0.0
    capacity = per_second(flat_out, "bybit") + per_second(flat_out, "okx")
    ratio = capacity / ceiling if ceiling else 0.0
    print(
        f"ceiling: a bare aiohttp server pushing the same frames reaches one client at"
        f" {ceiling:,.0f} frames/s; the simulator flat out (both venues) is {ratio:.2f} of it"
    )
    gaps = sum(c.gaps for run in (paced, flat_out) for c in run[0].values())
    print(
        "sim_throughput"
        f" startup_s={min(startup):.2f} startup_worst_s={max(startup):.2f}"
        f" rate={args.rate:g}"
        f" bybit_updates_per_s={per_second(paced, 'bybit'):.0f}"
        f" okx_updates_per_s={per_second(paced, 'okx'):.0f}"
        f" flat_out_bybit_updates_per_s={per_second(flat_out, 'bybit'):.0f}"
        f" flat_out_okx_updates_per_s={per_second(flat_out, 'okx'):.0f}"
        f" gaps={gaps}"
        f" orders={sum(paced[1].accepted.values())}"
        f" fills={sum(paced[1].fills.values())}"
        f" ceiling_frames_per_s={ceiling:.0f}"
        f" ratio={ratio:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
