"""Hot-reload diffs: each kind of edit is classified by how it may be applied."""

from __future__ import annotations

from arbiter.manifest import load_manifest_bytes
from arbiter.manifest.diff import ManifestDiff, diff_manifests
from tests.support.manifest_samples import MINIMAL

ETH_PAIR = "  - { id: eth, type: spot_perp, asset: ETH, spot: { venue: bybit, symbol: ETHUSDT }, perp: { venue: okx, symbol: ETH-USDT-SWAP } }\n"


def _diff(old: str, new: str) -> ManifestDiff:
    return diff_manifests(load_manifest_bytes(old).manifest, load_manifest_bytes(new).manifest)


def test_diff_when_unchanged_is_empty() -> None:
    assert _diff(MINIMAL, MINIMAL).empty
    assert _diff(MINIMAL, MINIMAL + "\n# a comment\n").empty


def test_diff_when_threshold_edited_retunes_pair_in_place() -> None:
    diff = _diff(MINIMAL, MINIMAL.replace("entry_bps: 10", "entry_bps: 11"))
    assert diff.pairs_retuned == {"btc": ("thresholds",)}
    assert not diff.pairs_restarted
    assert not diff.venues_changed
    assert diff.lines() == ["pair btc: thresholds changed in place"]


def test_diff_when_pair_added_and_removed_starts_and_drains() -> None:
    two = MINIMAL.replace("thresholds:", ETH_PAIR + "thresholds:")
    assert _diff(MINIMAL, two).pairs_added == ("eth",)
    assert _diff(two, MINIMAL).pairs_removed == ("eth",)


def test_diff_when_symbol_changes_restarts_the_pair() -> None:
    diff = _diff(MINIMAL, MINIMAL.replace("symbol: BTC-USDT-SWAP", "symbol: BTC-USDT-251226"))
    assert diff.pairs_restarted == ("btc",)
    assert not diff.pairs_retuned


def test_diff_when_venue_section_changes_restarts_connections_and_its_pairs() -> None:
    diff = _diff(
        MINIMAL,
        MINIMAL.replace(
            "okx: { plugin: okx }", "okx: { plugin: okx, urls: { rest: 'http://127.0.0.1:9' } }"
        ),
    )
    assert diff.venues_changed == ("okx",)
    assert diff.pairs_restarted == ("btc",)


def test_diff_when_gates_or_risk_change_reports_strategy_sections() -> None:
    gated = (
        MINIMAL + "gates:\n  - { name: g, type: max_net_delta, when: always, max_notional: 5 }\n"
    )
    diff = _diff(MINIMAL, gated.replace("daily_loss_limit: 50", "daily_loss_limit: 60"))
    assert diff.strategy_params == ("gates", "risk")
