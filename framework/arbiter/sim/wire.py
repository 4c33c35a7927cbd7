"""Number formatting and JSON encoding shared by the wire dialects: the hot path.

A book update prints dozens of prices and sizes; the same tick and lot counts recur step after
step, so each is formatted once per instrument grid and then looked up.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

import msgspec

_MEMO_LIMIT = 1 << 16

# A frame as compact UTF-8 JSON bytes, sent as a text frame without encoding it again.
encode = msgspec.json.Encoder().encode


def plain(value: Decimal) -> str:
    """Decimal in plain notation without trailing zeros or exponent, as both venues print."""
    return format(value.normalize(), "f") if value else "0"


class GridText:
    """The wire text of multiples of one step (an instrument's tick or lot), memoised.

    Fetch one per update (`grid_text(inst.tick_size)`) and call it per level: the lookup
    hashes an int, not a Decimal.
    """

    __slots__ = ("_memo", "step")

    def __init__(self, step: Decimal) -> None:
        self.step = step
        self._memo: dict[int, str] = {}

    def __call__(self, count: int) -> str:
        text = self._memo.get(count)
        if text is None:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()  # a market that wandered far: forget the old prices
            text = self._memo[count] = plain(self.step * count)
        return text


@lru_cache(maxsize=256)
def grid_text(step: Decimal) -> GridText:
    return GridText(step)


def grid(step: Decimal, count: int) -> str:
    """`count` multiples of `step` (ticks or lots) as a wire string."""
    return grid_text(step)(count)
