"""How far from hedged a strategy has been, per asset, and for how long it has been too far.

The risk monitor feeds it every check (`observe`); the object keeps its own figures: the worst
and the latest |net delta| in quote (what the run summary reports), and since when each asset
has been beyond its limit (what `max_unhedged_ms` is measured against).
"""

from __future__ import annotations

from decimal import Decimal

ZERO = Decimal(0)


class DeltaWatch:
    def __init__(self) -> None:
        self.worst: dict[str, Decimal] = {}  # asset -> worst |net delta| seen, in quote
        self.latest: dict[str, Decimal] = {}  # asset -> |net delta| at the last check
        self._over_since: dict[str, float] = {}  # asset -> beyond its limit since (seconds)

    def observe(self, asset: str, delta: Decimal, limit: Decimal, now: float) -> float:
        """Record `asset`'s net delta (quote) at `now`; how long it has been beyond `limit`
        (0 when within it)."""
        size = abs(delta)
        self.worst[asset] = max(self.worst.get(asset, ZERO), size)
        self.latest[asset] = size
        if size <= limit:
            self._over_since.pop(asset, None)
            return 0.0
        return now - self._over_since.setdefault(asset, now)
