"""The simulator speaks Bybit as Bybit does: every private push and REST answer the simulated
Bybit sends, compared with Bybit's own messages (tests/fixtures/venues/real/bybit) channel by
channel, by shape: the set of JSON key paths and each value's JSON type.

- a path the simulator sends that no captured message of the channel has fails (the simulator
  invented a field, or named one as another channel does: `avgPrice` on a position push);
- a path every captured message of the channel has that the simulator lacks fails;
- a value of a JSON type the venue never sends there fails ("0" where Bybit sends 0).
The differences the simulator keeps on purpose are listed below, each with why.

The simulated venue is driven over its own wire (signed REST, raw WebSockets) through every
event the channels carry: fills on spot and perp, a resting and a cancelled order, an order
rejected after a partial fill, a funding settlement, an auto-deleveraging.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from arbiter.market.instrument import InstrumentKind
from arbiter.sim import Simulation, start
from arbiter.sim.book import Side as SimSide
from tests.support.bybit_corpus import channel_files, key_paths, load, merged
from tests.support.wire_clients import Speaker, WsProbe, bybit_auth

D = Decimal
DAY_MS = 86_400_000

# (channel, path) -> why the simulator sends it though no captured message of the channel has
# it. None today; an entry that no longer differs fails `test_known_differences_still_differ`.
SIM_ONLY: dict[tuple[str, str], str] = {}
# (channel, path) -> why the simulator leaves out a path every captured message has. None today.
VENUE_ONLY: dict[tuple[str, str], str] = {}


@dataclass
class Heard:
    pushes: dict[str, list[Any]]  # private topic -> frames
    public: dict[str, list[Any]]  # channel -> frames
    rest: dict[str, list[Any]]  # channel -> answers


async def _drive(sim: Simulation) -> Heard:
    engine = sim.engine("bybit")
    for funding in engine.funding.values():  # no funding time falls inside the test by itself
        funding.next_ms = engine.clock.now_ms() + DAY_MS
    ep = sim.endpoints("bybit")
    account = engine.account(ep.api_key)
    perp = engine.instrument(InstrumentKind.PERP, "BTCUSDT")
    async with aiohttp.ClientSession() as session:
        private = await WsProbe.open(session, ep.ws_private)
        await private.send(bybit_auth(ep))
        await private.send(
            {"op": "subscribe", "args": ["order", "execution", "position", "wallet"]}
        )
        await private.wait_for(
            lambda fs: any(f.get("op") == "subscribe" for f in fs), "the private subscribe ack"
        )
        public = await WsProbe.open(session, f"{ep.ws_public}/linear")
        topics = ["orderbook.50.BTCUSDT", "tickers.BTCUSDT", "publicTrade.BTCUSDT"]
        await public.send({"op": "subscribe", "args": topics})
        await public.wait_for(
            lambda fs: any(f.get("topic") == "orderbook.50.BTCUSDT" for f in fs), "a snapshot"
        )
        bybit = Speaker("bybit", ep, session)
        assert bybit.accepted(await bybit.place("perp-buy", "buy", qty="0.05"))  # fills: long
        spot = engine.instrument(InstrumentKind.SPOT, "BTCUSDT")
        ask = engine.book(spot).depth(SimSide.SELL, 1)[0][0]
        through = str(spot.ticks_to_price(ask + 10))  # a limit through the best ask: it takes
        assert bybit.accepted(await bybit.place("spot-buy", "buy", through, "IOC", spot=True))
        assert bybit.accepted(await bybit.place("spot-rest", "buy", "10000", spot=True))
        assert bybit.accepted(await bybit.place("perp-rest", "buy", "10000"))
        assert bybit.accepted(await bybit.cancel("perp-rest"))
        # A limit buy through the best ask for more than rests there: part fills, the venue
        # rejects the rest.
        ticks, lots = engine.book(perp).depth(SimSide.SELL, 1)[0]
        qty = perp.lots_to_qty(lots) + perp.lot_size
        price = str(perp.ticks_to_price(ticks))
        assert bybit.accepted(await bybit.place("perp-part", "buy", price, qty=str(qty)))
        engine.reject_rest(account, engine.find_order(account, None, "perp-part"))
        state = engine.funding["perp:BTCUSDT"]
        state.next_ms = engine.clock.now_ms()
        assert engine.settle_funding() == 1
        engine.force_trade(account, perp, "adl", D("0.01"), engine.mark(perp))
        await private.wait_for(
            lambda fs: any(
                r.get("execType") == "AdlTrade" for f in fs for r in f.get("data") or []
            ),
            "the forced trade's execution",
        )
        await public.wait_for(
            lambda fs: any(f.get("topic", "").startswith("publicTrade") for f in fs), "a trade"
        )
        rest: dict[str, list[Any]] = {}
        reads = [
            ("rest_order_realtime", "/v5/order/realtime", {"category": "linear"}),
            ("rest_order_realtime", "/v5/order/realtime", {"category": "spot"}),
            ("rest_order_history", "/v5/order/history", {"category": "linear"}),
            ("rest_execution_list", "/v5/execution/list", {"category": "linear"}),
            ("rest_execution_list", "/v5/execution/list", {"category": "spot"}),
            ("rest_position_list", "/v5/position/list", {"category": "linear"}),
            ("rest_wallet_balance", "/v5/account/wallet-balance", {"accountType": "UNIFIED"}),
        ]
        for channel, path, params in reads:
            answer = (await bybit.request("GET", path, params)).json()
            assert answer["retCode"] == 0, answer
            rest.setdefault(channel, []).append(answer)
        await private.close()
        await public.close()
    pushes: dict[str, list[Any]] = {}
    for frame in private.parsed():
        pushes.setdefault(f"ws_{frame['topic']}" if "topic" in frame else "ws_op", []).append(frame)
    by_topic: dict[str, list[Any]] = {}
    for frame in public.parsed():
        if "topic" in frame:
            channel = "ws_public_" + {"orderbook": "orderbook", "tickers": "ticker"}.get(
                frame["topic"].split(".")[0], "trade"
            )
            by_topic.setdefault(channel, []).append(frame)
    return Heard(pushes, by_topic, rest)


@pytest.fixture(scope="module")
def heard() -> Heard:
    async def run() -> Heard:
        sim = await start(venues=["bybit"], seed=13)
        try:
            return await _drive(sim)
        finally:
            await sim.stop()

    return asyncio.run(run())


def _differences(channel: str, sim_docs: list[Any]) -> list[str]:
    venue_docs = [load(f"{channel}/{path.name}") for path in channel_files(channel)]
    venue = merged(venue_docs)
    always = set.intersection(*(set(key_paths(doc)) for doc in venue_docs))
    sim = merged(sim_docs)
    out = []
    for path in sorted(sim.keys() - venue.keys()):
        if (channel, path) not in SIM_ONLY:
            out.append(f"{channel}: the simulator sends {path}, Bybit never does")
    for path in sorted(always - sim.keys()):
        if (channel, path) not in VENUE_ONLY:
            out.append(f"{channel}: Bybit always sends {path}, the simulator does not")
    for path in sorted(sim.keys() & venue.keys()):
        if not sim[path] <= venue[path]:
            out.append(
                f"{channel}: {path} is {sorted(sim[path])} from the simulator,"
                f" {sorted(venue[path])} from Bybit"
            )
    return out


PRIVATE = ["ws_op", "ws_order", "ws_execution", "ws_position", "ws_wallet"]
PUBLIC = ["ws_public_orderbook", "ws_public_ticker", "ws_public_trade"]
REST = [
    "rest_order_realtime",
    "rest_order_history",
    "rest_execution_list",
    "rest_position_list",
    "rest_wallet_balance",
]


@pytest.mark.parametrize("channel", PRIVATE + PUBLIC + REST)
def test_simulator_message_when_compared_with_bybits_has_its_key_paths_and_types(
    heard: Heard, channel: str
) -> None:
    sim_docs = {**heard.pushes, **heard.public, **heard.rest}.get(channel, [])
    assert sim_docs, f"the simulator sent nothing on {channel}"
    assert _differences(channel, sim_docs) == []


def test_known_differences_still_differ(heard: Heard) -> None:
    sent = {**heard.pushes, **heard.public, **heard.rest}
    for channel, path in SIM_ONLY:
        assert path in merged(sent[channel]), f"{channel} {path}: no longer sent, unlist it"
    for channel, path in VENUE_ONLY:
        assert path not in merged(sent[channel]), f"{channel} {path}: now sent, unlist it"


def test_simulator_when_driven_sent_every_kind_the_corpus_has(heard: Heard) -> None:
    executions = [r for f in heard.pushes["ws_execution"] for r in f["data"]]
    assert {r["execType"] for r in executions} == {"Trade", "Funding", "AdlTrade"}
    listed = [r for a in heard.rest["rest_execution_list"] for r in a["result"]["list"]]
    assert {r["execType"] for r in listed} == {"Trade", "Funding", "AdlTrade"}
    statuses = {r["orderStatus"] for f in heard.pushes["ws_order"] for r in f["data"]}
    assert statuses >= {"New", "Filled", "Cancelled", "Rejected", "PartiallyFilled"}
    (rejected,) = [
        r for f in heard.pushes["ws_order"] for r in f["data"] if r["orderStatus"] == "Rejected"
    ]
    assert D(rejected["cumExecQty"]) > 0  # rejected after a partial fill, as Bybit does
    wallet = [c for f in heard.pushes["ws_wallet"] for a in f["data"] for c in a["coin"]]
    # Bybit's unified-account quirk: nothing to withdraw, whatever the wallet holds.
    assert {c["availableToWithdraw"] for c in wallet} == {"0"}
    assert any(D(c["walletBalance"]) > 0 for c in wallet)
    positions = [r for f in heard.pushes["ws_position"] for r in f["data"]]
    assert all("entryPrice" in r and "avgPrice" not in r for r in positions)
    rows = [r for a in heard.rest["rest_position_list"] for r in a["result"]["list"]]
    assert all("avgPrice" in r and "entryPrice" not in r for r in rows)
    assert json.dumps(heard.pushes["ws_op"])  # the auth and subscribe answers were heard
