"""The session contract kit against both plugins on the simulator, over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from arbiter.testing.session import VenueSessionContract
from arbiter.testing.session_harness import SessionHarness
from tests.support.session_harness import sim_harness


class TestSimulatedVenueSessions(VenueSessionContract):
    @pytest.fixture(params=["bybit", "okx"])
    async def session_harness(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AsyncIterator[SessionHarness]:
        async with sim_harness(request.param, tmp_path) as harness:
            yield harness
