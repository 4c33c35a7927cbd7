"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from arbiter.runtime.runtime import Runtime
from arbiter.sim import Simulation, start
from arbiter.sim.generator import STILL_MARKET
from tests.support.sim_runtime import engines_built, manifest, started, until


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    """Both venues listing BTC and ETH, on a market that moves only when a test moves it (no
    noise, no jumps): every cycle happens because the test opened the window."""
    simulation = await start(symbols=["BTC/USDT", "ETH/USDT"], seed=3, market=STILL_MARKET)
    yield simulation
    await simulation.stop()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder of manifests for a runtime to watch."""
    path = tmp_path / "strategies"
    path.mkdir()
    return path


@pytest.fixture
async def alpha(sim: Simulation, folder: Path, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime trading the default manifest ("alpha", one BTC pair), its engine built."""
    (folder / "a.yaml").write_text(manifest("alpha"))
    runtime = await started(folder, tmp_path, sim)
    try:
        await until(runtime, lambda: engines_built(runtime), "engine built")
        yield runtime
    finally:
        await runtime.stop()
