"""Replay helpers: percentiles and the report shape used by `arbiter book replay`."""

from __future__ import annotations

from arbiter.market.replay import percentile_us, replay
from arbiter_bybit import BybitCodec
from tests.support.venue_frames import bybit_book


def test_percentile_when_samples_given_uses_nearest_rank() -> None:
    samples = [i * 1_000 for i in range(1, 101)]  # 1..100 us
    assert percentile_us(samples, 50) == 50.0
    assert percentile_us(samples, 99) == 99.0
    assert percentile_us(samples, 99.9) == 100.0
    assert percentile_us([], 50) == 0.0


def test_replay_when_blank_lines_present_skips_them_and_counts_frames() -> None:
    frames = [bybit_book("snapshot", 1, [["1.5", "2"]], [["1.6", "3"]]), b"", b"   "]
    report = replay(BybitCodec(), frames).as_dict()
    assert report["frames"] == 1
    assert report["books"]["BTCUSDT"]["best_bid"] == "1.5"
    assert report["books"]["BTCUSDT"]["best_ask_size"] == "3"
