"""A private reconnect while an order's place request is still on its way to the venue.

The reconciliation after the reconnect queries every order the session watches; the venue does
not know this one yet, since its request has not reached the matching engine. That answer must
not make the session stop watching it: when the order then ends while the private stream is
down again, only a query by client id can tell of its end (an IOC that expired leaves no open
order and no fill behind).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from arbiter.sim import FaultKind
from arbiter.testing.session_harness import Orders, Recorder
from arbiter.venues import Side, TimeInForce
from tests.support.session_harness import SimSessionObserver, sim_harness

PLACE = {"bybit": "bybit POST /v5/order/create", "okx": "okx POST /api/v5/trade/order"}
TIMEOUT_S = 20.0


@pytest.mark.parametrize("venue", ["bybit", "okx"])
async def test_reconnect_when_an_order_is_in_flight_its_later_end_is_still_reconciled(
    venue: str, tmp_path: Path
) -> None:
    async with sim_harness(venue, tmp_path) as h:
        assert isinstance(h.observer, SimSessionObserver)
        faults = h.observer.sim.faults
        recorder = Recorder()
        orders = Orders.open(h, recorder, "race")

        # A: an IOC that cannot fill, held on its way to the engine.
        faults.add(FaultKind.REST_HOLD, PLACE[venue])
        a = orders.request("spot", Side.BUY, orders.far("spot", Side.BUY), TimeInForce.IOC)
        placing = asyncio.create_task(orders.place(a))
        await asyncio.wait_for(faults.holding.wait(), TIMEOUT_S)

        # The private socket closes on B's first event; the reconciliation after the reconnect
        # brings B's fills and queries A, which the venue does not know yet.
        faults.add(FaultKind.WS_DISCONNECT, "private:")
        b = orders.request("perp", Side.SELL, orders.crossing("perp", Side.SELL), TimeInForce.IOC)
        b_id = await orders.place(b)
        await recorder.until(lambda: orders.agrees(b_id), "B reconciled after the reconnect")
        assert not placing.done()

        # A reaches the engine and expires; the event telling so closes the socket instead.
        faults.add(FaultKind.WS_DISCONNECT, "private:")
        faults.release_held()
        a_id = await placing
        await recorder.until(lambda: orders.agrees(a_id), "A's end reconciled")
        assert orders.tracker.snapshot(a_id).state in ("cancelled", "expired")
        assert orders.refused() == []
