"""`arbiter venues` and the manifest check that a venue's plugin is installed."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint, version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arbiter.cli import app
from arbiter.venues.registry import plugins as registry
from tests.support.manifest_samples import MINIMAL

runner = CliRunner()


def _with_broken_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real entry points plus one whose module does not exist."""
    real = registry.entry_points(group=registry.GROUP)
    broken = EntryPoint("kraken", "arbiter_kraken_missing.plugin:PLUGIN", registry.GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [*real, broken])


def test_venues_when_listed_shows_both_plugins_with_version_and_capabilities() -> None:
    result = runner.invoke(app, ["venues"])

    assert result.exit_code == 0, result.output
    assert f"bybit {version('arbiter')}: Bybit v5" in result.output
    assert f"okx {version('arbiter')}: OKX v5" in result.output
    assert "client_id_max_length: 36" in result.output
    assert "client_id_max_length: 32" in result.output


def test_venues_when_json_is_one_object_with_plugins_and_no_broken() -> None:
    result = runner.invoke(app, ["venues", "--format", "json"])

    doc = json.loads(result.output)
    assert [p["name"] for p in doc["plugins"]] == ["bybit", "okx"]
    assert doc["broken"] == []
    okx = doc["plugins"][1]
    assert okx["capabilities"]["time_in_force"] == ["gtc", "ioc", "fok", "post_only"]
    assert okx["capabilities"]["orders_per_second"] == 30


def test_venues_when_a_plugin_cannot_load_lists_it_with_why_and_exits_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _with_broken_plugin(monkeypatch)

    text = runner.invoke(app, ["venues"])
    doc = json.loads(runner.invoke(app, ["venues", "--format", "json"]).output)

    assert text.exit_code == 1
    assert "kraken (broken): ModuleNotFoundError" in text.output
    assert "bybit" in text.output
    assert doc["broken"][0]["name"] == "kraken"
    assert "arbiter_kraken_missing" in doc["broken"][0]["error"]


def test_validate_when_manifest_names_an_unknown_plugin_lists_the_installed_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MINIMAL.replace("{ plugin: okx }", "{ plugin: okex }"), encoding="utf-8")

    result = runner.invoke(app, ["validate", str(path)])

    assert result.exit_code == 1
    assert "venues.okx.plugin: unknown venue plugin 'okex'; installed: bybit, okx" in result.output


def test_validate_when_a_plugin_is_broken_warns_and_does_not_offer_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_broken_plugin(monkeypatch)
    path = tmp_path / "m.yaml"
    path.write_text(MINIMAL.replace("{ plugin: okx }", "{ plugin: kraken }"), encoding="utf-8")

    result = runner.invoke(app, ["validate", str(path)])

    assert result.exit_code == 1
    assert "venue plugin 'kraken' is installed but cannot load" in result.output
    assert "unknown venue plugin 'kraken'; installed: bybit, okx" in result.output
