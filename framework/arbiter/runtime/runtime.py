"""The shared runtime: many strategies on one event loop, changed while they run.

This module runs the whole: start-up, shutdown, the loops, and what the trading states and
incidents set off. The jobs are in their own modules, wired together here:
- `runtime.routing`: venue events (books to the spread engines watching them, private events
  to the gateway and the journal, order changes into the strategies' books);
- `runtime.registry`: the strategies (started, reloaded in place, drained, refused);
- `runtime.pair_desk`: what becomes of a pair's outcomes, and the operator's pair commands;
- `runtime.halts`: who halts trading and who may resume it; `runtime.status`: the status view.

Start-up, in this order (nothing trades before recovery has finished):
1. open the journal, put every order it left open back into the tracker and latch again every
   trading-state source it holds (`runtime.halts`); watch the kill file;
2. load every manifest; open the venue accounts they name (one session per account, shared);
3. reconcile the journal with every open venue by client order id (`execution.recovery`);
4. start the strategies: their kill-switch gates' files watched, books watched, spread engines
   built once their books are synced, hedgers scheduled; the accounts' records since the
   newest one kept are read (a settlement made while the runtime was down); the safety loops
   and the control API start.

The order gateway admits no placement while a kill holds (`TradingStates.admit`). A tick
(`TICK_S`) retries gates of armed pairs, checks risk limits, refreshes venue health and collects
drained pairs. The manifest watcher is polled every `DEFAULT_POLL_S`.

`stop()` shuts down in order: entries stop (`shutdown` halts "*"), resting orders are
cancelled, the gateway's background work and the supervisor's tasks end, the venue sessions
close, the journal closes.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from loguru import logger

from arbiter import clock
from arbiter.control.incidents import Incident, IncidentLog
from arbiter.execution.dual_leg import DualLegExecutor
from arbiter.execution.gateway import OrderGateway
from arbiter.execution.order_tracker import OrderTracker
from arbiter.execution.pretrade import PretradeChecker
from arbiter.execution.recovery import reconcile
from arbiter.execution.reservations import Reservations
from arbiter.risk.kill_switch import KillSwitch
from arbiter.risk.trading import (
    GLOBAL,
    HALTED,
    REDUCING,
    SHUTDOWN,
    HoldChange,
    StateChange,
    TradingStates,
    legging,
)
from arbiter.runtime.accounts import SimulatedVenues, VenueAccounts
from arbiter.runtime.forced import ForcedDesk
from arbiter.runtime.funding import FundingDesk
from arbiter.runtime.halts import Halts, hold_incident
from arbiter.runtime.hedging import HedgeDesk
from arbiter.runtime.host import StrategyHost
from arbiter.runtime.market import MarketState
from arbiter.runtime.pair_desk import PairDesk
from arbiter.runtime.pair_services import CycleJournal, EntryChecks
from arbiter.runtime.registry import StrategyRegistry
from arbiter.runtime.reload import DEFAULT_POLL_S, ManifestWatcher, ReloadManager
from arbiter.runtime.risk_monitor import RiskMonitor
from arbiter.runtime.routing import BookRouter, EventRouter
from arbiter.runtime.stats import RuntimeStats
from arbiter.runtime.status import runtime_status
from arbiter.runtime.strategy_runner import StrategyServices
from arbiter.runtime.supervisor import Supervised, Supervisor
from arbiter.store.journal import Journal
from arbiter.store.replay import (
    restore_orders,
)
from arbiter.venues import TradingVenue, VenueLimits
from arbiter.venues.registry.plugins import Installed, installed

TICK_S = 0.25
ZERO = Decimal(0)
RECORDS_SLACK_MS = 60_000  # read the accounts' records from this long before the newest kept


@dataclass
class RuntimeOptions:
    targets: list[Path]
    journal: Path
    kill_file: Path | None = None
    poll_s: float = DEFAULT_POLL_S
    tick_s: float = TICK_S
    balance_refresh_s: float = 5.0
    venue_grace_s: float = 10.0  # a venue unhealthy this long is a risk breach
    # plugin -> rate limits replacing the venue's published ones (see VenueConfig.limits)
    venue_limits: Mapping[str, VenueLimits] = field(default_factory=dict)
    cancel_timeout_s: float = 5.0
    restart_backoff_s: float = 0.1  # a dying task's first restart delay (doubling, to 5 s)


class _TradingVenues(Mapping[str, TradingVenue]):
    """The gateway's view of the venues: whatever accounts are open right now."""

    def __init__(self, accounts: VenueAccounts) -> None:
        self._accounts = accounts

    def __getitem__(self, name: str) -> TradingVenue:
        return self._accounts.sessions()[name].trading

    def __iter__(self) -> Iterator[str]:
        return iter(self._accounts.sessions())

    def __len__(self) -> int:
        return len(self._accounts.sessions())


class Runtime:
    def __init__(
        self,
        options: RuntimeOptions,
        *,
        sim: SimulatedVenues | None = None,
        plugins: Installed | None = None,
        environ: dict[str, str] | None = None,
        clock_ms: Callable[[], int] = clock.wall_ms,
    ) -> None:
        self.options = options
        self.clock_ms = clock_ms  # wall time: which trading day it is for the ledgers
        self.sim = sim
        self.stats = RuntimeStats()
        self._changed = asyncio.Event()  # set by every change; `wait_for` re-checks
        self.market = MarketState()
        self.incidents = IncidentLog()
        self.states = TradingStates(on_change=self._on_state_change, on_hold=self._on_hold)
        self.supervisor = Supervisor(
            on_give_up=self._gave_up, base_backoff_s=options.restart_backoff_s
        )
        self.watcher = ManifestWatcher(options.targets)
        plugins = plugins or installed()
        self.reloads = ReloadManager(plugins=plugins.names)
        self.strategies: dict[str, StrategyHost] = {}
        # WAL checkpoints run on their own thread, never inside an order's commit.
        self.journal = Journal.open(options.journal, checkpoint_interval_s=1.0)
        self.tracker = OrderTracker(self.journal)
        self.funding = FundingDesk(self.journal)
        self.forced = ForcedDesk(self.journal)
        self.checker = PretradeChecker(Reservations())
        self.books = BookRouter(self.stats, self._changed.set)
        self.events = EventRouter(
            strategies=self.strategies,
            books=self.books,
            journal=self.journal,
            tracker=self.tracker,
            checker=self.checker,
            market=self.market,
            funding=self.funding,
            forced=self.forced,
            incidents=self.incidents,
            stats=self.stats,
            changed=self._changed.set,
        )
        self.accounts = VenueAccounts(
            self.market,
            plugins,
            on_market=self.events.on_market,
            on_private=self.events.on_private,
            sim=sim,
            environ=environ,
            limits=options.venue_limits,
        )
        self.gateway = OrderGateway(self.tracker, _TradingVenues(self.accounts))
        self.gateway.on_applied.append(self.events.on_applied)
        self.gateway.admit = self.states.admit  # a kill refuses every placement, whatever path
        self.events.attach(self.accounts, self.gateway)
        self.executor = DualLegExecutor(self.gateway)
        self.pairs = PairDesk(
            self.strategies, self.incidents, self.states, self.journal, self.market
        )
        cycles = CycleJournal(self.journal, self.incidents, self._changed.set, self._pair_settled)
        self.services = StrategyServices(
            self.market,
            self.executor,
            cycles,
            EntryChecks(self.checker, self.market),
            self.pairs,
        )
        self.scheduler = AsyncIOScheduler()
        self.hedges = HedgeDesk(
            market=self.market,
            gateway=self.gateway,
            checker=self.checker,
            states=self.states,
            scheduler=self.scheduler,
            cycles=cycles,
            cancel_timeout_s=options.cancel_timeout_s,
        )
        self.risk = RiskMonitor(self.market, self.states, options.venue_grace_s)
        self.halts = Halts(self.states, self.supervisor, self.incidents, self.risk, self.strategies)
        self.kill_switches: dict[Path, KillSwitch] = self.halts.kill_switches
        self._reload_now = asyncio.Event()
        self.registry = StrategyRegistry(
            strategies=self.strategies,
            accounts=self.accounts,
            market=self.market,
            journal=self.journal,
            tracker=self.tracker,
            services=self.services,
            hedges=self.hedges,
            halts=self.halts,
            incidents=self.incidents,
            reloads=self.reloads,
            books=self.books,
            events=self.events,
            stats=self.stats,
            clock_ms=clock_ms,
        )
        self._stopped = False
        self._settling: set[asyncio.Task[None]] = set()  # drains being settled (held, not lost)
        self.incidents.subscribe(self._journal_incident)

    # -- start and stop --------------------------------------------------------------------

    async def start(self) -> None:
        state = self.journal.load_state()
        restore_orders(state, self.tracker)
        # Every halt a previous run left latched holds again before anything can trade.
        self.halts.restore(state.holds)
        if self.options.kill_file is not None:
            self._kill_switch(self.options.kill_file)
        self.registry.cycle_records = dict(state.cycles)
        decisions = self.reloads.apply(self.watcher.scan())
        startable = [d for d in decisions if d.action == "start" and d.manifest is not None]
        for decision in decisions:
            if decision.action == "rejected":
                self.registry.report_refusal(decision.path, decision.strategy, decision.describe())
        # Every account any manifest names is open before recovery, so recovery sees them all.
        for decision in startable:
            assert decision.manifest is not None
            _, errors = await self.registry.open_accounts(decision.manifest)
            if errors:
                self.registry.refuse(decision.path, decision.strategy, errors, keep=None)
        self.stats.recovery = await reconcile(
            self.gateway, _TradingVenues(self.accounts), self.journal
        )
        for line in self.stats.recovery.lines():
            logger.warning("recovery: {}", line)
        for orphan in self.stats.recovery.orphans:
            self.incidents.raise_(
                f"orphan:{orphan.venue}:{orphan.client_id}",
                "orphan_order",
                "recovery",
                f"{orphan.venue} holds {orphan.client_id} ({orphan.symbol} {orphan.side} "
                f"{orphan.qty}) that the journal lacks",
            )
        for decision in startable:
            assert decision.manifest is not None
            if self.reloads.running.get(decision.path) is decision.manifest:  # not refused
                await self.registry.start_strategy(
                    decision.path, decision.manifest, time.perf_counter()
                )
        await self.events.catch_up_records()
        # Everything built so far (modules, markets, restored orders) lives as long as the
        # runtime: keep it out of every future collection, so a full GC pass never lands on
        # an order's path (a full scan of this heap is slow).
        gc.collect()
        gc.freeze()
        self.scheduler.start()
        # Safety loops fail closed (see `arbiter.runtime.halts`); the manifest watcher is not one.
        self.halts.start_loop("tick", self._tick_loop, self.tick, REDUCING)
        self.supervisor.start("manifest-watcher", self._watch_loop)
        self.halts.start_loop("balances", self._balance_loop, self._refresh_balances, REDUCING)

    async def stop(self) -> None:
        """Stop entries, cancel resting orders, end tasks, close venues, close the journal."""
        if self._stopped:
            return
        self._stopped = True
        self.states.hold(GLOBAL, SHUTDOWN, HALTED, "runtime", "shutting down")
        open_orders = [s.client_id for s in self.tracker.open_orders()]
        if open_orders:
            try:
                async with asyncio.timeout(self.options.cancel_timeout_s):
                    await asyncio.gather(
                        *(self.gateway.cancel(cid) for cid in open_orders), return_exceptions=True
                    )
            except TimeoutError:
                logger.error("shutdown: cancels still pending after the timeout")
        busy = [t for h in self.strategies.values() for t in h.runner.in_flight()]
        if busy:
            await asyncio.wait(busy, timeout=self.options.cancel_timeout_s)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.gateway.close()  # its queries and cancels end before the journal does
        await self.supervisor.stop()
        await self.accounts.close_all()
        self.journal.close()

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until `predicate()` holds, re-checked whenever the runtime's state changes (a
        cycle transition, an order change, a reload, a trading-state change, each tick).
        Returns False if `timeout_s` passed first."""
        changed = self._changed
        try:
            async with asyncio.timeout(timeout_s):
                while not predicate():
                    # Cleared only after the check: a change made before it is seen by the
                    # check; one made after wakes the wait. A set wakes every waiter at once, so
                    # one waiter clearing cannot hide a change from another.
                    changed.clear()
                    await changed.wait()
        except TimeoutError:
            return predicate()
        return True

    def _notify(self) -> None:
        self._changed.set()

    def reload_now(self) -> None:
        """Re-read the manifests at once (SIGHUP, `arbiter reload`)."""
        self._reload_now.set()

    def reset_pair(self, strategy: str, pair: str, by: str) -> str:
        return self.pairs.reset_pair(strategy, pair, by)

    def resume_pair(self, strategy: str, pair: str, by: str) -> str:
        return self.pairs.resume_pair(strategy, pair, by)

    # -- trading states, incidents, kill switches --------------------------------------------

    def _on_state_change(self, change: StateChange) -> None:
        self._notify()
        self.journal.record_trading_state(
            change.scope, source=change.source, dest=change.dest, by=change.by, reason=change.reason
        )
        logger.bind(strategy=change.scope).warning(
            "trading state {} -> {} by {}: {}", change.source, change.dest, change.by, change.reason
        )
        self.hedges.follow_global_state(list(self.strategies.values()))

    def _on_hold(self, change: HoldChange) -> None:
        hold = change.hold
        self._notify()
        hold_incident(self.incidents, change)
        pair = hold.source.removeprefix(legging(""))
        if change.event == "release" and hold.source == legging(pair):
            # The operator cleared a failed repair's hold: the pair it halted resumes with it.
            host = self.strategies.get(hold.scope)
            runners = host.runner.runners() if host is not None else []
            if any(r.pair.id == pair and r.machine.state == "halted" for r in runners):
                try:
                    self.pairs.resume_halted(hold.scope, pair, change.by)
                except ValueError as exc:  # a step still in flight: `arbiter pair resume`
                    logger.bind(strategy=hold.scope, pair=pair).warning("{}", exc)
        self.journal.record_hold(
            hold.scope,
            hold.source,
            event=change.event,
            state=hold.state,
            held_by=hold.by,
            by=change.by,
            reason=change.reason,
        )
        logger.bind(strategy=hold.scope).warning(
            "{} {} on {} ({}) by {}: {}",
            change.event,
            hold.source,
            hold.scope,
            hold.state,
            change.by,
            change.reason,
        )

    def _journal_incident(self, incident: Incident, event: str) -> None:
        self.journal.record_incident_event(
            incident.key,
            kind=incident.kind,
            event=event,
            source=incident.source,
            reason=incident.reason,
        )

    def _kill_switch(self, path: Path) -> None:
        self.halts.watch_kill_file(path)

    def _gave_up(self, entry: Supervised, exc: BaseException) -> None:
        self.halts.gave_up(entry)

    # -- the loops ---------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.tick_s)
            await self.tick()

    async def tick(self) -> None:
        """What time alone decides, four times a second: venue health and how long a venue has
        been down, gate retries, the risk limits (the trading day rolls over, a breach lasts).
        What an event says is done on that event: an engine completes on the book that brings
        its last pair in (`BookRouter`), a drained pair leaves when its cycle ends flat or a
        reload drains it (`StrategyRegistry.settle_drains`)."""
        self.accounts.refresh_health()
        now = clock.monotonic()
        self.risk.observe_venues(now)
        for host in list(self.strategies.values()):
            for pair in host.runner.runners():
                pair.retry_gates()
            self.risk.check(host, now)
        self._notify()

    def _pair_settled(self, strategy: str, pair: str) -> None:
        """A pair's cycle ended flat: if the pair was draining, it may leave now (and with it,
        a strategy whose manifest is gone)."""
        host = self.strategies.get(strategy)
        if host is None or pair not in host.runner.draining:
            return
        task = asyncio.get_running_loop().create_task(self.registry.settle_drains(host))
        self._settling.add(task)
        task.add_done_callback(self._settled_done)

    def _settled_done(self, task: asyncio.Task[None]) -> None:
        self._settling.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.opt(exception=task.exception()).error("drained pair not settled")

    async def _watch_loop(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.options.poll_s):
                    await self._reload_now.wait()
            except TimeoutError:
                pass
            self._reload_now.clear()
            seen_at = time.perf_counter()
            changes = self.watcher.scan()
            if changes:
                for decision in self.reloads.apply(changes):
                    await self.registry.apply_decision(decision, seen_at)
                self._notify()

    async def _balance_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.balance_refresh_s)
            await self._refresh_balances()

    async def _refresh_balances(self) -> None:
        for name in list(self.accounts.sessions()):
            await self.accounts.refresh_balances(name)

    # -- status ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What `arbiter status` shows (see `arbiter.runtime.status`)."""
        return runtime_status(
            strategies=self.strategies,
            states=self.states,
            reloads=self.reloads,
            accounts=self.accounts,
            gateway=self.gateway,
            incidents=self.incidents,
        )
