"""What the order pipeline hands to the journal: order snapshots, applied changes, incidents.

These are plain values. The tracker produces them; the journal (`arbiter.store`) persists them
and gives them back on replay, so the two sides agree on one vocabulary without the tracker
knowing SQL.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal, localcontext
from enum import StrEnum
from typing import Protocol

from arbiter.execution.intent import Intent
from arbiter.fsm import ORDER
from arbiter.venues import Fill

FINAL_STATES = frozenset(s.name for s in ORDER.states if s.terminal)

# Enough digits that an average of exact fills never loses a tick on any listed instrument.
_AVG_PRECISION = 34


class IncidentKind(StrEnum):
    OVERFILL = "overfill"  # filled more than ordered
    REFUSED_EVENT = "refused_event"  # a venue event the order machine does not allow here
    UNKNOWN_ORDER = "unknown_order"  # a venue event for a client id we never journaled
    ORDER_MISSING = "order_missing"  # the venue does not know a live order of ours


@dataclass(frozen=True, slots=True)
class Incident:
    """An operator-visible fault found while applying venue events; never an exception."""

    kind: IncidentKind
    venue: str
    symbol: str
    client_id: str
    message: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """The current state of one order and the quantities tracked beside its machine."""

    client_id: str
    venue: str
    symbol: str
    qty: Decimal
    state: str
    venue_order_id: str | None = None
    fills_qty: Decimal = Decimal(0)  # sum of distinct fills we hold (deduplicated by trade id)
    fills_notional: Decimal = Decimal(0)  # sum of price * qty of those fills, exact
    reported_qty: Decimal = Decimal(0)  # largest cumulative filled qty the venue reported
    reported_avg_price: Decimal | None = None  # venue's average at that largest report

    @property
    def filled_qty(self) -> Decimal:
        """Filled as far as anyone knows: a status report can run ahead of its fill messages."""
        return max(self.fills_qty, self.reported_qty)

    @property
    def missing_fill_qty(self) -> Decimal:
        """Quantity the venue reported filled whose fills we have not seen (fetch them)."""
        return self.filled_qty - self.fills_qty

    @property
    def avg_price(self) -> Decimal | None:
        """From our own fills when they cover everything filled; else the venue's figure."""
        if self.fills_qty > 0 and self.fills_qty >= self.reported_qty:
            with localcontext() as ctx:
                ctx.prec = _AVG_PRECISION
                return self.fills_notional / self.fills_qty
        return self.reported_avg_price

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


class ChangeKind(StrEnum):
    """What caused a change: our own action, or which kind of venue message."""

    SUBMIT = "submit"
    SEND_ERROR = "send_error"
    ACK = "ack"
    UPDATE = "update"
    FILL = "fill"
    QUERY = "query"
    CANCEL_REQUEST = "cancel_request"
    CANCEL_ERROR = "cancel_error"


@dataclass(frozen=True, slots=True)
class OrderChange:
    """One applied event: the trigger fired, its effect and the snapshot after it.

    `accepted` is False when the machine refused a venue event (an incident is attached); the
    change is still journaled so the trail is complete, and replay skips it.
    """

    seq: int  # per order, from 1; the intent itself is seq 0
    kind: ChangeKind
    trigger: str
    source: str
    dest: str
    accepted: bool
    snapshot: OrderSnapshot
    ts_ns: int
    detail: str = ""
    fill: Fill | None = None
    incident: Incident | None = None


@dataclass(frozen=True, slots=True)
class JournaledEvent:
    """One order change as read back from the journal: enough to replay the machine."""

    seq: int
    kind: ChangeKind
    trigger: str
    source: str
    dest: str
    accepted: bool
    filled_qty: Decimal  # after the change; what the machine's guards saw
    detail: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class JournaledOrder:
    """One order as the journal holds it: enough to put it back into a tracker."""

    intent: Intent
    snapshot: OrderSnapshot
    events: tuple[JournaledEvent, ...]
    fills: tuple[Fill, ...]


class OrderJournal(Protocol):
    """What the tracker needs from a journal; `arbiter.store.Journal` provides it."""

    def record_intent(self, intent: Intent, snapshot: OrderSnapshot, ts_ns: int) -> None: ...

    def record_change(self, change: OrderChange) -> None: ...

    def record_incident(self, incident: Incident) -> None: ...

    def record_fill(self, fill: Fill) -> bool: ...

    def load_order(self, client_id: str) -> JournaledOrder | None: ...

    def submission(self) -> AbstractContextManager[None]:
        """One durable write for everything recorded inside (a submission's intents and their
        `submitted` marks): when it exits, all of it survives a crash, so all may be sent."""
        ...
