"""Bybit v5 public WebSocket message shapes, decoded with msgspec.

Field names are Bybit's own. Decoding validates shape and types; the codec applies the rules.
"""

from __future__ import annotations

import msgspec


class Envelope(msgspec.Struct):
    topic: str | None = None
    type: str | None = None
    ts: int | None = None
    cts: int | None = None
    data: msgspec.Raw = msgspec.Raw()  # empty when absent; Raw cannot sit in a union
    # control frames (subscribe/ping/auth answers)
    op: str | None = None
    success: bool | None = None
    ret_msg: str | None = None


# Book structs skip the cycle collector (gc=False): one of each is decoded per update, lives
# for a single `feed` call and holds only strings, ints and lists of strings, never a cycle.
class BookData(msgspec.Struct, gc=False):
    s: str
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]
    u: int
    seq: int | None = None


class RawBookData(msgspec.Struct, gc=False):
    """`BookData` with each side's levels left as the JSON bytes received (the book parses
    them itself; see `OrderBook.apply_next_json`)."""

    s: str
    b: msgspec.Raw
    a: msgspec.Raw
    u: int
    seq: int | None = None


class RawBookFrame(msgspec.Struct, gc=False):
    """A book frame decoded for the delta fast path: the hot path's only JSON work."""

    topic: str
    type: str
    ts: int
    data: RawBookData
    cts: int | None = None


class BookFrame(msgspec.Struct, gc=False):
    """The whole book frame in one typed decode (snapshots and anything off the fast path)."""

    topic: str
    type: str
    ts: int
    data: BookData
    cts: int | None = None


class TradeData(msgspec.Struct):
    T: int
    s: str
    S: str
    v: str
    p: str
    i: str


class TickerData(msgspec.Struct):
    symbol: str
    bid1Price: str | None = None
    bid1Size: str | None = None
    ask1Price: str | None = None
    ask1Size: str | None = None
    lastPrice: str | None = None
    markPrice: str | None = None
    indexPrice: str | None = None
    fundingRate: str | None = None
    nextFundingTime: str | None = None


ENVELOPE = msgspec.json.Decoder(Envelope)
BOOK = msgspec.json.Decoder(BookData)
RAW_BOOK_FRAME = msgspec.json.Decoder(RawBookFrame)
TRADES = msgspec.json.Decoder(list[TradeData])
TICKER = msgspec.json.Decoder(TickerData)
