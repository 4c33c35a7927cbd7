"""The manifest commands as an operator runs them: exit codes and output shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arbiter.cli import app
from arbiter.manifest import schema_text
from tests.support.manifest_samples import MINIMAL, REPO, STRATEGIES

runner = CliRunner()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_when_all_examples_valid_exits_zero() -> None:
    result = runner.invoke(app, ["validate", *map(str, STRATEGIES)])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok (") == len(STRATEGIES) >= 3


def test_validate_when_one_file_invalid_exits_one_and_prints_file_line_col(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.yaml", MINIMAL)
    bad = _write(
        tmp_path,
        "bad.yaml",
        MINIMAL.replace("exit_bps: 2", "exit_bps: 20").replace("name: t", "name: t2"),
    )
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:13:13: thresholds: expected exit_bps < entry_bps, was 20 >= 10" in result.output
    assert f"{good}: ok (t: 1 pairs, 0 gates)" in result.output


def test_validate_when_a_pair_is_named_hedge_refuses_it_at_its_line_and_column(
    tmp_path: Path,
) -> None:
    bad = _write(tmp_path, "bad.yaml", MINIMAL.replace("  - id: btc", "  - id: hedge"))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert (
        f"{bad}:8:9: pairs[0].id: pair id 'hedge' is reserved (the hedger's orders carry it as "
        "their pair); choose another id"
    ) in result.output


def test_validate_when_json_format_prints_one_object_per_file(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.yaml", MINIMAL)
    bad = _write(tmp_path, "bad.yaml", "strategy: [\n")
    result = runner.invoke(app, ["validate", "--format", "json", str(good), str(bad)])
    assert result.exit_code == 1
    objects = [json.loads(line) for line in result.output.splitlines()]
    assert [o["file"] for o in objects] == [str(good), str(bad)]
    assert objects[0] == {"file": str(good), "valid": True, "errors": []}
    assert objects[1]["valid"] is False
    (error,) = objects[1]["errors"]
    assert set(error) == {"line", "column", "path", "message"}
    assert error["line"] == 2


def test_validate_when_two_files_share_a_strategy_name_refuses_the_second(tmp_path: Path) -> None:
    first, second = _write(tmp_path, "a.yaml", MINIMAL), _write(tmp_path, "b.yaml", MINIMAL)
    result = runner.invoke(app, ["validate", str(first), str(second)])
    assert result.exit_code == 1
    assert (
        f"{second}:2:9: strategy.name: strategy name 't' is already used by {first}"
        in result.output
    )


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["validate", "/nonexistent/x.yaml"],
        ["validate", "--format", "xml", "strategies/eth_spot_spot_bybit_okx.yaml"],
        ["graph"],
        ["no-such-command"],
    ],
)
def test_cli_when_usage_is_wrong_exits_two(args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_schema_check_when_committed_file_is_current_exits_zero() -> None:
    result = runner.invoke(
        app, ["schema", "--check", "--path", str(REPO / "schemas" / "strategy.schema.json")]
    )
    assert result.exit_code == 0, result.output


def test_schema_check_when_file_is_stale_exits_one(tmp_path: Path) -> None:
    stale = _write(tmp_path, "s.json", schema_text().replace("basis points", "bips", 1))
    result = runner.invoke(app, ["schema", "--check", "--path", str(stale)])
    assert result.exit_code == 1
    assert "stale" in result.output


def test_schema_write_when_run_writes_what_check_accepts(tmp_path: Path) -> None:
    target = tmp_path / "out" / "schema.json"
    assert runner.invoke(app, ["schema", "--write", "--path", str(target)]).exit_code == 0
    assert runner.invoke(app, ["schema", "--check", "--path", str(target)]).exit_code == 0
    schema = json.loads(target.read_text())
    assert schema["title"].startswith("Arbiter strategy manifest")
    assert {"strategy", "venues", "pairs", "thresholds", "sizing", "risk"} <= set(
        schema["required"]
    )


def test_example_manifests_when_opened_in_an_editor_point_at_the_schema() -> None:
    for path in STRATEGIES:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/strategy.schema.json", path


def test_plan_when_run_prints_json_with_machines_and_bound_gates() -> None:
    result = runner.invoke(app, ["plan", "strategies/bybit_spot_okx_perp_basis.yaml"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    (pair,) = plan["pairs"]
    enter = next(t for t in pair["machine"]["transitions"] if t["trigger"] == "enter")
    assert "gate:perp-can-absorb-hedge" in enter["guards"]
    assert pair["thresholds"]["hysteresis_bps"] == "1.5"


def test_plan_when_manifest_invalid_exits_one(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.yaml", MINIMAL.replace("version: 1", "version: 2"))
    result = runner.invoke(app, ["plan", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:3:12: strategy.version: expected 1, was 2" in result.output


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph_when_run_draws_every_machine(fmt: str) -> None:
    result = runner.invoke(app, ["graph", "strategies/multi_pair_majors.yaml", "--format", fmt])
    assert result.exit_code == 0, result.output
    for name in [
        "cycle[btc]",
        "cycle[eth]",
        "cycle[sol]",
        "cycle[xrp]",
        "cycle[doge]",
        "cycle[ltc]",
        "order",
        "venue_connection",
    ]:
        assert (f"%% {name}:" if fmt == "mermaid" else f'digraph "{name}"') in result.output


def test_graph_when_pair_selected_draws_only_that_cycle() -> None:
    result = runner.invoke(
        app, ["graph", "strategies/multi_pair_majors.yaml", "--pair", "sol", "--machine", "cycle"]
    )
    assert result.exit_code == 0
    assert result.output.count("stateDiagram-v2") == 1
    assert "cycle[sol]" in result.output


def test_graph_when_pair_unknown_exits_two() -> None:
    result = runner.invoke(app, ["graph", "strategies/multi_pair_majors.yaml", "--pair", "ada"])
    assert result.exit_code == 2
    assert "no pair 'ada'" in result.output


def test_console_script_when_installed_runs_validate() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "arbiter.cli", "validate", *map(str, STRATEGIES)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr


def test_demo_when_run_on_examples_prints_every_plan() -> None:
    result = runner.invoke(app, ["demo", str(REPO / "strategies"), "--duration", "0"])
    assert result.exit_code == 0, result.output
    for name in ("btc-basis-bybit-okx", "eth-spot-spot", "majors-basis-multi"):
        assert name in result.output
    assert f"{len(STRATEGIES)} manifests, all valid" in result.output


def test_demo_when_a_manifest_is_invalid_exits_one(tmp_path: Path) -> None:
    _write(tmp_path, "bad.yaml", MINIMAL.replace("version: 1", "version: 9"))
    result = runner.invoke(app, ["demo", str(tmp_path), "--duration", "0"])
    assert result.exit_code == 1
    assert "strategy.version" in result.output
