"""`arbiter sim`: run the simulated venues on loopback until interrupted.

`--still` keeps the market still (prices and basis move only when told); `--control` reads
commands from stdin to tell it (`arbiter.sim.control`), and ends the simulator when stdin
closes, so a simulator started by a test never outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from arbiter.sim import FaultPlan, Simulation, start
from arbiter.sim.catalog import DEFAULT_SYMBOLS
from arbiter.sim.control import apply
from arbiter.sim.faults import FaultPlanError
from arbiter.sim.generator import STILL_MARKET


async def _serve(
    venues: list[str],
    symbols: list[str],
    *,
    seed: int,
    plan: FaultPlan,
    rate: float,
    still: bool,
    control: bool,
) -> None:
    sim = await start(
        venues=venues,
        symbols=symbols,
        seed=seed,
        faults=plan,
        steps_per_second=rate,
        market=STILL_MARKET if still else None,
    )
    try:
        for venue in venues:
            typer.echo(json.dumps(sim.endpoints(venue).as_dict()), nl=True)
        if control:
            await _control_loop(sim)
        else:
            await asyncio.Event().wait()  # until cancelled (Ctrl-C)
    finally:
        await sim.stop()


async def _control_loop(sim: Simulation) -> None:
    """Answer each stdin line on stdout until stdin closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip():
            print(json.dumps(apply(sim, line)), flush=True)


def register(app: typer.Typer) -> None:
    @app.command()
    def sim(
        *,
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
        still: Annotated[
            bool,
            typer.Option(help="A still market: prices and basis move only when told (--control)."),
        ] = False,
        control: Annotated[
            bool,
            typer.Option(
                help="Read JSON commands on stdin (basis, step, fault, state), answer on stdout; "
                "stop when stdin closes."
            ),
        ] = False,
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
                asyncio.run(
                    _serve(
                        names, pairs, seed=seed, plan=plan, rate=rate, still=still, control=control
                    )
                )
        except ValueError as exc:  # unknown venues or symbols, named by `start`
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
