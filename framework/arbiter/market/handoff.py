"""Coalescing hand-off from one venue reader to any number of slow consumers.

The reader calls `publish(key, value)`: a dict store per subscriber, never an await, never a
queue that grows. Each subscriber holds at most one pending value per key (the latest); values
it never saw are counted as skipped. Memory is bounded by subscribers x keys, whatever the
consumers' speed. This is the Python form of `try_send` on a bounded channel that keeps the
newest item.

Single event loop: publish and take run on the same thread (the reader is a task on the loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Coalesced(Generic[K, V]):
    key: K
    value: V
    skipped: int  # values published for `key` since the last take that this one overwrote


class Subscription(Generic[K, V]):
    def __init__(self, hub: CoalescingHub[K, V]) -> None:
        self._hub = hub
        self._pending: dict[K, V] = {}
        self._skipped: dict[K, int] = {}
        self._ready: asyncio.Event | None = None
        self.skipped_total = 0

    def _offer(self, key: K, value: V) -> None:
        pending = self._pending
        if key in pending:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            self.skipped_total += 1
        pending[key] = value
        if self._ready is not None:
            self._ready.set()

    def take(self) -> list[Coalesced[K, V]]:
        """Everything pending, latest value per key, in first-published order; never blocks."""
        pending = self._pending
        if not pending:
            return []
        skipped = self._skipped
        out = [Coalesced(key, value, skipped.get(key, 0)) for key, value in pending.items()]
        self._pending = {}
        self._skipped = {}
        if self._ready is not None:
            self._ready.clear()
        return out

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def next(self) -> list[Coalesced[K, V]]:
        """Wait until something is pending, then take it all."""
        if not self._pending:
            if self._ready is None:
                self._ready = asyncio.Event()
            await self._ready.wait()
        return self.take()

    def close(self) -> None:
        self._hub._unsubscribe(self)


class CoalescingHub(Generic[K, V]):
    def __init__(self) -> None:
        self._subscribers: list[Subscription[K, V]] = []

    def subscribe(self) -> Subscription[K, V]:
        sub = Subscription(self)
        self._subscribers.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription[K, V]) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    def publish(self, key: K, value: V) -> None:
        """Hand `value` to every subscriber as the latest for `key`; O(subscribers), sync."""
        for sub in self._subscribers:
            sub._offer(key, value)
