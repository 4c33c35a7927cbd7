"""The venue session every plugin shares: public book streams, the private stream, REST.

A plugin supplies only its dialect (`StreamDialect`: URLs, codec factories with its auth, keep-
alive rules) and its `TradingVenue`; `StreamingSession` implements `VenueSession` once for all:
- one public `WsSession` per product type ("spot", "perp"), opened on the first `watch_books`
  of that product and shared by every strategy; subscriptions are reference-counted;
- books are the codecs' own `OrderBook`s; `books(kind)` is a live mapping;
- market events carry the venue name `"{account}:{kind}"` (the runtime's book key), because
  one account can list one symbol on two products (Bybit's "BTCUSDT" is spot and linear);
- market events reach every `on_market` sink synchronously from the reader; a sink that
  raises is logged and counted and the other sinks still get the events. A single sink (the
  runtime's router) is handed to the readers themselves: nothing stands between them;
- the private stream (`PrivateStream`) delivers to the sinks registered with `on_private` (a
  single sink, the runtime's router, directly), and reconciles over REST after every
  (re)connect;
- `start()` loads instruments and returns once the private stream is live; `close()` closes
  every socket and then the trading client.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from loguru import logger

from arbiter.market.book import OrderBook
from arbiter.market.events import MarketEvent, book_name
from arbiter.market.instrument import Instrument
from arbiter.venues.contract.config import VenueConfig
from arbiter.venues.contract.orders import PrivateEvent
from arbiter.venues.contract.session import BookRef, MarketSink, VenueSession
from arbiter.venues.contract.trading import PrivateSink, TradingVenue
from arbiter.venues.streams.codecs import BookStream, PrivateCodec
from arbiter.venues.streams.private import PrivateStream, stop_task, wall_ms
from arbiter.venues.streams.watched import WatchedTrading
from arbiter.venues.streams.websocket import Keepalive, WsSession

InstrumentMap = Mapping[tuple[str, str], Instrument]  # (kind, symbol) -> instrument
_T = TypeVar("_T")


@dataclass(frozen=True)
class StreamDialect:
    """What a plugin tells the shared session about its streams.

    `book_stream(kind, venue, instruments)` builds the codec of one public connection; its
    events and books must carry `venue`, and `instruments` already carry that venue name.
    `private_codec(instruments)` builds the private codec with the account's keys bound.
    """

    public_urls: Mapping[str, str]  # kind -> URL
    private_url: str
    book_stream: Callable[[str, str, Sequence[Instrument]], BookStream]
    private_codec: Callable[[InstrumentMap], PrivateCodec]
    keepalive: Keepalive = field(default_factory=Keepalive)


def endpoint_urls(
    config: VenueConfig, defaults: Mapping[str, Mapping[str, str]], names: Sequence[str]
) -> dict[str, str]:
    """The URLs `names` for `config.endpoint`: the endpoint's defaults, overridden by
    `config.urls`. Endpoint `sim` has no defaults: every URL must be given."""
    if config.endpoint not in (*defaults, "sim"):
        raise ValueError(
            f"{config.account}: expected endpoint in {sorted((*defaults, 'sim'))},"
            f" was {config.endpoint!r}"
        )
    urls = {**defaults.get(config.endpoint, {}), **config.urls}
    missing = [n for n in names if not urls.get(n)]
    if missing:
        raise ValueError(
            f"{config.account}: endpoint {config.endpoint!r} needs urls {missing}; given"
            f" {sorted(config.urls)}"
        )
    return {n: urls[n] for n in names}


@dataclass
class SessionStats:
    sink_errors: int = 0


class _Public:
    """One product type's public connection and its watched symbols."""

    def __init__(self, name: str, url: str, stream: BookStream, ws: WsSession) -> None:
        self.name, self.url = name, url
        self.stream = stream
        self.ws = ws
        self.task: asyncio.Task[None] | None = None

    def ensure_running(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.ws.run())

    async def close(self) -> None:
        await self.ws.close()
        if self.task is not None:
            await stop_task(self.task)
            self.task = None


class StreamingSession:
    """`VenueSession` for any plugin that speaks WebSockets through sans-IO codecs."""

    def __init__(
        self,
        config: VenueConfig,
        trading: TradingVenue,
        dialect: StreamDialect,
        *,
        seed: int = 0,
        clock_ms: Callable[[], int] = wall_ms,
        initial_lookback_ms: int = 60_000,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.config = config
        self.dialect = dialect
        self.stats = SessionStats()
        self._seed = seed
        self._start_timeout_s = start_timeout_s
        self._instruments: dict[tuple[str, str], Instrument] = {}
        self._public: dict[str, _Public] = {}
        self._refs: Counter[tuple[str, str]] = Counter()
        self._sinks: list[MarketSink] = []
        self._private_sinks: list[PrivateSink] = []
        self._started = False
        self._log = logger.bind(venue=config.account)
        # The private codec reads the instruments `start` loads into this same dict.
        self._private = PrivateStream(
            f"{config.account}.private",
            dialect.private_url,
            dialect.private_codec(self._instruments),
            trading,
            self._fan_private,
            clock_ms=clock_ms,
            initial_lookback_ms=initial_lookback_ms,
            seed=seed,
            keepalive=dialect.keepalive,
        )
        self._trading = WatchedTrading(
            trading,
            self._private.note_placed,
            self._private.note_refused,
            self._private.note_sent,
        )
        self.trading: TradingVenue = self._trading

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            raise RuntimeError(f"{self.config.account}: session already started")
        self._started = True
        try:
            await self._trading.start()
            for inst in await self._trading.instruments():
                self._instruments[(inst.kind.value, inst.symbol)] = inst
            await self._private.start(self._start_timeout_s)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        for public in self._public.values():
            await public.close()
        await self._private.close()
        await self._trading.close()

    # -- VenueSession ------------------------------------------------------------------------

    def instruments(self) -> Mapping[tuple[str, str], Instrument]:
        return self._instruments

    def watch_books(self, refs: Sequence[BookRef]) -> None:
        self._check(refs)
        by_kind: dict[str, list[str]] = {}
        for ref in refs:
            key = (ref.kind, ref.symbol)
            self._refs[key] += 1
            if self._refs[key] == 1:
                by_kind.setdefault(ref.kind, []).append(ref.symbol)
        for kind, symbols in by_kind.items():
            public = self._stream(kind)
            for frame in public.stream.watch(symbols):
                public.ws.post(frame)  # not connected: connect_frames will carry it
            public.ensure_running()
            public.ws.refresh()

    def unwatch_books(self, refs: Sequence[BookRef]) -> None:
        by_kind: dict[str, list[str]] = {}
        for ref in refs:
            key = (ref.kind, ref.symbol)
            if self._refs[key] <= 0:
                raise ValueError(
                    f"{self.config.account}: expected a watched book, {ref.kind}:{ref.symbol}"
                    " is not watched"
                )
            self._refs[key] -= 1
            if self._refs[key] == 0:
                del self._refs[key]
                by_kind.setdefault(ref.kind, []).append(ref.symbol)
        for kind, symbols in by_kind.items():
            public = self._public[kind]
            for frame in public.stream.unwatch(symbols):
                public.ws.post(frame)
            public.ws.refresh()

    def books(self, kind: str) -> Mapping[str, OrderBook]:
        return self._stream(kind).stream.books

    def on_private(self, sink: PrivateSink) -> None:
        self._private_sinks.append(sink)
        sinks = self._private_sinks
        self._private.deliver_to(sinks[0] if len(sinks) == 1 else self._fan_private)

    def on_market(self, sink: MarketSink) -> None:
        self._sinks.append(sink)
        for public in self._public.values():
            public.ws.deliver_to(self._market_sink())

    def connection_states(self) -> Mapping[str, str]:
        states = {
            f"public.{kind}": public.ws.state.state
            for kind, public in self._public.items()
            if public.task is not None
        }
        if self._started:
            states["private"] = self._private.ws.state.state
        return states

    # -- for tests and diagnostics -----------------------------------------------------------

    def public_stream(self, kind: str) -> BookStream:
        return self._stream(kind).stream

    def public_session(self, kind: str) -> WsSession:
        return self._stream(kind).ws

    @property
    def private(self) -> PrivateStream:
        return self._private

    # -- internals ---------------------------------------------------------------------------

    def _check(self, refs: Sequence[BookRef]) -> None:
        if not self._started:
            raise RuntimeError(f"{self.config.account}: call start() before watch_books()")
        for ref in refs:
            if ref.kind not in self.dialect.public_urls:
                raise ValueError(
                    f"{self.config.account}: expected kind in {sorted(self.dialect.public_urls)},"
                    f" was {ref.kind!r}"
                )
            if (ref.kind, ref.symbol) not in self._instruments:
                raise ValueError(
                    f"{self.config.account}: no {ref.kind} instrument {ref.symbol!r} on this venue"
                )

    def _stream(self, kind: str) -> _Public:
        public = self._public.get(kind)
        if public is not None:
            return public
        url = self.dialect.public_urls.get(kind)
        if url is None:
            raise ValueError(
                f"{self.config.account}: expected kind in {sorted(self.dialect.public_urls)},"
                f" was {kind!r}"
            )
        venue = book_name(self.config.account, kind)
        instruments = [
            replace(inst, venue=venue) for (k, _), inst in self._instruments.items() if k == kind
        ]
        stream = self.dialect.book_stream(kind, venue, instruments)
        name = f"{self.config.account}.public.{kind}"
        ws = WsSession(
            name,
            url,
            stream,
            self._market_sink(),
            seed=self._seed,
            keepalive=self.dialect.keepalive,
        )
        public = self._public[kind] = _Public(name, url, stream, ws)
        return public

    def _market_sink(self) -> MarketSink:
        return self._sinks[0] if len(self._sinks) == 1 else self._fanout

    def _fan_private(self, event: PrivateEvent) -> None:
        self._each(self._private_sinks, event, "private")

    def _fanout(self, events: Sequence[MarketEvent]) -> None:
        self._each(self._sinks, events, "market")

    def _each(self, sinks: Sequence[Callable[[_T], None]], item: _T, what: str) -> None:
        for sink in sinks:
            try:
                sink(item)
            except Exception:  # one consumer's bug must not starve the others
                self.stats.sink_errors += 1
                self._log.opt(exception=True).error("{} sink failed", what)


if TYPE_CHECKING:  # mypy proves the session keeps the contract the runtime drives
    _CONTRACT: type[VenueSession] = StreamingSession
