"""Measure the simulator: startup time, and book updates/s delivered to a connected WS client
per venue while orders are being matched. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/sim_throughput.py [seconds]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp

from arbiter.market.instrument import InstrumentKind
from arbiter.sim import start
from arbiter.sim.book import Side
from arbiter.sim.orders import OrderType, Rejected, TimeInForce

SUBSCRIBE = {
    "bybit-linear": (
        "/linear",
        {"op": "subscribe", "args": ["orderbook.50.BTCUSDT", "orderbook.50.ETHUSDT"]},
    ),
    "bybit-spot": (
        "/spot",
        {"op": "subscribe", "args": ["orderbook.50.BTCUSDT", "orderbook.50.ETHUSDT"]},
    ),
    "okx": (
        "",
        {
            "op": "subscribe",
            "args": [
                {"channel": "books", "instId": "BTC-USDT-SWAP"},
                {"channel": "books", "instId": "ETH-USDT-SWAP"},
                {"channel": "books", "instId": "BTC-USDT"},
                {"channel": "books", "instId": "ETH-USDT"},
            ],
        },
    ),
}


async def count_frames(
    url: str, request: dict[str, object], counter: dict[str, int], key: str
) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str(json.dumps(request))
        async for msg in ws:
            if '"delta"' in msg.data or '"update"' in msg.data:
                counter[key] += 1


async def main(seconds: float) -> None:
    t0 = time.perf_counter()
    sim = await start(venues=["bybit", "okx"], seed=1)
    startup = time.perf_counter() - t0
    print(f"startup: both venues ready in {startup:.3f} s (inside this process, after imports)")
    counter = {"bybit": 0, "okx": 0}
    readers = []
    # One client per venue: on Bybit it holds the spot and the linear socket, on OKX one socket.
    for name, (suffix, request) in SUBSCRIBE.items():
        venue = name.split("-")[0]
        url = sim.endpoints(venue).ws_public + suffix
        readers.append(asyncio.create_task(count_frames(url, request, counter, venue)))
    await asyncio.sleep(0.3)  # let the subscriptions land before counting
    counter.update(bybit=0, okx=0)
    orders = 0
    steps = 0
    start_t = time.perf_counter()
    while time.perf_counter() - start_t < seconds:
        sim.step()
        steps += 1
        if steps % 10 == 0:
            for venue in ("bybit", "okx"):
                engine = sim.engine(venue)
                inst = next(i for i in engine.instruments.values() if i.kind is InstrumentKind.PERP)
                account = next(iter(engine.accounts.values()))
                side = Side.BUY if steps % 20 else Side.SELL
                try:
                    engine.place(
                        account,
                        inst,
                        side=side,
                        order_type=OrderType.MARKET,
                        qty=inst.lot_size * 2,
                        tif=TimeInForce.IOC,
                    )
                    orders += 1
                except Rejected:
                    pass
        await asyncio.sleep(0)  # let the writers and the readers run
    elapsed = time.perf_counter() - start_t
    await asyncio.sleep(0.5)  # drain what is in flight
    for venue, n in counter.items():
        print(
            f"{venue}: {n / elapsed:,.0f} book updates/s received by one client ({n} in {elapsed:.1f} s)"
        )
    print(f"market steps: {steps / elapsed:,.0f}/s; orders matched: {orders}")
    for task in readers:
        task.cancel()
    await sim.stop()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0))
