"""One strategy's books of account, kept from fills and funding settlements: inventory,
realized PnL (per line and per trading day) and slippage.

Fills reach the ledger exactly once each: the order tracker deduplicates them by trade id before
the gateway reports them (`OrderGateway.on_applied`), so a duplicated or replayed venue message
can never count twice here. Funding settlements likewise, by the venue's settlement id
(`arbiter.runtime.funding`, which also splits a settlement among the strategies holding the
perp and hands each its share).

- Inventory (net delta per asset) takes every cycle fill: entries, exits and repairs, each net
  of a fee paid in the base coin (what the account really holds). Hedge fills are booked by the
  hedger itself when its order ends, so they are skipped here (but for a replay of the journal,
  with no hedger there to book them).
- PnL books (`CyclePnL`: average cost, fees, funding): one per cycle, and one running book per
  asset for the hedger, so a hedge bought at 100 and sold at 90 realizes the loss whatever
  slices the two orders were.
- Funding: a share goes to this strategy's books that held the perp at the settlement's venue
  time, split by their signed holdings there; a share no book held a position for (the journal
  kept it, the fills it followed are gone) stays on the strategy's own funding line.
- Forced executions (the venue's auto-deleveraging or liquidation of the perp): this strategy's
  share reduces its books that held the side the venue reduced, by their holdings (the hedger's
  book when none did), and moves the inventory, since no order of ours will: the hedger then
  sees the delta the venue left.
- Lines: spread (trading gains of the cycle books), hedge (of the hedge books), funding, fees;
  `realized` = spread + hedge + funding - fees.
- Trading days: each fill's and each settlement's realized PnL counts for the trading day of
  its own venue timestamp (a day starts at `day_start`, UTC; a fill without one counts when it
  is booked); `realized_today` reads the day the ledger's clock is in. A restart replays fills
  and settlements from the journal, so the day's figure survives it.
- Slippage of every fill is measured against its intent's decision price.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import time
from decimal import Decimal

from arbiter import clock
from arbiter.execution.fees import base_change
from arbiter.execution.intent import Intent
from arbiter.execution.pnl import CyclePnL, FundingPayment, allocate
from arbiter.market.instrument import Instrument
from arbiter.risk.inventory import Inventory
from arbiter.venues import Fill, Side

ZERO = Decimal(0)
HEDGE_PAIR = "hedge"  # the pair field of every hedge intent id
DAY_MS = 86_400_000


@dataclass
class SlippageTotals:
    cost: Decimal = ZERO  # quote; positive = worse than decided
    decision_notional: Decimal = ZERO
    fills: int = 0

    @property
    def bps(self) -> Decimal:
        if self.decision_notional == 0:
            return ZERO
        return self.cost / self.decision_notional * Decimal(10_000)


@dataclass(frozen=True, slots=True)
class PnlLines:
    """A strategy's realized PnL by where it came from, in the quote currency."""

    spread: Decimal  # trading gains of the spread legs (entries, exits, repairs)
    hedge: Decimal  # trading gains of the hedger's orders
    funding: Decimal  # positive = received
    fees: Decimal  # positive = paid
    today: Decimal  # realized in the current trading day

    @property
    def realized(self) -> Decimal:
        return self.spread + self.hedge + self.funding - self.fees

    def as_text(self) -> dict[str, str]:
        return {
            "spread": str(self.spread),
            "hedge": str(self.hedge),
            "funding": str(self.funding),
            "fees": str(self.fees),
            "realized": str(self.realized),
            "today": str(self.today),
        }


def day_offset_ms(day_start: time) -> int:
    return (day_start.hour * 60 + day_start.minute) * 60_000


@dataclass
class Ledger:
    strategy: str
    inventory: Inventory
    quote: str = "USDT"
    clock_ms: Callable[[], int] = clock.wall_ms  # which trading day it is
    day_start: time = time(0, 0)  # UTC time of day a trading day starts
    cycles: dict[tuple[str, int], CyclePnL] = field(default_factory=dict)  # (pair, cycle)
    hedges: dict[str, CyclePnL] = field(default_factory=dict)  # asset -> the hedger's book
    slippage: SlippageTotals = field(default_factory=SlippageTotals)
    slippage_by_leg: dict[str, SlippageTotals] = field(default_factory=dict)  # "entry.spot" ...
    fills: int = 0
    funding_unbooked: Decimal = ZERO  # shares no book held the perp for (see the module doc)
    other_funding: dict[str, Decimal] = field(default_factory=dict)  # not in the quote coin
    # (venue time, realized change) of every fill and settlement, and their sums per trading day
    _changes: list[tuple[int, Decimal]] = field(default_factory=list)
    _by_day: dict[int, Decimal] = field(default_factory=dict)

    def on_fill(
        self,
        intent: Intent,
        fill: Fill,
        instrument: Instrument,
        asset: str,
    ) -> None:
        """Book one fill of one of this strategy's orders (`instrument`: the leg's own): its
        pairs' and its hedger's alike, each exactly once (the tracker deduplicates fills), live
        or replayed from the journal, however late it comes."""
        self.fills += 1
        inst = replace(instrument, venue=fill.venue)  # keyed like the fill, whatever the listing
        base = inst.base_qty(fill.qty)
        signed = base if fill.side is Side.BUY else -base
        pair, cycle = intent.id.pair, intent.id.cycle
        hedge = pair == HEDGE_PAIR
        kind = "spot" if instrument.kind.value == "spot" else "perp"
        # held: what the account got, net of a fee paid in the coin (a spot buy receives its
        # fill less the fee); pending: the order's own quantity
        self.inventory.apply_fill(asset, fill.venue, kind, base_change(fill, inst))
        self.inventory.fill_pending(intent.client_id, signed)
        book = self._hedge_book(asset) if hedge else self._cycle_book(pair, cycle)
        if inst.key not in book.instruments:
            book.instruments = {**book.instruments, inst.key: inst}
        before = book.realized
        book.add_fill(fill)
        self._realized(fill.ts_venue_ms, book.realized - before)
        cost = (fill.price - intent.decision_price) * base
        if fill.side is Side.SELL:
            cost = -cost
        leg = intent.id.leg.split(".")[0] if hedge else intent.id.leg
        for totals in (self.slippage, self.slippage_by_leg.setdefault(leg, SlippageTotals())):
            totals.cost += cost
            totals.decision_notional += intent.decision_price * base
            totals.fills += 1

    def on_forced(self, fill: Fill, instrument: Instrument, asset: str) -> None:
        """Book this strategy's share (`fill`) of a trade the venue forced on the perp."""
        inst = replace(instrument, venue=fill.venue)
        self.inventory.apply_fill(asset, fill.venue, "perp", base_change(fill, inst))
        reduced = [
            (book, qty)
            for book in self._books()
            if (qty := book.open_qty_at(fill.venue, fill.symbol, fill.ts_venue_ms))
            and (qty > 0) == (fill.side is Side.SELL)
        ]
        holdings = [qty for _, qty in reduced]
        qtys, fees = allocate(fill.qty, holdings), allocate(fill.fee, holdings)
        if qtys is None or fees is None:
            parts = [(self._hedge_book(asset), fill)]
        else:
            parts = [
                (book, replace(fill, qty=q, fee=f))
                for (book, _), q, f in zip(reduced, qtys, fees, strict=True)
            ]
        for book, part in parts:
            if inst.key not in book.instruments:
                book.instruments = {**book.instruments, inst.key: inst}
            before = book.realized
            book.add_fill(part)
            self._realized(part.ts_venue_ms, book.realized - before)

    def holding_at(self, venue: str, symbol: str, ts_ms: int) -> Decimal:
        """This strategy's signed base position in one instrument at venue time `ts_ms`."""
        return sum((b.open_qty_at(venue, symbol, ts_ms) for b in self._books()), ZERO)

    def on_funding(self, payment: FundingPayment) -> None:
        """Book this strategy's share of a funding settlement (`payment.amount`)."""
        if payment.asset != self.quote:
            held = self.other_funding.get(payment.asset, ZERO)
            self.other_funding[payment.asset] = held + payment.amount
            return
        holders = [
            (book, qty)
            for book in self._books()
            if (qty := book.open_qty_at(payment.venue, payment.symbol, payment.ts_venue_ms))
        ]
        shares = allocate(payment.amount, [qty for _, qty in holders])
        if shares is None:
            self.funding_unbooked += payment.amount
        else:
            for (book, _), share in zip(holders, shares, strict=True):
                book.add_funding(replace(payment, amount=share))
        self._realized(payment.ts_venue_ms, payment.amount)

    @property
    def realized(self) -> Decimal:
        return sum((b.realized for b in self._books()), self.funding_unbooked)

    @property
    def fees(self) -> Decimal:
        return sum((b.fees for b in self._books()), ZERO)

    def lines(self) -> PnlLines:
        cycles, hedges = self.cycles.values(), self.hedges.values()
        return PnlLines(
            spread=sum((b.trading for b in cycles), ZERO),
            hedge=sum((b.trading for b in hedges), ZERO),
            funding=sum((b.funding for b in self._books()), self.funding_unbooked),
            fees=self.fees,
            today=self.realized_today(),
        )

    def trading_day(self, ts_ms: int) -> int:
        """The trading day `ts_ms` (UTC epoch ms) falls in, as days since the epoch."""
        return (ts_ms - day_offset_ms(self.day_start)) // DAY_MS

    def realized_today(self) -> Decimal:
        """Realized PnL of the trading day the clock is in: fills and settlements stamped in it."""
        return self._by_day.get(self.trading_day(self.clock_ms()), ZERO)

    def set_day_start(self, day_start: time) -> None:
        """Move the day boundary (a reloaded manifest): every change is counted again."""
        if day_start == self.day_start:
            return
        self.day_start = day_start
        self._by_day.clear()
        for ts_ms, change in self._changes:
            day = self.trading_day(ts_ms)
            self._by_day[day] = self._by_day.get(day, ZERO) + change

    def cycle_results(self) -> list[tuple[str, int, Decimal, bool]]:
        """(pair, cycle, realized, flat) of every cycle with fills, oldest first."""
        return [
            (pair, cycle, book.realized, book.flat)
            for (pair, cycle), book in sorted(self.cycles.items())
        ]

    def _realized(self, ts_ms: int, change: Decimal) -> None:
        stamped = ts_ms or self.clock_ms()
        self._changes.append((stamped, change))
        day = self.trading_day(stamped)
        self._by_day[day] = self._by_day.get(day, ZERO) + change

    def _cycle_book(self, pair: str, cycle: int) -> CyclePnL:
        book = self.cycles.get((pair, cycle))
        if book is None:
            book = self.cycles[(pair, cycle)] = CyclePnL(self.quote, {})
        return book

    def _hedge_book(self, asset: str) -> CyclePnL:
        book = self.hedges.get(asset)
        if book is None:
            book = self.hedges[asset] = CyclePnL(self.quote, {})
        return book

    def _books(self) -> Iterator[CyclePnL]:
        yield from self.cycles.values()
        yield from self.hedges.values()
