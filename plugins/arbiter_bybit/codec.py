"""Bybit v5 public market-data codec (sans-IO): WebSocket frames in, normalized events out.

Rules this file keeps (everything that decides whether a Bybit book is trustworthy lives here):

- `orderbook.{depth}.{symbol}` `snapshot` replaces the book. A `delta` with `u == 1` does too:
  Bybit sends it after a service restart and documents it as a snapshot.
- Every other `delta` must carry `u == previous u + 1`. Anything else is a gap: the book turns
  stale, one `ResyncRequested` is emitted, and deltas are dropped until the next snapshot.
  (ccxt and NautilusTrader skip this check; we do not.)
- A delta that leaves the book crossed (best bid >= best ask), a negative or non-numeric size,
  missing fields or wrong types: the frame is refused with a `CodecError`, counted, and the book
  turns stale until resynced. `feed` never raises.
- `seq`, `ts` and `cts` are kept on the emitted book events.

Requests (subscribe, ping, auth) are built as bytes; sending them is the transport's job.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import count
from typing import Any

import msgspec

from arbiter.market.book import OrderBook
from arbiter.market.codec import CodecStats
from arbiter.market.events import (
    BookDelta,
    BookSnapshot,
    CodecError,
    CodecErrorKind,
    Funding,
    MarketEvent,
    Ticker,
    Trade,
    TradeSide,
)
from arbiter.market.instrument import Instrument
from arbiter.market.keeper import BookKeeper
from arbiter.market.units import parse_decimal
from arbiter.venues import FRAME_ERRORS
from arbiter_bybit import messages

VENUE = "bybit"


class _TopicState:
    """Everything a book frame needs, found with one dict lookup on its topic."""

    __slots__ = ("book", "prices", "sizes", "symbol")

    def __init__(self, symbol: str, keeper: BookKeeper) -> None:
        self.symbol = symbol
        self.book = keeper.book(symbol)
        self.prices, self.sizes = keeper.parsers(symbol)


_SIDES = {"Buy": TradeSide.BUY, "Sell": TradeSide.SELL}
_decode_book_frame = messages.RAW_BOOK_FRAME.decode


class BybitCodec:
    """One codec per WebSocket connection (one `category`: spot, linear or inverse).

    `instruments` give each book its exact price and size scales; without them a symbol's book
    uses `arbiter.market.units.DEFAULT_SCALE`. `venue` names the books' venue in events; give a
    spot connection its own name (e.g. "bybit-spot") if it shares symbols with a linear one.
    """

    def __init__(self, instruments: Iterable[Instrument] = (), venue: str = VENUE) -> None:
        self.venue = venue
        self._keeper = BookKeeper(venue, instruments)
        self.stats: CodecStats = self._keeper.stats
        self._topics: dict[str, _TopicState] = {}
        self._book_topics: dict[str, str] = {}
        self._req_ids = count(1)

    @property
    def books(self) -> Mapping[str, OrderBook]:
        return self._keeper.books

    # -- frames in ---------------------------------------------------------------------------

    def feed(self, frame: bytes | str) -> list[MarketEvent]:
        stats = self.stats
        stats.frames += 1
        # Book deltas are most of the traffic, so their shape is tried first: other frames fail
        # this decode quickly (a missing or mistyped field) and take the general path. The
        # levels stay JSON bytes here; the book reads them.
        try:
            msg = _decode_book_frame(frame)
        except FRAME_ERRORS:
            return self._feed_general(frame)
        state = self._topics.get(msg.topic)  # only `orderbook.` topics ever get a state
        if state is None:
            return self._feed_general(frame)  # an unknown topic, or a book's first frame
        # The next delta of a live book is applied right here, the book checking the sequence
        # and parsing the level bytes itself (exact, no float); anything else (None) takes the
        # general path, which decodes the frame afresh, decides everything and reports precisely.
        data = msg.data
        if msg.type == "delta" and data.s == state.symbol and data.u != 1:
            book = state.book
            applied = book.apply_next_json(data.u, data.b, data.a, msg.ts)
            if applied is not None:
                bids, asks, crossed = applied
                if crossed:
                    return self._crossed(book, msg.topic)
                stats.updates_applied += 1
                return [
                    BookDelta(
                        self.venue, state.symbol, bids, asks, data.u, msg.ts, data.seq, msg.cts
                    )
                ]
        return self._feed_general(frame)

    def _feed_general(self, frame: bytes | str) -> list[MarketEvent]:
        try:
            env = messages.ENVELOPE.decode(frame)
        except FRAME_ERRORS as exc:
            return self._keeper.malformed(CodecErrorKind.BAD_JSON, f"undecodable frame: {exc}")
        topic = env.topic
        if topic is None:
            return self._on_control(env)
        if topic.startswith("orderbook."):
            try:
                if not env.data or env.ts is None or env.type is None:
                    raise ValueError("expected `type`, `ts` and `data`, was missing")
                data = messages.BOOK.decode(env.data)
            except FRAME_ERRORS as exc:
                symbol = self._topic(topic).symbol
                return self._keeper.malformed(
                    CodecErrorKind.BAD_FIELD, f"{topic}: {exc}", symbol, topic
                )
            return self._on_book(messages.BookFrame(topic, env.type, env.ts, data, env.cts))
        try:
            if topic.startswith("tickers."):
                return self._on_ticker(env)
            if topic.startswith(("publicTrade.", "trade.")):
                return self._on_trades(env)
        except FRAME_ERRORS as exc:
            return self._keeper.malformed(CodecErrorKind.BAD_FIELD, f"{topic}: {exc}")
        return self._keeper.malformed(CodecErrorKind.UNKNOWN, f"unhandled topic {topic!r}")

    def _topic(self, topic: str) -> _TopicState:
        state = self._topics.get(topic)
        if state is None:
            symbol = topic.rpartition(".")[2]
            state = self._topics[topic] = _TopicState(symbol, self._keeper)
            self._book_topics[symbol] = topic
        return state

    def _on_book(self, msg: messages.BookFrame) -> list[MarketEvent]:
        topic = msg.topic
        data = msg.data
        state = self._topics.get(topic) or self._topic(topic)
        symbol = state.symbol
        try:
            if data.s != symbol:
                raise ValueError(f"expected symbol {symbol!r}, was {data.s!r}")
            # The parsers validate a text once, then answer from their cache.
            prices = state.prices
            sizes = state.sizes
            bids = [(prices[p], sizes[q]) for p, q in data.b]
            asks = [(prices[p], sizes[q]) for p, q in data.a]
        except ValueError as exc:
            return self._keeper.malformed(
                CodecErrorKind.BAD_FIELD, f"{topic}: {exc}", symbol, topic
            )

        book = state.book
        u = data.u
        kind = msg.type
        if kind == "delta" and u != 1:
            if book.stale:
                return self._keeper.dropped(symbol, topic)
            if u != book.update_id + 1:
                return self._keeper.gap(symbol, f"expected u={book.update_id + 1}, was {u}", topic)
            ts = msg.ts
            crossed = book.apply(bids, asks, ts)
            book.update_id = u
            if crossed:
                return self._crossed(book, topic)
            self.stats.updates_applied += 1
            return [BookDelta(self.venue, symbol, bids, asks, u, ts, data.seq, msg.cts)]
        keeper = self._keeper
        if kind not in ("snapshot", "delta"):
            return keeper.malformed(
                CodecErrorKind.BAD_FIELD,
                f"{topic}: expected type snapshot or delta, was {kind!r}",
                symbol,
                topic,
            )
        if kind == "delta":
            self.stats.sequence_resets += 1  # u == 1: Bybit restarted the stream
        ts = msg.ts
        book.reset(bids, asks, ts)
        book.update_id = u
        if book.is_crossed():
            return self._crossed(book, topic)
        keeper.synced(symbol)
        self.stats.updates_applied += 1
        return [BookSnapshot(self.venue, symbol, bids, asks, u, ts, data.seq, msg.cts)]

    def _crossed(self, book: OrderBook, topic: str) -> list[MarketEvent]:
        return self._keeper.malformed(
            CodecErrorKind.CROSSED,
            f"{topic}: expected best bid < best ask after u={book.update_id},"
            f" was {book.best_bid()} >= {book.best_ask()}",
            book.symbol,
            topic,
        )

    def _on_ticker(self, env: messages.Envelope) -> list[MarketEvent]:
        if not env.data or env.ts is None:
            raise ValueError("expected `data` and `ts`, was missing")
        data = messages.TICKER.decode(env.data)
        ticker = Ticker(
            self.venue,
            data.symbol,
            env.ts,
            bid=_opt(data.bid1Price, "bid1Price"),
            bid_size=_opt(data.bid1Size, "bid1Size"),
            ask=_opt(data.ask1Price, "ask1Price"),
            ask_size=_opt(data.ask1Size, "ask1Size"),
            last=_opt(data.lastPrice, "lastPrice"),
            mark_price=_opt(data.markPrice, "markPrice"),
            index_price=_opt(data.indexPrice, "indexPrice"),
            funding_rate=_opt(data.fundingRate, "fundingRate"),
        )
        events: list[MarketEvent] = [ticker]
        if ticker.funding_rate is not None:
            next_ms = int(data.nextFundingTime) if data.nextFundingTime else None
            events.append(Funding(self.venue, data.symbol, ticker.funding_rate, next_ms, env.ts))
        return events

    def _on_trades(self, env: messages.Envelope) -> list[MarketEvent]:
        if not env.data:
            raise ValueError("expected `data`, was missing")
        events: list[MarketEvent] = []
        for t in messages.TRADES.decode(env.data):
            side = _SIDES.get(t.S)
            if side is None:
                raise ValueError(f"expected side Buy or Sell, was {t.S!r}")
            price = parse_decimal(t.p, "price")
            size = parse_decimal(t.v, "size")
            if price <= 0 or size <= 0:
                raise ValueError(f"expected positive price and size, was {t.p} x {t.v}")
            events.append(Trade(self.venue, t.s, t.i, price, size, side, t.T))
        return events

    def _on_control(self, env: messages.Envelope) -> list[MarketEvent]:
        if env.op is not None and env.success is not False:
            return []  # subscribe/ping/auth acknowledged
        if env.op is not None:
            return [CodecError(self.venue, CodecErrorKind.VENUE_ERROR, f"{env.op}: {env.ret_msg}")]
        return self._keeper.malformed(CodecErrorKind.UNKNOWN, "expected `topic` or `op`")

    # -- requests out ------------------------------------------------------------------------

    def subscribe(self, topics: Sequence[str]) -> bytes:
        return self._request("subscribe", list(topics))

    def unsubscribe(self, topics: Sequence[str]) -> bytes:
        return self._request("unsubscribe", list(topics))

    def ping(self) -> bytes:
        return self._request("ping", None)

    def auth(self, api_key: str, api_secret: str, expires_ms: int) -> bytes:
        """Bybit private-stream auth: HMAC-SHA256 of `GET/realtime{expires}` in hex."""
        payload = f"GET/realtime{expires_ms}".encode()
        signature = hmac.new(api_secret.encode(), payload, hashlib.sha256).hexdigest()
        return self._request("auth", [api_key, expires_ms, signature])

    def resync_frames(self, symbol: str) -> list[bytes]:
        """Bybit resends a snapshot on (re)subscribe; that is how a stale book resyncs."""
        topic = self._book_topics.get(symbol)
        if topic is None:
            return []
        return [self.unsubscribe([topic]), self.subscribe([topic])]

    def _request(self, op: str, args: list[Any] | None) -> bytes:
        request: dict[str, Any] = {"req_id": str(next(self._req_ids)), "op": op}
        if args is not None:
            request["args"] = args
        return msgspec.json.encode(request)


def orderbook_topic(symbol: str, depth: int) -> str:
    return f"orderbook.{depth}.{symbol}"


def tickers_topic(symbol: str) -> str:
    return f"tickers.{symbol}"


def trades_topic(symbol: str) -> str:
    return f"publicTrade.{symbol}"


def _opt(text: str | None, what: str) -> Decimal | None:
    # Bybit ticker deltas omit unchanged fields and send "" for ones it does not have.
    if text is None or text == "":
        return None
    return parse_decimal(text, what)
