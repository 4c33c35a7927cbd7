"""Funding settlements, from the venue's record to each strategy's books.

Rules kept here:
- a settlement is booked once: the journal keeps it under the venue's own id with the split
  decided for it, and a second report (a reconnect's REST read, a duplicated push) changes
  nothing;
- the venue's amount is split among the strategies that held the perp on that account at the
  settlement's venue time, in proportion to each one's signed holding there: a strategy long 3
  and one short 1 (the account long 2) get 3/2 and -1/2 of what the account paid, which is
  what each would have paid alone; the shares add up to the venue's amount exactly
  (`arbiter.execution.pnl.allocate`);
- a settlement no strategy held a position for (the account trades outside the runtime, or the
  position came from before its journal) is journaled with no share and logged;
- a restart replays the journaled shares (`Runtime._restore`), it never splits again.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from loguru import logger

from arbiter.execution.pnl import FundingPayment, allocate
from arbiter.runtime.host import StrategyHost
from arbiter.store.journal import Journal
from arbiter.venues import FundingSettlement


def payment_of(settlement: FundingSettlement, share: Decimal) -> FundingPayment:
    return FundingPayment(
        settlement.venue, settlement.symbol, share, settlement.asset, settlement.ts_venue_ms
    )


class FundingDesk:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.booked = 0
        self.duplicates = 0
        self.unattributed = 0

    def on_settlement(
        self, settlement: FundingSettlement, hosts: Iterable[StrategyHost]
    ) -> dict[str, Decimal]:
        """Split, journal and book one settlement; strategy -> its share (empty when the
        settlement was booked before, or nobody held the perp)."""
        s = settlement
        holders = [
            (host, qty)
            for host in hosts
            if (qty := host.ledger.holding_at(s.venue, s.symbol, s.ts_venue_ms))
        ]
        split = allocate(s.amount, [qty for _, qty in holders]) if holders else None
        shares = (
            {} if split is None else {h.name: a for (h, _), a in zip(holders, split, strict=True)}
        )
        if not self.journal.record_funding(s, shares):
            self.duplicates += 1
            return {}
        self.booked += 1
        venue_log = logger.bind(venue=s.venue, symbol=s.symbol)
        if not shares:
            self.unattributed += 1
            venue_log.warning(
                "funding {} {} ({}) settled on a position no strategy holds: not attributed",
                s.amount,
                s.asset,
                s.settlement_id,
            )
            return {}
        by_name = {h.name: h for h, _ in holders}
        for name, share in shares.items():
            by_name[name].ledger.on_funding(payment_of(s, share))
            venue_log.bind(strategy=name).info(
                "funding {} {} booked ({} of {})", share, s.asset, s.settlement_id, s.amount
            )
        return shares
