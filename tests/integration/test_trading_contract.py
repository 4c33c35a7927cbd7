"""The trading contract kit, run against both in-tree plugins on the simulator over loopback.

Each test gets a fresh simulator (seeded, market still unless a test moves it) and a started
plugin on its funded account; the kit compares the plugin's answers with the engine's state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from arbiter.sim import start
from arbiter.testing.trading import TradingHarness, TradingVenueContract
from arbiter.venues import TradingVenue
from tests.support.trading_harness import (
    PLUGINS,
    SIZES,
    SYMBOLS,
    SimFaults,
    SimObserver,
    fast_limits,
    sim_config,
)


class TestTradingContract(TradingVenueContract):
    @pytest.fixture(params=sorted(PLUGINS))
    async def trading_harness(
        self, request: pytest.FixtureRequest
    ) -> AsyncIterator[TradingHarness]:
        name: str = request.param
        sim = await start(venues=[name], seed=11)
        plugin = PLUGINS[name]
        venue = plugin(sim_config(sim, name), limits=fast_limits(name))
        opened: list[TradingVenue] = []

        async def connect(timeout_ms: int) -> TradingVenue:
            other = plugin(sim_config(sim, name), limits=fast_limits(name))
            await other.start()
            other.client.timeout = timeout_ms  # only requests after start are held to it
            opened.append(other)
            return other

        await venue.start()
        spot, perp = SYMBOLS[name]
        spot_qty, perp_qty = SIZES[name]
        try:
            yield TradingHarness(
                venue=venue,
                observer=SimObserver(sim, name),
                spot=spot,
                perp=perp,
                spot_qty=spot_qty,
                perp_qty=perp_qty,
                faults=SimFaults(sim, name),
                connect=connect,
            )
        finally:
            await venue.close()
            for other in opened:
                await other.close()
            await sim.stop()
