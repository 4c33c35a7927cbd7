"""`arbiter demo`: what `make demo` runs.

It validates every manifest in a folder and prints each compiled plan (pairs, legs,
thresholds, sizing, the gates bound to each transition), then runs them all on one runtime
against the built-in exchange simulator for `--duration` seconds (`arbiter run FOLDER --sim`)
with a fresh journal, and prints what happened: cycles, PnL by line, slippage, gates fired
with their reasons, the worst net delta the hedger let through, and latencies.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from arbiter.commands.manifest import validate_files
from arbiter.commands.run import DEMO_MARKET, demo_faults, print_outcome, run_runtime
from arbiter.compiler import Plan, compile_manifest
from arbiter.runtime.logs import configure_logging


def _plan_table(plan: Plan, filename: str) -> Table:
    table = Table(
        title=f"{plan.strategy}  ({filename}, sha256 {plan.manifest_sha256[:12]})",
        title_justify="left",
    )
    for column in ("pair", "legs", "entry/exit bps", "size", "gates on enter", "gates on exit"):
        table.add_column(column)
    for pair in plan.pairs:
        legs = "\n".join(f"{leg.role}: {leg.venue}:{leg.symbol}" for leg in pair.legs)
        size = (
            f"{pair.sizing.order_notional} quote"
            if pair.sizing.order_notional
            else f"{pair.sizing.order_qty} {pair.asset}"
        )
        enter = [g.name for g in pair.gates if "enter" in g.triggers]
        exit_ = [g.name for g in pair.gates if "exit" in g.triggers]
        table.add_row(
            pair.id,
            legs,
            f"{pair.thresholds.entry_bps} / {pair.thresholds.exit_bps}",
            size,
            "\n".join(enter) or "-",
            "\n".join(exit_) or "-",
        )
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        folder: Annotated[Path, typer.Argument(exists=True, file_okay=False)] = Path("strategies"),
        duration: Annotated[float, typer.Option(help="Seconds to run; 0 only validates.")] = 60,
        seed: Annotated[int, typer.Option(help="Seed of the simulated market.")] = 7,
    ) -> None:
        """Validate the example strategies, run them against the simulator, print a summary."""
        console = Console(width=200)
        files = sorted(folder.glob("*.yaml"))
        if not files:
            console.print(f"no manifests in {folder}")
            raise typer.Exit(1)
        failed = False
        for filename, loaded, errors in validate_files(files):
            if loaded is None:
                failed = True
                for error in errors:
                    console.print(error.render(filename), style="red", markup=False)
                continue
            console.print(_plan_table(compile_manifest(loaded), filename))
        console.print(f"{len(files)} manifests, {'some invalid' if failed else 'all valid'}")
        if failed:
            raise typer.Exit(1)
        if duration <= 0:
            return
        configure_logging("human", level="WARNING")
        console.print(f"running {folder} against the simulator for {duration:g} s ...")
        with tempfile.TemporaryDirectory(prefix="arbiter-demo-") as scratch:
            outcome = asyncio.run(
                run_runtime(
                    [folder],
                    journal=Path(scratch) / "journal.sqlite",
                    state_dir=Path(scratch),
                    sim=True,
                    duration_s=duration,
                    seed=seed,
                    market=DEMO_MARKET,
                    faults=demo_faults(seed),
                )
            )
        print_outcome(outcome, console)
        if not outcome.summaries:
            raise typer.Exit(1)
