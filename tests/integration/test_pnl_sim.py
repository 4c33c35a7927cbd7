"""A strategy's realized PnL against the venue's own records, across orders and restarts, with
the real plugins against the simulator.

Hedge orders go out exactly as the hedger sends them (an intent of the strategy's `hedge` pair,
through the runtime's order gateway); the market moves only when the test moves it. The loss
they make is read back from the simulator's executions, and the strategy's books must show it:
in its hedge line, in its realized PnL, in its PnL of the trading day, and after a restart
that rebuilds the books from the journal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.execution.intent import Intent
from arbiter.runtime.host import StrategyHost
from arbiter.runtime.ledger import HEDGE_PAIR
from arbiter.runtime.runtime import Runtime, RuntimeOptions
from arbiter.sim import Simulation, start
from arbiter.sim.control import state
from arbiter.sim.generator import STILL_MARKET
from arbiter.venues import OrderType, Side, TimeInForce
from arbiter.venues.contract.client_ids import IntentId
from arbiter.venues.streams.private import wall_ms
from tests.support.sim_runtime import LIFTED, manifest

D = Decimal
WAIT_S = 30.0
HOUR_MS = 3_600_000
PERP = "BTC-USDT-SWAP"  # OKX: contracts of 0.01 BTC


@dataclass
class Desk:
    sim: Simulation
    tmp_path: Path
    offset_ms: int = 0  # how far the runtime's clock runs ahead of the wall
    started: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        assert self.started is not None
        return self.started

    async def until(self, check: Callable[[], bool], what: str) -> None:
        assert await self.runtime.wait_for(check, WAIT_S), f"timed out waiting: {what}"

    @property
    def host(self) -> StrategyHost:
        return self.runtime.strategies["alpha"]

    async def start(self) -> None:
        self.started = Runtime(
            RuntimeOptions(
                targets=[self.tmp_path / "strategies"],
                journal=self.tmp_path / "journal.sqlite",
                tick_s=0.05,
                venue_limits=LIFTED,
            ),
            sim=self.sim,
            clock_ms=lambda: wall_ms() + self.offset_ms,
        )
        await self.runtime.start()
        await self.until(lambda: self.host.runner.engine is not None, "spread engine built")

    def touch(self, side: Side) -> Decimal | None:
        leg = self.host.runner.pairs["btc"].pair.legs[1]  # the OKX perp
        return self.runtime.market.touch(leg, side)

    async def hedge(self, side: Side, contracts: str) -> str:
        """One hedge order, as the hedger sends it: a limit IOC through the strategy's touch."""
        touch = self.touch(side)
        assert touch is not None
        seq = self.runtime.hedges.next_seq("alpha")
        inst = self.runtime.market.instruments[("okx", "perp", PERP)]
        price = touch * (D("1.002") if side is Side.BUY else D("0.998"))
        intent = Intent.build(
            IntentId("alpha", HEDGE_PAIR, seq, "hedge.BTC"),
            "okx",
            self.runtime.market.rules["okx"],
            symbol=PERP,
            side=side,
            order_type=OrderType.LIMIT,
            qty=D(contracts),
            price=inst.round_price_up(price) if side is Side.BUY else inst.round_price_down(price),
            decision_price=touch,
            tif=TimeInForce.IOC,
            kind="perp",
        )
        await self.runtime.gateway.place(intent)
        snap = await self.runtime.gateway.wait_final(intent.client_id, WAIT_S)
        assert snap.state == "filled", snap
        return intent.client_id

    async def perp_falls(self, bps: str) -> None:
        """Move OKX's perp `bps` below spot and wait until the runtime's book shows it."""
        bid = self.touch(Side.SELL)
        assert bid is not None
        self.sim.generator.set_basis("okx", "BTC", float(-D(bps) / 10_000))
        self.sim.step()
        await self.until(
            lambda: (now := self.touch(Side.SELL)) is not None and now < bid * D("0.995"),
            "the perp's book moved down",
        )

    async def loss_from_hedges(self) -> tuple[Decimal, Decimal]:
        """Buy 3 contracts, let the perp fall, sell them: (trading result, fees), as the venue
        recorded the two orders' executions."""
        bought = await self.hedge(Side.BUY, "3")
        await self.perp_falls("150")
        sold = await self.hedge(Side.SELL, "3")
        executions = [
            e for e in state(self.sim)["okx"]["executions"] if e["client_id"] in (bought, sold)
        ]
        value = sum(
            (
                D(e["price"]) * D(e["qty"]) * D("0.01") * (1 if e["side"] == "sell" else -1)
                for e in executions
            ),
            D(0),
        )
        assert {e["fee_coin"] for e in executions} == {"USDT"}
        return value, sum((D(e["fee"]) for e in executions), D(0))


def time_of_day(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%H:%M")


def write_manifest(tmp_path: Path, day_start: str) -> None:
    text = manifest("alpha")
    assert text.count("daily_loss_limit: 100000") == 1
    text = text.replace(
        "daily_loss_limit: 100000",
        f'daily_loss_limit: 100000, trading_day_start_utc: "{day_start}"',
    )
    (tmp_path / "strategies" / "alpha.yaml").write_text(text)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    (tmp_path / "strategies").mkdir()
    write_manifest(tmp_path, "00:00")
    sim = await start(symbols=["BTC/USDT"], seed=3, market=STILL_MARKET)
    opened = Desk(sim, tmp_path)
    try:
        await opened.start()
        yield opened
    finally:
        if opened.started is not None:
            await opened.started.stop()
        await sim.stop()


async def test_hedge_when_bought_then_sold_lower_books_the_loss_the_venue_made(
    desk: Desk,
) -> None:
    trading, fees = await desk.loss_from_hedges()

    assert trading < 0
    ledger = desk.host.ledger
    assert ledger.realized == trading - fees  # not -fees: one running book for the hedger
    lines = ledger.lines()
    assert (lines.spread, lines.hedge, lines.funding, lines.fees) == (D(0), trading, D(0), fees)
    pnl = desk.runtime.status()["strategies"][0]["pnl"]
    assert {k: D(v) for k, v in pnl.items()} == {
        "spread": D(0),
        "hedge": trading,
        "funding": D(0),
        "fees": fees,
        "realized": trading - fees,
        "today": trading - fees,
    }


async def test_daily_pnl_when_restarted_is_rebuilt_and_counts_by_the_trading_day(
    desk: Desk, tmp_path: Path
) -> None:
    # Trading days start an hour from now: the loss falls in the day that ends then.
    started = wall_ms()
    write_manifest(tmp_path, time_of_day(started + HOUR_MS))
    desk.runtime.reload_now()
    await desk.until(
        lambda: (
            desk.host.loaded.manifest.risk.trading_day_start_utc == time_of_day(started + HOUR_MS)
        ),
        "the day boundary reloaded",
    )
    trading, fees = await desk.loss_from_hedges()
    loss = trading - fees
    assert loss < 0
    assert desk.host.ledger.realized_today() == loss

    # A restart rebuilds the day's figure from the journal: the loss still counts today.
    await desk.runtime.stop()
    await desk.start()
    assert desk.host.ledger.realized == loss
    assert desk.host.ledger.realized_today() == loss

    # Two hours on, past the day boundary: yesterday's loss does not count today.
    desk.offset_ms = 2 * HOUR_MS
    assert desk.host.ledger.realized_today() == 0
    assert D(desk.runtime.status()["strategies"][0]["pnl"]["today"]) == 0

    # The boundary moved three hours on from the start: the loss is in today again.
    later = time_of_day(started + 3 * HOUR_MS)
    write_manifest(tmp_path, later)
    desk.runtime.reload_now()
    await desk.until(
        lambda: desk.host.ledger.day_start.strftime("%H:%M") == later, "the new boundary"
    )
    assert desk.host.ledger.realized_today() == loss
    assert desk.host.ledger.realized == loss
