"""The venue-neutral halves of the stream codecs a `WsSession` drives (sans-IO).

A plugin writes only its dialect; the rules every venue shares live here, once:

`BookStream` wraps a venue's market-data codec for one connection:
- `connect_frames` subscribes every watched symbol (after every reconnect);
- a `ResyncRequested` from the codec (gap, checksum, crossed book) queues the codec's own
  resync frames at once, so a gap is repaired from the very message that revealed it;
- `reset` (the socket dropped) stales every book: none is trusted again without a snapshot;
- `synced` is kept as a set of books waiting for a snapshot, so the reader's per-frame check
  costs O(1) whatever the number of books;
- a book no longer watched is staled and its late frames are swallowed, so nobody reads a book
  that stopped updating.

`PrivateCodec` is the private stream's state machine: login -> subscribing -> ready (the
session reconciles over REST) -> live. Subclasses supply the venue's login and subscribe frames
and parse its messages; a malformed frame (whatever of the contract's `FRAME_ERRORS` it raises)
becomes a counted `StreamError`, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from arbiter.market.book import OrderBook
from arbiter.market.codec import CodecStats
from arbiter.market.events import (
    BookDelta,
    BookSnapshot,
    CodecError,
    MarketEvent,
    ResyncRequested,
)
from arbiter.venues.contract.errors import FRAME_ERRORS
from arbiter.venues.contract.orders import PrivateEvent
from arbiter.venues.streams.websocket import Frame

# -- market data -----------------------------------------------------------------------------


class BookCodec(Protocol):
    """What the venue codecs in `arbiter_bybit.codec` / `arbiter_okx.codec` already offer."""

    venue: str
    stats: CodecStats

    @property
    def books(self) -> Mapping[str, OrderBook]: ...

    def feed(self, frame: bytes | str) -> list[MarketEvent]: ...

    def resync_frames(self, symbol: str) -> list[bytes]: ...


class BookDialect(Protocol):
    """How one venue subscribes books on one connection."""

    def subscribe(self, symbols: Sequence[str]) -> list[Frame]: ...

    def unsubscribe(self, symbols: Sequence[str]) -> list[Frame]: ...

    def ping(self) -> Frame | None: ...


@dataclass
class BookStreamStats:
    resyncs_sent: int = 0  # resync requests turned into frames
    late_frames: int = 0  # events for books no longer watched, swallowed


class BookStream:
    """A `SessionCodec` for one public connection: a venue codec plus its watched symbols."""

    def __init__(self, codec: BookCodec, dialect: BookDialect) -> None:
        self.codec = codec
        self.dialect = dialect
        self.stats = BookStreamStats()
        self._watched: dict[str, None] = {}  # insertion-ordered set: frames are reproducible
        self._unsynced: set[str] = set()
        self._pending: list[Frame] = []

    @property
    def books(self) -> Mapping[str, OrderBook]:
        return self.codec.books

    @property
    def watched(self) -> list[str]:
        return list(self._watched)

    def watch(self, symbols: Sequence[str]) -> list[Frame]:
        """Start watching `symbols`; returns the frames that subscribe the new ones."""
        new = [s for s in dict.fromkeys(symbols) if s not in self._watched]
        for symbol in new:
            self._watched[symbol] = None
            self._unsynced.add(symbol)
        return [as_text(f) for f in self.dialect.subscribe(new)] if new else []

    def unwatch(self, symbols: Sequence[str]) -> list[Frame]:
        """Stop watching `symbols`; their books turn stale. Returns the unsubscribe frames."""
        gone = [s for s in dict.fromkeys(symbols) if s in self._watched]
        for symbol in gone:
            del self._watched[symbol]
            self._unsynced.discard(symbol)
            book = self.codec.books.get(symbol)
            if book is not None:
                book.mark_stale("no longer watched")
        return [as_text(f) for f in self.dialect.unsubscribe(gone)] if gone else []

    # -- SessionCodec ------------------------------------------------------------------------

    def connect_frames(self) -> Sequence[Frame]:
        if not self._watched:
            return []
        return [as_text(f) for f in self.dialect.subscribe(list(self._watched))]

    def ping_frame(self) -> Frame | None:
        frame = self.dialect.ping()
        return None if frame is None else as_text(frame)

    def feed(self, frame: Frame, recv_ns: int) -> Sequence[MarketEvent]:
        events = self.codec.feed(frame)
        if len(events) == 1:  # the hot path: one delta of a watched book, nothing to track
            event = events[0]
            if type(event) is BookDelta and event.symbol in self._watched:
                return events
        return self._sift(events)

    def _sift(self, events: list[MarketEvent]) -> list[MarketEvent]:
        watched = self._watched
        kept: list[MarketEvent] | None = None  # built only when an event must be swallowed
        for i, event in enumerate(events):
            symbol = _book_symbol(event)
            if symbol is not None and symbol in watched and type(event) is not BookDelta:
                self._track(event, symbol)
            if symbol is None or symbol in watched:
                if kept is not None:
                    kept.append(event)
                continue
            # A frame already in flight when the symbol was unwatched: it must not revive (or
            # feed) a book nobody keeps up to date any more.
            book = self.codec.books.get(symbol)
            if book is not None and not book.stale:
                book.mark_stale("no longer watched")
            self.stats.late_frames += 1
            if kept is None:
                kept = list(events[:i])
        return events if kept is None else kept

    def _track(self, event: MarketEvent, symbol: str) -> None:
        if isinstance(event, BookSnapshot):
            self._unsynced.discard(symbol)
        elif isinstance(event, ResyncRequested):
            self._unsynced.add(symbol)
            self._pending.extend(as_text(f) for f in self.codec.resync_frames(symbol))
            self.stats.resyncs_sent += 1
        else:  # a refused frame: the codec staled the book, or left it alone
            book = self.codec.books.get(symbol)
            if book is not None and book.stale:
                self._unsynced.add(symbol)

    def reset(self) -> None:
        for book in self.codec.books.values():
            book.mark_stale("disconnected")
        self._unsynced = set(self._watched)
        self._pending.clear()

    def synced(self) -> bool:
        return not self._unsynced

    def pending_frames(self) -> Sequence[Frame]:
        if not self._pending:
            return ()
        out, self._pending = self._pending, []
        return out


def as_text(frame: Frame) -> str:
    """Venues take JSON requests as text frames; the codecs build them as bytes."""
    return frame.decode() if isinstance(frame, bytes) else frame


def _book_symbol(event: MarketEvent) -> str | None:
    """The book an event concerns, or None for tickers, trades, funding and venue errors."""
    if isinstance(event, BookDelta | BookSnapshot | ResyncRequested):
        return event.symbol
    if isinstance(event, CodecError):
        return event.symbol
    return None


# -- private streams -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamReady:
    """Logged in and subscribed: reconcile over REST now, then call `reconciled()`."""

    venue: str


@dataclass(frozen=True, slots=True)
class StreamRejected:
    """The venue refused the login or a subscription: retrying the same keys will not help."""

    venue: str
    reason: str


@dataclass(frozen=True, slots=True)
class StreamError:
    """A frame the codec could not read (counted); the reader carries on."""

    venue: str
    detail: str


@dataclass(frozen=True, slots=True)
class SettlementsDue:
    """The venue says it settled something on the account (OKX's funding-fee push) without
    saying how much: the amounts are in its records, read over REST (`account_events`)."""

    venue: str
    ts_venue_ms: int


PrivateStreamEvent = PrivateEvent | StreamReady | StreamRejected | StreamError | SettlementsDue


@dataclass
class PrivateStats:
    frames: int = 0
    events: int = 0  # normalized private events emitted
    errors: int = 0  # malformed frames or items
    logins: int = 0


class PrivateCodec:
    """Base of a venue's private-stream codec: the login/subscribe/reconcile state machine.

    Phases: `login` (login frame sent) -> `subscribing` (subscribe frames sent, acks counted)
    -> `ready` (`StreamReady` emitted) -> `live` (after `reconciled()`). `reset()` returns to
    `login`. Subclasses implement `login_frames`, `subscribe_frames` and `decode`, and call
    `logged_in`, `subscribed`, `rejected` and `error` from `decode`.
    """

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.stats = PrivateStats()
        self.phase = "login"
        self._awaiting_acks = 0
        self._pending: list[Frame] = []

    # -- for subclasses ----------------------------------------------------------------------

    def login_frames(self) -> list[Frame]:
        raise NotImplementedError

    def subscribe_frames(self) -> tuple[list[Frame], int]:
        """Frames that subscribe every private channel, and how many acks they will bring
        (Bybit acks a request, OKX acks each channel of it)."""
        raise NotImplementedError

    def decode(self, frame: Frame, recv_ns: int) -> list[PrivateStreamEvent]:
        raise NotImplementedError

    def logged_in(self) -> list[PrivateStreamEvent]:
        if self.phase != "login":
            return []
        self.stats.logins += 1
        frames, acks = self.subscribe_frames()
        self._pending.extend(frames)
        self._awaiting_acks = acks
        self.phase = "subscribing"
        return self._maybe_ready()

    def subscribed(self) -> list[PrivateStreamEvent]:
        if self.phase != "subscribing":
            return []
        self._awaiting_acks -= 1
        return self._maybe_ready()

    def rejected(self, reason: str) -> list[PrivateStreamEvent]:
        return [StreamRejected(self.venue, reason)]

    def error(self, detail: str) -> list[PrivateStreamEvent]:
        self.stats.errors += 1
        return [StreamError(self.venue, detail)]

    def _maybe_ready(self) -> list[PrivateStreamEvent]:
        if self.phase == "subscribing" and self._awaiting_acks <= 0:
            self.phase = "ready"
            return [StreamReady(self.venue)]
        return []

    # -- the session's side ------------------------------------------------------------------

    def reconciled(self) -> None:
        """The REST reconciliation of this connection was delivered: the stream is live."""
        if self.phase == "ready":
            self.phase = "live"

    # -- SessionCodec ------------------------------------------------------------------------

    def connect_frames(self) -> Sequence[Frame]:
        return self.login_frames()

    def feed(self, frame: Frame, recv_ns: int) -> Sequence[PrivateStreamEvent]:
        self.stats.frames += 1
        try:
            events = self.decode(frame, recv_ns)
        except FRAME_ERRORS as exc:
            return self.error(f"unreadable frame: {type(exc).__name__}: {exc}")
        self.stats.events += sum(
            1
            for e in events
            if not isinstance(e, StreamReady | StreamRejected | StreamError | SettlementsDue)
        )
        return events

    def reset(self) -> None:
        self.phase = "login"
        self._awaiting_acks = 0
        self._pending.clear()

    def synced(self) -> bool:
        return self.phase == "live"

    def pending_frames(self) -> Sequence[Frame]:
        if not self._pending:
            return ()
        out, self._pending = self._pending, []
        return out

    def ping_frame(self) -> Frame | None:
        return None
