"""Restart recovery against the simulator with the real plugins, without their streams.

A private stream's reconnect reads only recent fills (its lookback), so a runtime down longer
than that learns of an order's fills from recovery alone. These tests start from a journal a
crashed process left (an order journaled as sent, its answer never journaled) and run
`reconcile` with trading objects that have no stream at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.execution.gateway import OrderGateway
from arbiter.execution.intent import Intent
from arbiter.execution.order_tracker import OrderTracker
from arbiter.execution.recovery import reconcile
from arbiter.market.instrument import InstrumentKind
from arbiter.sim import Simulation, start
from arbiter.sim.control import state
from arbiter.sim.generator import STILL_MARKET
from arbiter.store import Journal, restore_orders
from arbiter.venues import OrderType, Side, TimeInForce
from arbiter.venues.contract.client_ids import IntentId
from arbiter_okx.limits import OKX_CLIENT_IDS
from tests.support.journal_agreement import assert_journal_agrees
from tests.support.trading_harness import trading

D = Decimal


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    simulation = await start(symbols=["BTC/USDT"], seed=7, market=STILL_MARKET)
    yield simulation
    await simulation.stop()


def perp_sell(sim: Simulation, cycle: int) -> Intent:
    okx = sim.engine("okx")
    inst = okx.instrument(InstrumentKind.PERP, "BTC-USDT-SWAP")
    bid = okx.book(inst).best_bid()
    assert bid is not None
    price = inst.ticks_to_price(bid)
    return Intent.build(
        IntentId("crashed", "btc", cycle, "entry.perp"),
        "okx",
        OKX_CLIENT_IDS,
        symbol="BTC-USDT-SWAP",
        side=Side.SELL,
        order_type=OrderType.LIMIT,
        qty=D(1),
        price=inst.round_price_down(price * D("0.998")),
        decision_price=price,
        tif=TimeInForce.IOC,
        kind="perp",
    )


async def test_recovery_when_sent_order_filled_while_down_applies_its_fills(
    sim: Simulation, tmp_path: Path
) -> None:
    intent = perp_sell(sim, 1)
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:  # the process that crashed: sent, answer lost
        tracker = OrderTracker(journal)
        tracker.add(intent)
        tracker.submitted(intent.client_id)
        async with trading(sim, "okx") as okx:
            await okx.place_order(intent.request)

    with Journal.open(path) as journal:  # the restart
        tracker = OrderTracker(journal)
        restore_orders(journal.load_state(), tracker)
        async with trading(sim, "okx") as okx:
            report = await reconcile(OrderGateway(tracker, {"okx": okx}), {"okx": okx}, journal)

        assert report.resolved == {intent.client_id: "filled"}
        snap = tracker.snapshot(intent.client_id)
        assert snap.fills_qty == snap.filled_qty == D(1)
        assert [f.qty for f in tracker.fills(intent.client_id)] == [D(1)]
        assert_journal_agrees(journal.connection, state(sim), ("BTC/USDT",))
