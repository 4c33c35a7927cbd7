"""`arbiter status` / `halt` against a control API listening on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from arbiter.cli import app
from arbiter.control.api import (
    CommandSpec,
    ControlServer,
    Principal,
    Role,
    new_token_file,
    write_control_file,
)

STATUS = {
    "strategies": [
        {
            "name": "btc-basis",
            "manifest_sha256": "ab" * 32,
            "state": "active",
            "pairs": [{"id": "btc", "state": "open", "spread_bps": "13.2"}],
            "last_reload_error": "s.yaml:13:13: thresholds: expected exit_bps < entry_bps, was 20 >= 10",
        }
    ]
}


async def test_status_and_halt_when_runtime_running_talk_to_it(tmp_path: Path) -> None:
    halted: list[str] = []

    async def halt(args: Mapping[str, Any], who: Principal) -> dict[str, Any]:
        halted.append(args["strategy"])
        return {"halted": args["strategy"], "by": who.who}

    tokens = new_token_file(tmp_path / "tokens.json")
    server = ControlServer(lambda: STATUS, {"halt": CommandSpec(halt, Role.OPERATOR)}, tokens)
    url = await server.start()
    control = tmp_path / "control.json"
    write_control_file(control, url, tmp_path / "tokens.json")
    runner = CliRunner()
    try:
        as_json = await asyncio.to_thread(
            runner.invoke, app, ["status", "--control", str(control), "--format", "json"]
        )
        as_text = await asyncio.to_thread(runner.invoke, app, ["status", "--control", str(control)])
        halt_result = await asyncio.to_thread(
            runner.invoke, app, ["halt", "btc-basis", "--control", str(control)]
        )
        unknown = await asyncio.to_thread(runner.invoke, app, ["kill", "--control", str(control)])
    finally:
        await server.stop()
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == STATUS
    assert "btc        open           spread_bps=13.2" in as_text.output
    assert "last reload error: s.yaml:13:13" in as_text.output
    assert halt_result.exit_code == 0
    assert json.loads(halt_result.output) == {"halted": "btc-basis", "by": "local-admin"}
    assert halted == ["btc-basis"]
    assert unknown.exit_code == 1
    assert "404" in unknown.output


def test_status_when_no_runtime_exits_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["status", "--control", str(tmp_path / "none.json")])
    assert result.exit_code == 1
    assert "no running runtime found" in result.output
