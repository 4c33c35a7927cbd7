"""An OKX balance means one thing on both paths: what the account holds of the coin (total)
and what can back a new order (free), as the simulated venue's own account records them.

With a perp position open, equity (`eq`) includes its unrealized PnL; a reconciliation that
read it for the total would move the balance away from what the stream said, and back.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from arbiter.market.instrument import InstrumentKind
from arbiter.sim import Simulation, start
from arbiter.sim.book import Side
from arbiter.sim.generator import STILL_MARKET
from arbiter.venues import ApiKeys, Balance, BalanceUpdate, VenueConfig
from arbiter_okx.streams import OkxPrivateCodec
from arbiter_okx.trading import OkxTrading
from tests.support.wire_clients import WsProbe, okx_login, okx_request

PERP = "BTC-USDT-SWAP"


def _pushed_account(frame: Any) -> bool:
    return bool(frame.get("arg", {}).get("channel") == "account" and "data" in frame)


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    simulation = await start(venues=["okx"], symbols=["BTC/USDT"], seed=5, market=STILL_MARKET)
    yield simulation
    await simulation.stop()


async def test_balance_with_a_position_open_reads_cash_on_stream_and_rest_alike(
    sim: Simulation,
) -> None:
    ep = sim.endpoints("okx")
    engine = sim.engine("okx")
    account = engine.account(ep.api_key)
    perp = engine.instrument(InstrumentKind.PERP, PERP)
    ask = perp.ticks_to_price(engine.book(perp).depth(Side.SELL, 1)[0][0])
    keys = ApiKeys(ep.api_key, ep.secret, ep.passphrase)
    codec = OkxPrivateCodec(keys, "okx", clock_s=lambda: "1")

    async with aiohttp.ClientSession() as session:
        probe = await WsProbe.open(session, ep.ws_private)
        await probe.send(okx_login(ep))
        await probe.wait_for(lambda fs: any(f.get("event") == "login" for f in fs), "login")
        await probe.send({"op": "subscribe", "args": [{"channel": "account"}]})
        await probe.wait_for(lambda fs: any(f.get("event") == "subscribe" for f in fs), "sub")
        order = {
            "instId": PERP,
            "tdMode": "cross",
            "side": "buy",
            "ordType": "ioc",
            "px": str(ask),
            "sz": "3",
            "clOrdId": "long1",
        }
        assert (await okx_request(session, ep, "POST", "/api/v5/trade/order", order)).json()[
            "code"
        ] == "0"
        await probe.wait_for(lambda fs: any(_pushed_account(f) for f in fs), "account push")
        await probe.close()

    pushed = [
        e
        for f in probe.frames
        if f != "pong" and _pushed_account(json.loads(f))
        for e in codec.decode(f, 0)
        if isinstance(e, BalanceUpdate) and e.asset == "USDT"
    ]
    trading = OkxTrading(VenueConfig("okx", "sim", {"rest": ep.rest}, keys))
    await trading.start()
    try:
        over_rest = (await trading.balances())["USDT"]
    finally:
        await trading.close()

    # The venue's own records: the cash the account holds, less the margin its position holds.
    held = account.balance("USDT")
    truth = Balance("USDT", held - account.used_margin(), held)
    assert account.position(perp).unrealized_pnl(engine.mark(perp)) != 0
    assert over_rest == truth
    assert Balance("USDT", pushed[-1].free, pushed[-1].total) == truth
    assert truth.free < truth.total == held != Decimal(0)
