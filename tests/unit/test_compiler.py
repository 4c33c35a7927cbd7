"""Compiling manifests: one cycle machine per pair, gates bound by hook, per-pair overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from arbiter.compiler import compile_manifest
from arbiter.manifest import load_manifest, load_manifest_bytes
from tests.support.manifest_samples import STRATEGIES, with_gates


def _guards(machine_dict: dict[str, object], trigger: str) -> list[str]:
    transitions = machine_dict["transitions"]
    assert isinstance(transitions, list)
    (t,) = [t for t in transitions if t["trigger"] == trigger]
    return list(t["guards"])


def test_gates_when_compiled_bind_to_enter_exit_or_both_by_hook() -> None:
    text = with_gates(
        "{ name: e, type: max_position, when: before_entry, max_notional: 10 }",
        "{ name: x, type: max_book_age_ms, when: before_exit, max_age_ms: 100 }",
        "{ name: a, type: venue_healthy, when: always }",
    )
    (pair,) = compile_manifest(load_manifest_bytes(text)).pairs
    machine = pair.cycle.to_dict()
    # the built-in min_profit check guards every entry, ahead of the manifest's gates
    assert _guards(machine, "enter") == ["min_profit", "gate:e", "gate:a"]
    assert _guards(machine, "exit") == ["gate:x", "gate:a"]
    for trigger in ("repaired", "flattened", "handed_to_hedger", "halt"):
        guards = [g for t in machine["transitions"] if t["trigger"] == trigger for g in t["guards"]]
        assert not [g for g in guards if g.startswith("gate:") or g == "min_profit"]
    assert pair.gate("gate:x").rule.type == "max_book_age_ms"


def test_gate_scoped_to_pairs_when_compiled_guards_only_those_pairs() -> None:
    plan = compile_manifest(load_manifest(Path("strategies/multi_pair_majors.yaml")))
    by_id = {p.id: p for p in plan.pairs}
    assert "gate:majors-perp-deep" in _guards(by_id["btc"].cycle.to_dict(), "enter")
    assert "gate:majors-perp-deep" not in _guards(by_id["sol"].cycle.to_dict(), "enter")
    assert by_id["btc"].cycle.name == "cycle[btc]"


def test_pair_overrides_when_compiled_replace_defaults_per_pair() -> None:
    plan = compile_manifest(load_manifest(Path("strategies/multi_pair_majors.yaml")))
    by_id = {p.id: p for p in plan.pairs}
    assert str(by_id["doge"].thresholds.entry_bps) == "25"
    assert str(by_id["btc"].sizing.order_notional) == "3000"
    assert by_id["btc"].hedge_leg is not None
    assert by_id["btc"].hedge_leg.symbol == "BTC-USDT-SWAP"


def test_spot_spot_pair_when_no_hedge_section_has_no_hedge_leg() -> None:
    plan = compile_manifest(load_manifest(Path("strategies/eth_spot_spot_bybit_okx.yaml")))
    (pair,) = plan.pairs
    assert [leg.role for leg in pair.legs] == ["a", "b"]
    assert pair.hedge_leg is None


@pytest.mark.parametrize("path", STRATEGIES, ids=[p.name for p in STRATEGIES])
def test_example_manifest_when_compiled_has_a_machine_per_pair_and_json_plan(path: Path) -> None:
    loaded = load_manifest(path)
    plan = compile_manifest(loaded)
    data = plan.to_dict()
    assert [p["id"] for p in data["pairs"]] == [p.id for p in loaded.manifest.pairs]
    assert set(data["machines"]) == {
        "order",
        "venue_connection",
        "hedger",
        "trading_state",
        "incident",
    }
    assert data["manifest_sha256"] == loaded.sha256
    for pair in data["pairs"]:
        gate_names = {f"gate:{g['name']}" for g in pair["gates"]}
        bound = {
            g for t in pair["machine"]["transitions"] for g in t["guards"] if g.startswith("gate:")
        }
        assert bound == gate_names  # every gate that applies is bound somewhere, and nothing else
