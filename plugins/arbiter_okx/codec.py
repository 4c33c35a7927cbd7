"""OKX v5 public market-data codec (sans-IO): WebSocket frames in, normalized events out.

Rules this file keeps for the incremental book channels (`books`, `books50-l2-tbt`,
`books-l2-tbt`):

- snapshot: `action == "snapshot"` (its `prevSeqId` is -1) replaces the book.
- update: `prevSeqId` must equal the `seqId` last applied; otherwise a gap: stale, one resync
  request, updates dropped until the next snapshot.
- idle heartbeat: empty levels with `prevSeqId == seqId` (== the last seqId): the chain holds.
- maintenance reset: `seqId < prevSeqId` with `prevSeqId` == last seqId: accepted, the chain
  continues from the new, smaller seqId (counted in `stats.sequence_resets`).
- checksum: when non-zero it must equal the CRC32 of the top 25 levels after the update
  (`okx_checksum` below); a mismatch stales the book. Zero means "not provided".
- one way to (re)sync a book: the snapshot OKX pushes on subscribe; a stale book resubscribes
  (`resync_frames`). OKX's REST book (`GET /api/v5/market/books`) is no starting point: the
  answers the venue sends carry no `seqId`, so no update could be chained onto one.

`books5` and `bbo-tbt` push whole top-of-book views: each push replaces the book.
Malformed frames, crossed books and negative sizes become `CodecError`s; `feed` never raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import zlib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

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
from arbiter.market.units import UnitParser, parse_decimal
from arbiter.venues import FRAME_ERRORS
from arbiter_okx import messages

VENUE = "okx"
INCREMENTAL_CHANNELS = frozenset({"books", "books50-l2-tbt", "books-l2-tbt"})
FULL_VIEW_CHANNELS = frozenset({"books5", "bbo-tbt"})

_SIDES = {"buy": TradeSide.BUY, "sell": TradeSide.SELL}

# -- the checksum (the `checksum` field of `books` pushes) -------------------------------------
# CRC32 over the top 25 levels, bid and ask interleaved as `price:size` (bid1:ask1:bid2:ask2...,
# the shorter side simply ends), joined by `:`, using the strings exactly as received (OKX
# computes it over its own text, so "0.10" and "0.1" differ), read as a signed 32-bit integer.

CHECKSUM_DEPTH = 25


def okx_checksum(bids: Sequence[str], asks: Sequence[str]) -> int:
    """The rule as written: `bids`/`asks` are "price:size" texts, best first; only the first
    25 of each count. The codec computes the same over its book (`OkxCodec.checksum_of`)."""
    parts: list[str] = []
    for i in range(CHECKSUM_DEPTH):
        if i < len(bids):
            parts.append(bids[i])
        if i < len(asks):
            parts.append(asks[i])
    return signed_crc32(":".join(parts).encode())


def signed_crc32(data: bytes) -> int:
    """CRC-32 of `data` (zlib's), read as OKX sends it: a signed 32-bit integer."""
    crc = zlib.crc32(data)
    return crc - (1 << 32) if crc >= 1 << 31 else crc


class _Parsed(msgspec.Struct):
    """One book push after conversion: integer levels plus the texts the checksum needs."""

    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
    bid_text: list[str]
    ask_text: list[str]
    ts_ms: int
    checksum: int
    prev_seq: int
    seq: int


class _BookState:
    """An OKX book plus what OKX's rules need beyond the levels."""

    def __init__(
        self, book: OrderBook, channel: str, parsers: tuple[UnitParser, UnitParser]
    ) -> None:
        self.book = book
        self.channel = channel
        self.prices, self.sizes = parsers  # text -> units at the book's scales
        self.bid_text: dict[int, str] = {}  # price units -> "price:size" as received
        self.ask_text: dict[int, str] = {}


class OkxCodec:
    """One codec per public WebSocket connection."""

    def __init__(
        self,
        instruments: Iterable[Instrument] = (),
        venue: str = VENUE,
    ) -> None:
        self.venue = venue
        self._keeper = BookKeeper(venue, instruments)
        self.stats: CodecStats = self._keeper.stats
        self._states: dict[str, _BookState] = {}

    @property
    def books(self) -> Mapping[str, OrderBook]:
        return self._keeper.books

    # -- frames in ---------------------------------------------------------------------------

    def feed(self, frame: bytes | str) -> list[MarketEvent]:
        self.stats.frames += 1
        if frame in (b"pong", "pong"):
            return []
        try:
            env = messages.ENVELOPE.decode(frame)
        except FRAME_ERRORS as exc:
            return self._keeper.malformed(CodecErrorKind.BAD_JSON, f"undecodable frame: {exc}")
        if env.event is not None:
            return self._on_event(env)
        arg = env.arg
        if arg is None or not env.data:
            return self._keeper.malformed(CodecErrorKind.UNKNOWN, "expected `arg` and `data`")
        channel = arg.channel
        if channel in INCREMENTAL_CHANNELS or channel in FULL_VIEW_CHANNELS:
            return self._on_book(channel, arg.instId, env)
        try:
            if channel == "tickers":
                return self._on_tickers(env.data)
            if channel == "trades":
                return self._on_trades(env.data)
            if channel == "funding-rate":
                return self._on_funding(env.data)
        except FRAME_ERRORS as exc:
            return self._keeper.malformed(CodecErrorKind.BAD_FIELD, f"{channel}: {exc}")
        return self._keeper.malformed(CodecErrorKind.UNKNOWN, f"unhandled channel {channel!r}")

    def _on_book(self, channel: str, inst: str | None, env: messages.Envelope) -> list[MarketEvent]:
        keeper = self._keeper
        if inst is None:
            return keeper.malformed(CodecErrorKind.BAD_FIELD, f"{channel}: expected arg.instId")
        state = self._state(inst, channel)
        try:
            pushes = messages.BOOKS.decode(env.data)
            if len(pushes) != 1:
                raise ValueError(f"expected one book in data, was {len(pushes)}")
            parsed = self._parse(state, pushes[0], channel)
        except FRAME_ERRORS as exc:
            return keeper.malformed(CodecErrorKind.BAD_FIELD, f"{channel}: {exc}", inst, channel)

        if channel in FULL_VIEW_CHANNELS or env.action == "snapshot":
            return self._snapshot(state, parsed)
        if env.action != "update":
            return keeper.malformed(
                CodecErrorKind.BAD_FIELD,
                f"{channel}: expected action snapshot or update, was {env.action!r}",
                inst,
                channel,
            )
        return self._update(state, parsed)

    def _parse(self, state: _BookState, push: messages.BookData, channel: str) -> _Parsed:
        price, size = state.prices, state.sizes
        known_price, known_size = price.known, size.known
        try:
            bids = [(known_price[level[0]], known_size[level[1]]) for level in push.bids]
            asks = [(known_price[level[0]], known_size[level[1]]) for level in push.asks]
        except KeyError:
            # A text not seen before: the parsers validate, convert and remember it.
            bids = [(price[level[0]], size[level[1]]) for level in push.bids]
            asks = [(price[level[0]], size[level[1]]) for level in push.asks]
        seq = push.seqId
        if seq is None:
            raise ValueError("expected seqId, was missing")
        prev = push.prevSeqId if push.prevSeqId is not None else -1
        return _Parsed(
            bids,
            asks,
            [f"{level[0]}:{level[1]}" for level in push.bids],
            [f"{level[0]}:{level[1]}" for level in push.asks],
            int(push.ts),
            push.checksum if channel in INCREMENTAL_CHANNELS else 0,
            prev,
            seq,
        )

    def _snapshot(self, state: _BookState, p: _Parsed) -> list[MarketEvent]:
        book = state.book
        book.reset(p.bids, p.asks, p.ts_ms)
        book.update_id = p.seq
        state.bid_text = {}
        state.ask_text = {}
        _apply_text(state.bid_text, p.bids, p.bid_text)  # same last-wins rule as the book
        _apply_text(state.ask_text, p.asks, p.ask_text)
        failure = self._verify(state, p)
        if failure:
            return failure
        self._keeper.synced(book.symbol)
        self.stats.updates_applied += 1
        return [BookSnapshot(self.venue, book.symbol, p.bids, p.asks, p.seq, p.ts_ms)]

    def _update(self, state: _BookState, p: _Parsed) -> list[MarketEvent]:
        keeper = self._keeper
        book = state.book
        symbol = book.symbol
        if book.stale:
            return keeper.dropped(symbol, state.channel)
        if p.prev_seq != book.update_id:
            return keeper.gap(
                symbol, f"expected prevSeqId={book.update_id}, was {p.prev_seq}", state.channel
            )
        if p.seq < p.prev_seq:
            self.stats.sequence_resets += 1  # maintenance: OKX restarted its sequence
        book.apply(p.bids, p.asks, p.ts_ms)
        book.update_id = p.seq
        _apply_text(state.bid_text, p.bids, p.bid_text)
        _apply_text(state.ask_text, p.asks, p.ask_text)
        failure = self._verify(state, p)
        if failure:
            return failure
        self.stats.updates_applied += 1
        return [BookDelta(self.venue, symbol, p.bids, p.asks, p.seq, p.ts_ms)]

    def _verify(self, state: _BookState, p: _Parsed) -> list[MarketEvent]:
        book = state.book
        if book.is_crossed():
            return self._keeper.malformed(
                CodecErrorKind.CROSSED,
                f"{state.channel}: expected best bid < best ask after seqId={p.seq},"
                f" was {book.best_bid()} >= {book.best_ask()}",
                book.symbol,
                state.channel,
            )
        if p.checksum:
            actual = self.checksum_of(book.symbol)
            if actual != p.checksum:
                return self._keeper.checksum_failed(
                    book.symbol,
                    f"expected checksum {p.checksum} after seqId={p.seq}, computed {actual}",
                    state.channel,
                )
        return []

    def checksum_of(self, inst: str) -> int:
        """OKX checksum of the current book, from the level texts as received: `okx_checksum`
        of the best 25 levels' texts (the book joins them in C, in its own level order)."""
        state = self._states[inst]
        joined = state.book.interleaved_texts(state.bid_text, state.ask_text, CHECKSUM_DEPTH, ":")
        return signed_crc32(joined)

    def _state(self, inst: str, channel: str) -> _BookState:
        state = self._states.get(inst)
        if state is None:
            keeper = self._keeper
            state = _BookState(keeper.book(inst), channel, keeper.parsers(inst))
            self._states[inst] = state
        return state

    # -- other channels ----------------------------------------------------------------------

    def _on_tickers(self, raw: msgspec.Raw) -> list[MarketEvent]:
        return [
            Ticker(
                self.venue,
                t.instId,
                int(t.ts),
                bid=_opt(t.bidPx, "bidPx"),
                bid_size=_opt(t.bidSz, "bidSz"),
                ask=_opt(t.askPx, "askPx"),
                ask_size=_opt(t.askSz, "askSz"),
                last=_opt(t.last, "last"),
            )
            for t in messages.TICKERS.decode(raw)
        ]

    def _on_trades(self, raw: msgspec.Raw) -> list[MarketEvent]:
        events: list[MarketEvent] = []
        for t in messages.TRADES.decode(raw):
            side = _SIDES.get(t.side)
            if side is None:
                raise ValueError(f"expected side buy or sell, was {t.side!r}")
            price = parse_decimal(t.px, "px")
            size = parse_decimal(t.sz, "sz")
            if price <= 0 or size <= 0:
                raise ValueError(f"expected positive px and sz, was {t.px} x {t.sz}")
            events.append(Trade(self.venue, t.instId, t.tradeId, price, size, side, int(t.ts)))
        return events

    def _on_funding(self, raw: msgspec.Raw) -> list[MarketEvent]:
        return [
            Funding(
                self.venue,
                f.instId,
                parse_decimal(f.fundingRate, "fundingRate"),
                int(f.fundingTime) if f.fundingTime else None,
                int(f.ts),
                next_rate=_opt(f.nextFundingRate, "nextFundingRate"),
            )
            for f in messages.FUNDING.decode(raw)
        ]

    def _on_event(self, env: messages.Envelope) -> list[MarketEvent]:
        if env.event == "error":
            return [CodecError(self.venue, CodecErrorKind.VENUE_ERROR, f"{env.code}: {env.msg}")]
        return []  # subscribe / unsubscribe / login acknowledgements

    # -- requests out ------------------------------------------------------------------------

    def subscribe(self, args: Sequence[Mapping[str, str]]) -> bytes:
        return msgspec.json.encode({"op": "subscribe", "args": list(args)})

    def unsubscribe(self, args: Sequence[Mapping[str, str]]) -> bytes:
        return msgspec.json.encode({"op": "unsubscribe", "args": list(args)})

    def ping(self) -> bytes:
        return b"ping"  # OKX's keep-alive is the bare text, answered by "pong"

    def login(self, api_key: str, api_secret: str, passphrase: str, timestamp_s: str) -> bytes:
        """OKX login: base64(HMAC-SHA256(secret, `{timestamp}GET/users/self/verify`))."""
        message = f"{timestamp_s}GET/users/self/verify".encode()
        sign = base64.b64encode(hmac.new(api_secret.encode(), message, hashlib.sha256).digest())
        arg = {
            "apiKey": api_key,
            "passphrase": passphrase,
            "timestamp": timestamp_s,
            "sign": sign.decode(),
        }
        return msgspec.json.encode({"op": "login", "args": [arg]})

    def resync_frames(self, inst: str) -> list[bytes]:
        """Resubscribing makes OKX push a fresh snapshot."""
        state = self._states.get(inst)
        if state is None:
            return []
        arg = {"channel": state.channel, "instId": inst}
        return [self.unsubscribe([arg]), self.subscribe([arg])]


def book_arg(inst: str, channel: str = "books") -> dict[str, str]:
    return {"channel": channel, "instId": inst}


def _apply_text(texts: dict[int, str], levels: list[tuple[int, int]], raw: list[str]) -> None:
    for (price, size), text in zip(levels, raw, strict=True):
        if size:
            texts[price] = text
        else:
            texts.pop(price, None)


def _opt(text: str | None, what: str) -> Decimal | None:
    if text is None or text == "":
        return None
    return parse_decimal(text, what)
