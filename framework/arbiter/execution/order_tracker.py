"""Apply venue events to orders idempotently, through the order machine, into the journal.

Rules kept here:
- the order machine (`arbiter.fsm.ORDER`) is the only thing that changes an order's state;
  quantities are tracked beside it in an `OrderSnapshot`;
- venue events never raise: a duplicate is absorbed (fills by trade id, statuses by the table's
  internal transitions), an event the table refuses or an overfill becomes an `Incident`;
- our own actions do raise `IllegalTransition` when they make no sense (submitting twice,
  cancelling a final order): those are bugs in the caller, not facts from the venue;
- an ambiguous send (or a duplicate-client-id answer) leaves the order `unknown` and asks the
  caller to query it by client id; nothing here ever resends;
- every applied change is handed to the journal before the call returns, so a caller that
  journals an intent and marks it submitted before the bytes leave has "write before send";
  `submit_all` does that for several intents (both legs) in one commit.

Memory, and so the garbage collector's work, stays bounded however long the runtime trades:
machines (`TableRunner`s of the order table) are built ahead (`prewarm`, off the hot path), only the most recent `keep_final` final orders stay in memory (an older one is reloaded
from the journal if a late event or a reader asks for it), and a forgotten order's machine is
reset and reused.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from decimal import Decimal

from arbiter import clock as process_clock
from arbiter.execution.intent import Intent
from arbiter.execution.order_machines import MachinePool
from arbiter.execution.records import (
    ChangeKind,
    Incident,
    IncidentKind,
    JournaledOrder,
    OrderChange,
    OrderJournal,
    OrderSnapshot,
)
from arbiter.fsm import ORDER, IllegalTransition
from arbiter.fsm.order import LIVE
from arbiter.fsm.table_runner import TableRunner
from arbiter.venues import (
    Ambiguous,
    DuplicateClientId,
    Fill,
    OrderAck,
    OrderNotFound,
    OrderStatus,
    OrderUpdate,
    VenueError,
)

_STATUS_TRIGGER: dict[OrderStatus, str] = {
    OrderStatus.NEW: "ack",
    OrderStatus.PARTIALLY_FILLED: "partial_fill",
    OrderStatus.FILLED: "fill",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.REJECTED: "reject",
    OrderStatus.EXPIRED: "expire",
}


_CANCELLABLE = frozenset(LIVE)


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of one call: the change journaled (if any) and what the caller must do."""

    client_id: str
    change: OrderChange | None = None
    duplicate: bool = False  # a fill already counted: nothing changed
    needs_query: bool = False  # query the order by client id before anything else
    incident: Incident | None = None

    @property
    def state(self) -> str | None:
        return self.change.snapshot.state if self.change else None


def _with_state(s: OrderSnapshot, state: str) -> OrderSnapshot:
    """`replace(s, state=state)` without its per-call field introspection (the hot path)."""
    return OrderSnapshot(
        client_id=s.client_id,
        venue=s.venue,
        symbol=s.symbol,
        qty=s.qty,
        state=state,
        venue_order_id=s.venue_order_id,
        fills_qty=s.fills_qty,
        fills_notional=s.fills_notional,
        reported_qty=s.reported_qty,
        reported_avg_price=s.reported_avg_price,
    )


class _Order:
    """One tracked order: its intent, its running machine and its quantities."""

    __slots__ = (
        "fills",
        "intent",
        "missing_reported",
        "overfill_seen",
        "runner",
        "seq",
        "snapshot",
    )

    def __init__(self, intent: Intent, snapshot: OrderSnapshot, runner: TableRunner) -> None:
        self.intent = intent
        self.runner = runner
        self.snapshot = snapshot
        self.fills: dict[str, Fill] = {}
        self.seq = 0
        self.overfill_seen = Decimal(0)
        self.missing_reported = False  # the venue was found not to know this live order


class OrderTracker:
    def __init__(
        self,
        journal: OrderJournal,
        clock: Callable[[], int] = process_clock.wall_ns,
        *,
        batch: Callable[[], AbstractContextManager[None]] | None = None,
        keep_final: int = 64,
    ) -> None:
        """`batch`: what `submit_all` writes inside, one durable write for all of it; the
        journal's own `submission()` unless given. `keep_final`: how many final orders stay in
        memory (the newest)."""
        if keep_final < 1:
            raise ValueError(f"expected keep_final of at least 1, was {keep_final}")
        self._journal = journal
        self._clock = clock
        self._batch = batch or journal.submission
        self._keep_final = keep_final
        self._orders: dict[str, _Order] = {}
        self._final: OrderedDict[str, None] = OrderedDict()  # final orders in memory, oldest first
        self._machines = MachinePool()
        self.incidents: list[Incident] = []

    def prewarm(self, count: int) -> int:
        """Have `count` order machines ready, built now rather than when an order is added;
        returns how many were built (see `arbiter.execution.order_machines`)."""
        return self._machines.prewarm(count)

    @property
    def spare_machines(self) -> int:
        return len(self._machines)

    # -- reading -------------------------------------------------------------------------

    def snapshot(self, client_id: str) -> OrderSnapshot:
        return self._get(client_id).snapshot

    def intent(self, client_id: str) -> Intent:
        return self._get(client_id).intent

    def fills(self, client_id: str) -> list[Fill]:
        return list(self._get(client_id).fills.values())

    def open_orders(self) -> list[OrderSnapshot]:
        return [o.snapshot for o in self._orders.values() if not o.snapshot.is_final]

    def history(self, client_id: str) -> list[tuple[str, str, str]]:
        """(trigger, source, dest) of every decision the order's machine made, oldest first."""
        return [(d.trigger, d.source, d.dest) for d in self._get(client_id).runner.history]

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._orders

    # -- our own actions -----------------------------------------------------------------

    def add(self, intent: Intent) -> OrderSnapshot:
        """Track and journal a new intent (state `new`). Call before anything is sent."""
        if intent.client_id in self._orders:
            raise ValueError(f"{intent.client_id}: intent {intent.id} is already tracked")
        request = intent.request
        snapshot = OrderSnapshot(
            intent.client_id, intent.venue, request.symbol, request.qty, ORDER.initial
        )
        self._journal.record_intent(intent, snapshot, self._clock())
        self._orders[intent.client_id] = _Order(intent, snapshot, self._machines.take())
        return snapshot

    def submit_all(self, intents: Sequence[Intent]) -> list[Applied]:
        """Track each intent (unless already tracked, in state `new`) and mark it submitted,
        all in one journal commit: when this returns, every intent and its `submitted` mark
        are durable, so all may be sent. Checked first, so a refusal writes nothing."""
        seen: set[str] = set()
        for intent in intents:
            cid = intent.client_id
            if cid in seen:
                raise ValueError(f"{cid}: intent {intent.id} appears twice in one submission")
            seen.add(cid)
            order = self._orders.get(cid)
            if order is not None and order.runner.state != ORDER.initial:
                raise IllegalTransition(
                    ORDER.name, order.runner.state, "submit", order.runner.allowed_triggers()
                )
        added: list[str] = []
        try:
            with self._batch():
                out = []
                for intent in intents:
                    if intent.client_id not in self._orders:
                        self.add(intent)
                        added.append(intent.client_id)
                    out.append(self.submitted(intent.client_id))
        except BaseException:
            # The journal wrote nothing (its rows go out at commit): neither does memory.
            self._unsubmit(intents, added)
            raise
        return out

    def _unsubmit(self, intents: Sequence[Intent], added: list[str]) -> None:
        """Undo what a failed `submit_all` did in memory: intents it added are dropped, and
        orders it moved from `new` are put back there, as the rolled-back journal has them."""
        for intent in intents:
            cid = intent.client_id
            order = self._orders.get(cid)
            if order is None:
                continue
            if cid in added:
                del self._orders[cid]
                self._final.pop(cid, None)
                self._machines.give_back(order.runner)
            elif order.runner.state != ORDER.initial:
                order.runner.restore(ORDER.initial)
                order.runner.history.pop()
                order.seq -= 1
                order.snapshot = _with_state(order.snapshot, ORDER.initial)

    def submitted(self, client_id: str) -> Applied:
        """Mark the order sent. Journaled before the request leaves, so a crash after this
        point is resolved by a query, and a crash before it by sending (nothing left)."""
        return self._fire_own(client_id, ChangeKind.SUBMIT, "submit")

    def cancel_requested(self, client_id: str) -> Applied:
        return self._fire_own(client_id, ChangeKind.CANCEL_REQUEST, "cancel_request")

    def send_failed(self, client_id: str, error: VenueError) -> Applied:
        """The place-order call raised. Definitive: rejected. Ambiguous or duplicate client id:
        the order may exist (duplicate: it does), so it goes `unknown` and must be queried."""
        order = self._get(client_id)
        if isinstance(error, Ambiguous | DuplicateClientId):
            if order.runner.state != "submitted":
                # Already past the send (an event overtook the error): the state says more.
                return Applied(client_id, needs_query=order.runner.state == "unknown")
            applied = self._fire(order, ChangeKind.SEND_ERROR, "send_ambiguous", str(error))
            return replace(applied, needs_query=True)
        return self._fire(order, ChangeKind.SEND_ERROR, "reject", str(error))

    def cancel_failed(self, client_id: str, error: VenueError) -> Applied:
        """The cancel call raised. Ambiguous: it may have worked; stay `pending_cancel` and
        query. Not found: the venue holds no working order of that id, so it ended (filled,
        cancelled, expired) or never arrived, and only a query says which: stay and query.
        Any other refusal (rate limited, too late): the order is still working, or already
        final."""
        order = self._get(client_id)
        if isinstance(error, Ambiguous | OrderNotFound):
            return Applied(client_id, needs_query=True)
        return self._fire(order, ChangeKind.CANCEL_ERROR, "cancel_rejected", str(error))

    def can_cancel(self, client_id: str) -> bool:
        """Whether a cancel request makes sense now: the order may be working on the venue.
        Not while `unknown` (a query must first say whether it exists) or once final."""
        return self._get(client_id).runner.state in _CANCELLABLE

    def query_result(
        self, client_id: str, update: OrderUpdate | None, *, in_flight: bool = False
    ) -> Applied:
        """The answer to a query by client id: the order as the venue has it, or None.

        `in_flight`: the order's own request is still on its way (sent, not answered), so a
        venue that does not know the order yet proves nothing: None changes nothing then."""
        order = self._get(client_id)
        if update is not None:
            return self._apply_update(order, update, ChangeKind.QUERY)
        state = order.runner.state
        if in_flight and state in ("submitted", "unknown"):
            return Applied(client_id)
        if state == "submitted":
            # Journaled as sent but never answered (a restart in between): the send's outcome
            # was unknown all along, and the venue now says it never arrived.
            self._fire(order, ChangeKind.QUERY, "send_ambiguous", "no answer to the send")
            state = order.runner.state
        if state == "unknown":
            return self._fire(order, ChangeKind.QUERY, "not_found", "venue has no such order")
        if state in ("new", "rejected") or order.missing_reported:
            # never sent, already known to be refused, or already reported missing (the
            # order is queried again until it ends: one incident is enough)
            return Applied(client_id)
        order.missing_reported = True
        incident = self._incident(
            order,
            IncidentKind.ORDER_MISSING,
            f"venue does not know order in state {state!r} (filled {order.snapshot.filled_qty})",
        )
        return Applied(client_id, incident=incident)

    # -- venue events --------------------------------------------------------------------

    def apply(self, event: OrderAck | OrderUpdate | Fill) -> Applied:
        if isinstance(event, Fill):
            return self.on_fill(event)
        if isinstance(event, OrderUpdate):
            return self.on_update(event)
        return self.on_ack(event)

    def on_ack(self, ack: OrderAck) -> Applied:
        order = self._lookup(ack.client_id)
        if order is None:
            return self._unknown(ack.venue, "", ack.client_id, f"ack {ack.venue_order_id}")
        self._learn_venue_id(order, ack.venue_order_id)
        return self._fire(order, ChangeKind.ACK, "ack", f"venue order {ack.venue_order_id}")

    def on_update(self, update: OrderUpdate) -> Applied:
        order = self._lookup(update.client_id)
        if order is None:
            detail = f"{update.status} filled {update.filled_qty}"
            return self._unknown(update.venue, update.symbol, update.client_id, detail)
        return self._apply_update(order, update, ChangeKind.UPDATE)

    def on_fill(self, fill: Fill) -> Applied:
        order = self._lookup(fill.client_id)
        if order is None:
            self._journal.record_fill(fill)  # a fact worth keeping for reconciliation
            detail = f"fill {fill.trade_id} {fill.qty} @ {fill.price}"
            return self._unknown(fill.venue, fill.symbol, fill.client_id, detail)
        if fill.trade_id in order.fills:
            return Applied(fill.client_id, duplicate=True)
        if fill.qty <= 0:
            message = f"trade {fill.trade_id}: expected positive fill qty, was {fill.qty}"
            return Applied(
                fill.client_id, incident=self._incident(order, IncidentKind.REFUSED_EVENT, message)
            )
        order.fills[fill.trade_id] = fill
        self._learn_venue_id(order, fill.venue_order_id)
        snap = order.snapshot
        order.snapshot = replace(
            snap,
            fills_qty=snap.fills_qty + fill.qty,
            fills_notional=snap.fills_notional + fill.price * fill.qty,
        )
        trigger = "fill" if order.snapshot.filled_qty >= snap.qty else "partial_fill"
        detail = f"trade {fill.trade_id} {fill.qty} @ {fill.price}"
        return self._fire(order, ChangeKind.FILL, trigger, detail, fill=fill)

    # -- restart -------------------------------------------------------------------------

    def restore(self, journaled: JournaledOrder) -> None:
        """Rebuild one order from the journal by replaying its accepted triggers in order.

        The replayed state must equal the journaled one: a mismatch means the journal and the
        table disagree, and trading on either would be a guess.
        """
        intent, snapshot = journaled.intent, journaled.snapshot
        order = _Order(intent, snapshot, self._machines.take())
        for event in journaled.events:
            order.seq = max(order.seq, event.seq)
            if event.accepted:
                order.runner.fire(event.trigger, filled_qty=event.filled_qty)
        if order.runner.state != snapshot.state:
            raise ValueError(
                f"{intent.client_id}: journal says {snapshot.state!r}, replaying its events gives "
                f"{order.runner.state!r}"
            )
        order.fills = {f.trade_id: f for f in journaled.fills}
        if snapshot.filled_qty > snapshot.qty:  # already reported before the restart
            order.overfill_seen = snapshot.filled_qty
        self._orders[intent.client_id] = order
        if snapshot.is_final:
            self._retire(order)

    # -- internals -----------------------------------------------------------------------

    def _get(self, client_id: str) -> _Order:
        order = self._lookup(client_id)
        if order is None:
            raise KeyError(f"expected a tracked or journaled client id, was {client_id!r}")
        return order

    def _lookup(self, client_id: str) -> _Order | None:
        """A tracked order, or one the journal holds but memory does not (final before a
        restart): a late fill may still move it, e.g. cancelled -> filled."""
        order = self._orders.get(client_id)
        if order is None:
            journaled = self._journal.load_order(client_id)
            if journaled is not None:
                self.restore(journaled)
                order = self._orders[client_id]
        return order

    def _learn_venue_id(self, order: _Order, venue_order_id: str) -> None:
        if venue_order_id and order.snapshot.venue_order_id is None:
            order.snapshot = replace(order.snapshot, venue_order_id=venue_order_id)

    def _apply_update(self, order: _Order, update: OrderUpdate, kind: ChangeKind) -> Applied:
        self._learn_venue_id(order, update.venue_order_id)
        snap = order.snapshot
        if update.filled_qty > snap.reported_qty:
            # Cumulative reports only grow; a smaller one is a late message and adds nothing.
            order.snapshot = replace(
                snap, reported_qty=update.filled_qty, reported_avg_price=update.avg_price
            )
        detail = f"{update.status} filled {update.filled_qty}"
        if update.reason:
            detail += f" ({update.reason})"
        return self._fire(order, kind, _STATUS_TRIGGER[update.status], detail)

    def _fire_own(self, client_id: str, kind: ChangeKind, trigger: str) -> Applied:
        order = self._get(client_id)
        source = order.runner.state
        decision = order.runner.fire(trigger, filled_qty=order.snapshot.filled_qty)
        return self._record(order, kind, trigger, source, dest=decision.dest, accepted=True)

    def _fire(
        self,
        order: _Order,
        kind: ChangeKind,
        trigger: str,
        detail: str,
        fill: Fill | None = None,
    ) -> Applied:
        source = order.runner.state
        incident: Incident | None = None
        try:
            decision = order.runner.fire(trigger, filled_qty=order.snapshot.filled_qty)
            dest, accepted = decision.dest, decision.accepted
        except IllegalTransition as refused:
            dest, accepted = source, False
            incident = self._incident(
                order, IncidentKind.REFUSED_EVENT, f"{detail}: {refused}", journal=False
            )
        incident = incident or self._check_overfill(order)
        return self._record(
            order,
            kind,
            trigger,
            source,
            dest=dest,
            accepted=accepted,
            detail=detail,
            fill=fill,
            incident=incident,
        )

    def _record(
        self,
        order: _Order,
        kind: ChangeKind,
        trigger: str,
        source: str,
        *,
        dest: str,
        accepted: bool,
        detail: str = "",
        fill: Fill | None = None,
        incident: Incident | None = None,
    ) -> Applied:
        order.seq += 1
        order.snapshot = _with_state(order.snapshot, order.runner.state)
        change = OrderChange(
            order.seq,
            kind,
            trigger,
            source,
            dest,
            accepted,
            order.snapshot,
            self._clock(),
            detail,
            fill,
            incident,
        )
        self._journal.record_change(change)
        if order.snapshot.is_final:
            self._retire(order)
        return Applied(order.snapshot.client_id, change, incident=incident)

    def _retire(self, order: _Order) -> None:
        """Keep a final order among the newest `keep_final`; forget the oldest beyond that
        (the journal has it) and keep its machine, reset, for the next order."""
        cid = order.snapshot.client_id
        self._final[cid] = None
        self._final.move_to_end(cid)
        while len(self._final) > self._keep_final:
            old, _ = self._final.popitem(last=False)
            forgotten = self._orders.pop(old, None)
            if forgotten is not None:
                self._machines.give_back(forgotten.runner)

    def _check_overfill(self, order: _Order) -> Incident | None:
        snap = order.snapshot
        if snap.filled_qty <= snap.qty or snap.filled_qty <= order.overfill_seen:
            return None
        order.overfill_seen = snap.filled_qty
        return self._incident(
            order,
            IncidentKind.OVERFILL,
            f"expected filled <= ordered {snap.qty}, was {snap.filled_qty}",
            journal=False,  # travels with its change, in the same transaction
        )

    def _incident(
        self, order: _Order, kind: IncidentKind, message: str, *, journal: bool = True
    ) -> Incident:
        snap = order.snapshot
        incident = Incident(kind, snap.venue, snap.symbol, snap.client_id, message, self._clock())
        self.incidents.append(incident)
        if journal:
            self._journal.record_incident(incident)
        return incident

    def _unknown(self, venue: str, symbol: str, client_id: str, detail: str) -> Applied:
        incident = Incident(
            IncidentKind.UNKNOWN_ORDER,
            venue,
            symbol,
            client_id,
            f"event for an order the journal lacks: {detail}",
            self._clock(),
        )
        self.incidents.append(incident)
        self._journal.record_incident(incident)
        return Applied(client_id, incident=incident)
