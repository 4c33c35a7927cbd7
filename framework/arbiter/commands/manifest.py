"""Manifest commands: validate, schema, plan, graph."""

from __future__ import annotations

import typer

import arbiter


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print Arbiter's version."""
        typer.echo(arbiter.__version__)
