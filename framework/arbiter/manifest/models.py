"""The strategy manifest: one YAML file describing one strategy.

Each section is a frozen pydantic model with `extra="forbid"`. Checks that need one section
only live on that section; checks across sections (a pair naming a venue that is not declared)
live in `arbiter.manifest.references`, so their errors can point at the exact field; checks
against what the venues list live in `arbiter.manifest.listings`.

Rules kept here:
- every setting is read by the runtime; one that was dropped stays in `REMOVED_FIELDS`, so a
  manifest still carrying it is told what to use instead, at the field's line and column;
- names the runtime gives its own things are refused as ids (`RESERVED_PAIR_IDS` here,
  `RESERVED_GATE_NAMES` in `arbiter.manifest.gates`), so a pair's orders and counts are never mistaken for the hedger's
  or a built-in guard's;
- a leg's role fixes the product it trades (`LEG_KINDS`): spot, perp, a and b legs, and hedge
  instruments (`HEDGE_INSTRUMENT_KIND`).
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from arbiter.manifest.gates import Gate
from arbiter.manifest.types import (
    Bps,
    EnvName,
    Interpolated,
    Millis,
    Name,
    PositiveDec,
    Ratio,
    Seconds,
    Strict,
)

FORMAT_VERSION = 1
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

# The runtime names every hedge order (strategy, "hedge", n, "hedge.<asset>") in the pair field
# of its intent id; a pair with that id would have its fills booked as hedge fills.
HEDGE_PAIR_ID = "hedge"
RESERVED_PAIR_IDS: dict[str, str] = {
    HEDGE_PAIR_ID: "the hedger's orders carry it as their pair",
}

# (parent section, field) -> what to write instead; the loader reports it at the field.
REMOVED_FIELDS: dict[tuple[str, str], str] = {
    ("sizing", "max_open_cycles"): (
        "no longer a setting (a pair runs one cycle at a time); to cap the cycles open "
        "across the strategy's pairs, declare a gate "
        "{ name: cycles-cap, type: max_open_cycles, when: before_entry, max_cycles: N }"
    ),
}

# role -> the product a leg in that role trades
LEG_KINDS: dict[str, str] = {"spot": "spot", "perp": "perp", "a": "spot", "b": "spot"}
HEDGE_INSTRUMENT_KIND = "perp"

_LITERAL_SECRET_KEYS = frozenset(
    {"api_key", "key", "secret", "api_secret", "passphrase", "password", "token"}
)


class StrategyInfo(Strict):
    name: Name = Field(description="unique id of the strategy within a runtime")
    description: str = ""
    version: Literal[1] = Field(description="manifest format version")


class Credentials(Strict):
    """Where the keys are, never the keys: environment variable names or a secrets file."""

    api_key_env: EnvName | None = None
    api_secret_env: EnvName | None = None
    passphrase_env: EnvName | None = None
    secrets_file: Interpolated | None = Field(
        default=None, description="path of a YAML/JSON file holding api_key, api_secret, passphrase"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_literal_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            literal = sorted(k for k in data if isinstance(k, str) and k in _LITERAL_SECRET_KEYS)
            if literal:
                raise ValueError(
                    f"literal credentials are not allowed in a manifest ({', '.join(literal)}); "
                    "name environment variables with api_key_env / api_secret_env / passphrase_env, "
                    "or point secrets_file at a file outside the repository"
                )
        return data

    @model_validator(mode="after")
    def _complete(self) -> Credentials:
        if self.secrets_file is None and (self.api_key_env is None or self.api_secret_env is None):
            raise ValueError("expected api_key_env and api_secret_env, or secrets_file")
        return self


class Endpoint(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"
    SIM = "sim"


class Urls(Strict):
    rest: Interpolated | None = Field(default=None, pattern=r"^https?://")
    ws_public: Interpolated | None = Field(default=None, pattern=r"^wss?://")
    ws_private: Interpolated | None = Field(default=None, pattern=r"^wss?://")


class Venue(Strict):
    plugin: Name = Field(description="venue plugin name, e.g. bybit or okx")
    credentials: Credentials | None = Field(
        default=None, description="required unless endpoint is sim"
    )
    endpoint: Endpoint = Endpoint.SIM
    urls: Urls | None = Field(default=None, description="override the endpoint's URLs")

    @model_validator(mode="after")
    def _credentials_for_real_venues(self) -> Venue:
        if self.endpoint is not Endpoint.SIM and self.credentials is None:
            raise ValueError(f"expected credentials for endpoint {self.endpoint.value}")
        return self


class LegRef(Strict):
    venue: Name = Field(description="a key of `venues`")
    symbol: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_/:.-]+$")]


class Thresholds(Strict):
    """Spreads in basis points, measured after taker fees on both legs at the order size."""

    entry_bps: Bps = Field(description="enter when the net entry spread reaches this")
    exit_bps: Annotated[Bps, Field(description="exit when the net spread converges to this")]
    min_profit_bps: Bps = Field(
        description="minimum expected round-trip profit after all fees, checked at each entry: "
        "the net entry spread at the decision less exit_bps must reach it"
    )
    hysteresis_bps: Bps = Field(
        default=Decimal(0), description="a crossing must retreat this far to re-arm"
    )
    cooldown_s: Seconds = 0

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.exit_bps >= self.entry_bps:
            raise ValueError(
                f"expected exit_bps < entry_bps, was {self.exit_bps} >= {self.entry_bps}"
            )
        if self.hysteresis_bps >= self.entry_bps - self.exit_bps:
            raise ValueError(
                f"expected hysteresis_bps < entry_bps - exit_bps ({self.entry_bps - self.exit_bps}), "
                f"was {self.hysteresis_bps}"
            )
        if self.min_profit_bps > self.entry_bps - self.exit_bps:
            raise ValueError(
                f"expected min_profit_bps <= entry_bps - exit_bps ({self.entry_bps - self.exit_bps}), "
                f"was {self.min_profit_bps}: no cycle could ever qualify"
            )
        return self


class Sizing(Strict):
    order_notional: PositiveDec | None = Field(default=None, description="quote currency per cycle")
    order_qty: PositiveDec | None = Field(default=None, description="base units per cycle")
    max_position_notional: PositiveDec = Field(description="per pair, in quote currency")

    @model_validator(mode="after")
    def _one_size(self) -> Sizing:
        if (self.order_notional is None) == (self.order_qty is None):
            raise ValueError("expected exactly one of order_notional or order_qty")
        if self.order_notional is not None and self.order_notional > self.max_position_notional:
            raise ValueError(
                f"expected order_notional <= max_position_notional, was {self.order_notional} > "
                f"{self.max_position_notional}"
            )
        return self


class SpotPerpDirection(StrEnum):
    BUY_SPOT_SHORT_PERP = "buy_spot_short_perp"
    SELL_SPOT_LONG_PERP = "sell_spot_long_perp"
    BOTH = "both"


class SpotSpotDirection(StrEnum):
    BUY_A_SELL_B = "buy_a_sell_b"
    BUY_B_SELL_A = "buy_b_sell_a"
    BOTH = "both"


Asset = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,12}$", description="coin code, e.g. BTC")]


class _Pair(Strict):
    id: Name
    asset: Asset = Field(description="the base asset both legs trade; net delta is kept per asset")
    thresholds: Thresholds | None = Field(
        default=None, description="overrides the strategy's thresholds"
    )
    sizing: Sizing | None = Field(default=None, description="overrides the strategy's sizing")

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        why = RESERVED_PAIR_IDS.get(value)
        if why is not None:
            raise ValueError(f"pair id {value!r} is reserved ({why}); choose another id")
        return value


class SpotPerpPair(_Pair):
    type: Literal["spot_perp"]
    spot: LegRef
    perp: LegRef
    direction: SpotPerpDirection = SpotPerpDirection.BUY_SPOT_SHORT_PERP

    def legs(self) -> tuple[tuple[str, LegRef], ...]:
        """(role, leg) of both legs; `LEG_KINDS[role]` is the product each trades."""
        return (("spot", self.spot), ("perp", self.perp))


class SpotSpotPair(_Pair):
    type: Literal["spot_spot"]
    a: LegRef
    b: LegRef
    direction: SpotSpotDirection = SpotSpotDirection.BOTH

    def legs(self) -> tuple[tuple[str, LegRef], ...]:
        """(role, leg) of both legs; `LEG_KINDS[role]` is the product each trades."""
        return (("a", self.a), ("b", self.b))

    @model_validator(mode="after")
    def _distinct(self) -> SpotSpotPair:
        if self.a == self.b:
            raise ValueError(
                f"expected two different legs, both are {self.a.venue}:{self.a.symbol}"
            )
        return self


Pair = Annotated[
    Annotated[SpotPerpPair, Tag("spot_perp")] | Annotated[SpotSpotPair, Tag("spot_spot")],
    Discriminator("type"),
]


class Hedge(Strict):
    ratio: Ratio = Field(
        default=Decimal(1), description="perp base quantity per unit of spot inventory"
    )
    instruments: dict[Asset, LegRef] = Field(
        default_factory=dict,
        description="hedge instrument per base asset; default: the perp leg of the asset's first pair",
    )
    band_notional: PositiveDec = Field(description="net delta tolerated before hedging, in quote")
    interval_s: Annotated[int, Field(gt=0, le=86_400)] = 10
    max_order_notional: PositiveDec = Field(description="largest single hedge order, in quote")

    @model_validator(mode="after")
    def _band_fits(self) -> Hedge:
        if self.max_order_notional < self.band_notional / 10:
            raise ValueError(
                f"expected max_order_notional >= band_notional / 10 ({self.band_notional / 10}), "
                f"was {self.max_order_notional}: the hedger could not keep up with its own band"
            )
        return self


class OrderType(StrEnum):
    LIMIT_IOC = "limit_ioc"
    MARKET = "market"


class RepairPolicy(StrEnum):
    CHASE = "chase"  # re-price the missing leg in bounded steps
    UNWIND = "unwind"  # close the filled leg
    HEDGE = "hedge"  # hand the residual to the slow-lane hedger


class Repair(Strict):
    policy: RepairPolicy = RepairPolicy.CHASE
    max_chase_steps: Annotated[int, Field(ge=0, le=20)] = 3
    chase_step_bps: Bps = Decimal(2)


class Retry(Strict):
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    backoff_ms: Millis = 200


class Execution(Strict):
    order_type: OrderType = OrderType.LIMIT_IOC
    max_slippage_bps: Bps = Decimal(5)
    leg_timeout_ms: Millis = 2_000
    repair: Repair = Field(default_factory=Repair)
    retry: Retry = Field(default_factory=Retry)


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class Risk(Strict):
    max_net_delta_notional: PositiveDec
    max_unhedged_ms: Millis = Field(
        default=5_000, description="a one-legged position older than this halts the pair"
    )
    daily_loss_limit: PositiveDec = Field(description="in quote currency")
    on_breach: Literal["reducing", "halted"] = Field(
        default="halted", description="trading state a breach puts the strategy in"
    )
    trading_day_start_utc: str = Field(
        default="00:00",
        description="HH:MM, UTC: when a trading day (and its daily_loss_limit) starts",
    )

    @field_validator("trading_day_start_utc")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"expected a time HH:MM (00:00 to 23:59), was {value!r}")
        return value

    @property
    def trading_day_start(self) -> time:
        hours, minutes = self.trading_day_start_utc.split(":")
        return time(int(hours), int(minutes))


class Manifest(Strict):
    """A strategy manifest, format version 1."""

    strategy: StrategyInfo
    venues: dict[Name, Venue] = Field(min_length=1)
    pairs: list[Pair] = Field(min_length=1)
    thresholds: Thresholds
    sizing: Sizing
    hedge: Hedge | None = None
    execution: Execution = Field(default_factory=Execution)
    gates: list[Gate] = Field(default_factory=list)
    risk: Risk


def effective_thresholds(manifest: Manifest, pair: SpotPerpPair | SpotSpotPair) -> Thresholds:
    return pair.thresholds or manifest.thresholds


def effective_sizing(manifest: Manifest, pair: SpotPerpPair | SpotSpotPair) -> Sizing:
    return pair.sizing or manifest.sizing
