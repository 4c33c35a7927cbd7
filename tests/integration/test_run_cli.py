"""`arbiter run --sim` as an operator runs it: a process, its JSON logs, `arbiter status`, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from tests.support.sim_runtime import manifest

WAIT_S = 90.0  # a cold interpreter on a busy machine; never a timing assertion


def _arbiter(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("arbiter")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from arbiter.cli import main; main()", *args]


async def _logs_until(
    stream: asyncio.StreamReader, message: str, seen: list[dict[str, str]]
) -> None:
    while True:
        line = await stream.readline()
        assert line, f"arbiter run ended before logging {message!r}: {seen[-5:]}"
        record = json.loads(line)
        seen.append(record)
        if message in record["message"]:
            return


async def test_run_when_started_serves_status_logs_json_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "alpha.yaml").write_text(manifest("alpha"))
    state = tmp_path / "state"
    proc = await asyncio.create_subprocess_exec(
        *_arbiter(
            "run",
            str(folder),
            "--sim",
            "--no-live",
            "--log-format",
            "json",
            "--state-dir",
            str(state),
            "--journal",
            str(state / "journal.sqlite"),
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    seen: list[dict[str, str]] = []
    try:
        await asyncio.wait_for(_logs_until(proc.stderr, "runtime ready", seen), WAIT_S)
        status = await asyncio.create_subprocess_exec(
            *_arbiter("status", "--format", "json", "--control", str(state / "control.json")),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(status.communicate(), WAIT_S)
        assert status.returncode == 0
        body = json.loads(out)
        (alpha,) = body["strategies"]
        assert alpha["name"] == "alpha"
        assert alpha["state"] == "active"
        assert len(alpha["manifest_sha256"]) == 64
        assert [p["id"] for p in alpha["pairs"]] == ["btc"]
        assert alpha["last_reload_error"] is None
        started = next(r for r in seen if "strategy alpha started" in r["message"])
        assert started["strategy"] == "alpha"  # log lines carry the strategy they are about
        proc.send_signal(signal.SIGTERM)
        summary, _ = await asyncio.wait_for(proc.communicate(), WAIT_S)
        assert proc.returncode == 0
        assert "run summary" in summary.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
