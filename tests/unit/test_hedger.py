"""The hedger loop: residuals trigger at once, ticks while busy are absorbed, delta ends in band.

The order pipeline is stood in for by `_Fills`, which fills each slice by a fixed fraction; the
simulator-backed version of this test lives with the runtime integration tests.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.risk.hedge_plan import HedgeSlice
from arbiter.risk.hedger import Hedger, HedgeSettings, HedgeTarget
from arbiter.risk.inventory import Inventory
from arbiter.venues import Side

SWAP = Instrument(
    "okx",
    "BTC-USDT-SWAP",
    InstrumentKind.PERP,
    "BTC",
    "USDT",
    tick_size=Decimal("0.1"),
    lot_size=Decimal("0.01"),
    contract_value=Decimal("0.01"),
)
SETTINGS = HedgeSettings(
    band_notional=Decimal(250),
    max_order_notional=Decimal(6500),
    max_slippage_bps=Decimal(5),
    interval_s=10,
)


class _Fills:
    """The order pipeline as the hedger sees it: each slice fills `fraction`, and its fills
    reach the inventory as the pipeline books every order's fills."""

    def __init__(self, fraction: Decimal = Decimal(1)) -> None:
        self.fraction = fraction
        self.sent: list[HedgeSlice] = []
        self.sending = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.inventory: Inventory | None = None

    async def __call__(self, hedge_slice: HedgeSlice) -> Decimal:
        self.sent.append(hedge_slice)
        self.sending.set()
        if self.gate is not None:
            await self.gate.wait()
        filled = SWAP.round_qty_down(hedge_slice.qty * self.fraction)
        assert self.inventory is not None
        sign = 1 if hedge_slice.side is Side.BUY else -1
        self.inventory.apply_fill("BTC", "okx", "perp", filled * SWAP.contract_value * sign)
        return filled


def _hedger(inventory: Inventory, fills: _Fills) -> Hedger:
    fills.inventory = inventory
    return Hedger(
        "btc-basis",
        SETTINGS,
        inventory,
        targets={"BTC": HedgeTarget("BTC", "okx", SWAP)},
        top_of_book=lambda venue, symbol: (Decimal("65000.0"), Decimal("65000.2")),
        submit=fills,
    )


async def test_residual_when_spot_leg_filled_alone_hedges_delta_back_into_band() -> None:
    inventory = Inventory()
    inventory.apply_fill(
        "BTC", "bybit", "spot", Decimal("0.25")
    )  # a one-legged entry: 16,250 USDT long
    fills = _Fills()
    hedger = _hedger(inventory, fills)
    (plan,) = await hedger.on_residual()
    assert plan.delta_notional > SETTINGS.band_notional
    assert [s.qty for s in fills.sent] == [
        Decimal(10),
        Decimal(10),
        Decimal(5),
    ]  # 6500 USDT = 10 contracts
    assert inventory.delta("BTC").base == 0
    assert hedger.machine.state == "idle"
    assert [d.trigger for d in hedger.machine.history] == [
        "residual",
        "out_of_band",
        "hedged",
        "settled",
    ]


async def test_tick_when_delta_in_band_sends_nothing() -> None:
    inventory = Inventory()
    inventory.apply_fill("BTC", "bybit", "spot", Decimal("0.001"))
    fills = _Fills()
    hedger = _hedger(inventory, fills)
    (plan,) = await hedger.tick()
    assert plan.slices == ()
    assert fills.sent == []
    assert [d.trigger for d in hedger.machine.history] == ["measure", "in_band"]


async def test_partial_hedge_fill_when_short_stops_and_next_tick_finishes() -> None:
    inventory = Inventory()
    inventory.apply_fill("BTC", "bybit", "spot", Decimal("0.1"))  # 10 contracts to sell
    fills = _Fills(fraction=Decimal("0.5"))
    hedger = _hedger(inventory, fills)
    await hedger.tick()
    assert inventory.delta("BTC").base == Decimal("0.05")  # half filled, then it stopped
    assert [d.trigger for d in hedger.machine.history][-2:] == ["hedge_failed", "settled"]
    fills.fraction = Decimal(1)
    await hedger.tick()
    assert inventory.delta("BTC").base == 0


async def test_tick_when_hedge_in_flight_is_absorbed_not_queued() -> None:
    inventory = Inventory()
    inventory.apply_fill("BTC", "bybit", "spot", Decimal("0.05"))
    fills = _Fills()
    fills.gate = asyncio.Event()
    hedger = _hedger(inventory, fills)
    first = asyncio.create_task(hedger.tick())
    await fills.sending.wait()
    assert hedger.machine.state == "hedging"
    assert await hedger.tick() == []  # busy: absorbed
    assert await hedger.on_residual() == []
    fills.gate.set()
    await first
    assert len(fills.sent) == 1
    assert inventory.delta("BTC").base == 0


async def test_halted_hedger_when_ticked_sends_nothing_until_resumed() -> None:
    inventory = Inventory()
    inventory.apply_fill("BTC", "bybit", "spot", Decimal("0.05"))
    fills = _Fills()
    hedger = _hedger(inventory, fills)
    hedger.halt()
    assert await hedger.tick() == []
    assert fills.sent == []
    hedger.resume()
    await hedger.tick()
    assert len(fills.sent) == 1


async def test_attach_when_scheduler_given_registers_one_interval_job() -> None:
    scheduler = AsyncIOScheduler()
    scheduler.start(paused=True)  # the runtime attaches to a started scheduler
    try:
        hedger = _hedger(Inventory(), _Fills())
        hedger.attach(scheduler)
        hedger.attach(scheduler)  # re-attach on reload replaces, never duplicates
        (job,) = scheduler.get_jobs()
        assert job.id == "hedger:btc-basis"
        assert job.trigger.interval.total_seconds() == 10
        assert job.max_instances == 1
    finally:
        scheduler.shutdown(wait=False)


async def test_halt_when_slices_in_flight_stays_halted_and_sends_no_more() -> None:
    inventory = Inventory()
    inventory.apply_fill("BTC", "bybit", "spot", Decimal("0.25"))
    fills = _Fills()
    fills.gate = asyncio.Event()
    hedger = _hedger(inventory, fills)
    work = asyncio.create_task(hedger.on_residual())
    await fills.sending.wait()
    hedger.halt()  # e.g. the kill switch, while the first slice is at the venue
    fills.gate.set()
    await work  # no IllegalTransition out of the finished slice
    assert hedger.machine.state == "halted"
    assert len(fills.sent) == 1  # the slice at the venue finished; the rest were not sent
    assert await hedger.tick() == []
