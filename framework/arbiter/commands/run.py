"""`arbiter run`: one runtime for every manifest given, until interrupted or `--duration` ends.

With `--sim` the exchange simulator starts in-process and every venue whose endpoint is `sim`
is pointed at it. The runtime writes `<state dir>/control.json` so `arbiter status`, `reload`,
`halt`, `resume` and `kill` find it. SIGINT/SIGTERM shut down in order; SIGHUP reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from loguru import logger
from rich.console import Console
from rich.live import Live
from rich.table import Table

from arbiter.control.api import (
    CommandSpec,
    ControlServer,
    Principal,
    Role,
    new_token_file,
    write_control_file,
)
from arbiter.manifest.loader import ManifestError, load_manifest
from arbiter.risk.trading import GLOBAL
from arbiter.runtime.logs import configure_logging
from arbiter.runtime.runtime import Runtime, RuntimeOptions
from arbiter.runtime.summary import (
    StrategySummary,
    gate_reasons,
    latency_table,
    summarize,
    summary_table,
)
from arbiter.sim import FaultKind, FaultPlan
from arbiter.sim import start as start_sim
from arbiter.sim.generator import MarketParams
from arbiter.sim.server import Simulation


class LogFormat(StrEnum):
    HUMAN = "human"
    JSON = "json"


# A livelier market than the simulator's default, so a short run sees windows open and close:
# a wider, faster basis, more frequent jumps, venues drifting further apart (spot/spot
# windows), see arbiter.sim.generator.
# One thin book, as illiquid listings are: the majors' DOGE perp on OKX, where the
# "perp can absorb the hedge" gate should refuse entries and say why.
DEMO_MARKET = MarketParams(
    basis_vol=0.001,
    basis_reversion=0.5,
    jump_rate=0.3,
    jump_size=0.004,
    venue_offset_vol=0.003,
    depth={"okx:DOGE:perp": 0.0005},
)


def demo_faults(seed: int) -> FaultPlan:
    """What a venue does now and then: refuse an order, or accept it and answer 502. Either
    leaves one leg filled, which the manifest's repair policy (or the hedger) must mend."""
    plan = FaultPlan(seed=seed)
    for venue, path in (("okx", "POST /api/v5/trade/order"), ("bybit", "POST /v5/order/create")):
        plan.add(FaultKind.REJECT, f"{venue} {path}", probability=0.03)
        plan.add(FaultKind.REST_5XX_AFTER_ACCEPT, f"{venue} {path}", probability=0.01)
    return plan


@dataclass
class RunOutcome:
    summaries: list[StrategySummary]
    rejected: dict[str, str]
    book_events: int
    reload_ms: list[float]
    recovery: list[str]


def manifest_files(targets: list[Path]) -> list[Path]:
    files: list[Path] = []
    for target in targets:
        files.extend(sorted(target.glob("*.yaml")) if target.is_dir() else [target])
    return files


def sim_symbols(targets: list[Path]) -> list[str]:
    """BASE/USDT for every asset the valid manifests trade (invalid ones are reported later)."""
    assets: set[str] = set()
    for path in manifest_files(targets):
        with contextlib.suppress(ManifestError):
            assets.update(p.asset for p in load_manifest(path).manifest.pairs)
    return [f"{a}/USDT" for a in sorted(assets)] or ["BTC/USDT"]


async def run_runtime(
    targets: list[Path],
    *,
    journal: Path,
    state_dir: Path,
    sim: bool,
    duration_s: float | None,
    seed: int = 0,
    market: MarketParams | None = None,
    faults: FaultPlan | None = None,
    sim_rate: float = 20.0,
    kill_file: Path | None = None,
    live: Console | None = None,
) -> RunOutcome:
    simulation: Simulation | None = None
    if sim:
        simulation = await start_sim(
            symbols=sim_symbols(targets),
            seed=seed,
            steps_per_second=sim_rate,
            market=market or MarketParams(),
            faults=faults,
        )
    runtime = Runtime(
        RuntimeOptions(targets=targets, journal=journal, kill_file=kill_file), sim=simulation
    )
    stop = asyncio.Event()
    control = ControlServer(runtime.status, control_commands(runtime, stop), _tokens(state_dir))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, runtime.reload_now)
    try:
        await runtime.start()
        url = await control.start()
        write_control_file(state_dir / "control.json", url, state_dir / "tokens.json")
        logger.info("runtime ready; control API at {}", url)
        await _wait(stop, duration_s, runtime, live)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        summaries = [summarize(h, runtime.states.state(n)) for n, h in runtime.strategies.items()]
        outcome = RunOutcome(
            summaries,
            {str(p): e for p, e in runtime.reloads.last_error.items()},
            runtime.stats.book_events,
            [ms for h in runtime.strategies.values() for ms in h.reload_ms],
            runtime.stats.recovery.lines() if runtime.stats.recovery else [],
        )
        await runtime.stop()
        await control.stop()
        if simulation is not None:
            await simulation.stop()
    return outcome


async def _wait(
    stop: asyncio.Event, duration_s: float | None, runtime: Runtime, live: Console | None
) -> None:
    deadline = None if duration_s is None else time.monotonic() + duration_s
    view = Live(status_table(runtime), console=live, refresh_per_second=2) if live else None
    with view if view is not None else contextlib.nullcontext():
        while not stop.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(0.5, left) if left is not None else 0.5):
                    await stop.wait()
            if view is not None:
                view.update(status_table(runtime))


def status_table(runtime: Runtime) -> Table:
    table = Table(title=f"arbiter  global={runtime.states.state(GLOBAL)}", title_justify="left")
    columns = ("strategy", "state", "pair", "machine", "spreads bps entry/exit", "held")
    for column in (*columns, "net delta", "gates blocking", "fast lane p50/p99 us"):
        table.add_column(column)
    for body in runtime.status()["strategies"]:
        deltas = ", ".join(f"{a} {v}" for a, v in body["net_delta"].items()) or "-"
        gates = ", ".join(f"{g} {n}" for g, n in body["gates_failed"].items()) or "-"
        lane = body["fast_lane_us"]
        latency = "-" if lane["p50"] is None else f"{lane['p50']:.1f} / {lane['p99']:.1f}"
        for n, pair in enumerate(body["pairs"]):
            spreads = "  ".join(
                f"{d}: {v[0]}/{v[1]}" for d, v in pair.get("spreads_bps", {}).items()
            )
            first = n == 0  # strategy-wide figures once, on its first pair's row
            table.add_row(
                body["name"] if first else "",
                body["state"] if first else "",
                pair["id"],
                pair["state"],
                spreads,
                pair["position_base"],
                deltas if first else "",
                gates if first else "",
                latency if first else "",
            )
    return table


def _tokens(state_dir: Path) -> dict[str, Principal]:
    return new_token_file(state_dir / "tokens.json")


def control_commands(runtime: Runtime, stop: asyncio.Event) -> dict[str, CommandSpec]:
    """The control API's commands on `runtime`: reload, halt and resume for an operator, kill
    for an admin (an admin's resume also clears a kill); each answers with the scope's state and
    what still holds it (`arbiter.runtime.halts`)."""

    async def reload(args: Mapping[str, Any], who: Principal) -> dict[str, Any]:
        runtime.reload_now()
        return {"reload": "requested"}

    async def halt(args: Mapping[str, Any], who: Principal) -> dict[str, Any]:
        return runtime.halts.halt(_strategy(runtime, args), _by(who))

    async def resume(args: Mapping[str, Any], who: Principal) -> dict[str, Any]:
        return await runtime.halts.resume(
            _strategy(runtime, args), _by(who), admin=who.role >= Role.ADMIN
        )

    async def kill(args: Mapping[str, Any], who: Principal) -> dict[str, Any]:
        return runtime.halts.kill(_by(who))

    async def pair_reset(args: Mapping[str, Any], who: Principal) -> dict[str, Any]:
        strategy, pair = str(args.get("strategy", "")), str(args.get("pair", ""))
        return {"state": runtime.reset_pair(strategy, pair, f"operator:{who.who}")}

    async def pair_resume(args: Mapping[str, Any], who: Principal) -> dict[str, Any]:
        strategy, pair = str(args.get("strategy", "")), str(args.get("pair", ""))
        return {"state": runtime.resume_pair(strategy, pair, f"operator:{who.who}")}

    return {
        "pair_reset": CommandSpec(pair_reset, Role.OPERATOR),
        "pair_resume": CommandSpec(pair_resume, Role.OPERATOR),
        "reload": CommandSpec(reload, Role.OPERATOR),
        "halt": CommandSpec(halt, Role.OPERATOR),
        "resume": CommandSpec(resume, Role.OPERATOR),
        "kill": CommandSpec(kill, Role.ADMIN),
    }


def _strategy(runtime: Runtime, args: Mapping[str, Any]) -> str:
    """The scope a command names: "*", a running strategy, or one a halt still holds (a
    strategy since removed, whose halt a restart kept)."""
    name = str(args.get("strategy", ""))
    if name != GLOBAL and name not in runtime.strategies and not runtime.states.holds(name):
        raise KeyError(f"no strategy {name!r}; running: {', '.join(runtime.strategies) or 'none'}")
    return name


def _by(who: Principal) -> str:
    return f"{who.role.name.lower()}:{who.who}"


def print_outcome(outcome: RunOutcome, console: Console) -> None:
    console.print(summary_table(outcome.summaries))
    console.print(latency_table(outcome.summaries))
    for line in gate_reasons(outcome.summaries):
        console.print(line, markup=False)
    for path, error in outcome.rejected.items():
        console.print(f"refused {path}: {error}", style="red", markup=False)
    for line in outcome.recovery:
        console.print(f"recovery: {line}", markup=False)

    def total(line: Callable[[StrategySummary], Decimal]) -> Decimal:
        return sum((line(s) for s in outcome.summaries), Decimal(0))

    console.print(
        f"{len(outcome.summaries)} strategies, {sum(s.cycles for s in outcome.summaries)} cycles, "
        f"realized PnL {total(lambda s: s.realized_pnl):.4f} USDT = spread "
        f"{total(lambda s: s.spread_pnl):.4f} + hedge {total(lambda s: s.hedge_pnl):.4f} + "
        f"funding {total(lambda s: s.funding):.4f} - fees {total(lambda s: s.fees):.4f}, "
        f"{outcome.book_events} book events"
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        targets: Annotated[list[Path], typer.Argument(help="Manifest files or folders.")],
        *,
        journal: Annotated[Path, typer.Option(help="SQLite journal of this runtime.")] = Path(
            ".arbiter/journal.sqlite"
        ),
        sim: Annotated[bool, typer.Option("--sim", help="Start the exchange simulator.")] = False,
        duration: Annotated[
            float | None, typer.Option(help="Stop after this many seconds.")
        ] = None,
        seed: Annotated[int, typer.Option(help="Seed of the simulated market.")] = 0,
        log_format: Annotated[LogFormat, typer.Option("--log-format")] = LogFormat.HUMAN,
        state_dir: Annotated[Path, typer.Option(help="Control file and tokens.")] = Path(
            ".arbiter"
        ),
        kill_file: Annotated[
            Path | None, typer.Option(help="While this file exists, everything is halted.")
        ] = None,
        live: Annotated[bool, typer.Option(help="Live status view on a terminal.")] = True,
    ) -> None:
        """Run every manifest on one runtime (hot-reloaded as the files change)."""
        missing = [str(t) for t in targets if not t.exists()]
        if missing:
            typer.echo(f"no such file or folder: {', '.join(missing)}", err=True)
            raise typer.Exit(2)
        configure_logging(log_format.value)
        journal.parent.mkdir(parents=True, exist_ok=True)
        console = Console(width=200)
        view = console if live and sys.stdout.isatty() else None
        outcome = asyncio.run(
            run_runtime(
                targets,
                journal=journal,
                state_dir=state_dir,
                sim=sim,
                duration_s=duration,
                seed=seed,
                kill_file=kill_file,
                live=view,
                market=DEMO_MARKET if sim else None,
            )
        )
        print_outcome(outcome, console)
        if not outcome.summaries:
            raise typer.Exit(1)
