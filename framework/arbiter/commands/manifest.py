"""Manifest commands: validate, schema, plan, graph.

Exit codes: 0 success, 1 invalid input (or a stale schema for `schema --check`), 2 usage error.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

import arbiter
from arbiter.compiler import Plan, compile_manifest
from arbiter.fsm import MACHINES, MachineDef
from arbiter.fsm.render import to_dot, to_mermaid
from arbiter.manifest import LoadedManifest, ManifestError, SourceError, load_manifest, schema_text
from arbiter.manifest.schema import DEFAULT_PATH
from arbiter.venues.registry.plugins import installed

EXIT_INVALID = 1
EXIT_USAGE = 2


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class GraphFormat(StrEnum):
    MERMAID = "mermaid"
    DOT = "dot"


class MachineChoice(StrEnum):
    ALL = "all"
    CYCLE = "cycle"
    ORDER = "order"
    VENUE_CONNECTION = "venue_connection"
    HEDGER = "hedger"
    TRADING_STATE = "trading_state"
    INCIDENT = "incident"


ExistingFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, show_default=False)
]


def _error_json(error: SourceError) -> dict[str, Any]:
    return {
        "line": error.line,
        "column": error.column,
        "path": error.path,
        "message": error.message,
    }


def plugin_names() -> list[str]:
    """The venue plugins a manifest may name: those installed that load (see `arbiter venues`)."""
    found = installed()
    for name, why in sorted(found.broken.items()):
        typer.echo(f"warning: venue plugin {name!r} is installed but cannot load: {why}", err=True)
    return found.names


def validate_files(
    files: list[Path], plugins: Collection[str] | None = None
) -> list[tuple[str, LoadedManifest | None, list[SourceError]]]:
    """Load every file; also refuse a strategy name already used by an earlier file, and a
    venue plugin that is not installed (`plugins`, by default the installed ones)."""
    usable = plugin_names() if plugins is None else plugins
    results: list[tuple[str, LoadedManifest | None, list[SourceError]]] = []
    names: dict[str, str] = {}
    for path in files:
        try:
            loaded = load_manifest(path, usable)
        except ManifestError as exc:
            results.append((str(path), None, exc.errors))
            continue
        name = loaded.manifest.strategy.name
        if name in names:
            pos = loaded.document.position_of(("strategy", "name"))
            error = SourceError(
                f"strategy name {name!r} is already used by {names[name]}",
                "strategy.name",
                pos.line,
                pos.column,
            )
            results.append((str(path), None, [error]))
            continue
        names[name] = str(path)
        results.append((str(path), loaded, []))
    return results


def _load_or_exit(path: Path) -> LoadedManifest:
    try:
        return load_manifest(path, plugin_names())
    except ManifestError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_INVALID) from None


def machines_for(plan: Plan, pair: str | None, machine: MachineChoice) -> list[MachineDef]:
    chosen: list[MachineDef] = []
    if machine in (MachineChoice.ALL, MachineChoice.CYCLE):
        pairs = [plan.pair(pair)] if pair else list(plan.pairs)
        chosen.extend(p.cycle for p in pairs)
    if machine is not MachineChoice.CYCLE:
        chosen.extend(
            m for m in plan.machines if machine is MachineChoice.ALL or m.name == machine.value
        )
    return chosen


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print Arbiter's version."""
        typer.echo(arbiter.__version__)

    @app.command()
    def validate(
        files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
        output: Annotated[
            OutputFormat, typer.Option("--format", help="text or json (one object per file)")
        ] = OutputFormat.TEXT,
    ) -> None:
        """Validate strategy manifests. Exit 0 when all are valid, 1 when any is invalid."""
        results = validate_files(files)
        for filename, loaded, errors in results:
            if output is OutputFormat.JSON:
                typer.echo(
                    json.dumps(
                        {
                            "file": filename,
                            "valid": not errors,
                            "errors": [_error_json(e) for e in errors],
                        }
                    )
                )
            elif errors:
                for error in errors:
                    typer.echo(error.render(filename))
            else:
                assert loaded is not None
                m = loaded.manifest
                typer.echo(
                    f"{filename}: ok ({m.strategy.name}: {len(m.pairs)} pairs, {len(m.gates)} gates)"
                )
        if any(errors for _, _, errors in results):
            raise typer.Exit(EXIT_INVALID)

    @app.command()
    def schema(
        write: Annotated[bool, typer.Option("--write", help="write the schema file")] = False,
        check: Annotated[
            bool, typer.Option("--check", help="exit 1 when the schema file is stale")
        ] = False,
        path: Annotated[
            Path, typer.Option(help="schema file for --write and --check")
        ] = DEFAULT_PATH,
    ) -> None:
        """Print the manifest's JSON Schema, write it, or check that the file is current."""
        if write and check:
            typer.echo("use --write or --check, not both", err=True)
            raise typer.Exit(EXIT_USAGE)
        text = schema_text()
        if check:
            try:
                current = path.read_text(encoding="utf-8")
            except OSError as exc:
                typer.echo(f"{path}: cannot read: {exc.strerror}", err=True)
                raise typer.Exit(EXIT_INVALID) from None
            if current != text:
                typer.echo(f"{path}: stale; run `arbiter schema --write`", err=True)
                raise typer.Exit(EXIT_INVALID)
            typer.echo(f"{path}: up to date")
        elif write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {path}")
        else:
            typer.echo(text, nl=False)

    @app.command()
    def plan(file: ExistingFile) -> None:
        """Print the compiled plan of a manifest as JSON: machines, transitions, guards, gates."""
        compiled = compile_manifest(_load_or_exit(file))
        typer.echo(json.dumps(compiled.to_dict(), indent=2))

    @app.command()
    def graph(
        file: ExistingFile,
        pair: Annotated[str | None, typer.Option(help="only this pair's cycle machine")] = None,
        output: Annotated[GraphFormat, typer.Option("--format")] = GraphFormat.MERMAID,
        machine: Annotated[
            MachineChoice, typer.Option(help="which machines to draw")
        ] = MachineChoice.ALL,
    ) -> None:
        """Draw the state machines of a manifest (Mermaid or Graphviz DOT)."""
        compiled = compile_manifest(_load_or_exit(file))
        if pair is not None and pair not in {p.id for p in compiled.pairs}:
            typer.echo(
                f"no pair {pair!r}; pairs: {', '.join(p.id for p in compiled.pairs)}", err=True
            )
            raise typer.Exit(EXIT_USAGE)
        render = to_mermaid if output is GraphFormat.MERMAID else to_dot
        typer.echo("\n".join(render(m) for m in machines_for(compiled, pair, machine)), nl=False)


__all__ = ["MACHINES", "plugin_names", "register", "validate_files"]
