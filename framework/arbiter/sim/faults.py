"""Faults, scripted per test or drawn from a seed: what goes wrong, where, and how often.

A rule names a fault kind and a target (an endpoint path or a WS topic/channel, matched as a
substring; "" matches everything). Scripted rules fire `count` times after skipping `skip`
matches; random rules fire with `probability`, drawn from the plan's own seeded generator so a
seed reproduces a run. Latencies are drawn per endpoint from a (mean, jitter) uniform band.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml


class FaultKind(StrEnum):
    WS_DISCONNECT = "ws_disconnect"  # close the socket before this frame
    WS_DELAY = "ws_delay"  # hold this frame for delay_ms
    WS_DUPLICATE = "ws_duplicate"  # send this frame twice
    WS_DROP_DELTA = "ws_drop_delta"  # skip one book delta: the client sees a sequence gap
    WS_RESET = "ws_reset"  # send a fresh snapshot mid-stream (Bybit) / a new seqId run (OKX)
    PRIVATE_REORDER = "private_reorder"  # deliver the next two private events swapped
    FILL_AFTER_CANCEL = "fill_after_cancel"  # a cancel races a fill: two Filled messages
    REST_5XX = "rest_5xx"  # 502 before the request reaches the engine
    REST_5XX_AFTER_ACCEPT = "rest_5xx_after_accept"  # engine accepted, client gets a 502
    REST_TIMEOUT_AFTER_ACCEPT = "rest_timeout_after_accept"  # engine accepted, no answer
    RATE_LIMIT = "rate_limit"  # the venue's rate-limit error
    REJECT = "reject"  # the venue's generic rejection for this request


@dataclass
class FaultRule:
    kind: FaultKind
    target: str = ""
    count: int = 1
    skip: int = 0
    probability: float = 0.0  # > 0 makes the rule random and unlimited
    delay_ms: int = 0

    def matches(self, kind: FaultKind, target: str) -> bool:
        return self.kind is kind and self.target in target


@dataclass(frozen=True)
class Latency:
    mean_ms: float
    jitter_ms: float = 0.0


@dataclass
class FaultPlan:
    rules: list[FaultRule] = field(default_factory=list)
    latency: dict[str, Latency] = field(default_factory=dict)  # endpoint substring -> band
    seed: int = 0
    fired: list[tuple[FaultKind, str]] = field(default_factory=list)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, kind: FaultKind, target: str = "", **kw: Any) -> FaultRule:
        rule = FaultRule(kind, target, **kw)
        self.rules.append(rule)
        return rule

    def take(self, kind: FaultKind, target: str) -> FaultRule | None:
        """The rule that fires for this (kind, target) now, if any; scripted rules are used up."""
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
        """Read a plan from YAML: `rules: [{kind, target, count, ...}]`, `latency: {path: [mean, jitter]}`."""
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise ValueError(
                f"{path}: expected a mapping with 'rules' and 'latency', was {type(raw).__name__}"
            )
        rules = []
        for i, item in enumerate(raw.get("rules", [])):
            try:
                kind = FaultKind(item.pop("kind"))
            except (KeyError, ValueError) as exc:
                raise ValueError(
                    f"{path}: rule {i}: expected kind in {[k.value for k in FaultKind]}"
                ) from exc
            rules.append(FaultRule(kind, **item))
        latency = {k: Latency(float(v[0]), float(v[1])) for k, v in raw.get("latency", {}).items()}
        return cls(rules=rules, latency=latency, seed=int(raw.get("seed", seed)))
