"""The shared runtime: many strategies on one event loop, changed while they run.

Start-up, in this order (nothing trades before recovery has finished):
1. open the journal, put every order it left open back into the tracker and latch again every
   trading-state source it holds (`runtime.halts`); watch the kill file;
2. load every manifest; open the venue accounts they name (one session per account, shared);
3. reconcile the journal with every open venue by client order id (`execution.recovery`);
4. start the strategies: their kill-switch gates' files watched, books watched, spread engines
   built once their books are synced, hedgers scheduled; the safety loops and the control API
   start.

The order gateway admits no placement while a kill holds (`TradingStates.admit`).

While running: book events go from the venue readers straight into the strategies' spread
engines (`routing.BookRouter`, synchronous, never awaits); private events go into the order gateway;
every fill the tracker accepts goes into its strategy's ledger once. Funding settlements go to
the funding desk (`runtime.funding`: journaled once by the venue's id, split among the
strategies holding the perp); forced executions (auto-deleveraging, liquidations) go to the
forced desk (`runtime.forced`: booked into the positions they reduced) and raise an incident.
Settlements reported before the strategies are back (a reconnect's REST read during start-up)
wait for them, and start-up reads each account's records since the newest one the journal
holds, so a settlement made while the runtime was down is booked too. A tick (`TICK_S`)
retries gates of armed pairs, checks risk limits, refreshes venue health and collects drained
pairs. The manifest watcher is polled every `DEFAULT_POLL_S`; a reload applies in place
(`StrategyRunner.reload`) and is journaled with its hash and diff.

A version is checked against the venues before it is applied (every symbol listed as the
product its leg needs, `arbiter.manifest.listings`), when a file starts a strategy (start-up
too) and before a reload replaces the running version. If that check, opening an account, or
applying the version fails, the running version stays as it was (pairs, engine, watched books,
hedger) and the error, with file:line:col, shows in `status()` and as an incident
(`manifest:<file>`, journaled), resolved once a later version of the file is in effect. The
watch loop outlives any one file.

`stop()` shuts down in order: entries stop (`shutdown` halts "*"), resting orders are
cancelled, the supervisor's tasks end, the venue sessions close, the journal closes.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from loguru import logger

from arbiter.control.incidents import Incident, IncidentLog
from arbiter.execution.dual_leg import DualLegExecutor
from arbiter.execution.gateway import OrderGateway
from arbiter.execution.pretrade import PretradeChecker
from arbiter.execution.recovery import reconcile
from arbiter.execution.reservations import Reservations
from arbiter.manifest.diff import ManifestDiff
from arbiter.manifest.listings import check_listings
from arbiter.manifest.loader import LoadedManifest
from arbiter.manifest.yaml_source import SourceError
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
from arbiter.runtime.accounts import AccountSpec, VenueAccounts
from arbiter.runtime.forced import ForcedDesk, forced_fill
from arbiter.runtime.funding import FundingDesk, payment_of
from arbiter.runtime.halts import Halts
from arbiter.runtime.hedging import HedgeDesk
from arbiter.runtime.host import StrategyHost
from arbiter.runtime.ledger import HEDGE_PAIR, Ledger
from arbiter.runtime.market import MarketState
from arbiter.runtime.pair_desk import PairDesk
from arbiter.runtime.pair_services import CycleJournal, EntryChecks
from arbiter.runtime.reload import DEFAULT_POLL_S, ManifestWatcher, ReloadDecision, ReloadManager
from arbiter.runtime.restore import restore_cycle
from arbiter.runtime.risk_monitor import RiskMonitor
from arbiter.runtime.routing import BookRouter, EventRouter
from arbiter.runtime.stats import RuntimeStats
from arbiter.runtime.strategy_runner import StrategyRunner, StrategyServices
from arbiter.runtime.summary import fast_lane_percentiles
from arbiter.runtime.supervisor import Supervised, Supervisor
from arbiter.sim.server import Simulation
from arbiter.store.journal import Journal
from arbiter.store.replay import (
    restore_orders,
)
from arbiter.venues.contract import TradingVenue, VenueLimits
from arbiter.venues.orders import (
    ForcedExecution,
)
from arbiter.venues.private_stream import wall_ms
from arbiter.venues.registry import Installed, installed
from arbiter.venues.session import BookRef

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
        sim: Simulation | None = None,
        plugins: Installed | None = None,
        environ: dict[str, str] | None = None,
        clock_ms: Callable[[], int] = wall_ms,
    ) -> None:
        self.options = options
        self.clock_ms = clock_ms  # wall time: which trading day it is for the ledgers
        self.sim = sim
        self.stats = RuntimeStats()
        self.market = MarketState()
        self.incidents = IncidentLog()
        self.states = TradingStates(
            self.incidents, on_change=self._on_state_change, on_hold=self._on_hold
        )
        self.supervisor = Supervisor(
            on_give_up=self._gave_up, base_backoff_s=options.restart_backoff_s
        )
        self.watcher = ManifestWatcher(options.targets)
        plugins = plugins or installed()
        self.reloads = ReloadManager(plugins=plugins.names)
        self.strategies: dict[str, StrategyHost] = {}
        # WAL checkpoints run on their own thread, never inside an order's commit.
        self.journal = Journal.open(options.journal, checkpoint_interval_s=1.0)
        self.tracker = self.journal.tracker()
        self.funding = FundingDesk(self.journal)
        self.forced = ForcedDesk(self.journal)
        self.checker = PretradeChecker(Reservations())
        self.books = BookRouter(self.stats)
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
            changed=self._notify,
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
        self.services = StrategyServices(
            self.market,
            self.executor,
            CycleJournal(self.journal, self.incidents, self._notify),
            EntryChecks(self.checker, self.market),
            self.pairs,
        )
        self.scheduler = AsyncIOScheduler()
        self.hedges = HedgeDesk(
            self.market,
            self.gateway,
            self.checker,
            self.states,
            self.scheduler,
            cancel_timeout_s=options.cancel_timeout_s,
        )
        self.risk = RiskMonitor(self.market, self.states, options.venue_grace_s)
        self.halts = Halts(self.states, self.supervisor, self.incidents, self.risk, self.strategies)
        self.kill_switches: dict[Path, KillSwitch] = self.halts.kill_switches
        self._reload_now = asyncio.Event()
        # strategy -> (file, new version) to start once its old version has drained
        self._after_drain: dict[str, tuple[Path, LoadedManifest]] = {}
        self._changed = asyncio.Condition()
        self._stopped = False
        self.incidents.subscribe(self._journal_incident)

    # -- start and stop --------------------------------------------------------------------

    async def start(self) -> None:
        state = self.journal.load_state()
        restore_orders(state, self.tracker)
        # Every halt a previous run left latched holds again before anything can trade.
        self.halts.restore(state.holds)
        if self.options.kill_file is not None:
            self._kill_switch(self.options.kill_file)
        self._journal_cycles = dict(state.cycles)  # (strategy, pair) -> last cycle record
        decisions = self.reloads.apply(self.watcher.scan())
        startable = [d for d in decisions if d.action == "start" and d.manifest is not None]
        for decision in decisions:
            if decision.action == "rejected":
                self._report_refusal(decision.path, decision.strategy, decision.describe())
        # Every account any manifest names is open before recovery, so recovery sees them all.
        for decision in startable:
            assert decision.manifest is not None
            _, errors = await self._open_accounts(decision.manifest)
            if errors:
                self._refuse(decision.path, decision.strategy, errors, keep=None)
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
                await self._start_strategy(decision.path, decision.manifest, time.perf_counter())
        await self.events.catch_up_records()
        # Everything built so far (modules, markets, restored orders) lives as long as the
        # runtime: keep it out of every future collection, so a full GC pass never lands on
        # an order's path (a scan of this heap costs tens of ms).
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
        try:
            async with asyncio.timeout(timeout_s), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            return predicate()
        return True

    def _notify(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())

    def reload_now(self) -> None:
        """Re-read the manifests at once (SIGHUP, `arbiter reload`)."""
        self._reload_now.set()

    # -- strategies ------------------------------------------------------------------------

    async def _open_accounts(
        self, loaded: LoadedManifest
    ) -> tuple[dict[str, AccountSpec], list[SourceError]]:
        """Acquire every account the manifest names for its strategy; on any failure, the
        errors (each at its `venues.<name>` entry) and none of the accounts kept."""
        name = loaded.manifest.strategy.name
        specs = {n: AccountSpec.of(n, v) for n, v in loaded.manifest.venues.items()}
        errors = [
            loaded.error_at(("venues", venue), problem)
            for venue, spec in specs.items()
            for problem in self.accounts.check([spec])
        ]
        if errors:
            return specs, errors
        # Every account opens at once: each start is a few rate-limited REST reads.
        results = await asyncio.gather(
            *(self.accounts.acquire(spec, name) for spec in specs.values()),
            return_exceptions=True,
        )
        for venue, result in zip(specs, results, strict=True):
            if isinstance(result, Exception):
                errors.append(loaded.error_at(("venues", venue), f"cannot open: {result}"))
            elif isinstance(result, BaseException):
                raise result  # cancelled: the runtime is stopping
        if errors:
            await self._release(specs, name)
        return specs, errors

    async def _release(self, specs: Mapping[str, AccountSpec], owner: str) -> None:
        for account in specs:
            if self.accounts.spec(account) is not None:
                await self.accounts.release(account, owner)

    def _listing_errors(self, loaded: LoadedManifest) -> list[SourceError]:
        """What the venues do not list of the manifest's legs, among the accounts open with
        this manifest's definition of them (the others are checked once they are)."""
        same = [
            name
            for name, venue in loaded.manifest.venues.items()
            if name in self.accounts and not self.accounts.check([AccountSpec.of(name, venue)])
        ]
        return check_listings(loaded, self.market.instruments, same)

    async def _start_strategy(
        self,
        path: Path,
        loaded: LoadedManifest,
        seen_at: float,
        *,
        keep: LoadedManifest | None = None,
    ) -> bool:
        """Start the strategy of `loaded`; False when refused (an account would not open, a
        venue does not list a leg, starting raised), with nothing of it left running and
        `keep` as the file's version again."""
        name = loaded.manifest.strategy.name
        specs, errors = await self._open_accounts(loaded)
        errors = errors or self._listing_errors(loaded)
        if not errors:
            try:
                self._launch(path, loaded, specs)
            except Exception as exc:
                logger.bind(strategy=name).opt(exception=True).error("starting {} failed", name)
                errors = [SourceError(f"could not start this version: {exc!r}")]
        if errors:
            await self._release(specs, name)
            self._refuse(path, name, errors, keep=keep)
            return False
        host = self.strategies[name]
        host.reload_ms.append((time.perf_counter() - seen_at) * 1000)
        logger.bind(strategy=name).info(
            "strategy {} started from {} ({} pairs)", name, path, len(host.runner.pairs)
        )
        return True

    def _launch(self, path: Path, loaded: LoadedManifest, specs: dict[str, AccountSpec]) -> None:
        """Build and register the strategy's host; if any step raises, none of it stays."""
        name = loaded.manifest.strategy.name
        runner = StrategyRunner(loaded, self.services)
        ledger = Ledger(
            name,
            runner.inventory,
            clock_ms=self.clock_ms,
            day_start=loaded.manifest.risk.trading_day_start,
        )
        host = StrategyHost(path, loaded, runner, ledger, accounts=specs)
        host.hedge_seq = self.journal.last_cycle(name, HEDGE_PAIR)
        self.strategies[name] = host
        for gate in loaded.manifest.gates:  # watched before anything of it can trade
            if gate.type == "kill_switch":
                self._kill_switch(Path(gate.file))
        try:
            self._restore(host)
            self.hedges.attach(host)
            self._rewatch(host)
            runner.build_engine()
        except BaseException:
            self._unregister(host)
            raise
        self.journal.record_manifest(name, loaded.text)

    def _restore(self, host: StrategyHost) -> None:
        """Rebuild the strategy's books and each pair's last cycle from the journal."""
        history = self.journal.strategy_fills(host.name)
        # A forced trade goes back among the fills where it happened (venue time): average cost
        # depends on the order positions moved in.
        forced = self.journal.strategy_forced(host.name)
        for intent, fill in history:
            while forced and forced[0][0].ts_venue_ms < fill.ts_venue_ms:
                self._replay_forced(host, *forced.pop(0))
            self.events.book_fill(intent, fill, host)
        for event, qty, fee in forced:
            self._replay_forced(host, event, qty, fee)
        for settlement, share in self.journal.strategy_funding(host.name):
            host.ledger.on_funding(payment_of(settlement, share))
        for snap in self.tracker.open_orders():  # still working, or in doubt: may yet fill
            intent = self.tracker.intent(snap.client_id)
            if intent.id.strategy == host.name:
                self.events.pending(host, intent, snap)
        for pid, runner in host.runner.pairs.items():
            record = self._journal_cycles.get((host.name, pid))
            if record is None:
                continue
            restored = restore_cycle(
                runner.pair,
                record.cycle,
                record.state,
                history,
                self.market.instrument,
                handed_over=record.handed_over,
            )
            if record.state == "error":
                # A broken invariant waits for an operator (`arbiter pair reset`), restart or
                # not: the pair keeps what its fills say it holds, and trades nothing.
                runner.resume_from("error", restored.direction, restored.held_base)
                self.incidents.raise_(
                    f"error:{host.name}/{pid}",
                    "pair_error",
                    "restart",
                    f"pair was in error before the restart ({restored.reason}); "
                    "`arbiter pair reset` once looked at",
                )
                continue
            runner.resume_from(restored.state, restored.direction, restored.held_base)
            if restored.last_state != "idle":
                logger.bind(strategy=host.name, pair=pid).warning(
                    "restored: {} -> {} ({})", restored.last_state, restored.state, restored.reason
                )
            if restored.state == "halted":
                self.incidents.raise_(
                    f"legging:{host.name}/{pid}", "legging", "restart", restored.reason
                )
                host.residual_on_start = True  # the hedger takes it once the books are live

    def _replay_forced(
        self, host: StrategyHost, event: ForcedExecution, qty: Decimal, fee: Decimal
    ) -> None:
        inst = self.market.instruments.get((event.venue, "perp", event.symbol))
        if inst is not None:
            host.ledger.on_forced(forced_fill(event, qty, fee), inst, inst.base)

    async def _drain_strategy(self, name: str) -> None:
        """The manifest is gone: no new entries; pairs exit as usual and the strategy ends
        once flat (its accounts close when no other strategy uses them)."""
        host = self.strategies.get(name)
        if host is None:
            return
        host.runner.drain_all()
        logger.bind(strategy=name).info("strategy {} draining", name)

    async def _finish_drained(self, host: StrategyHost) -> None:
        name = host.name
        self._unregister(host)
        for acct in host.accounts:
            await self.accounts.release(acct, name)
        logger.bind(strategy=name).info("strategy {} stopped (drained)", name)
        waiting = self._after_drain.pop(name, None)
        if waiting is not None:
            await self._start_strategy(waiting[0], waiting[1], time.perf_counter())

    def _unregister(self, host: StrategyHost) -> None:
        """The strategy leaves the runtime: no hedger, no books watched, no book events."""
        self.hedges.detach(host)
        for acct, kind, symbol in host.watched:
            self.accounts.unwatch(acct, [BookRef(kind, symbol)])
        host.watched.clear()
        if self.strategies.get(host.name) is host:
            del self.strategies[host.name]
        self.books.index(self.strategies.values())

    def _rewatch(self, host: StrategyHost) -> None:
        """Watch what the strategy's pairs need now, and no longer what they do not; if a
        venue refuses a book, the watches stand as they were and the error propagates."""
        want = host.runner.watched()
        added: list[tuple[str, str, str]] = []
        try:
            for acct, kind, symbol in sorted(want - host.watched):
                self.accounts.watch(acct, [BookRef(kind, symbol)])
                added.append((acct, kind, symbol))
        except BaseException:
            for acct, kind, symbol in added:
                self.accounts.unwatch(acct, [BookRef(kind, symbol)])
            raise
        for acct, kind, symbol in host.watched - want:
            self.accounts.unwatch(acct, [BookRef(kind, symbol)])
        host.watched = want
        self.books.index(self.strategies.values())

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
        """Gate retries, risk checks, venue health and drained pairs: four times a second."""
        self.accounts.refresh_health()
        now = time.monotonic()
        self.risk.observe_venues(now)
        for host in list(self.strategies.values()):
            runner = host.runner
            runner.complete_engine()
            if host.residual_on_start and runner.engine is not None and host.hedger is not None:
                # A restart found a one-legged cycle: hedge it now, not at the next interval.
                host.residual_on_start = False
                host.hedger.take_residual()
            for pair in runner.runners():
                pair.retry_gates()
            if runner.collect_drained():
                self._rewatch(host)
            self.risk.check(host, now)
            if not runner.pairs and not runner.draining:
                await self._finish_drained(host)
        self._notify()

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
                    await self._apply_decision(decision, seen_at)
                self._notify()

    async def _apply_decision(self, decision: ReloadDecision, seen_at: float) -> None:
        if decision.action == "rejected":
            self._report_refusal(decision.path, decision.strategy, decision.describe())
            return
        try:
            if decision.action == "start" and decision.manifest is not None:
                await self._start_strategy(decision.path, decision.manifest, seen_at)
            elif decision.action == "drain":
                await self._drain_strategy(decision.strategy)
            elif decision.action == "apply" and decision.manifest is not None:
                await self._apply_reload(decision, seen_at)
        except Exception as exc:  # the watch loop outlives any one file
            logger.bind(strategy=decision.strategy).opt(exception=True).error(
                "{} of {} failed", decision.action, decision.path
            )
            running = any(h.path == decision.path for h in self.strategies.values())
            error = SourceError(f"could not apply this version: {exc!r}")
            self._refuse(
                decision.path,
                decision.strategy,
                [error],
                keep=decision.previous if running else None,
            )
            return
        if decision.path in self.reloads.last_error:
            return  # refused on the way
        if decision.action != "unchanged":
            self.stats.reloads += 1
        incident = self.incidents.get(f"manifest:{decision.path}")
        if incident is not None and incident.state != "resolved":
            self.incidents.resolve(incident.key, f"{decision.action}: {decision.describe()}")

    def _refuse(
        self,
        path: Path,
        strategy: str,
        errors: Sequence[SourceError],
        *,
        keep: LoadedManifest | None,
    ) -> None:
        """A decided version of `path` could not be put in effect: `keep` stays its version."""
        self._report_refusal(path, strategy, self.reloads.refuse(path, errors, keep))

    def _report_refusal(self, path: Path, strategy: str, text: str) -> None:
        self.stats.reloads_rejected += 1
        running = any(h.path == path for h in self.strategies.values())
        self.incidents.raise_(f"manifest:{path}", "manifest_refused", "reload", text)
        logger.bind(strategy=strategy).error(
            "{} refused, {}:\n{}",
            path,
            "the running version stays" if running else "nothing runs from it",
            text,
        )

    async def _apply_reload(self, decision: ReloadDecision, seen_at: float) -> None:
        assert decision.manifest is not None
        assert decision.diff is not None
        loaded, diff = decision.manifest, decision.diff
        old_name = self.reloads_old_name(decision)
        host = self.strategies.get(old_name)
        # Legs on accounts open with the same definition are checked before the running
        # version is touched; a changed venue section's are checked when it reopens.
        errors = self._listing_errors(loaded)
        if errors:
            self._refuse(decision.path, old_name, errors, keep=decision.previous)
            return
        if host is None or diff.strategy_renamed or diff.venues_changed:
            # A renamed strategy is a new one; a changed venue section restarts its accounts:
            # the old version drains, and the new one starts once the old one is gone (its
            # accounts closed, so they reopen with the new definition).
            new_name = loaded.manifest.strategy.name
            if host is not None:
                await self._drain_strategy(old_name)
            if new_name in self.strategies:
                self._after_drain[new_name] = (decision.path, loaded)
            else:
                await self._start_strategy(decision.path, loaded, seen_at)
            return
        try:
            done = self._reload_in_place(host, loaded, diff)
        except Exception as exc:
            logger.bind(strategy=host.name).opt(exception=True).error("reload failed")
            error = SourceError(f"could not apply this version, the running one stays: {exc!r}")
            self._refuse(decision.path, host.name, [error], keep=decision.previous)
            return
        self.journal.record_manifest(
            host.name, loaded.text, sha256=loaded.sha256, diff="\n".join(diff.lines())
        )
        host.reload_ms.append((time.perf_counter() - seen_at) * 1000)
        logger.bind(strategy=host.name).info(
            "reloaded in {:.1f} ms: {}", host.reload_ms[-1], "; ".join(done) or "no change"
        )

    def _reload_in_place(
        self, host: StrategyHost, loaded: LoadedManifest, diff: ManifestDiff
    ) -> list[str]:
        """Apply a new version to a running strategy, all or nothing: if any step raises, the
        running version is back as it was (pairs, engine, watched books, hedger)."""
        old = host.loaded
        hedger_rebuilt = (
            "hedge" in diff.strategy_params
            or "execution" in diff.strategy_params
            or bool(diff.pairs_added or diff.pairs_restarted)
        )  # a new band, slippage bound or hedge instrument
        attached = False
        try:
            with host.runner.reloading(loaded, diff) as done:
                host.loaded = loaded
                self._rewatch(host)
                if hedger_rebuilt:
                    attached = True
                    self.hedges.attach(host)
        except BaseException:
            host.loaded = old
            self._rewatch(host)  # the running version's books again
            if attached:  # its hedger was replaced: one on the running version's settings
                self.hedges.attach(host)
            raise
        host.ledger.set_day_start(loaded.manifest.risk.trading_day_start)
        return done

    def reloads_old_name(self, decision: ReloadDecision) -> str:
        """The running strategy a modified file belonged to."""
        for name, host in self.strategies.items():
            if host.path == decision.path:
                return name
        return decision.strategy

    async def _balance_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.balance_refresh_s)
            await self._refresh_balances()

    async def _refresh_balances(self) -> None:
        for name in list(self.accounts.sessions()):
            await self.accounts.refresh_balances(name)

    # -- status ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        strategies = []
        by_path_error = dict(self.reloads.last_error)
        for name, host in self.strategies.items():
            body = host.runner.status(self.states.state(name))
            body["last_reload_error"] = by_path_error.get(host.path)
            body["file"] = str(host.path)
            inventory = host.runner.inventory
            # what the venues may hold, orders in doubt counted at their worst (see Inventory)
            body["net_delta"] = {a: str(inventory.delta(a).worst_base) for a in inventory.assets()}
            body["net_delta_expected"] = {
                a: str(inventory.delta(a).base) for a in inventory.assets()
            }
            body["realized_pnl"] = str(host.ledger.realized)
            body["pnl"] = host.ledger.lines().as_text()
            body["gates_failed"] = dict(host.runner.gate_stats.failed)
            holding = self.states.holding(name)
            body["holds"] = [hold.describe() for hold in holding]
            body["breaches"] = {  # the risk monitor's conditions holding now
                h.source.removeprefix("risk:"): h.reason
                for h in holding
                if h.scope == name and h.source.startswith("risk:")
            }
            body["hedger"] = host.hedger.machine.state if host.hedger else None
            body["fast_lane_us"] = fast_lane_percentiles(host.runner.stats.decide_ns)
            strategies.append(body)
        return {
            "strategies": strategies,
            "rejected_files": {
                str(p): e
                for p, e in by_path_error.items()
                if not any(h.path == p for h in self.strategies.values())
            },
            "venues": self.accounts.connection_states(),
            "global_state": self.states.state(GLOBAL),
            "orders_being_finished": self.gateway.finishing(),
            "global_holds": [hold.describe() for hold in self.states.holding(GLOBAL)],
            "incidents": [
                {"key": i.key, "kind": i.kind, "state": i.state, "reason": i.reason}
                for i in self.incidents.open()
            ],
        }
