"""Faults, scripted per test or drawn from a seed: what goes wrong, where, and how often.

A rule names a fault kind and a target, matched as a substring of what the fault acts on
("" matches everything):
- REST faults and latencies: `"<venue> <METHOD> <path>"`, e.g. `"okx POST /api/v5/trade/order"`;
- WS faults: `"<venue> <topic>"`, e.g. `"bybit orderbook.50.BTCUSDT"`, `"okx books:BTC-USDT-SWAP"`,
  `"bybit private:order"`, `"okx private:orders"`;
- the fill-after-cancel race: `"<venue> <symbol>"` of the order being cancelled.

Scripted rules fire `count` times after skipping `skip` matches; random rules fire with
`probability`, drawn from the plan's own seeded generator, so a seed and the same traffic
reproduce the same faults. Latencies are drawn per endpoint from a uniform (mean, jitter) band.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from arbiter.manifest.yaml_source import SourceError, SourceErrors, dotted, parse


class FaultKind(StrEnum):
    WS_DISCONNECT = "ws_disconnect"  # close the socket before this frame
    WS_DELAY = "ws_delay"  # hold this frame (and, like TCP, all after it) for delay_ms
    WS_DUPLICATE = "ws_duplicate"  # send this frame twice
    WS_DROP_DELTA = "ws_drop_delta"  # skip one book delta: the client sees a sequence gap
    WS_RESET = "ws_reset"  # Bybit: a u=1 snapshot (service restart); OKX: a new seqId run
    PRIVATE_REORDER = "private_reorder"  # deliver this private event after the next one
    PRIVATE_DROP = "private_drop"  # never send this private event (the connection stays up)
    FILL_AFTER_CANCEL = "fill_after_cancel"  # the cancel is acked, a fill wins: two Filled
    REST_HOLD = (
        "rest_hold"  # hold the request before the engine sees it (delay_ms, 0 = until released)
    )
    REST_5XX = "rest_5xx"  # 502 before the request reaches the engine
    REST_5XX_AFTER_ACCEPT = "rest_5xx_after_accept"  # engine accepted, client gets a 502
    REST_TIMEOUT_AFTER_ACCEPT = "rest_timeout_after_accept"  # engine accepted, no answer
    RATE_LIMIT = "rate_limit"  # the venue's rate-limit error
    REJECT = "reject"  # the venue refuses the request (its code, or the rule's `code`)


@dataclass
class FaultRule:
    kind: FaultKind
    target: str = ""
    count: int = 1
    skip: int = 0
    probability: float = 0.0  # > 0 makes the rule random and unlimited
    delay_ms: int = 0  # WS_DELAY: how long; REST_TIMEOUT_AFTER_ACCEPT: 0 = until the sim stops;
    # REST_HOLD: 0 = until `FaultPlan.release_held()`
    code: str = ""  # REJECT: the venue error code to answer ("" = the venue's generic one)
    message: str = ""  # REJECT: its message

    def __post_init__(self) -> None:
        self.kind = FaultKind(self.kind)
        if self.count < 0 or self.skip < 0 or self.delay_ms < 0:
            raise ValueError(
                f"{self.kind}: expected non-negative count, skip and delay_ms,"
                f" was {self.count}, {self.skip}, {self.delay_ms}"
            )
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"{self.kind}: expected probability in [0, 1], was {self.probability}")

    def matches(self, kind: FaultKind, target: str) -> bool:
        return self.kind is kind and self.target in target


@dataclass(frozen=True)
class Latency:
    mean_ms: float
    jitter_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.mean_ms < 0 or self.jitter_ms < 0:
            raise ValueError(
                f"expected non-negative mean and jitter, was {self.mean_ms}, {self.jitter_ms} ms"
            )


@dataclass
class FaultPlan:
    rules: list[FaultRule] = field(default_factory=list)
    latency: dict[str, Latency] = field(default_factory=dict)  # endpoint substring -> band
    seed: int = 0
    fired: list[tuple[FaultKind, str]] = field(default_factory=list)
    _rng: random.Random = field(init=False, repr=False)
    # REST_HOLD: set when a request is being held; `release_held` lets them all through
    holding: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _released: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    async def hold(self, rule: FaultRule) -> None:
        """Hold a request (REST_HOLD): for the rule's delay, or until `release_held`."""
        self.holding.set()
        if rule.delay_ms:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), rule.delay_ms / 1000)
        else:
            await self._released.wait()

    def release_held(self) -> None:
        """Let every held request (and any later one a REST_HOLD rule catches) through."""
        self._released.set()

    def add(self, kind: FaultKind, target: str = "", **kw: Any) -> FaultRule:
        rule = FaultRule(kind, target, **kw)
        self.rules.append(rule)
        return rule

    def take(self, kind: FaultKind, target: str) -> FaultRule | None:
        """The rule that fires for this (kind, target) now, if any; scripted rules are used up."""
        if not self.rules:
            return None  # the hot path: every frame asks, most plans are empty
        for rule in self.rules:
            if not rule.matches(kind, target):
                continue
            if rule.probability > 0:
                if self._rng.random() < rule.probability:
                    self.fired.append((kind, target))
                    return rule
                continue
            if rule.count <= 0:
                continue
            if rule.skip > 0:
                rule.skip -= 1
                continue
            rule.count -= 1
            self.fired.append((kind, target))
            return rule
        return None

    def latency_ms(self, endpoint: str) -> float:
        for key, band in self.latency.items():
            if key in endpoint:
                return max(0.0, band.mean_ms + self._rng.uniform(-band.jitter_ms, band.jitter_ms))
        return 0.0

    @classmethod
    def load(cls, path: Path, seed: int = 0) -> FaultPlan:
        """Read a plan from a YAML file (see `PlanFile`); bad input raises `FaultPlanError`.

        The file's own `seed`, when given, wins over `seed`.
        """
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise FaultPlanError(path, [SourceError(f"cannot read file: {exc.strerror}")]) from None
        if not raw.strip():
            return cls(seed=seed)
        try:
            document = parse(raw)
        except SourceErrors as exc:
            raise FaultPlanError(path, exc.errors) from None
        try:
            spec = PlanFile.model_validate(document.data)
        except ValidationError as exc:
            errors = []
            for err in exc.errors():
                loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
                if loc[:1] == ("latency",):
                    loc = loc[:2]  # name the endpoint's band, not an index inside it
                # An unknown key is pointed at itself, anything else at its value.
                at_key = err["type"] == "extra_forbidden"
                pos = (document.keys.get(loc) if at_key else None) or document.position_of(loc)
                errors.append(SourceError(_describe(err), dotted(loc), pos.line, pos.column))
            raise FaultPlanError(path, errors) from None
        rules = [FaultRule(**r.model_dump()) for r in spec.rules]
        latency = {k: Latency(*band) for k, band in spec.latency.items()}
        return cls(rules=rules, latency=latency, seed=seed if spec.seed is None else spec.seed)


class FaultPlanError(ValueError):
    """A fault plan file that cannot be used; names the file, the line and the field."""

    def __init__(self, path: Path, errors: list[SourceError]) -> None:
        self.path = path
        self.errors = errors
        super().__init__("\n".join(e.render(str(path)) for e in errors))


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    target: str = ""
    count: int = Field(1, ge=0)
    skip: int = Field(0, ge=0)
    probability: float = Field(0.0, ge=0.0, le=1.0)
    delay_ms: int = Field(0, ge=0)
    code: str = ""
    message: str = ""


class PlanFile(BaseModel):
    """The YAML form of a plan.

    seed: 7                      # optional; else the `--seed` of `arbiter sim`
    rules:
      - {kind: ws_drop_delta, target: "okx books:BTC-USDT-SWAP", skip: 10}
      - {kind: rate_limit, target: "POST /v5/order/create", probability: 0.05}
    latency:                     # endpoint substring: [mean_ms, jitter_ms]
      "/v5/order/create": [40, 15]
    """

    model_config = ConfigDict(extra="forbid")

    seed: int | None = None
    rules: list[RuleFile] = Field(default_factory=list)
    latency: dict[str, tuple[float, float]] = Field(default_factory=dict)

    @field_validator("latency")
    @classmethod
    def _non_negative(cls, bands: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for key, (mean, jitter) in bands.items():
            if mean < 0 or jitter < 0:
                raise ValueError(
                    f"{key!r}: expected non-negative [mean_ms, jitter_ms], was [{mean}, {jitter}]"
                )
        return bands


def _describe(err: Any) -> str:
    value = err.get("input")
    if err["loc"][:1] == ("latency",) and err["type"] != "value_error":
        return f"expected [mean_ms, jitter_ms] of two non-negative numbers: {err['msg']}"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "extra_forbidden":
        model = PlanFile if len(err["loc"]) == 1 else RuleFile
        return f"unknown field; expected one of {sorted(model.model_fields)}"
    if err["type"] == "value_error":
        return str(err["ctx"]["error"])
    shown = "" if isinstance(value, dict | list) else f", was {value!r}"
    return f"{err['msg']}{shown}"
