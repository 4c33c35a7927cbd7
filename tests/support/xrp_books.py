"""Books for gate tests: the real Bybit XRPUSDT recording, applied by the real codec.

Expected figures in the tests are computed from the fixture's raw levels with plain Decimal
arithmetic here, independently of the book and the view under test.
"""

from __future__ import annotations

import json
from decimal import Decimal

from arbiter.market.book import OrderBook
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.risk.book_view import OrderBookView
from arbiter.risk.snapshot import BPS
from arbiter_bybit.codec import BybitCodec
from tests.support.venue_frames import XRPUSDT_RECORDING

XRP_SPOT = Instrument(
    "bybit", "XRPUSDT", InstrumentKind.SPOT, "XRP", "USDT", Decimal("0.0001"), Decimal("0.01")
)


def _snapshot_frame() -> bytes:
    return XRPUSDT_RECORDING.read_bytes().splitlines()[0]


def xrp_book(size_factor: Decimal = Decimal(1)) -> OrderBook:
    """The recording's 500x500 snapshot in a real book, sizes scaled by `size_factor`."""
    frame = json.loads(_snapshot_frame())
    for side in ("b", "a"):
        frame["data"][side] = [[p, str(Decimal(s) * size_factor)] for p, s in frame["data"][side]]
    codec = BybitCodec([XRP_SPOT])
    codec.feed(json.dumps(frame).encode())
    book = codec.books["XRPUSDT"]
    assert not book.stale, book.stale_reason
    return book


def xrp_view(size_factor: Decimal = Decimal(1), instrument: Instrument = XRP_SPOT) -> OrderBookView:
    return OrderBookView(xrp_book(size_factor), instrument)


def raw_depth_within(side: str, bps: Decimal, size_factor: Decimal = Decimal(1)) -> Decimal:
    """Depth straight from the fixture's JSON levels: the independent expectation."""
    levels = [
        (Decimal(p), Decimal(s) * size_factor)
        for p, s in json.loads(_snapshot_frame())["data"][side]
    ]
    touch = levels[0][0]
    if side == "b":
        return sum((s for p, s in levels if p >= touch * (1 - bps / BPS)), Decimal(0))
    return sum((s for p, s in levels if p <= touch * (1 + bps / BPS)), Decimal(0))
