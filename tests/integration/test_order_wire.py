"""The order path's own HTTP/1.1 connections against raw servers on loopback: every way an
answer may be framed, keep-alive reuse, a server that drops idle connections, and broken answers
that must fail loudly rather than be misread.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from arbiter.venues.order_path.wire import OrderWire, WireError

WAIT_S = 10.0
# request bytes -> (answer bytes, close the connection after writing them)
Handler = Callable[[bytes], Awaitable[tuple[bytes, bool]]]


@dataclass
class RawServer:
    """Reads each request (head + Content-Length body) and writes back `answer(request)`."""

    answer: Handler
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                out, close = await self.answer(request)
                writer.write(out)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[RawServer]]]:
    started: list[RawServer] = []

    async def run(answer: Handler) -> RawServer:
        raw = RawServer(answer)
        raw.server = await asyncio.start_server(raw._serve, "127.0.0.1", 0)
        started.append(raw)
        return raw

    yield run
    for raw in started:
        assert raw.server is not None
        raw.server.close()


def _fixed(answer: bytes, *, close: bool = False) -> Handler:
    async def handler(request: bytes) -> tuple[bytes, bool]:
        return answer, close

    return handler


async def _post(
    wire: OrderWire, body: bytes = b'{"a":1}', timeout_s: float = WAIT_S
) -> tuple[int, str]:
    got = await wire.post("/v5/order/create", {"X-Sign": "abc"}, body, timeout_s)
    return got.status, got.text


async def test_post_when_answered_with_content_length_reuses_the_connection(serve: Any) -> None:
    raw = await serve(_fixed(b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok":true}'))
    wire = OrderWire(raw.url)
    try:
        first = await _post(wire, b'{"n":1}')
        second = await _post(wire, b'{"n":2}')
    finally:
        wire.close()

    assert first == second == (200, '{"ok":true}')
    assert raw.connections == 1
    head, _, body = raw.requests[1].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v5/order/create HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nX-Sign: abc\r\n" in head
    assert b"\r\nContent-Length: 7" in head
    assert body == b'{"n":2}'


async def test_post_when_answer_is_chunked_and_gzipped_gives_the_plain_text(serve: Any) -> None:
    packed = gzip.compress(b'{"retCode":0}')
    chunks = b"".join(
        f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n" for part in (packed[:5], packed[5:])
    )
    raw = await serve(
        _fixed(
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
            + chunks
            + b"0\r\nX-Trailer: t\r\n\r\n"
        )
    )
    wire = OrderWire(raw.url)
    try:
        assert await _post(wire) == (201, '{"retCode":0}')
        assert await _post(wire) == (201, '{"retCode":0}')  # the framing left nothing unread
    finally:
        wire.close()
    assert raw.connections == 1


async def test_post_when_body_ends_at_close_reads_it_and_opens_a_new_connection(
    serve: Any,
) -> None:
    raw = await serve(_fixed(b"HTTP/1.1 503 Service Unavailable\r\n\r\nbusy", close=True))
    wire = OrderWire(raw.url)
    try:
        assert await _post(wire) == (503, "busy")
        assert await _post(wire) == (503, "busy")
    finally:
        wire.close()
    assert raw.connections == 2


async def test_post_when_server_says_connection_close_does_not_reuse_it(serve: Any) -> None:
    raw = await serve(
        _fixed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", close=True)
    )
    wire = OrderWire(raw.url)
    try:
        assert await _post(wire) == (200, "{}")
        assert await _post(wire) == (200, "{}")
    finally:
        wire.close()
    assert raw.connections == 2


async def test_post_when_server_dropped_the_idle_connection_sends_on_a_fresh_one(
    serve: Any,
) -> None:
    async def answer(request: bytes) -> tuple[bytes, bool]:
        # Keep-alive promised, then the server closes it anyway (an idle timeout on its side).
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", True

    raw = await serve(answer)
    wire = OrderWire(raw.url)
    try:
        assert await _post(wire) == (200, "{}")
        idle = wire._idle[0]
        # The server's FIN reaches the idle connection (reading it here is what the loop does).
        assert await asyncio.wait_for(idle.reader.read(), WAIT_S) == b""
        assert await _post(wire) == (200, "{}")
    finally:
        wire.close()
    assert raw.connections == 2
    assert len(raw.requests) == 2


async def test_post_when_server_never_answers_times_out_and_drops_the_connection(
    serve: Any,
) -> None:
    release = asyncio.Event()

    async def silent(request: bytes) -> tuple[bytes, bool]:
        await release.wait()
        return b"", True

    raw = await serve(silent)
    wire = OrderWire(raw.url)
    try:
        with pytest.raises(TimeoutError):
            await _post(wire, timeout_s=0.2)
    finally:
        release.set()
        wire.close()
    assert wire._idle == []
    assert len(raw.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
    ],
)
async def test_post_when_answer_breaks_http_raises_wire_error(serve: Any, answer: bytes) -> None:
    raw = await serve(_fixed(answer, close=True))
    wire = OrderWire(raw.url)
    try:
        with pytest.raises(WireError):
            await _post(wire)
    finally:
        wire.close()
    assert wire._idle == []


async def test_post_when_nothing_listens_raises_wire_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    wire = OrderWire(f"http://127.0.0.1:{port}")

    with pytest.raises(WireError, match=r"127\.0\.0\.1"):
        await _post(wire)


def test_head_when_a_header_holds_a_line_break_is_refused() -> None:
    wire = OrderWire("https://api.example.com")
    with pytest.raises(ValueError, match="without CR or LF"):
        wire.head("POST", "/x", {"X-Key": "abc\r\nX-Evil: 1"}, 0)
    assert wire.head("POST", "/x", {}, 0).startswith(
        b"POST /x HTTP/1.1\r\nHost: api.example.com\r\n"
    )


def test_wire_when_url_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="expected an http\\(s\\) URL with a host, was 'ftp://x'"):
        OrderWire("ftp://x")


async def test_send_when_a_connection_is_idle_writes_before_returning(serve: Any) -> None:
    raw = await serve(_fixed(b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok":true}'))
    wire = OrderWire(raw.url)
    tapped: list[bytes] = []
    wire.taps.append(tapped.append)
    try:
        first = wire.send("/x", {}, b'{"n":1}', WAIT_S)  # no idle connection yet
        assert tapped == []
        assert (await wire.answer(first)).status == 200
        assert len(tapped) == 1

        second = wire.send("/x", {}, b'{"n":2}', WAIT_S)
        assert len(tapped) == 2  # written, nothing awaited
        assert tapped[1].endswith(b'{"n":2}')
        assert (await wire.answer(second)).text == '{"ok":true}'
    finally:
        wire.close()

    assert raw.connections == 1


async def test_send_when_its_answer_is_abandoned_never_reuses_the_connection(serve: Any) -> None:
    raw = await serve(_fixed(b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok":true}'))
    wire = OrderWire(raw.url)
    try:
        await _post(wire)  # one idle connection
        pending = wire.send("/x", {}, b"{}", WAIT_S)
        conn = pending.conn
        assert conn is not None  # written on the idle connection

        pending.abandon()  # its answer will never be read: the connection cannot carry another

        assert conn.writer.is_closing()
        assert await _post(wire) == (200, '{"ok":true}')
    finally:
        wire.close()

    assert raw.connections == 2
