"""Where venue events go: books to the spread engines watching them, private events to the
order gateway, the journal, the funding and forced desks; every order change the gateway applies
to the books of the strategy it belongs to.

- `BookRouter`, the fast lane's last hop: a book event reaches the strategies watching that
  book (`BookKey`), synchronously from the venue reader, never awaited; one strategy's error is
  logged and counted, and the others still get the event.
- `EventRouter`: the rest. A fill the tracker accepts is booked once into its strategy's
  ledger; every order of a strategy counts in its net delta from its submit until it ends
  (`pending`); funding settlements and forced executions reported before the strategies are
  back (a reconnect's REST read during start-up) wait for them (`catch_up_records`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from loguru import logger

from arbiter.control.incidents import IncidentLog
from arbiter.execution.gateway import OrderGateway
from arbiter.execution.intent import Intent
from arbiter.execution.order_tracker import Applied, OrderTracker
from arbiter.execution.pretrade import PretradeChecker
from arbiter.execution.records import ChangeKind, OrderSnapshot
from arbiter.market.events import BookDelta, BookSnapshot, Funding, MarketEvent, Ticker
from arbiter.risk.snapshot import BalanceView
from arbiter.runtime.accounts import VenueAccounts
from arbiter.runtime.forced import ForcedDesk
from arbiter.runtime.funding import FundingDesk
from arbiter.runtime.host import StrategyHost
from arbiter.runtime.market import MarketState
from arbiter.runtime.stats import RuntimeStats
from arbiter.store.journal import Journal
from arbiter.venues import (
    AccountEvent,
    BalanceUpdate,
    Fill,
    ForcedExecution,
    FundingSettlement,
    PositionUpdate,
    PrivateEvent,
    Side,
)

RECORDS_SLACK_MS = 60_000  # read the accounts' records from this long before the newest kept


class BookRouter:
    def __init__(self, stats: RuntimeStats, changed: Callable[[], None]) -> None:
        self._stats, self._changed = stats, changed
        # (book, symbol) -> the strategies watching it; the events' own fields are the key
        self._by_book: dict[tuple[str, str], list[StrategyHost]] = {}

    def index(self, hosts: Iterable[StrategyHost]) -> None:
        """Who watches which book now (after a strategy started, reloaded or stopped)."""
        index: dict[tuple[str, str], list[StrategyHost]] = {}
        for host in hosts:
            for key in host.watched:
                bucket = index.setdefault((key.book, key.symbol), [])
                if host not in bucket:
                    bucket.append(host)
        self._by_book = index

    def on_book(self, event: BookDelta | BookSnapshot, received_ns: int) -> None:
        """A book changed: every strategy watching it recomputes, and each signal goes straight
        to its pair runner (`StrategyRunner.deliver` inlined: this is the fast lane). Never
        raises."""
        self._stats.book_events += 1
        for host in self._by_book.get((event.venue, event.symbol), ()):
            runner = host.runner
            try:
                engine = runner.engine
                if engine is None or runner.waiting:
                    # A pair still waits for a book: this change may bring it in. A rebuilt
                    # engine's first computation already covered this change.
                    runner.complete_engine()
                    host.hedge_start_residual()
                    if runner.engine is not engine or engine is None:
                        self._changed()  # a pair came in (status, waiters)
                        continue
                engine.mark_dirty(event.venue, event.symbol)
                signals = engine.recompute()
                stats = runner.stats
                stats.book_events += 1
                stats.spread_recomputes += 1
                stats.decide_ns.append(time.perf_counter_ns() - received_ns)
                for signal in signals:
                    stats.signals += 1
                    pair, direction = runner.signal_targets[signal.pair_id]
                    pair.on_signal(signal, direction)
            except Exception:  # one strategy's bug must not starve the others
                self._stats.dispatch_errors += 1
                logger.bind(strategy=host.name).opt(exception=True).error(
                    "book event {}:{} failed in the spread engine", event.venue, event.symbol
                )


class EventRouter:
    def __init__(
        self,
        *,
        strategies: Mapping[str, StrategyHost],
        books: BookRouter,
        journal: Journal,
        tracker: OrderTracker,
        checker: PretradeChecker,
        market: MarketState,
        funding: FundingDesk,
        forced: ForcedDesk,
        incidents: IncidentLog,
        stats: RuntimeStats,
        changed: Callable[[], None],
    ) -> None:
        self._strategies, self.books = strategies, books
        self.journal, self.tracker, self.checker = journal, tracker, checker
        self.market, self.funding, self.forced = market, funding, forced
        self.incidents, self.stats, self._changed = incidents, stats, changed
        # the venues and the gateway are built after this router (they are handed its sinks)
        self._accounts: VenueAccounts | None = None
        self._gateway: OrderGateway | None = None
        # the accounts' records reported before start() has brought the strategies back
        self._early_records: list[AccountEvent] | None = []

    def attach(self, accounts: VenueAccounts, gateway: OrderGateway) -> None:
        self._accounts, self._gateway = accounts, gateway

    @property
    def accounts(self) -> VenueAccounts:
        assert self._accounts is not None, "attach() the venue accounts first"
        return self._accounts

    @property
    def gateway(self) -> OrderGateway:
        assert self._gateway is not None, "attach() the order gateway first"
        return self._gateway

    def on_market(self, account: str, events: Sequence[MarketEvent]) -> None:
        """Called by a venue reader for every frame's events: never blocks, never raises."""
        received = time.perf_counter_ns()
        for event in events:
            if isinstance(event, BookDelta | BookSnapshot):
                self.books.on_book(event, received)
            elif isinstance(event, Funding | Ticker):
                self.accounts.on_slow_market(account, event)

    def on_private(self, account: str, event: PrivateEvent) -> None:
        """Called by a venue's private reader for every event: never blocks."""
        self.stats.private_events += 1
        if isinstance(event, BalanceUpdate):
            self.market.balances[(account, event.asset)] = BalanceView(event.free, event.total)
            return
        if isinstance(event, PositionUpdate):
            self.journal.record_position(event)
            return
        if isinstance(event, FundingSettlement | ForcedExecution):
            if self._early_records is not None:
                self._early_records.append(event)
            else:
                self._on_record(event)
            return
        self.gateway.on_private(event)

    def _on_record(self, event: AccountEvent) -> None:
        if isinstance(event, FundingSettlement):
            self.funding.on_settlement(event, self._strategies.values())
            self._changed()
        else:
            self._on_forced(event)

    async def catch_up_records(self) -> None:
        """Book what waited for the strategies, then each account's records since the newest
        one the journal holds (a settlement made while the runtime was down)."""
        early, self._early_records = self._early_records or [], None
        for event in sorted(early, key=lambda e: e.ts_venue_ms):
            self._on_record(event)
        for name, session in self.accounts.sessions().items():
            newest = self.journal.last_account_record_ms(name)
            if newest is None:
                continue  # nothing of ours was ever there
            try:
                records = await session.trading.account_events(newest - RECORDS_SLACK_MS)
            except Exception as exc:  # the private stream reads them again on its next connect
                logger.bind(venue=name).error("account records not read at start: {}", exc)
                continue
            for event in records:
                self.on_private(name, event)

    def _on_forced(self, event: ForcedExecution) -> None:
        """The venue traded the account's position by itself: book it into the positions it
        reduced, and an operator must know."""
        outcome = self.forced.on_forced(event, self._strategies.values(), self.market.instruments)
        if not outcome.new:
            return
        booked = ", ".join(f"{name} {qty}" for name, (qty, _) in sorted(outcome.shares.items()))
        if outcome.unbooked:
            booked += " (not booked: instrument unknown)"
        self.incidents.raise_(
            f"forced:{event.venue}:{event.trade_id}",
            "forced_execution",
            "venue",
            f"{event.venue}:{event.symbol} {event.kind.value}: {event.side.value} {event.qty} at "
            f"{event.price} (trade {event.trade_id}); reduced {booked or 'no strategy'}",
        )
        self._changed()

    def on_applied(self, applied: Applied) -> None:
        self._changed()
        change = applied.change
        if change is not None:
            self.checker.reservations.update(change.snapshot)
            intent = self.tracker.intent(applied.client_id)
            host = self._strategies.get(intent.id.strategy)  # None: a strategy since stopped
            if host is not None and change.kind is ChangeKind.SUBMIT:
                self.pending(host, intent, change.snapshot)
            if change.fill is not None and host is not None:
                self.book_fill(intent, change.fill, host)
            if change.snapshot.is_final:
                self.checker.reservations.release(applied.client_id)
                if host is not None:
                    self.pending(host, intent, change.snapshot)
                    self._after_late_end(host, intent)
        if applied.incident is not None:
            i = applied.incident
            self.incidents.raise_(
                f"order:{i.client_id}",
                i.kind.value,
                "execution",
                f"{i.venue}:{i.symbol} {i.message}",
            )

    def pending(self, host: StrategyHost, intent: Intent, snap: OrderSnapshot) -> None:
        """What of the order may still fill counts in the strategy's net delta: every order of
        it from its submit (entries, exits, repairs, retries: their fills arriving one
        after the other never read as exposure, and one in doubt never hides the other leg's),
        until it ends; past its end, what the venue reported filled that our fills do not show
        yet (they are being read). The hedger's orders too: their fills are booked as they
        come, like any other's."""
        inventory = host.runner.inventory
        if snap.is_final and snap.missing_fill_qty <= 0:
            inventory.release(snap.client_id)
            return
        asset = host.asset_of(intent)
        kind = intent.request.kind or "spot"
        inst = self.market.instruments.get((intent.venue, kind, intent.request.symbol))
        if asset is None or inst is None:
            return
        left = snap.missing_fill_qty if snap.is_final else snap.qty - snap.filled_qty
        base = inst.base_qty(left)
        inventory.reserve(
            snap.client_id,
            asset,
            "spot" if kind == "spot" else "perp",
            base if intent.request.side is Side.BUY else -base,
        )

    def _after_late_end(self, host: StrategyHost, intent: Intent) -> None:
        """An order of a pair that halted without it (it was in doubt past the budget) ended:
        what it traded is in the books now, so the hedger measures at once."""
        runners = host.runner.runners()
        pair = next((r for r in runners if r.pair.id == intent.id.pair), None)
        if pair is not None and pair.machine.state == "halted" and host.hedger is not None:
            host.hedger.take_residual()

    def book_fill(self, intent: Intent, fill: Fill, host: StrategyHost) -> None:
        kind = intent.request.kind or "spot"
        inst = self.market.instruments.get((intent.venue, kind, intent.request.symbol))
        asset = host.asset_of(intent)
        if inst is None or asset is None:
            logger.error("fill {} of {}: no instrument or asset to book it", fill, intent.id)
            return
        host.ledger.on_fill(intent, fill, inst, asset)
