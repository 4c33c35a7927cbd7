"""One running strategy: its spread engine, its pairs' runners, its inventory and hedger.

Book keys inside the spread engine are `"{account}:{kind}"` (e.g. "bybit:spot"), because one
account can list the same symbol on two products (Bybit spot and linear are both "BTCUSDT").
A pair with direction `both` is watched twice, once per direction; each direction's signals
go to the same pair runner.

The fast lane ends in `on_book`: called synchronously by the venue reader for every book event
of a symbol this strategy watches, it marks the book dirty, recomputes only the pairs touching
it, and hands threshold crossings to the pair runners, which never block the reader.

The engine holds every pair that can be priced; a pair still waiting for a synced book
(`waiting`) never holds the others back, and joins when `complete_engine` finds it ready. A
reload either applies whole or not at all: anything it raises puts the running version back
(its pairs, their parameters, the engine over them) before the error propagates.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal

from loguru import logger

from arbiter import clock
from arbiter.compiler.plan import LegPlan, PairPlan, Plan, compile_manifest
from arbiter.execution.dual_leg import DualLegExecutor
from arbiter.fsm.cycle import FLAT, NEEDS_OPERATOR
from arbiter.manifest.diff import ManifestDiff
from arbiter.manifest.loader import LoadedManifest
from arbiter.market.events import BookKey
from arbiter.market.instrument import Instrument
from arbiter.market.spread import LegRef, PairSpec, SpreadEngine, SpreadSignal
from arbiter.risk.book_view import OrderBookView
from arbiter.risk.gates import GateStats
from arbiter.risk.inventory import Inventory
from arbiter.risk.snapshot import RiskSnapshot
from arbiter.runtime.market import MarketState, book_key
from arbiter.runtime.pair_runner import PairEvents, PairRunner, PairServices
from arbiter.runtime.pair_services import CycleJournal, EntryChecks
from arbiter.venues import Side


@dataclass
class StrategyStats:
    book_events: int = 0  # book changes that reached the spread engine
    spread_recomputes: int = 0
    signals: int = 0
    # book event -> decision, per recompute; the latest DECIDE_SAMPLES only, so weeks of
    # uptime cost no memory
    decide_ns: deque[int] = field(default_factory=lambda: deque(maxlen=DECIDE_SAMPLES))


DECIDE_SAMPLES = 100_000


@dataclass(frozen=True, slots=True)
class StrategyServices:
    """What the runtime provides to every strategy, and through it to each of its pairs."""

    market: MarketState
    executor: DualLegExecutor
    cycles: CycleJournal
    checks: EntryChecks
    events: PairEvents


class StrategyRunner:
    def __init__(
        self,
        loaded: LoadedManifest,
        services: StrategyServices,
        *,
        gate_stats: GateStats | None = None,
    ) -> None:
        self.loaded = loaded
        self.plan: Plan = compile_manifest(loaded)
        self.name = self.plan.strategy
        self.services = services
        self.market = services.market
        self.gate_stats = gate_stats or GateStats()
        self.inventory = Inventory(
            loaded.manifest.hedge.ratio if loaded.manifest.hedge else Decimal(1)
        )
        self.stats = StrategyStats()
        self.pairs: dict[str, PairRunner] = {p.id: self._runner(p) for p in self.plan.pairs}
        self.draining: dict[str, PairRunner] = {}  # removed or restarted, still holding a position
        self.stopping = False  # the whole strategy drains (its manifest was deleted)
        self.engine: SpreadEngine | None = None
        self.waiting: tuple[str, ...] = ()  # pairs not in the engine yet (no instrument or book)
        # the engine's spec id -> (the pair runner its signals go to, the direction): the book
        # router hands each signal straight to its pair
        self.signal_targets: dict[str, tuple[PairRunner, str]] = {}
        self.last_reload_error = ""

    def _runner(self, pair: PairPlan) -> PairRunner:
        shared = self.services
        services = PairServices(
            self.name,
            shared.market,
            shared.executor,
            shared.cycles,
            shared.checks,
            shared.events,
            risk=self,
        )
        return PairRunner(self.plan, pair, services, self.gate_stats)

    # -- the spread engine -----------------------------------------------------------------

    def watched(self) -> set[BookKey]:
        """The book of every leg and hedge instrument: what must be streamed."""
        out = set()
        for runner in self.runners():
            for leg in (*runner.pair.legs, runner.pair.hedge_leg):
                if leg is not None:
                    out.add(BookKey(leg.venue, leg.kind, leg.symbol))
        return out

    def runners(self) -> list[PairRunner]:
        return [*self.pairs.values(), *self.draining.values()]

    def in_flight(self) -> list[asyncio.Task[bool]]:
        """Entries, exits and repairs still running (shutdown waits for them)."""
        return [t for r in self.runners() if (t := r.busy) is not None and not t.done()]

    # -- reload ----------------------------------------------------------------------------

    @contextmanager
    def reloading(self, loaded: LoadedManifest, diff: ManifestDiff) -> Iterator[list[str]]:
        """Apply a new version in place (`reload`) for the body of the `with`: if `reload` or
        the body raises, the running version is put back and the error propagates."""
        saved = _Saved.of(self)
        try:
            yield self.reload(loaded, diff)
        except BaseException:
            saved.restore(self)
            raise

    def reload(self, loaded: LoadedManifest, diff: ManifestDiff) -> list[str]:
        """Apply a new version of this strategy's manifest in place; returns what was done.

        Parameters reach every pair at its next safe point; a removed pair drains (no new
        entries, exits as usual, dropped once flat); a pair whose venue or symbol changed
        drains and its new version starts once the old one is flat; an added pair starts.
        Call it through `reloading` to have a failure put the running version back.
        """
        plan = compile_manifest(loaded)
        added = {  # built before anything changes: a failure here leaves the runner as it was
            p.id: self._runner(p)
            for p in plan.pairs
            if p.id not in self.pairs and p.id not in self.draining
        }
        self.loaded, self.plan = loaded, plan
        new_pairs = {p.id: p for p in plan.pairs}
        done: list[str] = []
        for pid in (*diff.pairs_removed, *diff.pairs_restarted):
            runner = self.pairs.pop(pid, None)
            if runner is None:
                continue
            if runner.flat:
                done.append(f"pair {pid}: stopped (flat)")
            else:
                runner.draining = True
                self.draining[pid] = runner
                done.append(f"pair {pid}: draining ({runner.open_base} {runner.pair.asset} held)")
        for pid, pair in new_pairs.items():
            runner = self.pairs.get(pid)
            if runner is not None:
                now = runner.retune(plan, pair)
                if pid in diff.pairs_retuned or diff.strategy_params:
                    done.append(f"pair {pid}: {'retuned' if now else 'retune at next safe point'}")
            elif pid in added:
                self.pairs[pid] = added[pid]
                done.append(f"pair {pid}: started")
        if self.loaded.manifest.hedge is not None:
            self.inventory.ratio = self.loaded.manifest.hedge.ratio
        self.build_engine()
        return done

    def drain_all(self) -> None:
        """The manifest is gone: every pair drains, and none starts again."""
        self.stopping = True
        for pid, runner in self.pairs.items():
            runner.draining = True
            self.draining[pid] = runner
        self.pairs.clear()

    def collect_drained(self) -> list[str]:
        """Drop draining pairs that are flat now; start the new version of a restarted one."""
        done = []
        for pid, runner in list(self.draining.items()):
            if not runner.flat:
                continue
            del self.draining[pid]
            done.append(f"pair {pid}: drained")
            if self.stopping:
                continue
            pair = next((p for p in self.plan.pairs if p.id == pid), None)
            if pair is not None:
                self.pairs[pid] = self._runner(pair)
                done.append(f"pair {pid}: started")
        if done:
            self.build_engine()
        return done

    def build_engine(self) -> bool:
        """(Re)build the engine over every pair that can be priced now; True once all are in.

        A pair can be priced once both legs have an instrument and, sized in quote
        (`order_notional`, converted to base at the current touch), a synced book. One that
        cannot yet stays in `waiting` while the others trade. Thresholds are the plan's, so a
        retune a pair defers to its next safe point reaches the engine at once (the entry in
        flight was decided already).
        """
        plan_pairs = {p.id: p for p in self.plan.pairs}
        specs: list[PairSpec] = []
        instruments: dict[tuple[str, str], Instrument] = {}
        targets: dict[str, tuple[PairRunner, str]] = {}
        waiting: list[str] = []
        for runner in self.runners():
            pair = runner.pair if runner.draining else plan_pairs.get(runner.pair.id, runner.pair)
            priced = self._priced(pair)
            if priced is None:
                waiting.append(pair.id)
                continue
            for direction, spec, legs in priced:
                targets[spec.pair_id] = (runner, direction)
                specs.append(spec)
                instruments.update(legs)
        engine = SpreadEngine(specs, instruments.values(), self.market.books) if specs else None
        self.engine, self.signal_targets, self.waiting = engine, targets, tuple(waiting)
        for runner in self.runners():
            runner.reset_signals()
        if engine is None:
            return False
        for spec in specs:  # the first computation, so a spread already past its threshold fires
            engine.mark_dirty(spec.spot.venue, spec.spot.symbol)
            engine.mark_dirty(spec.perp.venue, spec.perp.symbol)
        self.deliver(engine.recompute(), time.perf_counter_ns())
        return not waiting

    def complete_engine(self) -> bool:
        """Rebuild the engine if a pair it lacks can be priced now (the tick calls this);
        True when every pair is in. Rebuilding costs the pairs' hysteresis state, so it is
        done only when it brings a pair in."""
        if self.engine is not None and not self.waiting:
            return True
        if self.engine is not None and not any(
            self._priced(r.pair) is not None for r in self.runners() if r.pair.id in self.waiting
        ):
            return False
        return self.build_engine()

    def _priced(
        self, pair: PairPlan
    ) -> list[tuple[str, PairSpec, dict[tuple[str, str], Instrument]]] | None:
        """(direction, the engine's spec, its legs' instruments keyed by book) per direction of
        `pair`, or None while a leg has no instrument or a quote-sized pair no touch."""
        out = []
        for direction, (buy_role, sell_role) in pair.directions().items():
            buy, sell = pair.leg(buy_role), pair.leg(sell_role)
            legs: dict[tuple[str, str], Instrument] = {}
            for leg in (buy, sell):
                inst = self.market.instrument(leg)
                if inst is None:
                    return None
                legs[(book_key(leg), leg.symbol)] = replace(inst, venue=book_key(leg))
            size = self._size(pair, buy)
            if size is None:
                return None
            spec = PairSpec(
                pair_id=f"{pair.id}/{direction}",
                spot=LegRef(book_key(buy), buy.symbol),
                perp=LegRef(book_key(sell), sell.symbol),
                size=size,
                entry_bps=pair.thresholds.entry_bps,
                exit_bps=pair.thresholds.exit_bps,
                hysteresis_bps=pair.thresholds.hysteresis_bps,
            )
            out.append((direction, spec, legs))
        return out

    def _size(self, pair: PairPlan, buy: LegPlan) -> Decimal | None:
        if pair.sizing.order_qty is not None:
            return pair.sizing.order_qty
        touch = self.market.touch(buy, Side.BUY)
        if touch is None:
            return None
        assert pair.sizing.order_notional is not None
        return pair.sizing.order_notional / touch

    def deliver(self, signals: Sequence[SpreadSignal], received_ns: int) -> None:
        """Hand what one recomputation of the engine found to the pairs. The book router does
        the same inline for every book change (its hot path crosses no file of ours but the
        engine's and the pair runner's); this is the engine's first computation after a build."""
        stats = self.stats
        stats.spread_recomputes += 1
        stats.decide_ns.append(time.perf_counter_ns() - received_ns)
        for signal in signals:
            stats.signals += 1
            pair, direction = self.signal_targets[signal.pair_id]
            pair.on_signal(signal, direction)

    def spreads(self, pair_id: str) -> dict[str, tuple[Decimal | None, Decimal | None]]:
        if self.engine is None:
            return {}
        return {
            direction: self.engine.spreads(spec_id)
            for spec_id, (pair, direction) in self.signal_targets.items()
            if pair.pair.id == pair_id
        }

    # -- risk ------------------------------------------------------------------------------

    def snapshot(self, pair: PairPlan) -> RiskSnapshot:
        books: dict[tuple[str, str], OrderBookView] = {}
        for p in self.plan.pairs:
            for leg in p.legs:
                book, inst = self.market.book(leg), self.market.instrument(leg)
                if book is not None and inst is not None:
                    books[(leg.venue, leg.symbol)] = OrderBookView(book, inst)
        positions: dict[str, Decimal] = {}
        for pid, runner in self.pairs.items():
            touch = self.market.touch(runner.pair.legs[0], Side.SELL)
            positions[pid] = runner.open_base * touch if touch is not None else Decimal(0)
        deltas: dict[str, Decimal] = {}
        for asset in self.inventory.assets():
            price = next(
                (
                    self.market.touch(p.legs[0], Side.SELL)
                    for p in self.plan.pairs
                    if p.asset == asset
                ),
                None,
            )
            if price is not None:
                deltas[asset] = self.inventory.delta(asset).worst_notional(price)
        return RiskSnapshot(
            now_ns=clock.wall_ns(),
            books=books,
            balances=dict(self.market.balances),
            position_notional=positions,
            net_delta_notional=deltas,
            funding_rates=dict(self.market.funding),
            venue_healthy=dict(self.market.healthy),
            # draining pairs too: a removed pair still holding a position has a cycle open
            open_cycles={r.pair.id: int(r.machine.state not in FLAT) for r in self.runners()},
            entry_spread_bps={
                direction: entry
                for direction, (entry, _) in self.spreads(pair.id).items()
                if entry is not None
            },
        )

    # -- status ----------------------------------------------------------------------------

    def status(self, trading_state: str) -> dict[str, object]:
        return {
            "name": self.name,
            "manifest_sha256": self.loaded.sha256,
            "state": trading_state,
            "pairs": [
                {
                    "id": runner.pair.id,
                    "state": runner.machine.state,
                    # halted or in error: trades nothing until an operator resumes (or resets)
                    "needs_operator": runner.machine.state in NEEDS_OPERATOR,
                    "draining": runner.draining,
                    "cycle": runner.cycle,
                    "attempt": runner.attempt,
                    "position_base": str(runner.open_base),
                    "spreads_bps": {
                        d: [None if v is None else str(v.quantize(Decimal("0.01"))) for v in values]
                        for d, values in self.spreads(runner.pair.id).items()
                    },
                    "last_refusal": runner.last_refusal,
                }
                for runner in self.runners()
            ],
            "last_reload_error": self.last_reload_error or None,
        }


@dataclass(frozen=True, slots=True)
class _Saved:
    """What `StrategyRunner.reload` changes, kept to put back if applying a version fails."""

    loaded: LoadedManifest
    plan: Plan
    pairs: dict[str, PairRunner]
    draining: dict[str, PairRunner]
    ratio: Decimal
    runners: tuple[tuple[PairRunner, Plan, PairPlan, bool], ...]  # (runner, plan, pair, draining)

    @classmethod
    def of(cls, runner: StrategyRunner) -> _Saved:
        return cls(
            runner.loaded,
            runner.plan,
            dict(runner.pairs),
            dict(runner.draining),
            runner.inventory.ratio,
            tuple((r, r.plan, r.pair, r.draining) for r in runner.runners()),
        )

    def restore(self, runner: StrategyRunner) -> None:
        runner.loaded, runner.plan = self.loaded, self.plan
        runner.pairs, runner.draining = dict(self.pairs), dict(self.draining)
        runner.inventory.ratio = self.ratio
        for pair_runner, plan, pair, draining in self.runners:
            pair_runner.draining = draining
            # every one, even if unchanged: a retune deferred to a safe point is replaced too
            pair_runner.retune(plan, pair)
        try:  # a fresh engine: the failed version's may have reset the pairs' signals
            runner.build_engine()
        except Exception:  # the tick retries; the error being unwound is the one to report
            logger.bind(strategy=runner.name).opt(exception=True).error(
                "rebuilding the engine of the running version failed"
            )
