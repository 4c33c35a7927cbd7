"""One WebSocket client connection: a bounded outbox, a writer task, and the WS faults.

The engine calls `send` synchronously from its listeners, so `send` never awaits: frames go to
the outbox and the writer drains it. Faults act here, on the way out, because that is where a
real venue's gateway drops, repeats, delays or cuts frames.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from arbiter.sim.faults import FaultKind, FaultPlan

OUTBOX_LIMIT = 50_000


@dataclass
class _Delay:
    ms: int


class _Close:
    pass


@dataclass
class Connection:
    ws: web.WebSocketResponse
    faults: FaultPlan
    topics: set[str] = field(default_factory=set)
    authed_key: str = ""
    sent: int = 0
    _outbox: asyncio.Queue[str | _Delay | _Close] = field(
        default_factory=lambda: asyncio.Queue(OUTBOX_LIMIT)
    )
    _held: str | None = None  # a private frame waiting to be delivered out of order

    def send(self, frame: str) -> None:
        self._put(frame)

    def send_book(self, topic: str, frame: str, snapshot: Callable[[], str]) -> bool:
        """Send a book delta through the book faults; False if the delta was dropped."""
        if self.faults.take(FaultKind.WS_DROP_DELTA, topic):
            return False
        if self.faults.take(FaultKind.WS_RESET, topic):
            self._put(snapshot())
            return True
        self.send_public(topic, frame)
        return True

    def send_public(self, topic: str, frame: str) -> None:
        if self.faults.take(FaultKind.WS_DISCONNECT, topic):
            self._put(_Close())
            return
        rule = self.faults.take(FaultKind.WS_DELAY, topic)
        if rule is not None:
            self._put(_Delay(rule.delay_ms))
        self._put(frame)
        if self.faults.take(FaultKind.WS_DUPLICATE, topic):
            self._put(frame)

    def send_private(self, topic: str, frame: str) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self.send_public(topic, frame)
            self._put(held)
            return
        if self.faults.take(FaultKind.PRIVATE_REORDER, topic):
            self._held = frame
            return
        self.send_public(topic, frame)

    def _put(self, item: str | _Delay | _Close) -> None:
        try:
            self._outbox.put_nowait(item)
        except asyncio.QueueFull:
            # A client this far behind is cut off, as venues do, rather than grow memory.
            self._outbox = asyncio.Queue(1)
            self._outbox.put_nowait(_Close())

    async def write_loop(self) -> None:
        while True:
            item = await self._outbox.get()
            if isinstance(item, _Close):
                await self.ws.close()
                return
            if isinstance(item, _Delay):
                await asyncio.sleep(item.ms / 1000)
                continue
            if self.ws.closed:
                return
            await self.ws.send_str(item)
            self.sent += 1
