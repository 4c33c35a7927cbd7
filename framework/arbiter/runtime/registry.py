"""The strategies a runtime runs: started, reloaded in place, drained, stopped.

- a strategy starts from a manifest whose accounts open and whose legs the venues list
  (`arbiter.manifest.listings`); its books, PnL and each pair's last cycle are rebuilt from the
  journal before it trades (`arbiter.runtime.restore`);
- a new version of a running manifest applies in place at each pair's next safe point, all or
  nothing: if any step raises, the running version is back as it was (pairs, engine, watched
  books, hedger); a renamed strategy or a changed venue section drains the old version first;
- a refused version (invalid, a leg not listed, an account that will not open, an error while
  applying it) leaves the running one untouched, and shows in status and as an incident
  (`manifest:<file>`, journaled), resolved once a later version of the file is in effect;
- a removed manifest drains: no entries, exits as usual, gone once flat.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from loguru import logger

from arbiter.control.incidents import IncidentLog
from arbiter.execution.order_tracker import OrderTracker
from arbiter.manifest.diff import ManifestDiff
from arbiter.manifest.listings import check_listings
from arbiter.manifest.loader import LoadedManifest
from arbiter.manifest.yaml_source import SourceError
from arbiter.runtime.accounts import AccountSpec, VenueAccounts
from arbiter.runtime.forced import forced_fill
from arbiter.runtime.funding import payment_of
from arbiter.runtime.halts import Halts
from arbiter.runtime.hedging import HedgeDesk
from arbiter.runtime.host import StrategyHost
from arbiter.runtime.ledger import Ledger
from arbiter.runtime.market import MarketState
from arbiter.runtime.reload import ReloadDecision, ReloadManager
from arbiter.runtime.restore import restore_cycle
from arbiter.runtime.routing import BookRouter, EventRouter
from arbiter.runtime.stats import RuntimeStats
from arbiter.runtime.strategy_runner import StrategyRunner, StrategyServices
from arbiter.store.journal import Journal
from arbiter.store.replay import CycleRecord
from arbiter.venues import BookRef, ForcedExecution


class StrategyRegistry:
    def __init__(
        self,
        *,
        strategies: dict[str, StrategyHost],
        accounts: VenueAccounts,
        market: MarketState,
        journal: Journal,
        tracker: OrderTracker,
        services: StrategyServices,
        hedges: HedgeDesk,
        halts: Halts,
        incidents: IncidentLog,
        reloads: ReloadManager,
        books: BookRouter,
        events: EventRouter,
        stats: RuntimeStats,
        clock_ms: Callable[[], int],
    ) -> None:
        self.strategies, self.accounts, self.market = strategies, accounts, market
        self.journal, self.tracker, self.services = journal, tracker, services
        self.hedges, self.halts, self.incidents = hedges, halts, incidents
        self.reloads, self.books, self.events = reloads, books, events
        self.stats, self.clock_ms = stats, clock_ms
        # (strategy, pair) -> the pair's last cycle as the journal had it at start
        self.cycle_records: Mapping[tuple[str, str], CycleRecord] = {}
        # strategy -> (file, new version) to start once its old version has drained
        self._after_drain: dict[str, tuple[Path, LoadedManifest]] = {}

    async def open_accounts(
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

    async def start_strategy(
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
        specs, errors = await self.open_accounts(loaded)
        errors = errors or self._listing_errors(loaded)
        if not errors:
            try:
                self._launch(path, loaded, specs)
            except Exception as exc:
                logger.bind(strategy=name).opt(exception=True).error("starting {} failed", name)
                errors = [SourceError(f"could not start this version: {exc!r}")]
        if errors:
            await self._release(specs, name)
            self.refuse(path, name, errors, keep=keep)
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
        self.strategies[name] = host
        for gate in loaded.manifest.gates:  # watched before anything of it can trade
            if gate.type == "kill_switch":
                self.halts.watch_kill_file(Path(gate.file))
        try:
            self._restore(host)
            self.hedges.attach(host)
            self.rewatch(host)
            runner.build_engine()
            host.hedge_start_residual()
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
            record = self.cycle_records.get((host.name, pid))
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
        await self.settle_drains(host)

    async def settle_drains(self, host: StrategyHost) -> None:
        """Drop the strategy's draining pairs that are flat now (a reload removed them, or its
        manifest is gone), and stop the strategy once nothing of it is left. Called when a pair
        could have become flat: a reload, a drain, a draining pair's cycle ending flat."""
        if self.strategies.get(host.name) is not host:
            return  # stopped already
        if host.runner.collect_drained():
            self.rewatch(host)
        if not host.runner.pairs and not host.runner.draining:
            await self.finish_drained(host)

    async def finish_drained(self, host: StrategyHost) -> None:
        name = host.name
        self._unregister(host)
        for acct in host.accounts:
            await self.accounts.release(acct, name)
        logger.bind(strategy=name).info("strategy {} stopped (drained)", name)
        waiting = self._after_drain.pop(name, None)
        if waiting is not None:
            await self.start_strategy(waiting[0], waiting[1], time.perf_counter())

    def _unregister(self, host: StrategyHost) -> None:
        """The strategy leaves the runtime: no hedger, no books watched, no book events."""
        self.hedges.detach(host)
        for acct, kind, symbol in host.watched:
            self.accounts.unwatch(acct, [BookRef(kind, symbol)])
        host.watched.clear()
        if self.strategies.get(host.name) is host:
            del self.strategies[host.name]
        self.books.index(self.strategies.values())

    def rewatch(self, host: StrategyHost) -> None:
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

    async def apply_decision(self, decision: ReloadDecision, seen_at: float) -> None:
        if decision.action == "rejected":
            self.report_refusal(decision.path, decision.strategy, decision.describe())
            return
        try:
            if decision.action == "start" and decision.manifest is not None:
                await self.start_strategy(decision.path, decision.manifest, seen_at)
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
            self.refuse(
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

    def refuse(
        self,
        path: Path,
        strategy: str,
        errors: Sequence[SourceError],
        *,
        keep: LoadedManifest | None,
    ) -> None:
        """A decided version of `path` could not be put in effect: `keep` stays its version."""
        self.report_refusal(path, strategy, self.reloads.refuse(path, errors, keep))

    def report_refusal(self, path: Path, strategy: str, text: str) -> None:
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
            self.refuse(decision.path, old_name, errors, keep=decision.previous)
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
                await self.start_strategy(decision.path, loaded, seen_at)
            return
        try:
            done = self._reload_in_place(host, loaded, diff)
        except Exception as exc:
            logger.bind(strategy=host.name).opt(exception=True).error("reload failed")
            error = SourceError(f"could not apply this version, the running one stays: {exc!r}")
            self.refuse(decision.path, host.name, [error], keep=decision.previous)
            return
        self.journal.record_manifest(
            host.name, loaded.text, sha256=loaded.sha256, diff="\n".join(diff.lines())
        )
        host.reload_ms.append((time.perf_counter() - seen_at) * 1000)
        logger.bind(strategy=host.name).info(
            "reloaded in {:.1f} ms: {}", host.reload_ms[-1], "; ".join(done) or "no change"
        )
        await self.settle_drains(host)

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
                self.rewatch(host)
                if hedger_rebuilt:
                    attached = True
                    self.hedges.attach(host)
        except BaseException:
            host.loaded = old
            self.rewatch(host)  # the running version's books again
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
