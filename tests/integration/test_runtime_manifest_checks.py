"""Versions checked against the venues before they run, and the settings that act at entry.

The runtime trades on the simulator with the real plugins over loopback. A version whose leg the
venue does not list, or that fails while it is applied, never replaces the running one: that
one keeps its pairs, engine, watched books and hedger, and its open position still exits. The
outcomes are read at the simulator (orders, positions), not only in the runtime's own books.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbiter.risk.trading import OPERATOR, REDUCING
from arbiter.runtime.runtime import Runtime
from arbiter.sim import Simulation
from arbiter.sim.control import state
from arbiter.venues import BookRef
from tests.support.sim_runtime import engines_built, entered, manifest, set_basis, started, until

ETH = (
    "  - { id: eth, type: spot_perp, asset: ETH, spot: { venue: bybit, symbol: ETHUSDT },"
    " perp: { venue: okx, symbol: ETH-USDT-SWAP } }\n"
)
BTC = (
    "  - { id: btc, type: spot_perp, asset: BTC, spot: { venue: bybit, symbol: BTCUSDT },"
    " perp: { venue: okx, symbol: BTC-USDT-SWAP } }\n"
)
UNLISTED = (
    "  - { id: x, type: spot_perp, asset: BTC, spot: { venue: bybit, symbol: BTCUSDT },"
    " perp: { venue: okx, symbol: BTC-USDT-SWAPX } }\n"
)


def at(path: Path, text: str, value: str) -> str:
    """`path:line:col` of the first occurrence of `value` in `text`."""
    before = text[: text.index(value)]
    return f"{path}:{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}"


def position(sim: Simulation, venue: str, symbol: str) -> Decimal:
    """The simulator's own record of our account's position in `symbol`."""
    key = sim.endpoints(venue).api_key
    (account,) = [a for a in state(sim)[venue]["accounts"] if a["api_key"] == key]
    held = account["positions"].get(symbol)
    return Decimal(held["qty"]) if held else Decimal(0)


def orders(sim: Simulation, venue: str, symbol: str) -> list[dict[str, Any]]:
    return [o for o in state(sim)[venue]["orders"] if o["symbol"] == symbol]


def incident_events(runtime: Runtime, key: str) -> list[tuple[str, str]]:
    runtime.journal.settle()
    rows = runtime.journal.connection.execute(
        "SELECT event, reason FROM incident_events WHERE incident_key = ? ORDER BY id", (key,)
    ).fetchall()
    return [(str(event), str(reason)) for event, reason in rows]


def status_of(runtime: Runtime, name: str) -> dict[str, Any]:
    (body,) = [s for s in runtime.status()["strategies"] if s["name"] == name]
    return body


async def test_reload_when_a_new_pair_names_an_unlisted_symbol_keeps_the_running_version(
    alpha: Runtime, sim: Simulation, folder: Path
) -> None:
    runtime, path = alpha, folder / "a.yaml"
    host = runtime.strategies["alpha"]
    pair = await entered(runtime, sim)
    held = position(sim, "okx", "BTC-USDT-SWAP")
    assert held < 0  # short the perp at the venue
    engine, watched, hedger = host.runner.engine, set(host.watched), host.hedger
    sha = status_of(runtime, "alpha")["manifest_sha256"]

    text = manifest("alpha", pairs=BTC + UNLISTED)
    path.write_text(text)
    await until(
        runtime, lambda: status_of(runtime, "alpha")["last_reload_error"] is not None, "refused"
    )

    error = (
        f"{at(path, text, 'BTC-USDT-SWAPX')}: pairs[1].perp.symbol: okx lists no perp "
        "'BTC-USDT-SWAPX'; did you mean 'BTC-USDT-SWAP'?"
    )
    body = status_of(runtime, "alpha")
    assert body["last_reload_error"] == error
    assert body["manifest_sha256"] == sha
    assert [p["id"] for p in body["pairs"]] == ["btc"]
    assert host.runner.engine is engine  # untouched: the same engine, books and hedger
    assert host.watched == watched
    assert host.hedger is hedger
    assert incident_events(runtime, f"manifest:{path}") == [("open", error)]
    assert runtime.supervisor.tasks["manifest-watcher"].restarts == 0

    set_basis(sim, "-40")  # converged: the position exits on the old version
    await until(runtime, lambda: pair.stats.cycles_completed == 1, "exited both legs")
    assert position(sim, "okx", "BTC-USDT-SWAP") == 0
    assert all(o["status"] == "filled" for o in orders(sim, "okx", "BTC-USDT-SWAP"))

    path.write_text(manifest("alpha", entry_bps="12"))  # a later valid version applies
    await until(
        runtime, lambda: status_of(runtime, "alpha")["last_reload_error"] is None, "applied"
    )
    assert host.runner.pairs["btc"].pair.thresholds.entry_bps == Decimal(12)
    assert [e for e, _ in incident_events(runtime, f"manifest:{path}")] == ["open", "resolve"]


async def test_new_file_when_it_names_an_unlisted_symbol_is_refused_and_others_run_on(
    alpha: Runtime, sim: Simulation, folder: Path
) -> None:
    runtime, path = alpha, folder / "b.yaml"
    host = runtime.strategies["alpha"]
    engine, sessions = host.runner.engine, dict(runtime.accounts.sessions())

    text = manifest("beta", pairs=UNLISTED)
    path.write_text(text)
    await until(runtime, lambda: str(path) in runtime.status()["rejected_files"], "refused")

    error = (
        f"{at(path, text, 'BTC-USDT-SWAPX')}: pairs[0].perp.symbol: okx lists no perp "
        "'BTC-USDT-SWAPX'; did you mean 'BTC-USDT-SWAP'?"
    )
    assert runtime.status()["rejected_files"] == {str(path): error}
    assert list(runtime.strategies) == ["alpha"]
    assert runtime.accounts.sessions() == sessions
    assert host.runner.engine is engine
    assert incident_events(runtime, f"manifest:{path}") == [("open", error)]

    pair = await entered(runtime, sim)  # alpha trades on, undisturbed
    assert pair.open_base > 0
    assert position(sim, "okx", "BTC-USDT-SWAP") < 0


async def test_start_when_a_manifest_names_the_wrong_product_starts_only_the_others(
    sim: Simulation, folder: Path, tmp_path: Path
) -> None:
    (folder / "a.yaml").write_text(manifest("alpha"))
    wrong = (  # a perp symbol on the spot leg
        "  - { id: btc, type: spot_perp, asset: BTC, spot: { venue: okx, symbol: BTC-USDT-SWAP },"
        " perp: { venue: bybit, symbol: BTCUSDT } }\n"
    )
    path, text = folder / "b.yaml", manifest("beta", pairs=wrong)
    path.write_text(text)
    runtime = await started(folder, tmp_path, sim)
    try:
        assert list(runtime.strategies) == ["alpha"]
        error = (
            f"{at(path, text, 'BTC-USDT-SWAP')}: pairs[0].spot.symbol: okx lists no spot "
            "'BTC-USDT-SWAP' (it lists a perp by that name)"
        )
        assert runtime.status()["rejected_files"] == {str(path): error}
        assert [i["key"] for i in runtime.status()["incidents"]] == [f"manifest:{path}"]
        await until(runtime, lambda: engines_built(runtime), "alpha's engine built")
    finally:
        await runtime.stop()


async def test_reload_when_applying_fails_midway_puts_the_running_version_back(
    alpha: Runtime, sim: Simulation, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, path = alpha, folder / "a.yaml"
    host = runtime.strategies["alpha"]
    pair = await entered(runtime, sim)
    watched = set(host.watched)
    okx = runtime.accounts.sessions()["okx"]
    subscribe = okx.watch_books

    def refused(refs: Sequence[BookRef]) -> None:  # the venue refuses the new book
        if any(ref.symbol == "ETH-USDT-SWAP" for ref in refs):
            raise RuntimeError("subscription refused")
        subscribe(refs)

    monkeypatch.setattr(okx, "watch_books", refused)
    path.write_text(manifest("alpha", pairs=BTC + ETH))
    await until(
        runtime, lambda: status_of(runtime, "alpha")["last_reload_error"] is not None, "refused"
    )
    assert status_of(runtime, "alpha")["last_reload_error"] == (
        f"{path}: could not apply this version, the running one stays: "
        "RuntimeError('subscription refused')"
    )
    assert list(host.runner.pairs) == ["btc"]
    assert host.watched == watched
    # bybit's ETH book, watched before okx refused, let go again; okx's never counted
    assert BookRef("spot", "ETHUSDT") not in runtime.accounts.watching("bybit")
    assert BookRef("perp", "ETH-USDT-SWAP") not in runtime.accounts.watching("okx")
    assert host.runner.engine is not None
    assert pair.machine.state == "open"

    monkeypatch.undo()  # the venue takes it now: the same version, saved again, applies
    path.write_text(manifest("alpha", pairs=BTC + ETH) + "# again\n")
    await until(runtime, lambda: list(host.runner.pairs) == ["btc", "eth"], "applied")
    await until(
        runtime,
        lambda: host.runner.spreads("eth").get("buy_spot_short_perp", (None,))[0] is not None,
        "both of eth's books streamed",
    )

    set_basis(sim, "-40")
    await until(runtime, lambda: pair.stats.cycles_completed == 1, "exited both legs")
    assert position(sim, "okx", "BTC-USDT-SWAP") == 0


async def test_min_profit_when_armed_inside_the_hysteresis_band_refuses_then_admits_entry(
    sim: Simulation, folder: Path, tmp_path: Path
) -> None:
    # entry 10, exit 2: re-arming needs a retreat below 4; an entry needs 8 (= 2 + 6) or more
    text = manifest("alpha").replace("min_profit_bps: 3", "min_profit_bps: 6, hysteresis_bps: 6")
    (folder / "a.yaml").write_text(text)
    runtime = await started(folder, tmp_path, sim)
    try:
        await until(runtime, lambda: engines_built(runtime), "engine built")
        host = runtime.strategies["alpha"]
        pair = host.runner.pairs["btc"]

        def entry() -> Decimal | None:
            return host.runner.spreads("btc")["buy_spot_short_perp"][0]

        runtime.states.hold("alpha", OPERATOR, REDUCING, "operator:test", "hold entries")
        set_basis(sim, "30")  # about 14.4 bps net: past entry_bps, the pair arms
        await until(runtime, lambda: "reducing" in pair.last_refusal, "armed, entry held")
        set_basis(sim, "21")  # about 5.5 bps: inside the band, still armed
        await until(runtime, lambda: (e := entry()) is not None and e < 8, "spread retreated")
        spread = entry()
        assert spread is not None
        assert 4 < spread < 8
        runtime.states.release("alpha", OPERATOR, "operator:test", "entries allowed")
        await until(runtime, lambda: host.runner.gate_stats.failed["min_profit"] > 0, "refused")
        assert pair.machine.state == "armed"
        assert pair.stats.entries == 0
        expected = f"{spread.normalize():f} bps - exit_bps 2 = {(spread - 2).normalize():f} bps"
        assert pair.last_refusal == (
            f"min_profit: net entry spread {expected} expected, min_profit_bps 6"
        )
        assert orders(sim, "bybit", "BTCUSDT") == orders(sim, "okx", "BTC-USDT-SWAP") == []

        set_basis(sim, "24")  # about 8.5 bps: still inside the band, now worth the round trip
        await until(runtime, lambda: pair.machine.state == "open", "entered")
        assert host.runner.gate_stats.passed["min_profit"] == 1
        assert position(sim, "okx", "BTC-USDT-SWAP") < 0
    finally:
        await runtime.stop()


async def test_max_open_cycles_gate_when_another_pair_holds_the_cycle_refuses_entry(
    sim: Simulation, folder: Path, tmp_path: Path
) -> None:
    gate = "  - { name: cycles-cap, type: max_open_cycles, when: before_entry, max_cycles: 1 }\n"
    (folder / "a.yaml").write_text(manifest("alpha", pairs=BTC + ETH, gates=gate))
    runtime = await started(folder, tmp_path, sim)
    try:
        await until(runtime, lambda: engines_built(runtime), "engine built")
        runner = runtime.strategies["alpha"].runner
        await until(runtime, lambda: runner.spreads("eth") != {}, "both pairs in the engine")
        btc = await entered(runtime, sim)
        eth = runner.pairs["eth"]
        sim.generator.set_basis("okx", "ETH", 0.008)  # ETH's window opens too
        sim.step()
        await until(runtime, lambda: runner.gate_stats.failed["cycles-cap"] > 0, "refused")
        assert eth.last_refusal == (
            "gate:cycles-cap: 1 cycles open across the strategy's pairs, limit 1"
        )
        assert (btc.machine.state, eth.machine.state) == ("open", "armed")
        assert orders(sim, "okx", "ETH-USDT-SWAP") == []
    finally:
        await runtime.stop()
