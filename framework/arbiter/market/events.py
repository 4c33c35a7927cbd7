"""Normalized market-data events: what every venue codec emits, whatever the venue's dialect.

Book events carry integer levels in the scales of the book they were applied to (see
`arbiter.market.units`); the slower streams (tickers, trades, funding) carry `Decimal`.
A codec emits a book event only *after* it applied the update to its book, so a consumer that
sees `BookDelta` may read the book straight away.

Events are frozen `msgspec.Struct`s rather than frozen dataclasses: one is built per book update
on the hot path, and a frozen dataclass costs many times as much to construct.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

import msgspec

from arbiter.market.book import Level


class BookSnapshot(msgspec.Struct, frozen=True, gc=False):
    venue: str
    symbol: str
    bids: list[Level]
    asks: list[Level]
    update_id: int  # Bybit `u`, OKX `seqId`
    ts_ms: int  # venue's send time
    seq: int | None = None  # Bybit cross-topic `seq`
    cts_ms: int | None = None  # Bybit matching-engine time


class BookDelta(msgspec.Struct, frozen=True, gc=False):
    venue: str
    symbol: str
    bids: list[Level]  # absolute sizes; size 0 deletes the level
    asks: list[Level]
    update_id: int
    ts_ms: int
    seq: int | None = None
    cts_ms: int | None = None


class Ticker(msgspec.Struct, frozen=True):
    """Fields the frame did not carry are None (Bybit ticker deltas send only what changed)."""

    venue: str
    symbol: str
    ts_ms: int
    bid: Decimal | None = None
    bid_size: Decimal | None = None
    ask: Decimal | None = None
    ask_size: Decimal | None = None
    last: Decimal | None = None
    mark_price: Decimal | None = None
    index_price: Decimal | None = None
    funding_rate: Decimal | None = None


class TradeSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class Trade(msgspec.Struct, frozen=True):
    venue: str
    symbol: str
    trade_id: str
    price: Decimal
    size: Decimal
    side: TradeSide  # the taker's side
    ts_ms: int


class Funding(msgspec.Struct, frozen=True):
    venue: str
    symbol: str
    rate: Decimal
    next_funding_ms: int | None
    ts_ms: int
    next_rate: Decimal | None = None


class CodecErrorKind(StrEnum):
    BAD_JSON = "bad_json"  # not JSON, or not the shape the venue documents
    BAD_FIELD = "bad_field"  # a field missing, of the wrong type, or an impossible value
    UNKNOWN = "unknown"  # a well-formed frame the codec does not handle
    CROSSED = "crossed"  # best bid >= best ask after an update
    CHECKSUM = "checksum"  # OKX CRC32 mismatch
    VENUE_ERROR = "venue_error"  # the venue answered a request with an error


class CodecError(msgspec.Struct, frozen=True):
    """A frame the codec refused; the codec counted it and, if a book was involved, staled it."""

    venue: str
    kind: CodecErrorKind
    detail: str
    symbol: str | None = None


class ResyncRequested(msgspec.Struct, frozen=True):
    """A book went stale; the transport should fetch a new snapshot (resubscribe or REST)."""

    venue: str
    symbol: str
    reason: str
    channel: str  # the venue topic/channel to resubscribe


MarketEvent = BookSnapshot | BookDelta | Ticker | Trade | Funding | CodecError | ResyncRequested


class BookKey(NamedTuple):
    """One order book of one venue account: its account, product kind and symbol.

    Market events and books name their book by `book` ("account:kind", e.g. "bybit:spot"):
    one account can list a symbol on two products (Bybit's "BTCUSDT" is spot and linear)."""

    account: str
    kind: str
    symbol: str

    @property
    def book(self) -> str:
        return book_name(self.account, self.kind)


def book_name(account: str, kind: str) -> str:
    """The name events and books of `account`'s `kind` product carry (see `BookKey`)."""
    return f"{account}:{kind}"
