"""Private-stream fuzzing: whatever arrives, the codecs never raise and keep reading."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.venues import (
    ApiKeys,
    BalanceUpdate,
    Fill,
    OrderUpdate,
    PositionUpdate,
    PrivateCodec,
    StreamError,
    StreamReady,
    StreamRejected,
)
from arbiter_bybit.streams import BybitPrivateCodec
from arbiter_okx.streams import OkxPrivateCodec
from tests.support.json_mutations import json_values, mutate
from tests.support.venue_frames import fixture_bytes

EVENT_TYPES = (
    OrderUpdate,
    Fill,
    PositionUpdate,
    BalanceUpdate,
    StreamReady,
    StreamRejected,
    StreamError,
)
BYBIT_SEEDS = [
    fixture_bytes("bybit", "ws_account_order_filled.json"),
    fixture_bytes("bybit", "ws_account_execution.json"),
    b'{"topic":"position","creationTime":1,"data":[{"symbol":"BTCUSDT","side":"Sell","size":"1","avgPrice":"1","unrealisedPnl":"0","updatedTime":"1"}]}',
    b'{"topic":"wallet","creationTime":1,"data":[{"coin":[{"coin":"USDT","walletBalance":"1","locked":"0"}]}]}',
    b'{"op":"auth","success":true,"ret_msg":""}',
]
OKX_SEEDS = [
    fixture_bytes("okx", "ws_orders.json"),
    b'{"arg":{"channel":"positions"},"data":[{"instId":"BTC-USDT-SWAP","pos":"-1","avgPx":"1","upl":"0","uTime":"1"}]}',
    b'{"arg":{"channel":"account"},"data":[{"details":[{"ccy":"USDT","cashBal":"1","availBal":"1"}]}]}',
    b'{"event":"login","code":"0","msg":""}',
]


def _codecs() -> tuple[BybitPrivateCodec, OkxPrivateCodec]:
    bybit = BybitPrivateCodec(ApiKeys("k", "s"), "bybit", clock_ms=lambda: 1)
    okx = OkxPrivateCodec(ApiKeys("k", "s", "p"), "okx", clock_s=lambda: "1")
    return bybit, okx


def _feed(codec: PrivateCodec, frame: bytes | str) -> None:
    for event in codec.feed(frame, 0):
        assert isinstance(event, EVENT_TYPES)


@settings(derandomize=True, max_examples=300)
@given(st.lists(st.binary(max_size=80) | st.text(max_size=80), max_size=8))
def test_private_codecs_when_fed_random_bytes_never_raise(frames: list[bytes | str]) -> None:
    bybit, okx = _codecs()
    for frame in frames:
        _feed(bybit, frame)
        _feed(okx, frame)
    assert bybit.stats.frames == okx.stats.frames == len(frames)


@settings(derandomize=True, max_examples=500)
@given(
    st.integers(0, len(BYBIT_SEEDS) - 1),
    st.integers(0, len(OKX_SEEDS) - 1),
    st.lists(st.integers(0, 7), min_size=1, max_size=6),
    json_values,
)
def test_private_codecs_when_fed_mutated_frames_never_raise_and_read_the_next(
    bybit_seed: int, okx_seed: int, path: list[int], value: Any
) -> None:
    bybit, okx = _codecs()
    _feed(bybit, mutate(BYBIT_SEEDS[bybit_seed], path, value))
    _feed(okx, mutate(OKX_SEEDS[okx_seed], path, value))
    # The reader carries on: an intact frame after the mutated one still decodes.
    assert [type(e) for e in bybit.feed(BYBIT_SEEDS[0], 0)] == [OrderUpdate]
    assert [type(e) for e in okx.feed(OKX_SEEDS[0], 0)] == [Fill, OrderUpdate]
