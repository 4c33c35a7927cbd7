"""The shared runtime against the simulator, over real sockets, with the real venue plugins.

The market only moves when a test steps it, and its basis only changes when a test sets it
(no noise, no jumps), so every cycle here happens because the test opened the window. Waits are
on conditions with a generous timeout, never on a fixed sleep.
"""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from arbiter.commands.run import status_table
from arbiter.market.instrument import InstrumentKind
from arbiter.risk.trading import OPERATOR, REDUCING
from arbiter.runtime.runtime import Runtime
from arbiter.sim import Simulation
from tests.support.sim_runtime import (
    engines_built,
    entered,
    manifest,
    set_basis,
    started,
    until,
)

D = Decimal


# Lifting the venues' rate limits keeps each start near 0.2 s instead of ~2 s of ccxt's
# published pacing (the first test keeps the published limits).


async def test_runtime_when_two_manifests_share_venues_opens_one_session_per_account(
    sim: Simulation, folder: Path, tmp_path: Path
) -> None:
    (folder / "a.yaml").write_text(manifest("alpha"))
    eth = "  - { id: eth, type: spot_perp, asset: ETH, spot: { venue: bybit, symbol: ETHUSDT }, perp: { venue: okx, symbol: ETH-USDT-SWAP } }\n"
    (folder / "b.yaml").write_text(manifest("beta", pairs=eth))
    runtime = await started(folder, tmp_path, sim, lifted=False)
    try:
        assert sorted(runtime.strategies) == ["alpha", "beta"]
        assert sorted(runtime.accounts.sessions()) == ["bybit", "okx"]
        await until(runtime, lambda: engines_built(runtime), "both spread engines built")
        status = runtime.status()
        assert {s["name"]: s["state"] for s in status["strategies"]} == {
            "alpha": "active",
            "beta": "active",
        }
        assert all(s["fast_lane_us"]["p99"] is not None for s in status["strategies"])
        rendered = io.StringIO()
        Console(file=rendered, width=200).print(status_table(runtime))  # the live view
        assert "alpha" in rendered.getvalue()
    finally:
        await runtime.stop()


async def test_runtime_when_basis_opens_then_closes_completes_a_hedged_cycle(
    alpha: Runtime, sim: Simulation
) -> None:
    runtime, host = alpha, alpha.strategies["alpha"]
    pair = await entered(runtime, sim)
    assert pair.open_base > 0
    spot_lot = sim.engine("bybit").instrument(InstrumentKind.SPOT, "BTCUSDT").lot_size
    delta = host.runner.inventory.delta("BTC")
    # hedged: long spot (bought up by the fee it pays in BTC), short the same base on the perp
    assert delta.perp == -pair.open_base
    assert 0 <= delta.base < spot_lot
    set_basis(sim, "-40")  # converged past the exit threshold
    await until(runtime, lambda: pair.stats.cycles_completed == 1, "exited both legs")
    assert 0 <= host.runner.inventory.delta("BTC").base < spot_lot  # flat but for dust
    okx = sim.engine("okx")
    perp = okx.instrument(InstrumentKind.PERP, "BTC-USDT-SWAP")
    account = next(iter(okx.accounts.values()))
    assert account.position(perp).qty == 0
    assert host.ledger.fills >= 4
    rows = runtime.journal.connection.execute(
        "SELECT dest FROM cycle_transitions WHERE strategy = 'alpha' ORDER BY id"
    ).fetchall()
    assert [r[0] for r in rows][:5] == ["armed", "entering", "open", "exiting", "cooling_down"]


async def test_runtime_when_perp_book_is_thin_gate_blocks_entry_with_its_numbers(
    sim: Simulation, folder: Path, tmp_path: Path
) -> None:
    gate = (
        "  - { name: perp-depth, type: min_depth, when: before_entry, leg: perp, side: auto,"
        " within_bps: 10, min_order_multiple: 100000 }\n"
    )
    (folder / "a.yaml").write_text(manifest("alpha", gates=gate))
    runtime = await started(folder, tmp_path, sim)
    try:
        await until(runtime, lambda: engines_built(runtime), "engine built")
        host = runtime.strategies["alpha"]
        pair = host.runner.pairs["btc"]
        set_basis(sim, "80")
        await until(
            runtime, lambda: host.runner.gate_stats.failed["perp-depth"] > 0, "gate evaluated"
        )
        assert pair.machine.state == "armed"
        assert pair.stats.entries == 0
        reason = host.runner.gate_stats.last_failure["perp-depth"]
        assert "okx:BTC-USDT-SWAP bid depth within 10 bps" in reason
        assert "needs" in reason
    finally:
        await runtime.stop()


async def test_reload_when_threshold_edited_applies_in_place_without_reconnect(
    alpha: Runtime, folder: Path
) -> None:
    runtime = alpha
    sessions = dict(runtime.accounts.sessions())
    before = runtime.status()["strategies"][0]["manifest_sha256"]
    (folder / "a.yaml").write_text(manifest("alpha", entry_bps="25"))
    await until(
        runtime, lambda: runtime.status()["strategies"][0]["manifest_sha256"] != before, "reloaded"
    )
    pair = runtime.strategies["alpha"].runner.pairs["btc"]
    assert pair.pair.thresholds.entry_bps == D(25)
    assert runtime.accounts.sessions() == sessions  # the same session objects: no reconnect
    versions = runtime.journal.manifest_versions("alpha")
    assert len(versions) == 2
    assert "thresholds changed in place" in (versions[-1].diff or "")


async def test_reload_when_manifest_invalid_keeps_old_version_and_reports_position(
    alpha: Runtime, folder: Path
) -> None:
    runtime, path = alpha, folder / "a.yaml"
    before = runtime.status()["strategies"][0]["manifest_sha256"]
    path.write_text(manifest("alpha", entry_bps="1"))  # exit 2 >= entry 1: invalid
    await until(
        runtime,
        lambda: runtime.status()["strategies"][0]["last_reload_error"] is not None,
        "error reported",
    )
    body = runtime.status()["strategies"][0]
    assert body["manifest_sha256"] == before
    assert body["state"] == "active"
    assert f"{path}:" in body["last_reload_error"]
    assert "expected exit_bps < entry_bps" in body["last_reload_error"]


async def test_reload_when_pair_removed_and_added_drains_one_and_starts_the_other(
    alpha: Runtime, folder: Path
) -> None:
    runtime = alpha
    eth = "  - { id: eth, type: spot_perp, asset: ETH, spot: { venue: bybit, symbol: ETHUSDT }, perp: { venue: okx, symbol: ETH-USDT-SWAP } }\n"
    (folder / "a.yaml").write_text(manifest("alpha", pairs=eth))
    runner = runtime.strategies["alpha"].runner
    await until(runtime, lambda: list(runner.pairs) == ["eth"] and not runner.draining, "swapped")
    await until(runtime, lambda: runner.engine is not None, "engine rebuilt")
    watched = runtime.strategies["alpha"].watched
    assert ("bybit", "spot", "ETHUSDT") in watched
    assert ("bybit", "spot", "BTCUSDT") not in watched


async def test_reload_when_a_pair_holding_a_position_is_removed_it_leaves_once_it_exits_flat(
    sim: Simulation, folder: Path, tmp_path: Path
) -> None:
    (folder / "a.yaml").write_text(manifest("alpha"))
    # No tick in the test's time: the drained pair must leave on its cycle's own end.
    runtime = await started(folder, tmp_path, sim, tick_s=3600)
    try:
        await until(runtime, lambda: engines_built(runtime), "engine built")
        btc = await entered(runtime, sim)
        runner = runtime.strategies["alpha"].runner
        eth = "  - { id: eth, type: spot_perp, asset: ETH, spot: { venue: bybit, symbol: ETHUSDT }, perp: { venue: okx, symbol: ETH-USDT-SWAP } }\n"
        (folder / "a.yaml").write_text(manifest("alpha", pairs=eth))
        await until(runtime, lambda: "btc" in runner.draining, "btc draining, still held")
        assert btc.open_base > 0
        assert list(runner.pairs) == ["eth"]
        set_basis(sim, "-40")  # the basis closes past the exit threshold: btc exits
        await until(runtime, lambda: "btc" not in runner.draining, "btc gone once flat")
        okx = sim.engine("okx")
        perp = okx.instrument(InstrumentKind.PERP, "BTC-USDT-SWAP")
        assert next(iter(okx.accounts.values())).position(perp).qty == 0  # the venue's truth
        assert ("bybit", "spot", "BTCUSDT") not in runtime.strategies["alpha"].watched
    finally:
        await runtime.stop()


async def test_kill_file_when_touched_halts_every_strategy(
    sim: Simulation, folder: Path, tmp_path: Path
) -> None:
    (folder / "a.yaml").write_text(manifest("alpha"))
    kill = tmp_path / "kill"
    runtime = await started(folder, tmp_path, sim, kill_file=kill)
    try:
        await until(runtime, lambda: engines_built(runtime), "engine built")
        kill.touch()
        await until(
            runtime, lambda: runtime.states.state("alpha") == "halted", "halted by the kill file"
        )
        runner = runtime.strategies["alpha"].runner
        pair = runner.pairs["btc"]
        set_basis(sim, "80")

        def crossed() -> bool:  # the engine hands a crossing to the pair in the same call
            entry = runner.spreads("btc")["buy_spot_short_perp"][0]
            return entry is not None and entry >= pair.pair.thresholds.entry_bps

        await until(runtime, crossed, "the opened basis reached the spread engine")
        # A pair free to trade leaves `idle` (armed, an entry in flight) on that crossing.
        assert (pair.machine.state, pair.busy, pair.stats.entries) == ("idle", None, 0)
        assert [o for v in ("bybit", "okx") for o in sim.engine(v).orders.values()] == []
        rows = runtime.journal.connection.execute(
            "SELECT dest, changed_by FROM trading_state_changes"
        ).fetchall()
        assert ("halted", "kill-switch") in rows
    finally:
        await runtime.stop()


async def test_shutdown_when_an_order_rests_cancels_it_on_the_venue(
    sim: Simulation, folder: Path, tmp_path: Path
) -> None:
    from arbiter.execution.intent import Intent
    from arbiter.venues import OrderType, Side, TimeInForce
    from arbiter.venues.contract.client_ids import IntentId

    (folder / "a.yaml").write_text(manifest("alpha"))
    runtime = await started(folder, tmp_path, sim)
    intent = Intent.build(
        IntentId("alpha", "manual", 1, "rest.spot"),
        "bybit",
        runtime.market.rules["bybit"],
        symbol="BTCUSDT",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=D("0.001"),
        price=D("30000"),  # far below the market: it rests
        decision_price=D("30000"),
        tif=TimeInForce.GTC,
        kind="spot",
    )
    await runtime.gateway.place(intent)
    bybit = sim.engine("bybit")
    assert [o.client_id for o in bybit.orders.values() if o.status.is_open] == [intent.client_id]
    await runtime.stop()
    assert [o.client_id for o in bybit.orders.values() if o.status.is_open] == []


async def test_reducing_when_position_open_lets_the_exit_out_and_refuses_new_entries(
    alpha: Runtime, sim: Simulation
) -> None:
    runtime = alpha
    pair = await entered(runtime, sim)
    runtime.states.hold("alpha", OPERATOR, REDUCING, "operator:test", "reduce only")
    set_basis(sim, "-40")
    await until(runtime, lambda: pair.stats.cycles_completed == 1, "the exit went out")
    set_basis(sim, "80")  # a new window: an entry would add exposure
    await until(runtime, lambda: "reducing" in pair.last_refusal, "entry refused")
    assert pair.stats.entries == 1
    assert pair.machine.state == "armed"


async def test_halted_when_position_open_holds_it_until_resumed(
    alpha: Runtime, sim: Simulation
) -> None:
    runtime = alpha
    pair = await entered(runtime, sim)
    runtime.halts.halt("alpha", "operator:test")
    set_basis(sim, "-40")
    ticks = runtime.stats.book_events
    await until(runtime, lambda: runtime.stats.book_events > ticks, "the exit signal arrived")
    assert pair.machine.state == "open"  # halted: no order of any kind
    answer = await runtime.halts.resume("alpha", "operator:test", admin=False)
    assert (answer["state"], answer["released"], answer["holding"]) == ("active", ["operator"], [])
    sim.step()
    await until(runtime, lambda: pair.stats.cycles_completed == 1, "exited once resumed")


async def test_watched_folder_when_manifest_added_then_deleted_starts_then_drains_it(
    alpha: Runtime, folder: Path
) -> None:
    runtime = alpha
    (folder / "b.yaml").write_text(manifest("beta"))
    await until(runtime, lambda: "beta" in runtime.strategies, "the new file started")
    await until(runtime, lambda: engines_built(runtime), "its engine built")
    (folder / "b.yaml").unlink()
    await until(runtime, lambda: "beta" not in runtime.strategies, "the deleted one drained")
    assert list(runtime.strategies) == ["alpha"]
    assert sorted(runtime.accounts.sessions()) == ["bybit", "okx"]  # alpha still uses them


async def test_reload_when_venue_section_changed_drains_then_restarts_on_new_connections(
    alpha: Runtime, sim: Simulation, folder: Path
) -> None:
    runtime = alpha
    old = runtime.accounts.sessions()["okx"]
    ends = sim.endpoints("okx")
    urls = f"urls: {{ rest: '{ends.rest}', ws_public: '{ends.ws_public}', ws_private: '{ends.ws_private}' }}"
    (folder / "a.yaml").write_text(
        manifest("alpha").replace(
            "okx: { plugin: okx, endpoint: sim }", f"okx: {{ plugin: okx, endpoint: sim, {urls} }}"
        )
    )
    await until(
        runtime,
        lambda: (
            runtime.accounts.sessions().get("okx") not in (None, old)
            and "alpha" in runtime.strategies
            and engines_built(runtime)
        ),
        "restarted on a new okx session",
    )
    assert runtime.status()["strategies"][0]["state"] == "active"


async def test_book_event_when_one_strategy_raises_still_reaches_the_others(
    alpha: Runtime, sim: Simulation, folder: Path
) -> None:
    runtime = alpha
    (folder / "b.yaml").write_text(manifest("beta"))
    await until(runtime, lambda: "beta" in runtime.strategies, "beta started")
    await until(runtime, lambda: engines_built(runtime), "both engines built")
    beta = runtime.strategies["beta"].runner

    def broken(venue: str, symbol: str) -> None:
        raise RuntimeError("a bug in alpha's engine")

    alpha_engine = runtime.strategies["alpha"].runner.engine
    assert alpha_engine is not None
    alpha_engine.mark_dirty = broken  # type: ignore[method-assign]
    seen = beta.stats.book_events
    set_basis(sim, "5")  # the perp books move: both strategies watch them
    await until(
        runtime,
        lambda: beta.stats.book_events > seen and runtime.stats.dispatch_errors > 0,
        "beta served despite alpha's error",
    )
