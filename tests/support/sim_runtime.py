"""Runtime tests' shared parts: a manifest with both venues on the simulator (one BTC
spot/perp pair by default), the venues' rate limits lifted (the simulator enforces none), a
runtime started on a folder of manifests, and the waits and market moves the tests use."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from arbiter.runtime.pair_runner import PairRunner
from arbiter.runtime.runtime import Runtime, RuntimeOptions
from arbiter.sim import Simulation
from tests.support.trading_harness import PLUGINS, fast_limits

LIFTED = {venue: fast_limits(venue) for venue in PLUGINS}


def manifest(
    name: str,
    *,
    entry_bps: str = "10",
    pairs: str = "",
    gates: str = "",
    repair: str = "chase",
    cooldown_s: str = "0",
    leg_timeout_ms: str = "3000",
    max_unhedged_ms: str = "5000",
    retry: str = "{ max_attempts: 3, backoff_ms: 200 }",
) -> str:
    pairs = pairs or textwrap.dedent(
        """\
          - id: btc
            type: spot_perp
            asset: BTC
            spot: { venue: bybit, symbol: BTCUSDT }
            perp: { venue: okx, symbol: BTC-USDT-SWAP }
        """
    )
    text = textwrap.dedent(
        f"""\
        strategy: {{ name: {name}, version: 1 }}
        venues:
          bybit: {{ plugin: bybit, endpoint: sim }}
          okx: {{ plugin: okx, endpoint: sim }}
        pairs:
        PAIRS
        thresholds: {{ entry_bps: {entry_bps}, exit_bps: 2, min_profit_bps: 3, cooldown_s: {cooldown_s} }}
        sizing: {{ order_notional: 600, max_position_notional: 5000 }}
        hedge: {{ band_notional: 100, interval_s: 3600, max_order_notional: 2000 }}
        execution:
          max_slippage_bps: 20
          leg_timeout_ms: {leg_timeout_ms}
          repair: {{ policy: {repair}, max_chase_steps: 3, chase_step_bps: 5 }}
          retry: {retry}
        risk: {{ max_net_delta_notional: 100000, daily_loss_limit: 100000, max_unhedged_ms: {max_unhedged_ms} }}
        """
    ).replace("PAIRS\n", textwrap.indent(pairs, ""))
    return text + (f"gates:\n{gates}" if gates else "")


async def started(
    folder: Path, tmp_path: Path, sim: Simulation, *, lifted: bool = True, **options: Any
) -> Runtime:
    """A runtime on the manifests in `folder`, its journal in `tmp_path`, trading on `sim`
    (ticking every 50 ms unless `tick_s` says otherwise; the venues' rate limits lifted unless
    `lifted` is False)."""
    options.setdefault("tick_s", 0.05)
    runtime = Runtime(
        RuntimeOptions(
            targets=[folder],
            journal=tmp_path / "journal.sqlite",
            venue_limits=LIFTED if lifted else {},
            **options,
        ),
        sim=sim,
    )
    await runtime.start()
    return runtime


async def until(runtime: Runtime, check: Callable[[], bool], what: str) -> None:
    """Wait for a condition the runtime reaches on its own (a bug fails here, never hangs)."""
    assert await runtime.wait_for(check, timeout_s=30), f"timed out waiting: {what}"


def set_basis(sim: Simulation, bps: str) -> None:
    """Move OKX's BTC perp `bps` away from spot, and publish the new books."""
    sim.generator.set_basis("okx", "BTC", float(Decimal(bps) / 10_000))
    sim.step()


def engines_built(runtime: Runtime) -> bool:
    return all(h.runner.engine is not None for h in runtime.strategies.values())


async def entered(runtime: Runtime, sim: Simulation) -> PairRunner:
    """Open the basis past the entry threshold; the pair once both legs filled."""
    pair = runtime.strategies["alpha"].runner.pairs["btc"]
    set_basis(sim, "80")  # perp 80 bps rich: past entry after ~15.5 bps of taker fees
    await until(runtime, lambda: pair.machine.state == "open", "entered both legs")
    return pair
