"""Restart recovery: reconcile the journal with every venue before any strategy may trade.

Order of work, per the journal's own promise (intent, then `submitted`, then send):
1. rebuild the tracker from the journal (`arbiter.store.replay.restore_orders`);
2. every order still `new` was never sent: it is dropped (rejected, "never sent"), so nothing
   half-decided is sent after a restart;
3. every order `submitted`, `unknown` or live is queried by client id; the answer is applied
   (fills the venue reports while we were down raise the filled quantity; an order the venue
   never saw becomes `rejected`);
3b. an order the venue reports filled beyond the fills we hold has its fills read from the
   venue, from when it was sent, and applied (deduplicated by trade id): a venue session only
   replays recent fills on connect, and inventory, PnL and the restored cycle are built from
   fills, not from a reported quantity;
4. each venue's open orders are listed: one whose client id has our shape but that the journal
   lacks is flagged as an incident (it must be ours from a lost journal, and nobody tracks it);
   others belong to someone else and are left alone.

Nothing is ever sent here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from arbiter import clock as process_clock
from arbiter.execution.gateway import CLOCK_SLACK_MS, FILLS_LOOKBACK_MS, OrderGateway
from arbiter.execution.records import ChangeKind, OrderJournal, OrderSnapshot
from arbiter.venues import OrderRejected, OrderUpdate, TradingVenue, VenueError

OUR_CLIENT_ID = re.compile(r"a[0-9a-f]{25}")  # see arbiter.venues.contract.client_ids.IntentId
# Fills are read from CLOCK_SLACK_MS before the order was sent (the venue's clock may run
# behind ours); without a journal to say when, from FILLS_LOOKBACK_MS before now.


@dataclass
class RecoveryReport:
    dropped_unsent: list[str] = field(default_factory=list)
    resolved: dict[str, str] = field(default_factory=dict)  # client id -> state after the query
    fills_fetched: dict[str, int] = field(default_factory=dict)  # client id -> fills applied
    still_unknown: list[str] = field(default_factory=list)
    orphans: list[OrderUpdate] = field(default_factory=list)  # ours by shape, not in the journal
    foreign: int = 0  # open orders placed by something else
    errors: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.still_unknown or self.orphans or self.errors)

    def lines(self) -> list[str]:
        out = [f"dropped never-sent order {c}" for c in self.dropped_unsent]
        out += [f"order {c}: {state}" for c, state in self.resolved.items()]
        out += [
            f"order {c}: {n} fill(s) read from the venue" for c, n in self.fills_fetched.items()
        ]
        out += [f"order {c}: still unknown" for c in self.still_unknown]
        out += [
            f"orphan on {o.venue}: {o.client_id} {o.symbol} {o.side} {o.qty} ({o.status})"
            for o in self.orphans
        ]
        out += self.errors
        return out


async def reconcile(
    gateway: OrderGateway,
    venues: Mapping[str, TradingVenue],
    journal: OrderJournal | None = None,
) -> RecoveryReport:
    """`journal` (the tracker's) says when each order was sent, so its fills are read from
    then; without it, from `FILLS_LOOKBACK_MS` ago."""
    tracker = gateway.tracker
    report = RecoveryReport()
    for snap in list(tracker.open_orders()):
        cid = snap.client_id
        if snap.state == "new":
            tracker.send_failed(
                cid, OrderRejected(snap.venue, "never sent before the restart; dropped")
            )
            report.dropped_unsent.append(cid)
            continue
        after = await gateway.resolve(cid)
        if after.state == "unknown":
            report.still_unknown.append(cid)
            continue
        if after.missing_fill_qty > 0:
            try:
                after = await _fetch_fills(gateway, venues[after.venue], after, journal, report)
            except VenueError as exc:
                report.errors.append(f"{cid}: fills not read: {exc}")
        report.resolved[cid] = after.state
    for name, venue in venues.items():
        try:
            open_orders = await venue.open_orders()
        except VenueError as exc:
            report.errors.append(f"{name}: open orders not listed: {exc}")
            continue
        for order in open_orders:
            if order.client_id in tracker:
                continue
            if OUR_CLIENT_ID.fullmatch(order.client_id):
                report.orphans.append(order)
            else:
                report.foreign += 1
    return report


async def _fetch_fills(
    gateway: OrderGateway,
    venue: TradingVenue,
    snap: OrderSnapshot,
    journal: OrderJournal | None,
    report: RecoveryReport,
) -> OrderSnapshot:
    """Apply the order's fills as the venue lists them since the order was sent."""
    since_ms = _sent_ms(journal, snap.client_id)
    if since_ms is None:
        since_ms = process_clock.wall_ms() - FILLS_LOOKBACK_MS
    fills = [
        f
        for f in await venue.fills(snap.symbol, since_ms - CLOCK_SLACK_MS)
        if f.client_id == snap.client_id
    ]
    for fill in fills:
        gateway.on_private(fill)
    report.fills_fetched[snap.client_id] = len(fills)
    return gateway.tracker.snapshot(snap.client_id)


def _sent_ms(journal: OrderJournal | None, client_id: str) -> int | None:
    order = journal.load_order(client_id) if journal is not None else None
    if order is None:
        return None
    sent = [e.ts_ns for e in order.events if e.kind is ChangeKind.SUBMIT]
    return min(sent) // 1_000_000 if sent else None
