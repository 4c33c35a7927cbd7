"""The operator API over a real loopback HTTP socket: roles, errors and the control file."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from arbiter.control.api import (
    CommandSpec,
    ControlServer,
    Principal,
    Role,
    new_token_file,
    read_admin_token,
    write_control_file,
)

TOKENS = {
    "tv": Principal("vera", Role.VIEWER),
    "to": Principal("otto", Role.OPERATOR),
    "ta": Principal("ada", Role.ADMIN),
}


@pytest.fixture
async def server() -> AsyncIterator[tuple[ControlServer, list[tuple[str, dict[str, Any], str]]]]:
    calls: list[tuple[str, dict[str, Any], str]] = []

    def command(name: str) -> CommandSpec:
        async def handler(args: Mapping[str, Any], who: Principal) -> dict[str, Any]:
            if args.get("strategy") == "nope":
                raise KeyError("no strategy 'nope'")
            calls.append((name, dict(args), who.who))
            return {"ok": True, "command": name}

        return CommandSpec(handler, Role.ADMIN if name == "kill" else Role.OPERATOR)

    srv = ControlServer(
        status=lambda: {"strategies": [{"name": "btc-basis", "state": "active"}]},
        commands={name: command(name) for name in ("reload", "halt", "kill")},
        tokens=TOKENS,
    )
    await srv.start()
    yield srv, calls
    await srv.stop()


async def _call(
    url: str, token: str | None, method: str = "GET", path: str = "/status", body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url + path, headers=headers, json=body) as resp,
    ):
        return resp.status, await resp.json()


async def test_status_when_viewer_asks_returns_json(server: Any) -> None:
    srv, _ = server
    assert srv.url.startswith("http://127.0.0.1:")
    status, body = await _call(srv.url, "tv")
    assert status == 200
    assert body == {"strategies": [{"name": "btc-basis", "state": "active"}]}


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_any_request_when_token_missing_or_unknown_is_401(
    server: Any, token: str | None
) -> None:
    srv, calls = server
    assert (await _call(srv.url, token))[0] == 401
    assert (await _call(srv.url, token, "POST", "/commands/halt", {}))[0] == 401
    assert calls == []


async def test_command_when_role_too_low_is_403_and_not_run(server: Any) -> None:
    srv, calls = server
    status, body = await _call(srv.url, "tv", "POST", "/commands/halt", {"strategy": "btc-basis"})
    assert status == 403
    assert body["error"] == "halt needs role operator, vera has viewer"
    status, _ = await _call(srv.url, "to", "POST", "/commands/kill", {})
    assert status == 403
    assert calls == []


async def test_command_when_role_sufficient_runs_with_principal(server: Any) -> None:
    srv, calls = server
    status, body = await _call(srv.url, "to", "POST", "/commands/halt", {"strategy": "btc-basis"})
    assert (status, body) == (200, {"ok": True, "command": "halt"})
    status, _ = await _call(srv.url, "ta", "POST", "/commands/kill", {})
    assert status == 200
    assert calls == [("halt", {"strategy": "btc-basis"}, "otto"), ("kill", {}, "ada")]


async def test_command_when_unknown_or_bad_args_is_a_client_error(server: Any) -> None:
    srv, _ = server
    status, body = await _call(srv.url, "ta", "POST", "/commands/launch", {})
    assert status == 404
    assert "known: halt, kill, reload" in body["error"]
    status, body = await _call(srv.url, "ta", "POST", "/commands/halt", {"strategy": "nope"})
    assert (status, body) == (400, {"error": "\"no strategy 'nope'\""})
    status, body = await _call(srv.url, "ta", "POST", "/commands/halt", [1, 2])
    assert (status, body["error"]) == (400, "expected a JSON object body")


def test_server_when_asked_to_listen_beyond_loopback_refuses() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        ControlServer(status=dict, commands={}, tokens={}, host="0.0.0.0")


def test_token_file_when_created_is_private_and_readable_by_the_cli(tmp_path: Path) -> None:
    token_file = tmp_path / "run" / "tokens.json"
    tokens = new_token_file(token_file)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    write_control_file(tmp_path / "run" / "control.json", "http://127.0.0.1:1234", token_file)
    url, token = read_admin_token(tmp_path / "run" / "control.json")
    assert url == "http://127.0.0.1:1234"
    assert tokens[token].role is Role.ADMIN
