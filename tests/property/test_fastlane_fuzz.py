"""Malformed-frame fuzzing: whatever arrives, the pipeline never raises and recovers on a snapshot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.market import (
    BookDelta,
    BookSnapshot,
    CodecError,
    Funding,
    Instrument,
    InstrumentKind,
    LegRef,
    PairSpec,
    ResyncRequested,
    SpreadEngine,
    Ticker,
    Trade,
)
from arbiter_bybit import BybitCodec
from arbiter_okx import OkxCodec
from tests.support.json_mutations import json_values, mutate
from tests.support.venue_frames import bybit_book, okx_book

EVENT_TYPES = (BookSnapshot, BookDelta, Ticker, Trade, Funding, CodecError, ResyncRequested)


def _pipeline() -> tuple[BybitCodec, OkxCodec, SpreadEngine]:
    spot = Instrument(
        "bybit", "BTCUSDT", InstrumentKind.SPOT, "BTC", "USDT", Decimal("0.01"), Decimal("0.001")
    )
    perp = Instrument(
        "okx", "BTC-USDT", InstrumentKind.PERP, "BTC", "USDT", Decimal("0.01"), Decimal("0.001")
    )
    bybit, okx = BybitCodec(), OkxCodec()
    pair = PairSpec(
        "p",
        LegRef("bybit", "BTCUSDT"),
        LegRef("okx", "BTC-USDT"),
        Decimal("0.01"),
        Decimal(1),
        Decimal(0),
    )
    engine = SpreadEngine([pair], [spot, perp], {"bybit": bybit.books, "okx": okx.books})
    return bybit, okx, engine


def _feed(codec: BybitCodec | OkxCodec, engine: SpreadEngine, frame: bytes) -> list[Any]:
    events = codec.feed(frame)
    for event in events:
        assert isinstance(event, EVENT_TYPES)
        symbol = getattr(event, "symbol", None)
        if symbol is not None:
            engine.mark_dirty(codec.venue, symbol)
    engine.recompute()
    return events


BYBIT_SEEDS = [
    bybit_book("snapshot", 5, [["100.00", "1"]], [["100.50", "2"]]),
    bybit_book("delta", 6, [["100.00", "0"], ["99.90", "1"]], [["100.40", "1"]]),
    b'{"topic":"tickers.BTCUSDT","type":"snapshot","ts":1,"data":{"symbol":"BTCUSDT","fundingRate":"0.0001"}}',
    b'{"topic":"publicTrade.BTCUSDT","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"1","i":"a"}]}',
]
OKX_SEEDS = [
    okx_book("snapshot", 5, -1, [["100.0", "1"]], [["100.5", "2"]]),
    okx_book("update", 6, 5, [["99.9", "1"]], [], checksum=0),
    b'{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","ts":"1","last":"1"}]}',
    b'{"arg":{"channel":"funding-rate","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","fundingRate":"0.1","ts":"1"}]}',
]


@settings(derandomize=True, max_examples=400)
@given(st.lists(st.binary(max_size=80) | st.text(max_size=80), max_size=10))
def test_codecs_when_fed_random_bytes_never_raise(frames: list[bytes | str]) -> None:
    bybit, okx, engine = _pipeline()
    for frame in frames:
        raw = frame.encode() if isinstance(frame, str) else frame
        _feed(bybit, engine, raw)
        _feed(okx, engine, raw)
    assert bybit.stats.frames == okx.stats.frames == len(frames)


@settings(derandomize=True, max_examples=600)
@given(
    st.integers(0, len(BYBIT_SEEDS) - 1),
    st.integers(0, len(OKX_SEEDS) - 1),
    st.lists(st.integers(0, 7), min_size=1, max_size=5),
    json_values,
)
def test_codecs_when_fed_mutated_frames_never_raise_and_resync_on_snapshot(
    bybit_seed: int, okx_seed: int, path: list[int], value: Any
) -> None:
    bybit, okx, engine = _pipeline()
    _feed(bybit, engine, BYBIT_SEEDS[0])
    _feed(okx, engine, OKX_SEEDS[0])

    _feed(bybit, engine, mutate(BYBIT_SEEDS[bybit_seed], path, value))
    _feed(okx, engine, mutate(OKX_SEEDS[okx_seed], path, value))

    # Whatever the mutation did, a fresh snapshot brings each book back.
    _feed(bybit, engine, bybit_book("snapshot", 50, [["100.00", "1"]], [["100.50", "2"]]))
    _feed(okx, engine, okx_book("snapshot", 50, -1, [["100.0", "1"]], [["100.5", "2"]]))
    assert not bybit.books["BTCUSDT"].stale
    assert not okx.books["BTC-USDT"].stale
