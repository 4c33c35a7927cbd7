"""Run simulated venues on loopback: `start()` for tests and the CLI, `Simulation` to steer them.

Each venue gets one aiohttp server on 127.0.0.1 (port 0: the OS picks, so parallel test runs
never collide) serving REST and both WebSockets. The market generator steps every venue's
books together; with `updates_per_second=0` it only steps when a test calls `step()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from arbiter.sim.bybit import BybitRest, BybitWs
from arbiter.sim.catalog import DEFAULT_SYMBOLS, funded_account, venue_instruments
from arbiter.sim.clock import Clock, WallClock
from arbiter.sim.engine import VenueEngine
from arbiter.sim.faults import FaultPlan
from arbiter.sim.generator import MarketGenerator, MarketParams
from arbiter.sim.okx import OkxRest, OkxWs
from arbiter.sim.replay import Replayer

VENUES = ("bybit", "okx")
MAX_LAG_S = 0.25
MAX_BATCH = 16  # steps made per wake-up at most, so writers and REST are never starved


@dataclass
class VenueEndpoints:
    venue: str
    rest: str
    ws_public: str
    ws_private: str
    api_key: str
    secret: str
    passphrase: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {
            "venue": self.venue,
            "rest": self.rest,
            "ws_public": self.ws_public,
            "ws_private": self.ws_private,
            "api_key": self.api_key,
            "secret": self.secret,
        }
        if self.venue == "okx":
            out["passphrase"] = self.passphrase
        return out


@dataclass
class SimVenue:
    engine: VenueEngine
    endpoints: VenueEndpoints
    runner: web.AppRunner
    dialect: Any  # the venue's WS dialect object (BybitWs / OkxWs), for inspection in tests


@dataclass
class Simulation:
    venues: dict[str, SimVenue]
    generator: MarketGenerator
    faults: FaultPlan
    hang: asyncio.Event
    replayer: Replayer | None = None
    steps: int = 0  # market steps made by `run`
    lagged: int = 0  # times `run` fell more than MAX_LAG_S behind its timeline and gave up on it
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def engine(self, venue: str) -> VenueEngine:
        return self.venues[venue].engine

    def endpoints(self, venue: str) -> VenueEndpoints:
        return self.venues[venue].endpoints

    def step(self, n: int = 1) -> None:
        """Move the market `n` steps now (tests drive the market by hand)."""
        for _ in range(n):
            if self.replayer is not None:
                self.replayer.step()
            else:
                self.generator.step()
            for v in self.venues.values():
                v.engine.settle_funding()

    async def run(self, steps_per_second: float) -> None:
        """Step the market on a fixed timeline. Every step that is due when the loop wakes is
        made at once (so clients get the rate asked for even though timers are coarser than a
        step, and each socket sends a step's frames in one burst), unless the machine has
        fallen so far behind that it never could catch up."""
        loop = asyncio.get_running_loop()
        interval = 1.0 / steps_per_second
        due = loop.time()
        while True:
            now = loop.time()
            if now - due > MAX_LAG_S:
                self.lagged += 1
                due = now
            for _ in range(MAX_BATCH):
                if due > now:
                    break
                self.step()
                self.steps += 1
                due += interval
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.hang.set()
        self.faults.release_held()
        for v in self.venues.values():
            await v.runner.cleanup()


async def _serve_venue(
    *, name: str, engine: VenueEngine, faults: FaultPlan, hang: asyncio.Event, host: str, port: int
) -> SimVenue:
    app = web.Application()
    dialect: Any
    if name == "bybit":
        BybitRest(engine, faults, hang).install(app)
        dialect = BybitWs(engine, faults)
        dialect.install(app)
    else:
        OkxRest(engine, faults, hang).install(app)
        dialect = OkxWs(engine, faults)
        dialect.install(app)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    base = f"http://{host}:{bound}"
    ws = f"ws://{host}:{bound}"
    account = next(iter(engine.accounts.values()))
    if name == "bybit":
        endpoints = VenueEndpoints(
            name, base, f"{ws}/v5/public", f"{ws}/v5/private", account.api_key, account.secret
        )
    else:
        endpoints = VenueEndpoints(
            name,
            base,
            f"{ws}/ws/v5/public",
            f"{ws}/ws/v5/private",
            account.api_key,
            account.secret,
            account.passphrase,
        )
    return SimVenue(engine, endpoints, runner, dialect)


async def start(
    *,
    venues: Sequence[str] = VENUES,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    seed: int = 0,
    faults: FaultPlan | None = None,
    clock: Clock | None = None,
    steps_per_second: float = 0.0,
    host: str = "127.0.0.1",
    port: int = 0,
    market: MarketParams | None = None,
    replay: dict[str, str] | None = None,
) -> Simulation:
    """Start the simulated venues with a funded account each; returns once they accept clients.

    Each market step updates every book once; `steps_per_second` > 0 steps on a timeline (and
    the model moves 1/rate seconds per step), 0 leaves stepping to `Simulation.step()`.
    `replay` maps a venue to a recorded stream file (one raw venue frame per line) to play
    instead of the generated market.
    """
    unknown = [v for v in venues if v not in VENUES]
    if unknown:
        raise ValueError(f"expected venues among {VENUES}, was {unknown}")
    plan = faults or FaultPlan(seed=seed)
    the_clock = clock or WallClock()
    hang = asyncio.Event()
    engines = []
    served: dict[str, SimVenue] = {}
    for name in venues:
        engine = VenueEngine(
            name, venue_instruments(name, tuple(symbols)), clock=the_clock, faults=plan
        )
        account = funded_account(name, tuple(symbols))
        engine.accounts[account.api_key] = account
        engines.append(engine)
    params = market or MarketParams()
    if steps_per_second > 0:
        params = replace(params, step_seconds=1.0 / steps_per_second)
    generator = MarketGenerator(engines, seed=seed, params=params)
    replayer = Replayer.from_files(engines, replay) if replay else None
    for engine in engines:
        served[engine.name] = await _serve_venue(
            name=engine.name, engine=engine, faults=plan, hang=hang, host=host, port=port
        )
    sim = Simulation(served, generator, plan, hang, replayer)
    sim.step()  # every book has liquidity before the first client arrives
    if steps_per_second > 0:
        sim._task = asyncio.create_task(sim.run(steps_per_second))
    return sim
