"""Time from a decision to both orders written on the socket, against the simulator on loopback.

    .venv/bin/python benchmarks/order_path.py [samples]

Our path, per sample: build both legs' intents (deterministic client ids), run the pre-trade
checks for both and reserve funds, then send both at once through the order gateway, which
journals each intent and its `submitted` mark in SQLite (WAL) *before* the request leaves.
The clock stops when aiohttp reports the second request's body written to its socket
(`TraceConfig.on_request_chunk_sent`), so the venue's answer is not part of the figure.

The simulated venues run in their own process (`arbiter sim`), so none of their work lands on
the event loop being measured. The peer on the same loopback venues in the same run: ccxt's own `create_order` for both legs
at once, with no journal and no checks -- what a bot built straight on ccxt does. The ratio
is our path over that floor.

The orders are limit IOC buys 2% under the touch: the venue expires them at once, so every
sample meets the same books and balances. The venue's order rate limits are raised for the
run (a limiter's wait is not latency of the path); everything else is as in production.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from arbiter.execution.gateway import OrderGateway
from arbiter.execution.intent import Intent
from arbiter.execution.pretrade import PlannedLeg, PretradeChecker
from arbiter.execution.reservations import Reservations
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.store.journal import Journal
from arbiter.venues.ccxt_trading import CcxtTrading
from arbiter.venues.client_ids import IntentId
from arbiter.venues.contract import VenueLimits
from arbiter.venues.credentials import ApiKeys
from arbiter.venues.orders import OrderType, Side, TimeInForce
from arbiter.venues.session import VenueConfig
from arbiter_bybit.trading import BybitTrading
from arbiter_okx.trading import OkxTrading

LEGS = (("bybit", InstrumentKind.SPOT, "BTCUSDT"), ("okx", InstrumentKind.PERP, "BTC-USDT-SWAP"))


class SocketClock:
    """Records when each request body carrying a given client id was written to the socket."""

    def __init__(self) -> None:
        self.written: dict[str, int] = {}
        self.waiting: tuple[str, ...] = ()
        self.config = aiohttp.TraceConfig()
        self.config.on_request_chunk_sent.append(self._chunk)

    async def _chunk(
        self, session: Any, ctx: Any, params: aiohttp.TraceRequestChunkSentParams
    ) -> None:
        now = time.perf_counter_ns()
        text = params.chunk.decode(errors="replace")
        for cid in self.waiting:
            if cid in text:
                self.written.setdefault(cid, now)


def report(label: str, samples: list[int]) -> None:
    print(
        f"{label:<34} p50 {percentile(samples, 0.5):8.1f} us   "
        f"p99 {percentile(samples, 0.99):8.1f} us   p99.9 {percentile(samples, 0.999):8.1f} us"
    )


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] / 1000


async def start_venues() -> tuple[asyncio.subprocess.Process, dict[str, dict[str, str]]]:
    """`arbiter sim` in its own process: the venue's work is not on our event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "arbiter.cli",
        "sim",
        "--symbols",
        "BTC/USDT",
        "--rate",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    ends = {}
    while len(ends) < 2:
        line = json.loads(await proc.stdout.readline())
        ends[line["venue"]] = line
    return proc, ends


async def main(samples: int) -> None:
    proc, endpoints = await start_venues()
    clock = SocketClock()
    venues: dict[str, CcxtTrading] = {}
    for name, cls in (("bybit", BybitTrading), ("okx", OkxTrading)):
        ends = endpoints[name]
        config = VenueConfig(
            account=name,
            endpoint="sim",
            urls={"rest": ends["rest"]},
            keys=ApiKeys(ends["api_key"], ends["secret"], ends.get("passphrase") or None),
        )
        limits = VenueLimits(cls.default_limits.client_ids, 100_000, 100_000)
        venue = cls(config, limits=limits)
        venue.client.session = aiohttp.ClientSession(trace_configs=[clock.config])
        await venue.start()
        venues[name] = venue
    instruments: dict[str, Instrument] = {}
    limit: dict[str, Decimal] = {}
    for name, kind, symbol in LEGS:
        listed = await venues[name].instruments()
        inst = next(i for i in listed if (i.kind, i.symbol) == (kind, symbol))
        instruments[name] = inst
        book = await venues[name].client.fetch_order_book(_ccxt_symbol(kind))
        ask = Decimal(str(book["asks"][0][0]))
        limit[name] = inst.round_price_down(ask * Decimal("0.98"))  # the market does not move
    scratch = tempfile.TemporaryDirectory(prefix="arbiter-order-path-")
    journal = Journal.open(Path(scratch.name) / "journal.sqlite")
    gateway = OrderGateway(journal.tracker(), venues)
    checker = PretradeChecker(Reservations())
    balances = {(name, asset): Decimal(10**9) for name in venues for asset in ("USDT", "BTC")}

    def price(name: str) -> Decimal:
        return limit[name]

    ours: list[int] = []
    peer: list[int] = []
    for n in range(samples):
        # ours: decision -> intents -> pre-trade -> journal -> both requests on the socket
        t0 = time.perf_counter_ns()
        intents = [
            _intent(n, name, kind, symbol, instruments[name], price(name))
            for name, kind, symbol in LEGS
        ]
        legs = [PlannedLeg(i, instruments[i.venue]) for i in intents]
        verdict = checker.check_and_reserve(legs, balances)
        assert verdict.passed, verdict.reason
        clock.waiting = tuple(i.client_id for i in intents)
        await asyncio.gather(*(gateway.place(i) for i in intents))
        ours.append(max(clock.written[c] for c in clock.waiting) - t0)
        for i in intents:
            checker.reservations.release(i.client_id)
        # peer: ccxt create_order for both legs at once
        t0 = time.perf_counter_ns()
        cids = [f"p{n}x{leg}" for leg in range(2)]
        clock.waiting = tuple(cids)
        await asyncio.gather(
            *(
                _ccxt_order(venues[name], kind, instruments[name], price(name), cid)
                for (name, kind, _), cid in zip(LEGS, cids, strict=True)
            )
        )
        peer.append(max(clock.written[c] for c in cids) - t0)
    for venue in venues.values():
        await venue.client.session.close()
        await venue.close()
    journal.close()
    scratch.cleanup()
    proc.terminate()
    await proc.wait()

    print(f"{samples} decisions, two legs each (Bybit spot + OKX perp), simulator on loopback")
    report("arbiter (checks + journal + send)", ours)
    report("ccxt create_order x2 (no journal)", peer)
    print(f"arbiter / ccxt p50 = {percentile(ours, 0.5) / percentile(peer, 0.5):.2f}x")
    print(
        f"order_path p50_us={percentile(ours, 0.5):.1f} p99_us={percentile(ours, 0.99):.1f} "
        f"samples={len(ours)}"
    )


def _intent(
    n: int, venue: str, kind: InstrumentKind, symbol: str, inst: Instrument, price: Decimal
) -> Intent:
    qty = inst.round_qty_down(Decimal("0.01") / inst.contract_value)
    return Intent.build(
        IntentId("bench", "btc", n + 1, f"entry.{kind.value}"),
        venue,
        None,
        symbol=symbol,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=qty,
        price=price,
        decision_price=price,
        tif=TimeInForce.IOC,
        kind=kind.value,
    )


async def _ccxt_order(
    venue: CcxtTrading, kind: InstrumentKind, inst: Instrument, price: Decimal, cid: str
) -> None:
    market = venue.client.market(_ccxt_symbol(kind))
    qty = inst.round_qty_down(Decimal("0.01") / inst.contract_value)
    params = {venue.client_id_param: cid, "timeInForce": "IOC"}
    await venue.client.create_order(market["symbol"], "limit", "buy", str(qty), str(price), params)


def _ccxt_symbol(kind: InstrumentKind) -> str:
    return "BTC/USDT:USDT" if kind is InstrumentKind.PERP else "BTC/USDT"


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
