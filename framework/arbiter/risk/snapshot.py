"""The read-only world a gate sees at decision time.

Gates run only when the cycle machine is about to act (a threshold crossing), never per tick,
so they may read live books directly: the depth a gate checks is the depth at that instant, not
a cached figure. Quantities here are in *base* units (coins); books that trade contracts are
converted through their instrument's contract value by the book adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from arbiter import clock as process_clock

BPS = Decimal(10_000)


class Side(StrEnum):
    BID = "bid"
    ASK = "ask"


class BookView(Protocol):
    """What a gate needs from one order book (venue units converted to base by the adapter)."""

    def best(self, side: Side) -> tuple[Decimal, Decimal] | None:
        """(price, base size) at the touch, or None for an empty side."""
        ...

    def depth_within(self, side: Side, bps: Decimal) -> Decimal:
        """Base size resting on `side` within `bps` of that side's touch."""
        ...

    def age_ms(self, now_ns: int) -> float:
        """Milliseconds since the book last changed or was confirmed current."""
        ...

    @property
    def stale(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class BalanceView:
    free: Decimal
    total: Decimal


LegKey = tuple[str, str]  # (venue account, venue symbol)


def _file_exists(path: str) -> bool:
    return Path(path).exists()


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """Everything a gate may read. Built by the runtime per decision; gates never mutate it."""

    now_ns: int
    wall_clock: datetime = field(
        default_factory=lambda: datetime.fromtimestamp(process_clock.wall_seconds(), UTC)
    )
    books: Mapping[LegKey, BookView] = field(default_factory=dict)
    balances: Mapping[tuple[str, str], BalanceView] = field(default_factory=dict)  # (venue, asset)
    position_notional: Mapping[str, Decimal] = field(default_factory=dict)  # pair id -> |quote|
    net_delta_notional: Mapping[str, Decimal] = field(default_factory=dict)  # asset -> signed quote
    funding_rates: Mapping[LegKey, Decimal] = field(default_factory=dict)
    venue_healthy: Mapping[str, bool] = field(default_factory=dict)
    open_cycles: Mapping[str, int] = field(default_factory=dict)  # pair id -> cycles not idle
    # direction -> the deciding pair's net entry spread in bps, as the spread engine last
    # computed it (VWAP at the pair's size, after taker fees on both legs); absent when unknown
    entry_spread_bps: Mapping[str, Decimal] = field(default_factory=dict)
    file_exists: Callable[[str], bool] = _file_exists
