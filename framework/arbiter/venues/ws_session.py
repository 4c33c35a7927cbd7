"""One reconnecting WebSocket session to one venue endpoint, driven by a sans-IO codec.

The session owns the socket and nothing else: the codec turns frames into events and says
which frames to send (subscriptions, pings, resync requests). Rules kept here:
- the reader never awaits a consumer: each frame is decoded and handed to `sink` synchronously
  (the sink applies it to books and marks them dirty; it must not block);
- the connection's state is the venue-connection machine, so it is visible and drawable;
- after every (re)connect every subscription is sent again, and the codec is told to forget
  its books, so no book survives a disconnect without a fresh snapshot;
- reconnects back off exponentially with jitter from a seeded RNG (tests are reproducible);
- a malformed frame is the codec's business (it returns an error event); an exception from the
  codec or the sink is logged and counted, and the reader carries on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import websockets
from loguru import logger
from websockets.asyncio.client import ClientConnection

from arbiter.fsm.runner import MachineRunner
from arbiter.fsm.venue_connection import VENUE_CONNECTION

Frame = str | bytes


class SessionCodec(Protocol):
    """What a session needs from a venue codec."""

    def connect_frames(self) -> Sequence[Frame]:
        """Frames to send right after connecting: auth, then every current subscription."""
        ...

    def ping_frame(self) -> Frame | None: ...

    def feed(self, frame: Frame, recv_ns: int) -> Sequence[Any]:
        """Decode one frame into events. Never raises for bad input."""
        ...

    def reset(self) -> None:
        """The socket dropped: every book is stale until its next snapshot."""
        ...

    def synced(self) -> bool:
        """Every subscribed stream has what it needs to be trusted (e.g. a book snapshot)."""
        ...

    def pending_frames(self) -> Sequence[Frame]:
        """Frames the codec wants sent now (e.g. a resubscribe after a sequence gap)."""
        ...


@dataclass
class SessionStats:
    frames: int = 0
    connects: int = 0
    reconnects: int = 0
    handler_errors: int = 0
    last_frame_ns: int = 0


class WsSession:
    def __init__(
        self,
        name: str,
        url: str,
        codec: SessionCodec,
        sink: Callable[[Sequence[Any]], None],
        *,
        ping_interval_s: float = 20.0,
        base_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
        seed: int = 0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.name, self.url = name, url
        self._codec, self._sink = codec, sink
        self._ping_s = ping_interval_s
        self._base, self._max = base_backoff_s, max_backoff_s
        self._rng = random.Random(seed)
        self._sleep = sleep
        self.state = MachineRunner(VENUE_CONNECTION)
        self.stats = SessionStats()
        self._ws: ClientConnection | None = None
        self._closing = False
        self.live = asyncio.Event()
        self._log = logger.bind(venue=name)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)]."""
        return self._rng.uniform(0, min(self._max, self._base * 2**attempt))

    async def send(self, frame: Frame) -> None:
        if self._ws is None:
            raise ConnectionError(f"{self.name}: not connected")
        await self._ws.send(frame)

    async def run(self) -> None:
        """Connect, read and reconnect until `close()`."""
        attempt = 0
        self.state.fire("connect")
        while not self._closing:
            try:
                async with websockets.connect(self.url, max_size=2**24, ping_interval=None) as ws:
                    self._ws = ws
                    attempt = 0
                    self.stats.connects += 1
                    self.state.fire("opened")
                    for frame in self._codec.connect_frames():
                        await ws.send(frame)
                    await self._read(ws)
            except asyncio.CancelledError:
                raise
            except (OSError, websockets.exceptions.WebSocketException) as exc:
                self._log.warning("{}: connection failed or lost: {}", self.name, exc)
            finally:
                self._ws = None
                self.live.clear()
                self._codec.reset()
            if self._closing:
                break
            self.state.fire("lost" if self.state.state != "connecting" else "connect_failed")
            self.stats.reconnects += 1
            await self._sleep(self.backoff(attempt))
            attempt += 1
            self.state.fire("retry")
        if self.state.state != "disconnected":
            self.state.fire("close")

    async def _read(self, ws: ClientConnection) -> None:
        pinger = (
            asyncio.create_task(self._ping(ws)) if self._codec.ping_frame() is not None else None
        )
        try:
            async for frame in ws:
                now = time.monotonic_ns()
                self.stats.frames += 1
                self.stats.last_frame_ns = now
                try:
                    events = self._codec.feed(frame, now)
                    if events:
                        self._sink(events)
                except Exception:  # a bug in a handler must not kill the reader
                    self.stats.handler_errors += 1
                    self._log.opt(exception=True).error("{}: frame handler failed", self.name)
                for out in self._codec.pending_frames():
                    await ws.send(out)
                self._track_sync()
        finally:
            if pinger is not None:
                pinger.cancel()

    def _track_sync(self) -> None:
        state, synced = self.state.state, self._codec.synced()
        if synced and state in ("syncing", "stale"):
            self.state.fire("synced")
            self.live.set()
        elif not synced and state == "live":
            self.state.fire("gap")
            self.live.clear()

    async def _ping(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self._ping_s)
            frame = self._codec.ping_frame()
            if frame is not None:
                await ws.send(frame)

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
