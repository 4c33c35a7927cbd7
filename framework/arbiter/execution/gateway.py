"""The order gateway: the only way an intent reaches a venue.

For each intent: journal it (`new`), mark it `submitted` (journaled), then send. The answer:
- an ack: `acknowledged`; fills and final states arrive on the private stream (`on_private`);
- a definitive error: `rejected`, nothing more to do;
- an ambiguous error (timeout, disconnect, 5xx) or a duplicate client id: `unknown`, and the
  gateway queries the order by client id until the venue answers. It never sends again: a
  retry of the same intent would carry the same client id anyway, and the venue would refuse
  it as a duplicate.

Waiters (`wait_final`) are woken by every change to their order, so a dual-leg executor can
wait for both legs without polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from loguru import logger

from arbiter.execution.intent import Intent
from arbiter.execution.order_tracker import Applied, OrderTracker
from arbiter.execution.records import OrderSnapshot
from arbiter.venues.contract import TradingVenue
from arbiter.venues.errors import Ambiguous, Definitive, VenueError
from arbiter.venues.orders import Fill, OrderUpdate, PrivateEvent


@dataclass
class GatewayStats:
    placed: int = 0
    rejected: int = 0
    ambiguous: int = 0
    queries: int = 0
    unresolved: int = 0


class OrderGateway:
    def __init__(
        self,
        tracker: OrderTracker,
        venues: Mapping[str, TradingVenue],
        *,
        query_attempts: int = 8,
        query_backoff_s: float = 0.05,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.tracker = tracker
        self.venues = venues
        self._query_attempts, self._query_backoff = query_attempts, query_backoff_s
        self._sleep = sleep
        self._changed: dict[str, asyncio.Condition] = {}
        self.stats = GatewayStats()
        self.on_applied: list[Callable[[Applied], None]] = []

    def _condition(self, client_id: str) -> asyncio.Condition:
        cond = self._changed.get(client_id)
        if cond is None:
            cond = self._changed[client_id] = asyncio.Condition()
        return cond

    def _notify(self, applied: Applied) -> None:
        for callback in self.on_applied:
            callback(applied)
        cond = self._changed.get(applied.client_id)
        if cond is not None:
            asyncio.get_running_loop().create_task(_notify_all(cond))

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
        venue = self.venues[intent.venue]
        cid = intent.client_id
        if cid not in self.tracker:
            self.tracker.add(intent)
        self._condition(cid)
        self.tracker.submitted(cid)
        try:
            ack = await venue.place_order(intent.request)
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
        cond = self._condition(client_id)

        def final() -> bool:
            return self.tracker.snapshot(client_id).is_final

        try:
            async with asyncio.timeout(timeout_s), cond:
                await cond.wait_for(final)
        except TimeoutError:
            pass
        return self.tracker.snapshot(client_id)


async def _notify_all(cond: asyncio.Condition) -> None:
    async with cond:
        cond.notify_all()
