"""Safety-gate rules: a discriminated union on `type`.

A gate is a named rule that must hold before the transitions it is attached to (`when`). The
manifest only declares gates; `arbiter.risk` evaluates them against live books, balances and
positions. Each model checks what it can alone; references to pairs and venues are checked by
`arbiter.manifest.references` against the whole manifest.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator

from arbiter.manifest.types import (
    Bps,
    Dec,
    Interpolated,
    Millis,
    Name,
    NonNegativeDec,
    PositiveDec,
    PositiveInt,
    Strict,
)

# Built-in guards on the cycle machine (bound by `arbiter.compiler.plan`), counted and reported
# beside the gates under these names: a gate may not take one.
MIN_PROFIT_GUARD = "min_profit"
RESERVED_GATE_NAMES: dict[str, str] = {
    MIN_PROFIT_GUARD: "the built-in check of thresholds.min_profit_bps is reported under it",
}


class Hook(StrEnum):
    BEFORE_ENTRY = "before_entry"
    BEFORE_EXIT = "before_exit"
    ALWAYS = "always"


class LegRole(StrEnum):
    """Which leg of a pair a gate looks at: `spot`/`perp` for spot-perp pairs, `a`/`b` for spot-spot."""

    SPOT = "spot"
    PERP = "perp"
    A = "a"
    B = "b"
    ALL = "all"


class BookSide(StrEnum):
    BID = "bid"
    ASK = "ask"
    AUTO = "auto"  # the side this leg's order consumes in the direction being entered


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


Hooks = Annotated[list[Hook], BeforeValidator(_as_list), Field(min_length=1)]


class _Gate(Strict):
    name: Name
    when: Hooks = Field(
        description="transitions the gate guards: before_entry, before_exit, always"
    )
    pairs: list[Name] | None = Field(
        default=None, description="pair ids it applies to; all when omitted"
    )

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        why = RESERVED_GATE_NAMES.get(value)
        if why is not None:
            raise ValueError(f"gate name {value!r} is reserved ({why}); choose another name")
        return value


class MinDepth(_Gate):
    """The book of one leg must hold enough size within a distance of its touch.

    The reference gate, "never buy spot unless the perp book can absorb the hedge", is
    `leg: perp, side: auto, within_bps: 10, min_order_multiple: 3`.
    """

    type: Literal["min_depth"]
    leg: LegRole
    side: BookSide = BookSide.AUTO
    within_bps: Bps
    min_notional: PositiveDec | None = None
    min_order_multiple: PositiveDec | None = Field(
        default=None, description="multiple of the cycle's order size"
    )

    @model_validator(mode="after")
    def _one_threshold(self) -> MinDepth:
        if (self.min_notional is None) == (self.min_order_multiple is None):
            raise ValueError("expected exactly one of min_notional or min_order_multiple")
        if self.leg is LegRole.ALL:
            raise ValueError("expected one leg (spot, perp, a or b), was all")
        return self


class MaxBookAge(_Gate):
    type: Literal["max_book_age_ms"]
    leg: LegRole = LegRole.ALL
    max_age_ms: Millis


class MaxSpread(_Gate):
    """The bid/ask spread of one book (not the arbitrage spread) must be at most `max_bps`."""

    type: Literal["max_spread_bps"]
    leg: LegRole = LegRole.ALL
    max_bps: Bps


class MinBalance(_Gate):
    type: Literal["min_balance"]
    venue: Name
    asset: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,12}$")]
    min_free: NonNegativeDec


class MaxPosition(_Gate):
    type: Literal["max_position"]
    max_notional: PositiveDec


class MaxNetDelta(_Gate):
    type: Literal["max_net_delta"]
    max_notional: PositiveDec


class FundingRate(_Gate):
    """Bounds on the perp leg's current funding rate (a fraction per funding interval)."""

    type: Literal["funding_rate"]
    min_rate: Dec | None = None
    max_rate: Dec | None = None

    @model_validator(mode="after")
    def _bounds(self) -> FundingRate:
        if self.min_rate is None and self.max_rate is None:
            raise ValueError("expected min_rate, max_rate or both")
        if (
            self.min_rate is not None
            and self.max_rate is not None
            and self.min_rate > self.max_rate
        ):
            raise ValueError(
                f"expected min_rate <= max_rate, was {self.min_rate} > {self.max_rate}"
            )
        return self


class VenueHealthy(_Gate):
    type: Literal["venue_healthy"]
    venues: list[Name] | None = Field(default=None, description="venue accounts; all when omitted")


class MaxOpenCycles(_Gate):
    type: Literal["max_open_cycles"]
    max_cycles: PositiveInt


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class TradingWindow(_Gate):
    """Entries only inside a daily window (UTC). `start > end` wraps past midnight."""

    type: Literal["trading_window"]
    start: str = Field(description="HH:MM, UTC")
    end: str = Field(description="HH:MM, UTC")
    days: list[Weekday] = Field(default_factory=lambda: list(_WEEKDAYS), min_length=1)

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"expected a time HH:MM (00:00 to 23:59), was {value!r}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> TradingWindow:
        if self.start == self.end:
            raise ValueError(f"expected start != end (an empty window), both were {self.start}")
        return self


class KillSwitch(_Gate):
    """Fails while `file` exists: touching it halts every strategy that declares this gate."""

    type: Literal["kill_switch"]
    file: Interpolated = Field(min_length=1)


Gate = Annotated[
    Annotated[MinDepth, Tag("min_depth")]
    | Annotated[MaxBookAge, Tag("max_book_age_ms")]
    | Annotated[MaxSpread, Tag("max_spread_bps")]
    | Annotated[MinBalance, Tag("min_balance")]
    | Annotated[MaxPosition, Tag("max_position")]
    | Annotated[MaxNetDelta, Tag("max_net_delta")]
    | Annotated[FundingRate, Tag("funding_rate")]
    | Annotated[VenueHealthy, Tag("venue_healthy")]
    | Annotated[MaxOpenCycles, Tag("max_open_cycles")]
    | Annotated[TradingWindow, Tag("trading_window")]
    | Annotated[KillSwitch, Tag("kill_switch")],
    Discriminator("type"),
]

GATE_TYPES: tuple[str, ...] = (
    "min_depth",
    "max_book_age_ms",
    "max_spread_bps",
    "min_balance",
    "max_position",
    "max_net_delta",
    "funding_rate",
    "venue_healthy",
    "max_open_cycles",
    "trading_window",
    "kill_switch",
)
