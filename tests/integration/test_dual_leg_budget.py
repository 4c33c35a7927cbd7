"""The unhedged budget of a one-legged result counts from the first fill, not from when both
legs ended: a leg that takes its whole timeout to end must not extend the time a position
stays naked."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.execution.dual_leg import DualLegExecutor, LegOrder
from arbiter.execution.gateway import OrderGateway
from arbiter.execution.intent import Intent
from arbiter.execution.order_tracker import OrderTracker
from arbiter.store import Journal
from arbiter.testing.session_harness import Orders, Recorder
from arbiter.venues import OrderType, Side, TimeInForce
from arbiter.venues.contract.client_ids import IntentId
from tests.support.session_harness import sim_harness


@pytest.mark.parametrize("venue", ["bybit", "okx"])
async def test_execute_when_one_leg_fills_first_fill_time_is_when_its_fill_arrived(
    venue: str, tmp_path: Path
) -> None:
    async with sim_harness(venue, tmp_path) as h:
        journal = Journal.open(tmp_path / "journal.sqlite")
        trading = h.session.trading
        gateway = OrderGateway(OrderTracker(journal), {trading.name: trading})
        h.session.on_private(gateway.on_private)
        executor = DualLegExecutor(gateway)
        prices = Orders.open(h, Recorder(), "prices")  # only for its touch-relative prices
        instruments = h.session.instruments()

        def leg(kind: str, side: Side, price: Decimal) -> LegOrder:
            symbol = h.symbol(kind)
            intent = Intent.build(
                IntentId("budget", "btc", 1, f"entry.{kind}"),
                trading.name,
                trading.limits.client_ids,
                symbol=symbol,
                side=side,
                order_type=OrderType.LIMIT,
                qty=h.spot_qty if kind == "spot" else h.perp_qty,
                price=price,
                decision_price=price,
                tif=TimeInForce.IOC,
                kind=kind,
            )
            return LegOrder(kind, intent, instruments[(kind, symbol)])

        spot = leg("spot", Side.BUY, prices.crossing("spot", Side.BUY))  # fills at once
        perp = leg("perp", Side.SELL, prices.far("perp", Side.SELL))  # expires unfilled
        result = await executor.execute([spot, perp], leg_timeout_ms=5_000)
        ended_ns = time.monotonic_ns()

        assert result.outcome == "one_leg_filled"
        fills = gateway.tracker.fills(spot.intent.client_id)
        assert fills
        assert result.first_fill_ns == min(f.ts_local_ns for f in fills)
        assert 0 < result.first_fill_ns <= ended_ns
        journal.close()
