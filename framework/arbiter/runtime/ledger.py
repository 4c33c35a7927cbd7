"""One strategy's books of account, kept from fills: inventory, realized PnL and slippage.

Fills reach the ledger exactly once each: the order tracker deduplicates them by trade id before
the gateway reports them (`OrderGateway.on_applied`), so a duplicated or replayed venue message
can never count twice here.

- Inventory (net delta per asset) takes every cycle fill: entries, exits and repairs, each net
  of a fee paid in the base coin (what the account really holds). Hedge fills are booked by the
  hedger itself when its order ends, so they are skipped here.
- PnL is kept per cycle (`CyclePnL`: average cost, fees, funding) and summed per strategy; the
  hedger's fills form one running book of their own.
- Slippage of every fill is measured against its intent's decision price.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from arbiter.execution.fees import base_change
from arbiter.execution.intent import Intent
from arbiter.execution.pnl import CyclePnL
from arbiter.market.instrument import Instrument
from arbiter.risk.inventory import Inventory
from arbiter.venues.orders import Fill, Side

ZERO = Decimal(0)
HEDGE_PAIR = "hedge"  # the pair field of every hedge intent id


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


@dataclass
class Ledger:
    strategy: str
    inventory: Inventory
    quote: str = "USDT"
    today: Callable[[], str] = field(default=lambda: datetime.now(UTC).date().isoformat())
    cycles: dict[tuple[str, int], CyclePnL] = field(default_factory=dict)  # (pair, cycle)
    slippage: SlippageTotals = field(default_factory=SlippageTotals)
    slippage_by_leg: dict[str, SlippageTotals] = field(default_factory=dict)  # "entry.spot" ...
    fees: Decimal = ZERO
    fills: int = 0
    _day: str = ""
    _realized_before_today: Decimal = ZERO

    def on_fill(
        self,
        intent: Intent,
        fill: Fill,
        instrument: Instrument,
        asset: str,
        *,
        replaying: bool = False,
    ) -> None:
        """Book one fill of one of this strategy's orders (`instrument`: the leg's own).

        `replaying`: a restart rebuilding the books from the journal; hedge fills then go into
        the inventory too, since no hedger is there to book them."""
        self.fills += 1
        inst = replace(instrument, venue=fill.venue)  # keyed like the fill, whatever the listing
        base = inst.base_qty(fill.qty)
        signed = base if fill.side is Side.BUY else -base
        pair, cycle = intent.id.pair, intent.id.cycle
        if pair != HEDGE_PAIR or replaying:
            kind = "spot" if instrument.kind.value == "spot" else "perp"
            # held: what the account got, net of a fee paid in the coin (a spot buy receives
            # its fill less the fee); pending: the order's own quantity
            self.inventory.apply_fill(asset, fill.venue, kind, base_change(fill, inst))
            self.inventory.fill_pending(intent.client_id, signed)
        book = self.cycles.get((pair, cycle))
        if book is None:
            book = self.cycles[(pair, cycle)] = CyclePnL(self.quote, {})
        if inst.key not in book.instruments:
            book.instruments = {**book.instruments, inst.key: inst}
        fees_before = book.fees
        book.add_fill(fill)
        self.fees += book.fees - fees_before
        cost = (fill.price - intent.decision_price) * base
        if fill.side is Side.SELL:
            cost = -cost
        leg = intent.id.leg.split(".")[0] if pair == HEDGE_PAIR else intent.id.leg
        for totals in (self.slippage, self.slippage_by_leg.setdefault(leg, SlippageTotals())):
            totals.cost += cost
            totals.decision_notional += intent.decision_price * base
            totals.fills += 1

    @property
    def realized(self) -> Decimal:
        return sum((book.realized for book in self.cycles.values()), ZERO)

    def realized_today(self) -> Decimal:
        """Realized PnL since the UTC day began (or since the runtime started, if later)."""
        day = self.today()
        if day != self._day:
            self._day, self._realized_before_today = day, self.realized
        return self.realized - self._realized_before_today

    def cycle_results(self) -> list[tuple[str, int, Decimal, bool]]:
        """(pair, cycle, realized, flat) of every cycle with fills, oldest first."""
        return [
            (pair, cycle, book.realized, book.flat)
            for (pair, cycle), book in sorted(self.cycles.items())
            if pair != HEDGE_PAIR
        ]
