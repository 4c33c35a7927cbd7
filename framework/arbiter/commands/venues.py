"""`arbiter venues`: the venue plugins installed here, their versions and capabilities.

A plugin that fails to load is listed with the reason instead of hiding the others; the exit
code is 1 when any is broken, so a deployment check can rely on it.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from arbiter.venues.registry.plugins import Installed, installed

EXIT_BROKEN = 1


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def as_dict(found: Installed) -> dict[str, Any]:
    return {
        "plugins": [
            {
                "name": p.name,
                "version": p.version,
                "description": p.description,
                "capabilities": p.capabilities,
            }
            for p in (found.plugins[n] for n in found.names)
        ],
        "broken": [{"name": n, "error": why} for n, why in sorted(found.broken.items())],
    }


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value).lower() if isinstance(value, bool) else str(value)


def as_text(found: Installed) -> str:
    lines = []
    for name in found.names:
        plugin = found.plugins[name]
        lines.append(f"{plugin.name} {plugin.version}: {plugin.description}")
        for key, value in plugin.capabilities.items():
            if value not in ({}, [], (), ""):
                lines.append(f"  {key}: {_value(value)}")
    for name, why in sorted(found.broken.items()):
        lines.append(f"{name} (broken): {why}")
    if not lines:
        lines.append("no venue plugins installed (entry point group 'arbiter.venues')")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command()
    def venues(
        output: Annotated[
            OutputFormat, typer.Option("--format", help="text or json")
        ] = OutputFormat.TEXT,
    ) -> None:
        """List installed venue plugins with versions and capabilities, and broken ones with why."""
        found = installed()
        if output is OutputFormat.JSON:
            typer.echo(json.dumps(as_dict(found)))
        else:
            typer.echo(as_text(found))
        if found.broken:
            raise typer.Exit(EXIT_BROKEN)
