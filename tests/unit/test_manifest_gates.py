"""Each gate type: a valid declaration loads, and each of its own rules refuses bad values."""

from __future__ import annotations

import pytest

from arbiter.manifest import ManifestError, load_manifest_bytes
from arbiter.manifest.gates import GATE_TYPES, BookSide, Hook
from tests.support.manifest_samples import with_gates

VALID = {
    "min_depth": "{ name: g, type: min_depth, when: before_entry, leg: perp, within_bps: 10, min_order_multiple: 3 }",
    "max_book_age_ms": "{ name: g, type: max_book_age_ms, when: always, max_age_ms: 500 }",
    "max_spread_bps": "{ name: g, type: max_spread_bps, when: before_entry, leg: spot, max_bps: 8 }",
    "min_balance": "{ name: g, type: min_balance, when: before_entry, venue: bybit, asset: USDT, min_free: 100 }",
    "max_position": "{ name: g, type: max_position, when: before_entry, max_notional: 1000 }",
    "max_net_delta": "{ name: g, type: max_net_delta, when: always, max_notional: 500 }",
    "funding_rate": "{ name: g, type: funding_rate, when: before_entry, min_rate: -0.001, max_rate: 0.002 }",
    "venue_healthy": "{ name: g, type: venue_healthy, when: always, venues: [bybit] }",
    "max_open_cycles": "{ name: g, type: max_open_cycles, when: before_entry, max_cycles: 2 }",
    "trading_window": "{ name: g, type: trading_window, when: before_entry, start: '22:00', end: '06:00', days: [mon] }",
    "kill_switch": "{ name: g, type: kill_switch, when: always, file: /tmp/arbiter-test.kill }",
}

INVALID = [
    (
        "min_depth",
        "{ name: g, type: min_depth, when: before_entry, leg: perp, within_bps: 10 }",
        "exactly one of min_notional or min_order_multiple",
    ),
    (
        "min_depth",
        "{ name: g, type: min_depth, when: before_entry, leg: perp, within_bps: 10, min_notional: 5, min_order_multiple: 2 }",
        "exactly one of",
    ),
    (
        "min_depth",
        "{ name: g, type: min_depth, when: before_entry, leg: all, within_bps: 10, min_notional: 5 }",
        "expected one leg",
    ),
    (
        "min_depth",
        "{ name: g, type: min_depth, when: before_entry, leg: perp, within_bps: -1, min_notional: 5 }",
        "expected zero or more",
    ),
    (
        "max_book_age_ms",
        "{ name: g, type: max_book_age_ms, when: always, max_age_ms: 0 }",
        "expected more than 0, was 0",
    ),
    (
        "max_spread_bps",
        "{ name: g, type: max_spread_bps, when: always, max_bps: 20000 }",
        "expected at most 10000, was 20000",
    ),
    (
        "min_balance",
        "{ name: g, type: min_balance, when: before_entry, venue: kraken, asset: USDT, min_free: 1 }",
        "unknown venue 'kraken'",
    ),
    (
        "min_balance",
        "{ name: g, type: min_balance, when: before_entry, venue: bybit, asset: usdt, min_free: 1 }",
        "expected text matching",
    ),
    (
        "max_position",
        "{ name: g, type: max_position, when: before_entry, max_notional: 0 }",
        "expected a positive number",
    ),
    (
        "max_net_delta",
        "{ name: g, type: max_net_delta, when: always }",
        "required field is missing",
    ),
    (
        "funding_rate",
        "{ name: g, type: funding_rate, when: before_entry }",
        "expected min_rate, max_rate or both",
    ),
    (
        "funding_rate",
        "{ name: g, type: funding_rate, when: before_entry, min_rate: 0.01, max_rate: 0.001 }",
        "expected min_rate <= max_rate",
    ),
    (
        "venue_healthy",
        "{ name: g, type: venue_healthy, when: always, venues: [binance] }",
        "unknown venue 'binance'",
    ),
    (
        "max_open_cycles",
        "{ name: g, type: max_open_cycles, when: before_entry, max_cycles: 0 }",
        "expected more than 0, was 0",
    ),
    (
        "trading_window",
        "{ name: g, type: trading_window, when: before_entry, start: '09:00', end: '09:00' }",
        "expected start != end",
    ),
    (
        "trading_window",
        "{ name: g, type: trading_window, when: before_entry, start: '09:00', end: '17:00', days: [funday] }",
        "expected 'mon'",
    ),
    (
        "kill_switch",
        "{ name: g, type: kill_switch, when: always, file: '' }",
        "expected at least 1 character(s)",
    ),
    (
        "any",
        "{ name: g, type: max_net_delta, when: sometimes, max_notional: 5 }",
        "expected 'before_entry'",
    ),
    (
        "any",
        "{ name: g, type: max_net_delta, when: [], max_notional: 5 }",
        "expected at least 1 item(s)",
    ),
    (
        "any",
        "{ name: g, type: max_net_delta, when: always, max_notional: 5, pairs: [eth] }",
        "unknown pair 'eth'",
    ),
    (
        "any",
        "{ name: Bad Name, type: max_net_delta, when: always, max_notional: 5 }",
        "expected text matching",
    ),
]


def test_valid_table_covers_every_declared_gate_type() -> None:
    assert sorted(VALID) == sorted(GATE_TYPES)


@pytest.mark.parametrize("gate_type", GATE_TYPES)
def test_gate_when_declared_validly_loads_as_its_type(gate_type: str) -> None:
    manifest = load_manifest_bytes(with_gates(VALID[gate_type])).manifest
    (gate,) = manifest.gates
    assert gate.type == gate_type
    assert gate.name == "g"


@pytest.mark.parametrize(
    ("gate_type", "text", "fragment"),
    INVALID,
    ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(INVALID)],
)
def test_gate_when_declared_badly_is_refused_on_its_line(
    gate_type: str, text: str, fragment: str
) -> None:
    source = with_gates(text)
    with pytest.raises(ManifestError) as info:
        load_manifest_bytes(source)
    assert any(fragment in e.message for e in info.value.errors), str(info.value)
    gate_line = len(source.splitlines())  # the gate is the last line
    assert all(e.line == gate_line for e in info.value.errors), str(info.value)


def test_gate_when_given_one_hook_as_text_becomes_a_list() -> None:
    manifest = load_manifest_bytes(with_gates(VALID["max_net_delta"])).manifest
    assert manifest.gates[0].when == [Hook.ALWAYS]


def test_min_depth_when_side_omitted_defaults_to_auto() -> None:
    manifest = load_manifest_bytes(with_gates(VALID["min_depth"])).manifest
    assert manifest.gates[0].side is BookSide.AUTO  # type: ignore[union-attr]


def test_funding_rate_when_pair_has_no_perp_is_refused() -> None:
    source = (
        with_gates(VALID["funding_rate"])
        .replace(
            "    spot: { venue: bybit, symbol: BTCUSDT }\n    perp: { venue: okx, symbol: BTC-USDT-SWAP }",
            "    a: { venue: bybit, symbol: BTCUSDT }\n    b: { venue: okx, symbol: BTC-USDT }",
        )
        .replace("type: spot_perp", "type: spot_spot")
    )
    with pytest.raises(
        ManifestError, match="funding_rate needs a perp leg; pair\\(s\\) btc have none"
    ):
        load_manifest_bytes(source)
