"""Venue frames for the fast-lane tests: recorded fixtures, hand-built book frames, and plain
references (OKX's checksum, a naive Bybit replay) to check the codecs against. No I/O beyond
files."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
VENUE_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "venues"  # venue messages, see its README
XRPUSDT_RECORDING = VENUE_FIXTURES / "bybit" / "2024-12-01_XRPUSDT_ob500.data"


def fixture_bytes(venue: str, name: str) -> bytes:
    return (VENUE_FIXTURES / venue / name).read_bytes()


def bybit_book(
    kind: str,
    u: int,
    bids: list[list[str]],
    asks: list[list[str]],
    symbol: str = "BTCUSDT",
    ts: int = 1_700_000_000_000,
    seq: int | None = None,
    **extra: Any,
) -> bytes:
    data: dict[str, Any] = {"s": symbol, "b": bids, "a": asks, "u": u}
    if seq is not None:
        data["seq"] = seq
    frame = {"topic": f"orderbook.50.{symbol}", "type": kind, "ts": ts, "data": data, **extra}
    return json.dumps(frame).encode()


def okx_book(
    action: str | None,
    seq: int,
    prev: int,
    bids: list[list[str]],
    asks: list[list[str]],
    inst: str = "BTC-USDT",
    channel: str = "books",
    checksum: int | None = None,
    ts: str = "1700000000000",
) -> bytes:
    """An OKX book push; checksum computed from the levels unless given (0 = not provided)."""
    if checksum is None:
        checksum = reference_checksum(bids, asks)
    data = {
        "asks": [[*level, "0", "1"] for level in asks],
        "bids": [[*level, "0", "1"] for level in bids],
        "ts": ts,
        "checksum": checksum,
        "prevSeqId": prev,
        "seqId": seq,
    }
    frame: dict[str, Any] = {"arg": {"channel": channel, "instId": inst}, "data": [data]}
    if action is not None:
        frame["action"] = action
    return json.dumps(frame).encode()


def reference_checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """OKX's documented algorithm written out plainly, independent of the codec's version.

    Only valid for a *whole* book given best-first (snapshots in these tests).
    """
    parts = []
    for i in range(25):
        if i < len(bids):
            parts.append(f"{bids[i][0]}:{bids[i][1]}")
        if i < len(asks):
            parts.append(f"{asks[i][0]}:{asks[i][1]}")
    value = zlib.crc32(":".join(parts).encode())
    return value - 2**32 if value > 2**31 - 1 else value


def naive_bybit_replay(lines: list[bytes]) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    """The simplest correct book: Decimal dicts, snapshot replaces, size 0 deletes."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for line in lines:
        msg = json.loads(line)
        if msg["type"] == "snapshot":
            bids.clear()
            asks.clear()
        for side, key in ((bids, "b"), (asks, "a")):
            for price, size in msg["data"][key]:
                if Decimal(size) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(size)
    return bids, asks
