"""One running strategy: its spread engine, its pairs' runners, its inventory and hedger.

Book keys inside the spread engine are `"{account}:{kind}"` (e.g. "bybit:spot"), because one
account can list the same symbol on two products (Bybit spot and linear are both "BTCUSDT").
A pair with direction `both` is watched twice, once per direction; each direction's signals
go to the same pair runner.

The fast lane ends in `on_book`: called synchronously by the venue reader for every book event
of a symbol this strategy watches, it marks the book dirty, recomputes only the pairs touching
it, and hands threshold crossings to the pair runners, which never block the reader.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from arbiter.compiler.plan import LegPlan, PairPlan, Plan, compile_manifest
from arbiter.execution.dual_leg import DualLegExecutor, DualResult, RepairResult
from arbiter.fsm.runner import Decision as FsmDecision
from arbiter.manifest.loader import LoadedManifest
from arbiter.market.book import OrderBook
from arbiter.market.instrument import Instrument
from arbiter.market.spread import LegRef, PairSpec, SpreadEngine
from arbiter.risk.book_view import OrderBookView
from arbiter.risk.gates import GateStats
from arbiter.risk.inventory import Inventory
from arbiter.risk.snapshot import BalanceView, RiskSnapshot
from arbiter.runtime.pair_runner import PairRunner, PairServices
from arbiter.venues.client_ids import ClientIdRules
from arbiter.venues.orders import Side

_DIRECTIONS = {
    "spot_perp": {"buy_spot_short_perp": ("spot", "perp"), "sell_spot_long_perp": ("perp", "spot")},
    "spot_spot": {"buy_a_sell_b": ("a", "b"), "buy_b_sell_a": ("b", "a")},
}


def directions(pair: PairPlan) -> dict[str, tuple[str, str]]:
    """direction -> (role bought on entry, role sold on entry)."""
    table = _DIRECTIONS[pair.type]
    return dict(table) if pair.direction == "both" else {pair.direction: table[pair.direction]}


def book_key(leg: LegPlan) -> str:
    return f"{leg.venue}:{leg.kind}"


@dataclass
class MarketState:
    """What the runtime knows of every venue account, shared by all strategies."""

    books: dict[str, Mapping[str, OrderBook]] = field(
        default_factory=dict
    )  # "acct:kind" -> symbol -> book
    instruments: dict[tuple[str, str, str], Instrument] = field(
        default_factory=dict
    )  # (acct, kind, symbol)
    balances: dict[tuple[str, str], BalanceView] = field(default_factory=dict)  # (acct, asset)
    funding: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (acct, symbol)
    healthy: dict[str, bool] = field(default_factory=dict)  # acct -> every stream live
    rules: dict[str, ClientIdRules] = field(default_factory=dict)  # acct -> client id rules

    def book(self, leg: LegPlan) -> OrderBook | None:
        return self.books.get(book_key(leg), {}).get(leg.symbol)

    def instrument(self, leg: LegPlan) -> Instrument | None:
        return self.instruments.get((leg.venue, leg.kind, leg.symbol))

    def touch(self, leg: LegPlan, side: Side) -> Decimal | None:
        """The price a taker order on `side` crosses: the best ask to buy, the best bid to sell."""
        book = self.book(leg)
        if book is None or book.stale:
            return None
        level = book.best_ask() if side is Side.BUY else book.best_bid()
        return None if level is None else book.price(level[0])


@dataclass
class StrategyStats:
    spread_recomputes: int = 0
    signals: int = 0
    decide_ns: list[int] = field(default_factory=list)  # book event -> decision, per recompute


class StrategyRunner:
    def __init__(
        self,
        loaded: LoadedManifest,
        market: MarketState,
        executor: DualLegExecutor,
        *,
        journal_cycle: Callable[[str, str, int, FsmDecision], None],
        on_fills: Callable[[str, PairPlan, DualResult | RepairResult, str], None],
        gate_stats: GateStats | None = None,
    ) -> None:
        self.loaded = loaded
        self.plan: Plan = compile_manifest(loaded)
        self.name = self.plan.strategy
        self.market = market
        self.executor = executor
        self.gate_stats = gate_stats or GateStats()
        self.inventory = Inventory(
            loaded.manifest.hedge.ratio if loaded.manifest.hedge else Decimal(1)
        )
        self.stats = StrategyStats()
        self._journal_cycle, self._on_fills = journal_cycle, on_fills
        self.pairs: dict[str, PairRunner] = {p.id: self._runner(p) for p in self.plan.pairs}
        self.engine: SpreadEngine | None = None
        self._spec_direction: dict[str, tuple[str, str]] = {}  # spec id -> (pair id, direction)
        self.last_reload_error = ""

    def _runner(self, pair: PairPlan) -> PairRunner:
        services = PairServices(
            strategy=self.name,
            executor=self.executor,
            instrument=self.market.instrument,
            touch=self.market.touch,
            snapshot=self.snapshot,
            rules=lambda leg: self.market.rules.get(leg.venue),
            journal_cycle=lambda pair_id, cycle, d: self._journal_cycle(
                self.name, pair_id, cycle, d
            ),
            on_fills=lambda pair_plan, result, step: self._on_fills(
                self.name, pair_plan, result, step
            ),
        )
        return PairRunner(self.plan, pair, services, self.gate_stats)

    # -- the spread engine -----------------------------------------------------------------

    def watched(self) -> set[tuple[str, str, str]]:
        """(account, kind, symbol) of every leg: what the venue sessions must stream."""
        return {(leg.venue, leg.kind, leg.symbol) for p in self.plan.pairs for leg in p.legs}

    def build_engine(self) -> bool:
        """Build the engine once every leg has an instrument and a synced book; False if not yet.

        A pair sized in quote (`order_notional`) is converted to base at the current mid.
        """
        specs: list[PairSpec] = []
        instruments: dict[tuple[str, str], Instrument] = {}
        self._spec_direction.clear()
        for pair in self.plan.pairs:
            for direction, (buy_role, sell_role) in directions(pair).items():
                buy, sell = pair.leg(buy_role), pair.leg(sell_role)
                legs = [(buy, self.market.instrument(buy)), (sell, self.market.instrument(sell))]
                if any(inst is None for _, inst in legs):
                    return False
                for leg, inst in legs:
                    assert inst is not None
                    instruments[(book_key(leg), leg.symbol)] = replace(inst, venue=book_key(leg))
                size = self._size(pair, buy)
                if size is None:
                    return False
                spec_id = f"{pair.id}/{direction}"
                self._spec_direction[spec_id] = (pair.id, direction)
                specs.append(
                    PairSpec(
                        pair_id=spec_id,
                        spot=LegRef(book_key(buy), buy.symbol),
                        perp=LegRef(book_key(sell), sell.symbol),
                        size=size,
                        entry_bps=pair.thresholds.entry_bps,
                        exit_bps=pair.thresholds.exit_bps,
                        hysteresis_bps=pair.thresholds.hysteresis_bps,
                    )
                )
        self.engine = SpreadEngine(specs, instruments.values(), self.market.books)
        for spec in specs:  # the first computation, so a spread already past its threshold fires
            self.engine.mark_dirty(spec.spot.venue, spec.spot.symbol)
            self.engine.mark_dirty(spec.perp.venue, spec.perp.symbol)
        self._dispatch(time.perf_counter_ns())
        return True

    def _size(self, pair: PairPlan, buy: LegPlan) -> Decimal | None:
        if pair.sizing.order_qty is not None:
            return pair.sizing.order_qty
        touch = self.market.touch(buy, Side.BUY)
        if touch is None:
            return None
        assert pair.sizing.order_notional is not None
        return pair.sizing.order_notional / touch

    def on_book(self, account: str, symbol: str, received_ns: int) -> None:
        """A book of `account`/`symbol` changed. Called from the reader; never blocks."""
        engine = self.engine
        if engine is None:
            return
        for kind in ("spot", "perp"):
            engine.mark_dirty(f"{account}:{kind}", symbol)
        self._dispatch(received_ns)

    def _dispatch(self, received_ns: int) -> None:
        assert self.engine is not None
        signals = self.engine.recompute()
        self.stats.spread_recomputes += 1
        self.stats.decide_ns.append(time.perf_counter_ns() - received_ns)
        for signal in signals:
            self.stats.signals += 1
            pair_id, direction = self._spec_direction[signal.pair_id]
            self.pairs[pair_id].on_signal(signal, direction)

    def spreads(self, pair_id: str) -> dict[str, tuple[Decimal | None, Decimal | None]]:
        if self.engine is None:
            return {}
        return {
            direction: self.engine.spreads(spec_id)
            for spec_id, (pid, direction) in self._spec_direction.items()
            if pid == pair_id
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
                deltas[asset] = self.inventory.delta(asset).notional(price)
        return RiskSnapshot(
            now_ns=time.time_ns(),
            books=books,
            balances=dict(self.market.balances),
            position_notional=positions,
            net_delta_notional=deltas,
            funding_rates=dict(self.market.funding),
            venue_healthy=dict(self.market.healthy),
            open_cycles={
                pid: int(r.machine.state not in ("idle", "armed", "cooling_down"))
                for pid, r in self.pairs.items()
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
                    "id": pid,
                    "state": runner.machine.state,
                    "cycle": runner.cycle,
                    "position_base": str(runner.open_base),
                    "spreads_bps": {
                        d: [None if v is None else str(v.quantize(Decimal("0.01"))) for v in values]
                        for d, values in self.spreads(pid).items()
                    },
                    "last_refusal": runner.last_refusal,
                }
                for pid, runner in self.pairs.items()
            ],
            "last_reload_error": self.last_reload_error or None,
        }
