"""`arbiter sim`: run the simulated venues on loopback until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer

from arbiter.sim import FaultPlan, start
from arbiter.sim.catalog import DEFAULT_SYMBOLS
from arbiter.sim.faults import FaultPlanError


async def _serve(
    venues: list[str], symbols: list[str], *, seed: int, plan: FaultPlan, rate: float
) -> None:
    sim = await start(venues=venues, symbols=symbols, seed=seed, faults=plan, steps_per_second=rate)
    try:
        for venue in venues:
            typer.echo(json.dumps(sim.endpoints(venue).as_dict()), nl=True)
        await asyncio.Event().wait()  # until cancelled (Ctrl-C)
    finally:
        await sim.stop()


def register(app: typer.Typer) -> None:
    @app.command()
    def sim(
        venues: Annotated[
            str, typer.Option(help="Comma-separated venues to simulate.")
        ] = "bybit,okx",
        seed: Annotated[int, typer.Option(help="Seed of the market and of random faults.")] = 0,
        symbols: Annotated[str, typer.Option(help="Comma-separated BASE/QUOTE pairs.")] = ",".join(
            DEFAULT_SYMBOLS
        ),
        faults: Annotated[
            Path | None,
            typer.Option(help="YAML fault plan (kinds and targets: README, Simulator)."),
        ] = None,
        rate: Annotated[
            float,
            typer.Option(help="Market steps per second; each step updates every book once."),
        ] = 50.0,
    ) -> None:
        """Start simulated Bybit/OKX venues on 127.0.0.1; print one JSON line of endpoints per venue."""
        names = [v.strip() for v in venues.split(",") if v.strip()]
        pairs = [s.strip() for s in symbols.split(",") if s.strip()]
        try:
            plan = FaultPlan.load(faults, seed=seed) if faults else FaultPlan(seed=seed)
        except FaultPlanError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        if rate < 0:
            typer.echo(f"expected --rate >= 0 steps per second, was {rate}", err=True)
            raise typer.Exit(1)
        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(_serve(names, pairs, seed=seed, plan=plan, rate=rate))
        except ValueError as exc:  # unknown venues or symbols, named by `start`
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
