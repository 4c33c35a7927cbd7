"""The reconnecting session against a real WebSocket server on loopback.

The codec here is a four-word line protocol (`snap`, `delta`, `gap`, `boom`): the session's
job is the socket, the machine and the reconnects, so the codec is kept trivial on purpose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve

from arbiter.venues import Frame, Keepalive
from arbiter.venues.streams.websocket import WsSession


class LineCodec:
    def __init__(self) -> None:
        self.is_synced = False
        self.resets = 0
        self.pending: list[Frame] = []

    def connect_frames(self) -> Sequence[Frame]:
        return ["sub books"]

    def ping_frame(self) -> Frame | None:
        return None

    def feed(self, frame: Frame, recv_ns: int) -> Sequence[Any]:
        text = frame if isinstance(frame, str) else frame.decode()
        if text == "snap":
            self.is_synced = True
        elif text == "gap":
            self.is_synced = False
            self.pending.append("resub books")
        return [text]

    def reset(self) -> None:
        self.is_synced = False
        self.resets += 1

    def synced(self) -> bool:
        return self.is_synced

    def pending_frames(self) -> Sequence[Frame]:
        out, self.pending = self.pending, []
        return out


class Venue:
    """A scripted server: each connection gets the next script; records what clients sent."""

    def __init__(self, scripts: list[list[str]]) -> None:
        self.scripts = scripts
        self.received: list[str] = []
        self.connections = 0
        self.got = asyncio.Condition()

    async def handler(self, ws: ServerConnection) -> None:
        script = self.scripts[min(self.connections, len(self.scripts) - 1)]
        self.connections += 1
        first = await ws.recv()
        await self._record(str(first))
        for line in script:
            if line == "CLOSE":
                await ws.close()
                return
            await ws.send(line)
        async for message in ws:
            await self._record(str(message))

    async def _record(self, message: str) -> None:
        async with self.got:
            self.received.append(message)
            self.got.notify_all()

    async def wait_received(self, count: int) -> None:
        async with self.got:
            await self.got.wait_for(lambda: len(self.received) >= count)


@pytest.fixture
async def venue_factory() -> AsyncIterator[Any]:
    servers: list[Server] = []

    async def make(scripts: list[list[str]]) -> tuple[Venue, str]:
        venue = Venue(scripts)
        server = await serve(venue.handler, "127.0.0.1", 0)
        servers.append(server)
        port = next(iter(server.sockets)).getsockname()[1]
        return venue, f"ws://127.0.0.1:{port}"

    yield make
    for server in servers:
        server.close()
        await server.wait_closed()


class Collector:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.changed = asyncio.Condition()
        self.fail_on: str | None = None

    def __call__(self, events: Sequence[Any]) -> None:
        if self.fail_on in events:
            raise RuntimeError("consumer bug")
        self.events.extend(events)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, event: str, count: int = 1) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.events.count(event) >= count)


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


async def test_session_when_connected_subscribes_and_goes_live_after_snapshot(
    venue_factory: Any,
) -> None:
    venue, url = await venue_factory([["snap", "delta"]])
    sink = Collector()
    session = WsSession("toy", url, LineCodec(), sink, sleep=_no_wait)
    task = asyncio.create_task(session.run())
    await session.live.wait()
    await sink.wait_for("delta")
    assert venue.received[0] == "sub books"
    assert session.state.state == "live"
    assert sink.events == ["snap", "delta"]
    await session.close()
    await task
    assert session.state.state == "disconnected"


async def test_session_when_server_drops_reconnects_resubscribes_and_resyncs(
    venue_factory: Any,
) -> None:
    venue, url = await venue_factory([["snap", "delta", "CLOSE"], ["snap", "delta2"]])
    sink = Collector()
    codec = LineCodec()
    delays: list[float] = []

    async def record_sleep(seconds: float) -> None:
        delays.append(seconds)
        await asyncio.sleep(0)

    session = WsSession("toy", url, codec, sink, sleep=record_sleep, seed=7)
    task = asyncio.create_task(session.run())
    await sink.wait_for("delta2")
    assert venue.connections == 2
    assert venue.received.count("sub books") == 2  # every subscription sent again
    assert codec.resets >= 1  # books forgotten on disconnect
    assert session.state.state == "live"
    assert len(delays) == 1
    assert 0 <= delays[0] <= 0.2
    triggers = [d.trigger for d in session.state.history]
    assert triggers[:3] == ["connect", "opened", "synced"]
    assert triggers[3:7] == ["lost", "retry", "opened", "synced"]
    await session.close()
    await task


async def test_session_when_gap_reported_leaves_live_and_sends_resubscribe(
    venue_factory: Any,
) -> None:
    venue, url = await venue_factory([["snap", "gap", "snap", "after"]])
    sink = Collector()
    session = WsSession("toy", url, LineCodec(), sink, sleep=_no_wait)
    task = asyncio.create_task(session.run())
    await sink.wait_for("after")
    await venue.wait_received(2)
    assert venue.received == ["sub books", "resub books"]
    assert [d.trigger for d in session.state.history] == [
        "connect",
        "opened",
        "synced",
        "gap",
        "synced",
    ]
    await session.close()
    await task


async def test_session_when_consumer_raises_counts_it_and_keeps_reading(venue_factory: Any) -> None:
    _, url = await venue_factory([["snap", "boom", "after"]])
    sink = Collector()
    sink.fail_on = "boom"
    session = WsSession("toy", url, LineCodec(), sink, sleep=_no_wait)
    task = asyncio.create_task(session.run())
    await sink.wait_for("after")
    assert session.stats.handler_errors == 1
    assert sink.events == ["snap", "after"]
    await session.close()
    await task


def test_backoff_when_seeded_is_reproducible_and_bounded() -> None:
    def make() -> WsSession:
        return WsSession(
            "toy",
            "ws://127.0.0.1:9",
            LineCodec(),
            print,
            base_backoff_s=0.5,
            max_backoff_s=4,
            seed=42,
        )

    first, second = make(), make()
    draws = [first.backoff(n) for n in range(10)]
    assert draws == [second.backoff(n) for n in range(10)]
    assert all(0 <= d <= min(4, 0.5 * 2**n) for n, d in enumerate(draws))


class PingingCodec(LineCodec):
    def ping_frame(self) -> Frame | None:
        return "ping"


async def test_post_when_connected_sends_in_order_and_when_not_returns_false(
    venue_factory: Any,
) -> None:
    venue, url = await venue_factory([["snap"]])
    sink = Collector()
    session = WsSession("toy", url, LineCodec(), sink, sleep=_no_wait)
    assert not session.post("early")  # no connection: the codec's connect frames carry state
    task = asyncio.create_task(session.run())
    await session.live.wait()
    assert session.post("one")
    assert session.post("two")
    await venue.wait_received(3)
    assert venue.received == ["sub books", "one", "two"]
    await session.close()
    await task


async def test_close_when_waiting_out_backoff_returns_without_waiting(venue_factory: Any) -> None:
    _, url = await venue_factory([["snap", "CLOSE"]])
    sink = Collector()
    backing_off = asyncio.Event()

    async def long_sleep(seconds: float) -> None:
        backing_off.set()
        await asyncio.sleep(3600)

    session = WsSession("toy", url, LineCodec(), sink, sleep=long_sleep)
    task = asyncio.create_task(session.run())
    await asyncio.wait_for(backing_off.wait(), 10)
    await session.close()
    await asyncio.wait_for(task, 10)
    assert session.state.state == "disconnected"


async def test_keepalive_when_idle_pings_and_when_silent_too_long_reconnects(
    venue_factory: Any,
) -> None:
    venue, url = await venue_factory([["snap"], ["snap", "after"]])
    sink = Collector()
    keepalive = Keepalive(ping_interval_s=0.02, ping_when_idle=True, dead_after_s=0.2)
    session = WsSession("toy", url, PingingCodec(), sink, keepalive=keepalive, sleep=_no_wait)
    task = asyncio.create_task(session.run())
    await asyncio.wait_for(sink.wait_for("after"), 10)
    assert "ping" in venue.received  # the silent server was pinged before it was given up
    assert session.stats.dead_closes >= 1
    assert venue.connections >= 2
    await session.close()
    await task
