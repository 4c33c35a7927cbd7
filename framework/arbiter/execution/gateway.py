"""The order gateway: the only way an intent reaches a venue.

For each intent: journal it (`new`), mark it `submitted` (journaled), then send. `place_all`
does that for both legs of a pair together: one journal commit holds both intents and both
`submitted` marks, and only then do both requests leave, at once: a venue that can write its
request straight away (`begin_order`: our own order entry on an idle connection) does so before
the gateway first waits, so the second leg does not wait a turn of the event loop behind the
first. The answer:
- an ack: `acknowledged`; fills and final states arrive on the private stream (`on_private`);
- a definitive error: `rejected`, nothing more to do;
- an ambiguous error (timeout, disconnect, 5xx) or a duplicate client id: `unknown`, and the
  gateway queries the order by client id until the venue answers. It never sends again: a
  retry of the same intent would carry the same client id anyway, and the venue would refuse
  it as a duplicate.

Admission (`admit`): one check every placement passes before anything is journaled or sent,
whatever path it comes from (an entry, an exit, a repair, a hedge). The runtime wires it to
the kill switch, so a kill holds every order path at this one point; a refused placement
raises `OrderRefused` and leaves no trace in the journal or on the venue.

Waiters (`wait_final`) are woken by every change to their order, so a dual-leg executor can
wait for both legs without polling.

The hot path builds nothing it can build earlier: the tracker's spare order machines are
topped up (`spare_machines`) when the gateway starts and again once a placement's requests are
written and answered, never between a decision and its bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from loguru import logger

from arbiter.execution.intent import Intent
from arbiter.execution.order_tracker import Applied, OrderTracker
from arbiter.execution.records import OrderSnapshot
from arbiter.venues.contract import TradingVenue
from arbiter.venues.errors import Ambiguous, Definitive, VenueError
from arbiter.venues.orders import Fill, OrderAck, OrderRequest, OrderUpdate, PrivateEvent


def _begin(venue: TradingVenue, intent: Intent) -> Awaitable[OrderAck]:
    """The venue's answer to the order, its request written now where the venue can."""
    begin: Callable[[OrderRequest], Awaitable[OrderAck]] | None = getattr(
        venue, "begin_order", None
    )
    if begin is not None:
        return begin(intent.request)
    return asyncio.get_running_loop().create_task(venue.place_order(intent.request))


class OrderRefused(Exception):
    """A placement refused by the gateway's admission check: nothing was journaled or sent."""


Admission = Callable[[Intent], str]  # "" admits the order; anything else is why not


@dataclass
class GatewayStats:
    placed: int = 0
    rejected: int = 0
    ambiguous: int = 0
    queries: int = 0
    unresolved: int = 0
    refused: int = 0  # placements the admission check stopped


class OrderGateway:
    def __init__(
        self,
        tracker: OrderTracker,
        venues: Mapping[str, TradingVenue],
        *,
        query_attempts: int = 8,
        query_backoff_s: float = 0.05,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        spare_machines: int = 8,
    ) -> None:
        self.tracker = tracker
        self.venues = venues
        self._query_attempts, self._query_backoff = query_attempts, query_backoff_s
        self._sleep = sleep
        self._waiters: dict[str, list[asyncio.Event]] = {}  # client id -> wait_final callers
        self.stats = GatewayStats()
        self.on_applied: list[Callable[[Applied], None]] = []
        self.spare_machines = spare_machines
        self.admit: Admission = _admit_all
        tracker.prewarm(spare_machines)

    def _notify(self, applied: Applied) -> None:
        for callback in self.on_applied:
            callback(applied)
        for woken in self._waiters.get(applied.client_id, ()):
            woken.set()

    def on_private(self, event: PrivateEvent) -> None:
        """Apply an order update or fill from a private stream (never raises for venue data)."""
        if not isinstance(event, OrderUpdate | Fill):
            return
        applied = self.tracker.apply(event)
        self._notify(applied)
        if applied.needs_query:
            asyncio.get_running_loop().create_task(self.resolve(applied.client_id))

    async def place(self, intent: Intent) -> OrderSnapshot:
        """Journal, send once, and return the order as known after the venue's answer."""
        (snapshot,) = await self.place_all([intent])
        return snapshot

    async def place_all(self, intents: Sequence[Intent]) -> list[OrderSnapshot]:
        """Journal every intent and its `submitted` mark in one commit, then send them all at
        once; each order as known after its venue's answer, in the order given.

        Nothing is journaled or sent if any intent names a venue we do not have, or one that is
        already past `new` (sending twice is a bug, not a retry), or if the admission check
        refuses any of them (`OrderRefused`).
        """
        venues = []
        for intent in intents:
            why = self.admit(intent)
            if why:
                self.stats.refused += 1
                raise OrderRefused(f"{intent.client_id} ({intent.id}) refused: {why}")
            venue = self.venues.get(intent.venue)
            if venue is None:
                raise KeyError(
                    f"{intent.client_id}: expected a venue of {sorted(self.venues)}, was {intent.venue!r}"
                )
            venues.append(venue)
        self.tracker.submit_all(intents)
        try:
            # Every request is written here, before the first wait, where its venue can
            # (`begin_order`); the answers are read together.
            answers = [_begin(v, i) for v, i in zip(venues, intents, strict=True)]
            if len(intents) == 1:
                return [await self._settle(intents[0], answers[0])]
            settled = (self._settle(i, a) for i, a in zip(intents, answers, strict=True))
            return list(await asyncio.gather(*settled))
        finally:
            # Every request is written (and answered): the next decision's machines are built
            # now, not in its path.
            self.tracker.prewarm(self.spare_machines)

    async def _settle(self, intent: Intent, answer: Awaitable[OrderAck]) -> OrderSnapshot:
        """Apply the venue's answer to one sent order."""
        cid = intent.client_id
        try:
            ack = await answer
        except Definitive as exc:
            self.stats.rejected += 1
            self._notify(self.tracker.send_failed(cid, exc))
            return self.tracker.snapshot(cid)
        except VenueError as exc:  # ambiguous, or a duplicate id: the order may exist
            self.stats.ambiguous += 1
            self._notify(self.tracker.send_failed(cid, exc))
            await self.resolve(cid)
            return self.tracker.snapshot(cid)
        self.stats.placed += 1
        self._notify(self.tracker.on_ack(ack))
        return self.tracker.snapshot(cid)

    async def resolve(self, client_id: str) -> OrderSnapshot:
        """Ask the venue for the order by client id until it answers; never resend."""
        snap = self.tracker.snapshot(client_id)
        venue = self.venues[snap.venue]
        for attempt in range(self._query_attempts):
            self.stats.queries += 1
            try:
                update = await venue.query_order(snap.symbol, client_id)
            except Ambiguous:
                await self._sleep(self._query_backoff * 2**attempt)
                continue
            self._notify(self.tracker.query_result(client_id, update))
            return self.tracker.snapshot(client_id)
        self.stats.unresolved += 1
        logger.bind(client_id=client_id).error(
            "order still unknown after {} queries", self._query_attempts
        )
        return self.tracker.snapshot(client_id)

    async def cancel(self, client_id: str) -> OrderSnapshot:
        snap = self.tracker.snapshot(client_id)
        if snap.is_final:
            return snap
        self.tracker.cancel_requested(client_id)
        try:
            await self.venues[snap.venue].cancel_order(snap.symbol, client_id)
        except VenueError as exc:
            applied = self.tracker.cancel_failed(client_id, exc)
            self._notify(applied)
            if applied.needs_query:
                return await self.resolve(client_id)
        return self.tracker.snapshot(client_id)

    async def wait_final(self, client_id: str, timeout_s: float) -> OrderSnapshot:
        """The order once final, or as it stands when `timeout_s` runs out."""
        woken = asyncio.Event()
        waiters = self._waiters.setdefault(client_id, [])
        waiters.append(woken)
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    woken.clear()
                    if self.tracker.snapshot(client_id).is_final:
                        break
                    await woken.wait()
        except TimeoutError:
            pass
        finally:
            waiters.remove(woken)
            if not waiters:  # nothing is kept per order once nobody waits for it
                del self._waiters[client_id]
        return self.tracker.snapshot(client_id)


def _admit_all(intent: Intent) -> str:
    return ""
