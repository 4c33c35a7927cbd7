"""OKX's legacy order-book checksum (the `checksum` field of `books` pushes).

CRC32 over the top 25 levels, bid and ask interleaved as `price:size` (bid1:ask1:bid2:ask2...,
the shorter side simply ends), joined by `:`, using the strings exactly as received (OKX computes
it over its own text, so "0.10" and "0.1" differ), read as a signed 32-bit integer.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

CHECKSUM_DEPTH = 25


def okx_checksum(bids: Sequence[str], asks: Sequence[str]) -> int:
    """`bids`/`asks`: "price:size" texts, best first; only the first 25 of each count."""
    parts: list[str] = []
    for i in range(CHECKSUM_DEPTH):
        if i < len(bids):
            parts.append(bids[i])
        if i < len(asks):
            parts.append(asks[i])
    return signed_crc32(":".join(parts).encode())


def signed_crc32(data: bytes) -> int:
    """CRC-32 of `data` (zlib's), read as OKX sends it: a signed 32-bit integer."""
    crc = zlib.crc32(data)
    return crc - (1 << 32) if crc >= 1 << 31 else crc
