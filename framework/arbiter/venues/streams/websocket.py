"""One reconnecting WebSocket session to one venue endpoint, driven by a sans-IO codec.

The session owns the socket and nothing else: the codec turns frames into events and says
which frames to send (subscriptions, pings, resync requests). Rules kept here:
- the reader never awaits a consumer: each frame is decoded and handed to `sink` synchronously
  (the sink applies it to books and marks them dirty; it must not block);
- the reader never awaits a send either: outgoing frames go through one queue per connection,
  drained by a writer task, so they leave in the order they were queued;
- the connection's state is the venue-connection machine, so it is visible and drawable;
- after every (re)connect every subscription is sent again, and the codec is told to forget
  its books, so no book survives a disconnect without a fresh snapshot;
- reconnects back off exponentially with jitter from a seeded RNG (tests are reproducible);
- a connection silent for `dead_after_s` (no frame, not even a pong) is closed and reopened:
  a half-open TCP connection otherwise looks alive forever;
- a malformed frame is the codec's business (it returns an error event); an exception from the
  codec or the sink is logged and counted, and the reader carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import websockets
from loguru import logger
from websockets.asyncio.client import ClientConnection

from arbiter import clock as process_clock
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


@dataclass(frozen=True, slots=True)
class Keepalive:
    """A venue's keep-alive rules: ping every `ping_interval_s` (or only after that long
    without a frame), and give a socket up as dead after `dead_after_s` of silence."""

    ping_interval_s: float = 20.0
    ping_when_idle: bool = False
    dead_after_s: float | None = None


DEFAULT_KEEPALIVE = Keepalive()


@dataclass
class SessionStats:
    frames: int = 0
    connects: int = 0
    reconnects: int = 0
    handler_errors: int = 0
    last_frame_ns: int = 0
    sent: int = 0
    dead_closes: int = 0  # connections closed for silence


class WsSession:
    def __init__(
        self,
        name: str,
        url: str,
        codec: SessionCodec,
        sink: Callable[[Sequence[Any]], None],
        *,
        keepalive: Keepalive = DEFAULT_KEEPALIVE,
        base_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
        seed: int = 0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.name, self.url = name, url
        self._codec, self._sink = codec, sink
        self._ping_s = keepalive.ping_interval_s
        self._ping_when_idle = keepalive.ping_when_idle
        self._dead_s = keepalive.dead_after_s
        self._base, self._max = base_backoff_s, max_backoff_s
        self._rng = random.Random(seed)
        self._sleep = sleep
        self.state = MachineRunner(VENUE_CONNECTION)
        self.stats = SessionStats()
        self._ws: ClientConnection | None = None
        self._outbox: asyncio.Queue[Frame] | None = None
        self._closing = False
        self._closed = asyncio.Event()
        self.live = asyncio.Event()
        self._log = logger.bind(venue=name)

    @property
    def connection(self) -> int:
        """The number of the current (or last) connection; work started for one connection
        checks it before acting, because the socket may have been replaced meanwhile."""
        return self.stats.connects

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)]."""
        return self._rng.uniform(0, min(self._max, self._base * 2**attempt))

    async def send(self, frame: Frame) -> None:
        if self._ws is None:
            raise ConnectionError(f"{self.name}: not connected")
        await self._ws.send(frame)

    def post(self, frame: Frame) -> bool:
        """Queue `frame` for the current connection; False when there is none (the codec's
        `connect_frames` must then carry whatever the frame asked for)."""
        if self._outbox is None:
            return False
        self._outbox.put_nowait(frame)
        return True

    def refresh(self) -> None:
        """Re-read `codec.synced()` after a change made outside the reader (a reconciliation
        finished, a subscription was added)."""
        if self._ws is not None:
            self._track_sync()

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
                    self.stats.last_frame_ns = process_clock.monotonic_ns()
                    self.state.fire("opened")
                    await self._serve(ws)
            except asyncio.CancelledError:
                raise
            except (OSError, websockets.exceptions.WebSocketException) as exc:
                self._log.warning("{}: connection failed or lost: {}", self.name, exc)
            except Exception:  # a bug (say, in a codec's connect frames) must not end the session
                self.stats.handler_errors += 1
                self._log.opt(exception=True).error("{}: session failed; reconnecting", self.name)
            finally:
                self._ws = None
                self._outbox = None
                self.live.clear()
                self._codec.reset()
            if self._closing:
                break
            self.state.fire("lost" if self.state.state != "connecting" else "connect_failed")
            self.stats.reconnects += 1
            await self._backoff(self.backoff(attempt))
            attempt += 1
            if not self._closing:
                self.state.fire("retry")
        if self.state.state != "disconnected":
            self.state.fire("close")

    async def _backoff(self, seconds: float) -> None:
        """Wait out the backoff, or less if `close()` is called meanwhile."""
        pause = asyncio.ensure_future(self._sleep(seconds))
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({pause, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pause, closed):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def deliver_to(self, sink: Callable[[Sequence[Any]], None]) -> None:
        """Hand the decoded events of the frames read from now on to `sink`."""
        self._sink = sink

    async def _serve(self, ws: ClientConnection) -> None:
        outbox: asyncio.Queue[Frame] = asyncio.Queue()
        for frame in self._codec.connect_frames():
            outbox.put_nowait(frame)
        self._outbox = outbox
        helpers = [asyncio.create_task(self._write(ws, outbox))]
        if self._codec.ping_frame() is not None or self._dead_s is not None:
            helpers.append(asyncio.create_task(self._keepalive(ws)))
        try:
            self._track_sync()  # nothing to wait for (no subscriptions): live at once
            await self._read(ws)
        finally:
            for task in helpers:
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _read(self, ws: ClientConnection) -> None:
        async for frame in ws:
            now = process_clock.monotonic_ns()
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
                self.post(out)
            self._track_sync()

    async def _write(self, ws: ClientConnection, outbox: asyncio.Queue[Frame]) -> None:
        try:
            while True:
                frame = await outbox.get()
                await ws.send(frame)
                self.stats.sent += 1
        except websockets.exceptions.ConnectionClosed:
            return  # the reader sees the close and reconnects

    def _track_sync(self) -> None:
        state, synced = self.state.state, self._codec.synced()
        if synced and state in ("syncing", "stale"):
            self.state.fire("synced")
            self.live.set()
        elif not synced and state == "live":
            self.state.fire("gap")
            self.live.clear()

    async def _keepalive(self, ws: ClientConnection) -> None:
        """Ping every interval (or only after an idle interval), and close a silent socket."""
        # An idle ping must go out before the venue's idle cut-off, so idleness is sampled often.
        tick = self._ping_s / 4 if self._ping_when_idle else self._ping_s
        if self._dead_s is not None:
            tick = min(tick, self._dead_s / 4)
        last_ping = process_clock.monotonic_ns()
        while True:
            await asyncio.sleep(tick)
            now = process_clock.monotonic_ns()
            idle_s = (now - self.stats.last_frame_ns) / 1e9
            if self._dead_s is not None and idle_s >= self._dead_s:
                self.stats.dead_closes += 1
                self._log.warning("{}: no frame for {:.0f} s, reconnecting", self.name, idle_s)
                await ws.close()
                return
            since_ping_s = (now - last_ping) / 1e9
            due = min(idle_s, since_ping_s) if self._ping_when_idle else since_ping_s
            frame = self._codec.ping_frame()
            if frame is not None and due >= self._ping_s:
                self.post(frame)
                last_ping = now

    async def close(self) -> None:
        self._closing = True
        self._closed.set()
        if self._ws is not None:
            await self._ws.close()
