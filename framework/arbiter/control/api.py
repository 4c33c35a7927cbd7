"""The operator API: HTTP on 127.0.0.1, bearer tokens with roles.

Roles are ordered: `viewer` reads status, `operator` also reloads, pauses, resumes and
acknowledges incidents, `admin` also kills (halts everything). A request without a known token
gets 401; a known token without the role gets 403 and is logged with who tried what.

The server knows nothing of strategies: the runtime hands it a status function and a table of
commands. A control file (JSON: url, and the token file's path) lets `arbiter status` find a
running runtime; tokens live in a separate file created with mode 0600.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from aiohttp import web
from loguru import logger


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3


@dataclass(frozen=True, slots=True)
class Principal:
    who: str
    role: Role


Command = Callable[[Mapping[str, Any], Principal], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    handler: Command
    role: Role


class ControlServer:
    def __init__(
        self,
        status: Callable[[], dict[str, Any]],
        commands: Mapping[str, CommandSpec],
        tokens: Mapping[str, Principal],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"the control API listens on loopback only, was {host!r}")
        self._status, self._commands, self._tokens = status, dict(commands), dict(tokens)
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.url = ""

    def _principal(self, request: web.Request) -> Principal:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        principal = self._tokens.get(token) if token else None
        if principal is None:
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": "missing or unknown token"}),
                content_type="application/json",
            )
        return principal

    def _require(self, principal: Principal, role: Role, what: str) -> None:
        if principal.role < role:
            logger.warning(
                "control: {} ({}) refused {}: needs {}",
                principal.who,
                principal.role.name.lower(),
                what,
                role.name.lower(),
            )
            raise web.HTTPForbidden(
                text=json.dumps(
                    {
                        "error": f"{what} needs role {role.name.lower()}, {principal.who} has {principal.role.name.lower()}"
                    }
                ),
                content_type="application/json",
            )

    async def _get_status(self, request: web.Request) -> web.Response:
        self._require(self._principal(request), Role.VIEWER, "status")
        return web.json_response(self._status(), dumps=_dumps)

    async def _post_command(self, request: web.Request) -> web.Response:
        principal = self._principal(request)
        name = request.match_info["name"]
        spec = self._commands.get(name)
        if spec is None:
            return web.json_response(
                {"error": f"unknown command {name!r}; known: {', '.join(sorted(self._commands))}"},
                status=404,
            )
        self._require(principal, spec.role, name)
        try:
            args = await request.json() if request.can_read_body else {}
        except json.JSONDecodeError:
            return web.json_response({"error": "expected a JSON object body"}, status=400)
        if not isinstance(args, dict):
            return web.json_response({"error": "expected a JSON object body"}, status=400)
        logger.info("control: {} runs {} {}", principal.who, name, args)
        try:
            result = await spec.handler(args, principal)
        except (KeyError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(result, dumps=_dumps)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/status", self._get_status)
        app.router.add_post("/commands/{name}", self._post_command)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]  # the OS-assigned port when 0 was asked for
        self.url = f"http://{self._host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def new_token_file(
    path: Path, principals: Mapping[str, Principal] | None = None
) -> dict[str, Principal]:
    """Create a token file (mode 0600) with one admin token unless principals are given."""
    tokens = (
        dict(principals)
        if principals
        else {secrets.token_urlsafe(24): Principal("local-admin", Role.ADMIN)}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({t: {"who": p.who, "role": p.role.name.lower()} for t, p in tokens.items()}, fh)
    return tokens


def write_control_file(path: Path, url: str, token_file: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, "token_file": str(token_file)}), encoding="utf-8")


def read_admin_token(control_file: Path) -> tuple[str, str]:
    """(url, a token of the highest role) from a runtime's control file, for local CLI use."""
    info = json.loads(control_file.read_text(encoding="utf-8"))
    tokens = json.loads(Path(info["token_file"]).read_text(encoding="utf-8"))
    best = max(tokens.items(), key=lambda item: Role[item[1]["role"].upper()])
    return info["url"], best[0]
