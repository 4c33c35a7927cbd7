"""Forced executions: trades the venue made on the account's perp by itself (auto-deleveraging,
a liquidation), booked into the strategies whose positions they reduced.

Rules kept here:
- a forced execution is booked once: the journal keeps it under the venue's trade id with the
  split decided for it;
- it reduced the side it traded against (a forced buy closes shorts), so it is split among the
  strategies holding that side of the perp on that account at its venue time, by holding; the
  shares of quantity and fee add up to the venue's exactly;
- each share is booked as a fill of that strategy's position (`Ledger.on_forced`: PnL and
  inventory, since no order of ours moves them), and the runtime raises an incident in any case:
  the cycle that held the position did not choose to close it;
- one that reduced no strategy's position is journaled with no share;
- a restart replays the journaled shares (`Runtime._restore`), it never splits again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from arbiter.execution.pnl import allocate
from arbiter.market.instrument import Instrument
from arbiter.runtime.host import StrategyHost
from arbiter.store.journal import Journal
from arbiter.venues import Fill, ForcedExecution, Side


def forced_fill(event: ForcedExecution, qty: Decimal, fee: Decimal) -> Fill:
    """One strategy's share of a forced execution, as a fill of no order of ours."""
    return Fill(
        venue=event.venue,
        symbol=event.symbol,
        client_id="",
        venue_order_id="",
        trade_id=event.trade_id,
        side=event.side,
        price=event.price,
        qty=qty,
        fee=fee,
        fee_asset=event.fee_asset,
        ts_venue_ms=event.ts_venue_ms,
        ts_local_ns=event.ts_local_ns,
    )


@dataclass(frozen=True, slots=True)
class ForcedOutcome:
    new: bool  # False: booked before (a second report of it)
    shares: Mapping[str, tuple[Decimal, Decimal]]  # strategy -> (qty, fee) booked
    unbooked: bool  # no instrument known to book it with


class ForcedDesk:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.booked = 0

    def on_forced(
        self,
        event: ForcedExecution,
        hosts: Iterable[StrategyHost],
        instruments: Mapping[tuple[str, str, str], Instrument],
    ) -> ForcedOutcome:
        e = event
        reduced = [
            (host, qty)
            for host in hosts
            if (qty := host.ledger.holding_at(e.venue, e.symbol, e.ts_venue_ms))
            and (qty > 0) == (e.side is Side.SELL)
        ]
        holdings = [qty for _, qty in reduced]
        qtys, fees = allocate(e.qty, holdings), allocate(e.fee, holdings)
        shares: dict[str, tuple[Decimal, Decimal]] = {}
        if qtys is not None and fees is not None:
            for (host, _), q, f in zip(reduced, qtys, fees, strict=True):
                shares[host.name] = (q, f)
        if not self.journal.record_forced(e, shares):
            return ForcedOutcome(False, {}, False)
        self.booked += 1
        instrument = instruments.get((e.venue, "perp", e.symbol))
        if instrument is None:
            return ForcedOutcome(True, shares, bool(shares))
        by_name = {host.name: host for host, _ in reduced}
        for name, (q, f) in shares.items():
            by_name[name].ledger.on_forced(forced_fill(e, q, f), instrument, instrument.base)
        return ForcedOutcome(True, shares, False)
