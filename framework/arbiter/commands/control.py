"""Commands that talk to a running runtime through its control API (loopback HTTP).

The runtime writes `<state dir>/control.json` (its URL and token file); these commands read it,
so on the runtime's own machine no token has to be typed. Exit codes: 0 ok, 1 the runtime
refused or is not running, 2 usage error.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from arbiter.control.api import read_admin_token

DEFAULT_STATE_DIR = Path(".arbiter")


class StatusFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


ControlFile = Annotated[
    Path,
    typer.Option("--control", help="the runtime's control file", show_default=True),
]


def _request(control: Path, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    try:
        url, token = read_admin_token(control)
    except (OSError, ValueError, KeyError) as exc:
        typer.echo(f"no running runtime found through {control}: {exc}", err=True)
        raise typer.Exit(1) from None
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        typer.echo(f"runtime refused {method} {path}: {exc.code} {detail}", err=True)
        raise typer.Exit(1) from None
    except (urllib.error.URLError, OSError) as exc:
        typer.echo(f"runtime at {url} is not answering: {exc}", err=True)
        raise typer.Exit(1) from None


def _hold_line(hold: dict[str, Any]) -> str:
    return (
        f"  held by {hold['source']} ({hold['state']}, {hold['by']}: {hold['reason']}); "
        f"clears by {hold['clears']}"
    )


def render_status(status: dict[str, Any]) -> str:
    lines = []
    if status.get("global_holds"):
        lines.append(f"* (every strategy)  state={status.get('global_state', '')}")
        lines.extend(_hold_line(h) for h in status["global_holds"])
    for s in status.get("strategies", []):
        lines.append(
            f"{s['name']}  state={s['state']}  manifest={str(s.get('manifest_sha256', ''))[:12]}"
        )
        lines.extend(_hold_line(h) for h in s.get("holds", []) if h["scope"] == s["name"])
        for pair in s.get("pairs", []):
            extra = "  ".join(f"{k}={v}" for k, v in pair.items() if k not in ("id", "state"))
            flag = "  NEEDS OPERATOR" if pair.get("needs_operator") else ""
            lines.append(f"  {pair['id']:<10} {pair['state']:<14}{flag} {extra}")
        if s.get("pnl"):
            lines.append("  pnl " + "  ".join(f"{k}={v}" for k, v in s["pnl"].items()))
        if s.get("last_reload_error"):
            lines.append(f"  last reload error: {s['last_reload_error']}")
    return "\n".join(lines) if lines else "no strategies running"


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        control: ControlFile = DEFAULT_STATE_DIR / "control.json",
        output: Annotated[StatusFormat, typer.Option("--format")] = StatusFormat.TEXT,
    ) -> None:
        """Show a running runtime's strategies, pairs and machine states."""
        body = _request(control, "GET", "/status")
        typer.echo(
            json.dumps(body, indent=2) if output is StatusFormat.JSON else render_status(body)
        )

    @app.command()
    def reload(control: ControlFile = DEFAULT_STATE_DIR / "control.json") -> None:
        """Ask a running runtime to re-read its manifests now."""
        typer.echo(json.dumps(_request(control, "POST", "/commands/reload", {})))

    @app.command()
    def halt(strategy: str, control: ControlFile = DEFAULT_STATE_DIR / "control.json") -> None:
        """Halt one strategy (or '*'): no new orders until an operator resumes it."""
        typer.echo(json.dumps(_request(control, "POST", "/commands/halt", {"strategy": strategy})))

    @app.command()
    def resume(strategy: str, control: ControlFile = DEFAULT_STATE_DIR / "control.json") -> None:
        """Clear the halts you own on a strategy (or '*'); prints what still holds and why."""
        typer.echo(
            json.dumps(_request(control, "POST", "/commands/resume", {"strategy": strategy}))
        )

    @app.command()
    def kill(control: ControlFile = DEFAULT_STATE_DIR / "control.json") -> None:
        """Halt every strategy and refuse every order (admin); only an admin's resume clears it."""
        typer.echo(json.dumps(_request(control, "POST", "/commands/kill", {})))

    pair_app = typer.Typer(help="Act on one pair of a running strategy (operator role).")
    app.add_typer(pair_app, name="pair")

    @pair_app.command("reset")
    def pair_reset(
        strategy: str, pair: str, control: ControlFile = DEFAULT_STATE_DIR / "control.json"
    ) -> None:
        """Move a pair out of `error` (to `halted`) once you have looked at it."""
        body = {"strategy": strategy, "pair": pair}
        typer.echo(json.dumps(_request(control, "POST", "/commands/pair_reset", body)))

    @pair_app.command("resume")
    def pair_resume(
        strategy: str, pair: str, control: ControlFile = DEFAULT_STATE_DIR / "control.json"
    ) -> None:
        """Resume a halted pair on what its fills say it holds (a residual is the hedger's)."""
        body = {"strategy": strategy, "pair": pair}
        typer.echo(json.dumps(_request(control, "POST", "/commands/pair_resume", body)))
