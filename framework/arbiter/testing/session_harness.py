"""What the session contract kit needs from a plugin author, and what its checks use.

`SessionHarness` bundles a started `VenueSession` with a `SessionObserver` (the venue's own books
and orders, read without the plugin) and, optionally, `StreamFaults`. `Recorder` collects what
the session delivers and waits on it; `Orders` places orders the way execution does, through
the real order tracker and a real journal, and says whether the tracker and the venue agree.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from arbiter.execution.intent import Intent
from arbiter.execution.order_tracker import OrderTracker
from arbiter.execution.records import IncidentKind
from arbiter.market.book import OrderBook
from arbiter.market.book import Side as BookSide
from arbiter.market.events import MarketEvent
from arbiter.store.journal import Journal
from arbiter.testing.trading_harness import ObservedOrder
from arbiter.venues import (
    Fill,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PrivateEvent,
    Side,
    TimeInForce,
    VenueError,
    VenueSession,
)
from arbiter.venues.contract.client_ids import IntentId

Levels = list[tuple[Decimal, Decimal]]  # (price, size), best first
TIMEOUT_S = 20.0


class SessionObserver(Protocol):
    def book(self, kind: str, symbol: str) -> tuple[Levels, Levels]:
        """The venue's own book now: (bids, asks), best first, as deep as the session's."""
        ...

    def order(self, client_id: str) -> ObservedOrder | None: ...

    def best(self, kind: str, symbol: str, side: Side) -> Decimal:
        """Best bid (BUY) or best ask (SELL) now."""
        ...

    async def move(self) -> None:
        """Let the market move at least once (a simulator steps; a live venue is waited on)."""
        ...


class StreamFault(StrEnum):
    DISCONNECT = "disconnect"  # the public socket closes instead of the book's next update
    DROP_UPDATE = "drop_update"  # one book update never arrives: a sequence gap
    RESET = "reset"  # the venue restarts the book's stream mid-way
    DUPLICATE = "duplicate"  # one book update arrives twice
    PRIVATE_DISCONNECT = "private_disconnect"  # the private socket closes instead of an event
    PRIVATE_REORDER = "private_reorder"  # the next private event arrives after the one behind it
    FILL_AFTER_CANCEL = "fill_after_cancel"  # the next cancel is acked, but a fill wins


class StreamFaults(Protocol):
    def inject(self, fault: StreamFault, kind: str, symbol: str) -> None:
        """Make the next matching frame (or cancel) of (kind, symbol) meet `fault` once."""
        ...


@dataclass
class SessionHarness:
    session: VenueSession  # started
    observer: SessionObserver
    spot: str  # the venue's spot symbol
    perp: str  # its linear perp symbol (may equal `spot`)
    spot_qty: Decimal  # one small order in venue units, above every minimum
    perp_qty: Decimal
    journal_dir: Path  # where the checks keep their order journals
    faults: StreamFaults | None = None

    def symbol(self, kind: str) -> str:
        return self.spot if kind == "spot" else self.perp


# -- what the checks watch -------------------------------------------------------------------


class Recorder:
    """Every market and private event the session delivers, and a wait that re-checks a
    condition each time one arrives."""

    def __init__(self) -> None:
        self.market: list[MarketEvent] = []
        self.private: list[PrivateEvent] = []
        self._changed = asyncio.Event()

    def on_market(self, events: Sequence[MarketEvent]) -> None:
        self.market.extend(events)
        self._changed.set()

    def on_private(self, event: PrivateEvent) -> None:
        self.private.append(event)
        self._changed.set()

    def poke(self) -> None:
        self._changed.set()

    async def until(
        self, condition: Callable[[], bool], what: str, timeout_s: float = TIMEOUT_S
    ) -> None:
        async def watch() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(watch(), timeout_s)
        except TimeoutError:
            raise AssertionError(f"expected {what} within {timeout_s} s") from None


def book_levels(book: OrderBook) -> tuple[Levels, Levels]:
    def side(s: BookSide) -> Levels:
        return [(book.price(p), book.size(q)) for p, q in book.depth(s)]

    return side(BookSide.BID), side(BookSide.ASK)


def book_matches(h: SessionHarness, kind: str, symbol: str) -> bool:
    book = h.session.books(kind).get(symbol)
    return (
        book is not None and not book.stale and book_levels(book) == h.observer.book(kind, symbol)
    )


# The tracker state an order in each venue status ends in.
TRACKER_STATE = {
    OrderStatus.NEW: "acknowledged",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.EXPIRED: "expired",
}
_RUN = f"session-{time.time_ns()}"  # client ids stay unique across runs on a real account
_ids = itertools.count()


@dataclass
class Orders:
    """Places orders through the session the way execution does: intent journaled, tracker
    told before the send, private events applied as they arrive."""

    harness: SessionHarness
    tracker: OrderTracker
    placed: dict[str, tuple[str, str]] = field(default_factory=dict)  # cid -> (kind, symbol)

    @classmethod
    def open(cls, h: SessionHarness, recorder: Recorder, name: str) -> Orders:
        journal = Journal.open(h.journal_dir / f"{name}-{next(_ids)}.sqlite")
        orders = cls(h, OrderTracker(journal))

        def apply(event: PrivateEvent) -> None:
            if isinstance(event, OrderUpdate | Fill) and event.client_id in orders.placed:
                orders.tracker.apply(event)
            recorder.poke()

        h.session.on_private(apply)
        return orders

    def request(
        self, kind: str, side: Side, price: Decimal, tif: TimeInForce, qty: Decimal | None = None
    ) -> Intent:
        h = self.harness
        symbol = h.symbol(kind)
        intent_id = IntentId(_RUN, "kit", next(_ids), f"{kind}.{side}")
        request = OrderRequest(
            client_id=intent_id.client_id(h.session.trading.limits.client_ids),
            symbol=symbol,
            side=side,
            type=OrderType.LIMIT,
            qty=qty or (h.spot_qty if kind == "spot" else h.perp_qty),
            price=price,
            tif=tif,
            kind=kind,
        )
        return Intent(intent_id, h.session.trading.name, request, price)

    async def place(self, intent: Intent) -> str:
        cid = intent.client_id
        self.placed[cid] = (intent.request.kind or "spot", intent.request.symbol)
        self.tracker.add(intent)
        self.tracker.submitted(cid)
        try:
            ack = await self.harness.session.trading.place_order(intent.request)
        except VenueError as exc:
            applied = self.tracker.send_failed(cid, exc)
            if applied.needs_query:
                update = await self.harness.session.trading.query_order(intent.request.symbol, cid)
                self.tracker.query_result(cid, update)
        else:
            self.tracker.on_ack(ack)
        return cid

    async def cancel(self, cid: str) -> None:
        _, symbol = self.placed[cid]
        self.tracker.cancel_requested(cid)
        try:
            await self.harness.session.trading.cancel_order(symbol, cid)
        except VenueError as exc:
            self.tracker.cancel_failed(cid, exc)

    def agrees(self, cid: str) -> bool:
        """The tracker's order is the venue's: same state, same filled quantity, and the fills
        it counted add up to what the venue filled."""
        seen = self.harness.observer.order(cid)
        if seen is None:
            return False
        snap = self.tracker.snapshot(cid)
        fills = sum((f.qty for f in self.tracker.fills(cid)), Decimal(0))
        return (
            snap.state == TRACKER_STATE[seen.status]
            and snap.filled_qty == seen.filled_qty
            and fills == seen.filled_qty
        )

    def refused(self) -> list[str]:
        """Incidents that mean an event was lost or misread (not merely unusual)."""
        bad = (IncidentKind.REFUSED_EVENT, IncidentKind.OVERFILL, IncidentKind.ORDER_MISSING)
        return [i.message for i in self.tracker.incidents if i.kind in bad]

    def crossing(self, kind: str, side: Side) -> Decimal:
        """A limit price 1 % through the touch: an IOC at it fills at once."""
        return self._price(kind, side, side.opposite, Decimal("0.01"))

    def far(self, kind: str, side: Side) -> Decimal:
        """A limit price 10 % away from the touch: it rests and never fills."""
        return self._price(kind, side, side, Decimal("-0.1"))

    def _price(self, kind: str, side: Side, touch: Side, through: Decimal) -> Decimal:
        h = self.harness
        symbol = h.symbol(kind)
        inst = h.session.instruments()[(kind, symbol)]
        best = h.observer.best(kind, symbol, touch)
        if side is Side.BUY:
            return inst.round_price_down(best * (1 + through))
        return inst.round_price_up(best * (1 - through))


KINDS = ("spot", "perp")
