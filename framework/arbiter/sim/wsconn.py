"""One WebSocket client connection: a bounded outbox, a writer task, and the WS faults.

The engine calls `send*` synchronously from its listeners, so they never await: frames go to
the outbox and the writer drains it. Faults act here, on the way out, because that is where a
real venue's gateway drops, repeats, delays or cuts frames. Frames are text; a dialect may hand
them over already encoded as UTF-8 bytes (the hot path), or as str.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from arbiter.sim.faults import FaultKind, FaultPlan, FaultRule

OUTBOX_LIMIT = 50_000

Frame = str | bytes


@dataclass
class _Delay:
    ms: int


class _Close:
    pass


@dataclass
class Connection:
    ws: web.WebSocketResponse
    faults: FaultPlan
    venue: str = ""  # fault targets read "<venue> <topic>"
    topics: set[str] = field(default_factory=set)
    authed_key: str = ""
    sent: int = 0
    _outbox: deque[Frame | _Delay | _Close] = field(default_factory=deque)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: bool = False
    _held: Frame | None = None  # a private frame waiting to be delivered out of order
    _release: asyncio.Handle | None = None

    def send(self, frame: Frame) -> None:
        """A reply to the client's own request: no faults apply."""
        self._put(frame)

    def send_book(self, topic: str, frame: Frame, reset: Callable[[], Frame]) -> bool:
        """Send a book delta through the book faults; False if the delta was dropped.

        `reset` builds what the venue sends instead of this delta when its book service
        restarts (the dialect's own reset frame, which already carries this delta's change).
        """
        if self._take(FaultKind.WS_DROP_DELTA, topic):
            return False
        if self._take(FaultKind.WS_RESET, topic):
            self.send_public(topic, reset())
            return True
        self.send_public(topic, frame)
        return True

    def send_public(self, topic: str, frame: Frame) -> None:
        if self._take(FaultKind.WS_DISCONNECT, topic):
            self._put(_Close())
            return
        rule = self._take(FaultKind.WS_DELAY, topic)
        if rule is not None:
            self._put(_Delay(rule.delay_ms))
        self._put(frame)
        if self._take(FaultKind.WS_DUPLICATE, topic):
            self._put(frame)

    def send_private(self, topic: str, frame: Frame) -> None:
        if self._take(FaultKind.PRIVATE_DROP, topic):
            return  # lost on the venue's side: only a query (or a reconnect) learns of it
        if self._held is not None:
            # The event after the held one overtakes it.
            held, self._held = self._held, None
            if self._release is not None:
                self._release.cancel()
            self.send_public(topic, frame)
            self._put(held)
            return
        if self._take(FaultKind.PRIVATE_REORDER, topic):
            self._held = frame
            # Nothing followed in this burst of events: deliver it late rather than never.
            self._release = asyncio.get_running_loop().call_soon(self._release_held)
            return
        self.send_public(topic, frame)

    def _release_held(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._put(held)

    def _take(self, kind: FaultKind, topic: str) -> FaultRule | None:
        if not self.faults.rules:
            return None
        return self.faults.take(kind, f"{self.venue} {topic}")

    def _put(self, item: Frame | _Delay | _Close) -> None:
        if self._closing:
            return
        if isinstance(item, _Close):
            self._closing = True
        elif len(self._outbox) >= OUTBOX_LIMIT:
            # A client this far behind is cut off, as venues do, rather than grow memory.
            self._outbox.clear()
            self._closing = True
            item = _Close()
        self._outbox.append(item)
        self._ready.set()

    async def write_loop(self) -> None:
        outbox, ws = self._outbox, self.ws
        cork = _Cork(ws)
        try:
            while True:
                if not outbox:
                    cork.release()
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                if len(outbox) > 1:
                    cork.hold()
                item = outbox.popleft()
                if isinstance(item, bytes):
                    if ws.closed:
                        return
                    await ws.send_frame(item, WSMsgType.TEXT)
                elif isinstance(item, str):
                    if ws.closed:
                        return
                    await ws.send_str(item)
                elif isinstance(item, _Delay):
                    cork.release()
                    await asyncio.sleep(item.ms / 1000)
                    continue
                else:
                    cork.release()
                    await ws.close(code=WSCloseCode.GOING_AWAY, message=b"simulated disconnect")
                    return
                self.sent += 1
        except ConnectionError:
            return  # the client went away mid-write; its reader ends the connection


class _Cork:
    """TCP_CORK around a burst of frames: the kernel sends the burst in full segments instead
    of one segment (and one wake-up of the client) per frame. Frames are never held back
    past the burst: the writer uncorks before it waits for more."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        sock = ws.get_extra_info("socket")
        self._sock = sock if hasattr(socket, "TCP_CORK") and sock is not None else None
        self._held = False

    def hold(self) -> None:
        if self._sock is not None and not self._held:
            self._set(1)

    def release(self) -> None:
        if self._held:
            self._set(0)

    def _set(self, value: int) -> None:
        try:
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, value)  # type: ignore[union-attr]
            self._held = bool(value)
        except OSError:
            self._sock = None  # not a TCP socket after all (or already closed): send plainly
            self._held = False
