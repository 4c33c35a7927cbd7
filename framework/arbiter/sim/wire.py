"""Number formatting shared by the wire dialects, cached because it is the hot path.

A book update prints dozens of prices and sizes; the same tick and lot counts recur step after
step, so each (step, count) pair is formatted once.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache


def plain(value: Decimal) -> str:
    """Decimal in plain notation without trailing zeros or exponent, as both venues print."""
    return format(value.normalize(), "f") if value else "0"


@lru_cache(maxsize=1 << 16)
def grid(step: Decimal, count: int) -> str:
    """`count` multiples of `step` (ticks or lots) as a wire string."""
    return plain(step * count)
