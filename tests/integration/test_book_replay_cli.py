"""`arbiter book replay`: the recorded XRPUSDT stream end to end through the real CLI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from arbiter.cli import app
from tests.support.venue_frames import XRPUSDT_RECORDING, naive_bybit_replay, okx_book

runner = CliRunner()
JSON_KEYS = {
    "frames",
    "updates_applied",
    "gaps",
    "resyncs",
    "checksum_failures",
    "malformed",
    "frames_per_s",
    "p50_us",
    "p99_us",
    "p999_us",
    "books",
}


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["book", "replay", *args])
    return result.exit_code, result.output


def test_replay_when_xrpusdt_recording_reports_no_gap_and_naive_top_of_book() -> None:
    code, out = _run("--venue", "bybit", str(XRPUSDT_RECORDING), "--format", "json")

    assert code == 0
    report = json.loads(out)
    assert report.keys() >= JSON_KEYS
    assert (report["frames"], report["updates_applied"], report["gaps"]) == (50, 50, 0)
    assert report["resyncs"] == report["malformed"] == report["checksum_failures"] == 0
    bids, asks = naive_bybit_replay(XRPUSDT_RECORDING.read_bytes().splitlines())
    book = report["books"]["XRPUSDT"]
    assert Decimal(book["best_bid"]) == max(bids)
    assert Decimal(book["best_bid_size"]) == bids[max(bids)]
    assert Decimal(book["best_ask"]) == min(asks)
    assert Decimal(book["best_ask_size"]) == asks[min(asks)]
    assert (book["bid_levels"], book["ask_levels"]) == (len(bids), len(asks))
    assert report["p50_us"] > 0


def test_replay_when_text_format_prints_top_of_book_and_counts() -> None:
    code, out = _run("--venue", "bybit", str(XRPUSDT_RECORDING))
    assert code == 0
    assert "bybit:XRPUSDT  bid 1.9537 x 10605  ask 1.9538 x 6702  depth 500/500" in out
    assert "frames=50 updates_applied=50 gaps=0 resyncs=0" in out
    assert "p99.9=" in out


def test_replay_when_stream_has_gap_reports_it_and_exits_zero(tmp_path: Path) -> None:
    lines = XRPUSDT_RECORDING.read_bytes().splitlines()
    gapped = tmp_path / "gapped.data"
    gapped.write_bytes(b"\n".join(lines[:20] + lines[21:]) + b"\n")
    code, out = _run("--venue", "bybit", str(gapped), "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert (report["gaps"], report["resyncs"]) == (1, 1)
    assert report["books"]["XRPUSDT"]["stale"] is True


def test_replay_when_okx_stream_given_uses_okx_codec(tmp_path: Path) -> None:
    stream = tmp_path / "okx.data"
    bids, asks = [["100.1", "7"]], [["100.8", "9"]]
    stream.write_bytes(
        okx_book("snapshot", 5, -1, bids, asks)
        + b"\n"
        + okx_book("update", 6, 5, [], [])
        + b"\nnot json\n"
    )
    code, out = _run("--venue", "okx", str(stream), "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert (report["frames"], report["updates_applied"], report["malformed"]) == (3, 2, 1)
    assert report["books"]["BTC-USDT"]["best_bid"] == "100.1"


def test_replay_when_file_unreadable_exits_one(tmp_path: Path) -> None:
    code, _ = _run("--venue", "bybit", str(tmp_path / "missing.data"))
    assert code == 1


def test_replay_when_venue_unknown_is_a_usage_error() -> None:
    code, out = _run("--venue", "nope", str(XRPUSDT_RECORDING))
    assert code == 2
    assert "expected a venue with a market codec" in out
