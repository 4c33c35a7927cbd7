"""OKX v5 public WebSocket and REST message shapes, decoded with msgspec.

Field names are OKX's own. Decoding validates shape and types; the codec applies the rules.
"""

from __future__ import annotations

import msgspec


class Arg(msgspec.Struct):
    channel: str
    instId: str | None = None


class Envelope(msgspec.Struct):
    arg: Arg | None = None
    action: str | None = None
    data: msgspec.Raw = msgspec.Raw()  # empty when absent; Raw cannot sit in a union
    event: str | None = None
    code: str | None = None
    msg: str | None = None


class BookData(msgspec.Struct):
    asks: list[list[str]]
    bids: list[list[str]]
    ts: str
    checksum: int = 0
    prevSeqId: int | None = None
    seqId: int | None = None


class TickerData(msgspec.Struct):
    instId: str
    ts: str
    last: str | None = None
    bidPx: str | None = None
    bidSz: str | None = None
    askPx: str | None = None
    askSz: str | None = None


class TradeData(msgspec.Struct):
    instId: str
    tradeId: str
    px: str
    sz: str
    side: str
    ts: str


class FundingData(msgspec.Struct):
    instId: str
    fundingRate: str
    ts: str
    fundingTime: str | None = None
    nextFundingRate: str | None = None


ENVELOPE = msgspec.json.Decoder(Envelope)
BOOKS = msgspec.json.Decoder(list[BookData])
TICKERS = msgspec.json.Decoder(list[TickerData])
TRADES = msgspec.json.Decoder(list[TradeData])
FUNDING = msgspec.json.Decoder(list[FundingData])
