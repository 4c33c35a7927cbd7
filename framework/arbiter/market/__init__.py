"""Market data, the fast lane: instruments, L2 books, normalized events, the spread engine."""

from arbiter.market.book import OrderBook, Side
from arbiter.market.codec import CodecStats, MarketCodec, load_codec
from arbiter.market.events import (
    BookDelta,
    BookKey,
    BookSnapshot,
    CodecError,
    CodecErrorKind,
    Funding,
    MarketEvent,
    ResyncRequested,
    Ticker,
    Trade,
    TradeSide,
    book_name,
)
from arbiter.market.handoff import Coalesced, CoalescingHub, Subscription
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.market.spread import LegRef, PairSpec, SignalKind, SpreadEngine, SpreadSignal

__all__ = [
    "BookDelta",
    "BookKey",
    "BookSnapshot",
    "Coalesced",
    "CoalescingHub",
    "CodecError",
    "CodecErrorKind",
    "CodecStats",
    "Funding",
    "Instrument",
    "InstrumentKind",
    "LegRef",
    "MarketCodec",
    "MarketEvent",
    "OrderBook",
    "PairSpec",
    "ResyncRequested",
    "Side",
    "SignalKind",
    "SpreadEngine",
    "SpreadSignal",
    "Subscription",
    "Ticker",
    "Trade",
    "TradeSide",
    "book_name",
    "load_codec",
]
