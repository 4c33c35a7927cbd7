"""Keep-alive HTTP/1.1 connections of the order path's own: request bytes built here, answers
parsed minimally.

aiohttp's client request machinery (URL and header objects, trace hooks, timers, the payload
writer) spends much of the order path's budget (one millisecond for two orders) in Python per
POST before its bytes reach the socket. An order request needs none of it: it is one
POST of a small JSON body to one host. So `OrderWire` keeps a few connections open to that host
(asyncio streams; TLS through `ssl` for https), writes each request as one buffer and reads the
answer by the rules an order answer can use: a status line, headers, then a body sized by
Content-Length, by chunked transfer coding, or by the close of the connection; gzip or deflate
content coding is undone.

One request at a time per connection (no pipelining): a request takes an idle connection, or
opens one, and gives it back once its answer is read in full and both sides allow keep-alive.
A connection that failed, timed out, was cancelled mid-request or that the server closed is
dropped, never reused; the next request opens a fresh one. Nothing here retries: a POST that
may have reached the venue is the caller's to resolve (`Ambiguous`).

`taps` are called with a request's bytes the moment they are handed to the socket (asyncio
writes at once when nothing is queued), so a test can check what the journal holds at that
moment and a benchmark can stop its clock there.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

_MAX_HEAD = 64 * 1024  # status line and headers; an order answer's are well under 2 KiB
_MAX_BODY = 4 * 1024 * 1024
_MAX_IDLE = 4
_USER_AGENT = f"Python/{sys.version_info[0]}.{sys.version_info[1]} arbiter"


class WireError(Exception):
    """The connection failed or the answer broke HTTP/1.1's rules: the request's fate is
    unknown (it may have reached the venue)."""


@dataclass(frozen=True, slots=True)
class WireAnswer:
    status: int
    reason: str
    headers: dict[str, str]  # as received (first value of a repeated name)
    text: str


class PendingPost:
    """A POST handed to `OrderWire.send`: written already (`conn` set) or not yet."""

    __slots__ = ("conn", "data", "deadline", "error")

    def __init__(self, data: bytes, deadline: float) -> None:
        self.data = data
        self.deadline = deadline  # the event loop's clock
        self.conn: _Connection | None = None
        self.error: Exception | None = None

    def abandon(self) -> None:
        """Nobody will read the answer (the reader was cancelled before it ran): the
        connection carries an unread answer, so it is closed, never reused."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def usable(self) -> bool:
        # The server closed an idle connection (its FIN already read): writing would be lost.
        return not (self.writer.is_closing() or self.reader.at_eof())

    def close(self) -> None:
        self.writer.close()


class OrderWire:
    """Keep-alive connections to the host of `base_url` (http or https, no path used)."""

    def __init__(self, base_url: str, *, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http(s) URL with a host, was {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = (
            (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        )
        default_port = self.port == (443 if self._ssl else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._host_header = host if default_port else f"{host}:{self.port}"
        self._idle: list[_Connection] = []
        self.taps: list[Callable[[bytes], None]] = []

    def head(self, method: str, path: str, headers: Mapping[str, str], length: int) -> bytes:
        """The request line and headers, ending in the blank line; refuses a header that would
        split the request (a CR or LF in a name or value)."""
        fields = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        # One line per header, or some name or value carries a line break of its own.
        if fields.count("\n") != len(headers) or fields.count("\r") != len(headers):
            name = next(n for n, v in headers.items() if "\r" in n + v or "\n" in n + v)
            raise ValueError(f"expected a header without CR or LF, was {name!r}")
        return (
            f"{method} {path} HTTP/1.1\r\nHost: {self._host_header}\r\n"
            f"User-Agent: {_USER_AGENT}\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
            f"{fields}Content-Length: {length}\r\n\r\n"
        ).encode("latin-1")

    async def post(
        self, path: str, headers: Mapping[str, str], body: bytes, timeout_s: float
    ) -> WireAnswer:
        """Send one POST and read its answer, all within `timeout_s` (a fresh connection's
        connect and TLS handshake included). Raises `TimeoutError`, or `WireError` for a
        failed connection or a broken answer."""
        return await self.answer(self.send(path, headers, body, timeout_s))

    def send(
        self, path: str, headers: Mapping[str, str], body: bytes, timeout_s: float
    ) -> PendingPost:
        """Write one POST now, on an idle connection, before returning; without one, `answer`
        opens a connection and writes it. Either way `answer` reads the answer, and the whole
        exchange keeps to `timeout_s` from this call. Raises only for a request that cannot
        be built (a header with a line break): then nothing was written.

        Arming the deadline's timer waits until after the write: the write cannot wait."""
        data = self.head("POST", path, headers, len(body)) + body
        pending = PendingPost(data, asyncio.get_running_loop().time() + timeout_s)
        conn = self._take()
        if conn is not None:
            pending.conn = conn
            try:
                self._write(conn, data)
            except Exception as exc:  # the bytes may be partly out: the outcome is unknown
                pending.error = exc
        return pending

    async def answer(self, pending: PendingPost) -> WireAnswer:
        """Read the answer to a `send` (opening a connection and writing first if it found
        none idle); see `post`."""
        conn, pending.conn = pending.conn, None
        try:
            if pending.error is not None:
                raise pending.error
            if conn is None:
                async with asyncio.timeout_at(pending.deadline):
                    conn = await self._open()
                self._write(conn, pending.data)
            async with asyncio.timeout_at(pending.deadline):
                answer, keep = await _read_answer(conn.reader)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, TimeoutError):  # an OSError too, but it says something else
                raise
            broken = OSError | asyncio.IncompleteReadError | asyncio.LimitOverrunError
            if exc is pending.error or isinstance(exc, broken):
                raise WireError(f"{self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc
            raise
        if keep and len(self._idle) < _MAX_IDLE:
            self._idle.append(conn)
        else:
            conn.close()
        return answer

    def _write(self, conn: _Connection, data: bytes) -> None:
        conn.writer.write(data)
        for tap in self.taps:
            tap(data)

    def close(self) -> None:
        """Close the idle connections (one in use is closed when its request ends)."""
        while self._idle:
            self._idle.pop().close()

    def _take(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(
            self.host,
            self.port,
            ssl=self._ssl,
            server_hostname=self.host if self._ssl else None,
            limit=_MAX_HEAD,
        )
        return _Connection(reader, writer)


async def _read_answer(reader: asyncio.StreamReader) -> tuple[WireAnswer, bool]:
    """One answer, and whether the connection may carry another request."""
    while True:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, *header_lines = head[:-4].split("\r\n")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise WireError(f"expected an HTTP/1.x status line, was {status_line[:80]!r}")
        status = int(code)
        if status >= 200:
            break  # 1xx (e.g. 100 Continue) are interim: the answer follows
    headers: dict[str, str] = {}
    lowered: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise WireError(f"expected 'name: value' in an answer header, was {line[:80]!r}")
        value = value.strip()
        headers.setdefault(name, value)
        lowered.setdefault(name.strip().lower(), value)
    connection = lowered.get("connection", "").lower()
    keep = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    if status in (204, 304):
        body = b""
    elif "chunked" in lowered.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    elif "content-length" in lowered:
        length = lowered["content-length"]
        if not length.isdigit() or int(length) > _MAX_BODY:
            raise WireError(f"expected a Content-Length up to {_MAX_BODY}, was {length[:40]!r}")
        body = await reader.readexactly(int(length))
    else:  # delimited by the close of the connection
        body = await _read_to_close(reader)
        keep = False
    coding = lowered.get("content-encoding", "identity").lower()
    if coding in ("gzip", "x-gzip", "deflate"):
        try:
            wbits = 16 + zlib.MAX_WBITS if "gzip" in coding else zlib.MAX_WBITS
            body = zlib.decompress(body, wbits)
        except zlib.error as exc:
            raise WireError(f"answer body is not valid {coding}: {exc}") from exc
    text = body.decode("utf-8", errors="replace")
    return WireAnswer(status, reason, headers, text), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = (await reader.readuntil(b"\r\n"))[:-2].split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise WireError(f"expected a chunk size in hex, was {size_line[:40]!r}") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the blank line
                pass
            return b"".join(parts)
        total += size
        if total > _MAX_BODY:
            raise WireError(f"expected an answer body up to {_MAX_BODY} bytes")
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise WireError("expected CRLF after a chunk")


async def _read_to_close(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while chunk := await reader.read(65536):
        total += len(chunk)
        if total > _MAX_BODY:
            raise WireError(f"expected an answer body up to {_MAX_BODY} bytes")
        parts.append(chunk)
    return b"".join(parts)
