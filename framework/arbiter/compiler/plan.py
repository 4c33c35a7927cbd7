"""Compile a validated manifest into a plan: one cycle machine per pair, gates bound as guards.

Binding rules (hook -> cycle trigger):
- `before_entry` guards `enter` (armed -> entering);
- `before_exit` guards `exit` (open -> exiting);
- `always` guards both.
Repair (`legging` -> ...), `halt`, `resume` and `fail` are never gated: a one-legged position
must always be repairable, whatever a gate says.

A gate guard is named `gate:<name>`; the resolver that evaluates it (in `arbiter.risk`) looks the
gate up in `PairPlan.gates` by that name. Every pair's `enter` also carries the built-in guard
`min_profit` (`thresholds.min_profit_bps`: the net entry spread at the decision, less the exit
threshold the cycle will leave at, must be at least that much), first among its guards.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import Any

from arbiter.fsm.cycle import CYCLE, ENTRY_TRIGGER, EXIT_TRIGGER
from arbiter.fsm.hedger import HEDGER
from arbiter.fsm.incident import INCIDENT
from arbiter.fsm.order import ORDER
from arbiter.fsm.table import MachineDef
from arbiter.fsm.trading_state import TRADING_STATE
from arbiter.fsm.venue_connection import VENUE_CONNECTION
from arbiter.manifest.gates import MIN_PROFIT_GUARD, Gate, Hook
from arbiter.manifest.loader import LoadedManifest
from arbiter.manifest.models import (
    HEDGE_INSTRUMENT_KIND,
    LEG_KINDS,
    Execution,
    Manifest,
    Risk,
    Sizing,
    SpotPerpPair,
    SpotSpotPair,
    Thresholds,
    effective_sizing,
    effective_thresholds,
)

HOOK_TRIGGERS: dict[Hook, tuple[str, ...]] = {
    Hook.BEFORE_ENTRY: (ENTRY_TRIGGER,),
    Hook.BEFORE_EXIT: (EXIT_TRIGGER,),
    Hook.ALWAYS: (ENTRY_TRIGGER, EXIT_TRIGGER),
}

GATE_GUARD_PREFIX = "gate:"
_MIN_PROFIT_NOTE = (
    "net entry spread at the decision, less exit_bps, is at least thresholds.min_profit_bps"
)


@dataclass(frozen=True, slots=True)
class LegPlan:
    role: str  # spot, perp, a, b
    venue: str  # venue account name in the manifest
    plugin: str
    symbol: str
    kind: str  # spot or perp


@dataclass(frozen=True, slots=True)
class GatePlan:
    name: str
    type: str
    triggers: tuple[str, ...]
    rule: Gate


@dataclass(frozen=True, slots=True)
class PairPlan:
    """One pair as it trades. Its direction names which leg an entry buys (`DIRECTIONS`)."""

    id: str
    type: str
    asset: str
    direction: str
    legs: tuple[LegPlan, ...]
    thresholds: Thresholds
    sizing: Sizing
    gates: tuple[GatePlan, ...]
    hedge_leg: LegPlan | None
    cycle: MachineDef

    def leg(self, role: str) -> LegPlan:
        for leg in self.legs:
            if leg.role == role:
                return leg
        raise KeyError(f"pair {self.id} has no {role} leg; legs: {[leg.role for leg in self.legs]}")

    def directions(self) -> dict[str, tuple[str, str]]:
        """direction -> (role an entry buys, role it sells): one direction, or both."""
        table = DIRECTIONS[self.type]
        return dict(table) if self.direction == "both" else {self.direction: table[self.direction]}

    def gate(self, guard: str) -> GatePlan:
        name = guard.removeprefix(GATE_GUARD_PREFIX)
        for gate in self.gates:
            if gate.name == name:
                return gate
        raise KeyError(f"pair {self.id} has no gate {name!r}")


# pair type -> direction -> (the role an entry buys, the role it sells); an exit the reverse
DIRECTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "spot_perp": {"buy_spot_short_perp": ("spot", "perp"), "sell_spot_long_perp": ("perp", "spot")},
    "spot_spot": {"buy_a_sell_b": ("a", "b"), "buy_b_sell_a": ("b", "a")},
}


def buy_role(direction: str) -> str:
    """The role an entry in `direction` buys (its long leg)."""
    for table in DIRECTIONS.values():
        if direction in table:
            return table[direction][0]
    raise KeyError(
        f"expected a direction of {sorted(d for t in DIRECTIONS.values() for d in t)}, was {direction!r}"
    )


def direction_buying(pair_type: str, role: str) -> str | None:
    """The direction whose entry buys `role` on a pair of `pair_type`, if any."""
    return next((d for d, (b, _) in DIRECTIONS[pair_type].items() if b == role), None)


@dataclass(frozen=True, slots=True)
class Plan:
    strategy: str
    manifest_sha256: str
    pairs: tuple[PairPlan, ...]
    execution: Execution
    risk: Risk
    machines: tuple[MachineDef, ...] = (ORDER, VENUE_CONNECTION, HEDGER, TRADING_STATE, INCIDENT)

    def pair(self, pair_id: str) -> PairPlan:
        for pair in self.pairs:
            if pair.id == pair_id:
                return pair
        raise KeyError(f"no pair {pair_id!r}; pairs: {', '.join(p.id for p in self.pairs)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "manifest_sha256": self.manifest_sha256,
            "pairs": [_pair_dict(p) for p in self.pairs],
            "execution": _plain(self.execution.model_dump()),
            "risk": _plain(self.risk.model_dump()),
            "machines": {m.name: m.to_dict() for m in self.machines},
        }


def compile_manifest(source: LoadedManifest | Manifest) -> Plan:
    if isinstance(source, LoadedManifest):
        manifest, sha = source.manifest, source.sha256
    else:
        manifest, sha = source, ""
    return Plan(
        strategy=manifest.strategy.name,
        manifest_sha256=sha,
        pairs=tuple(_compile_pair(manifest, pair) for pair in manifest.pairs),
        execution=manifest.execution,
        risk=manifest.risk,
    )


def _compile_pair(m: Manifest, pair: SpotPerpPair | SpotSpotPair) -> PairPlan:
    legs = tuple(
        LegPlan(role, ref.venue, m.venues[ref.venue].plugin, ref.symbol, LEG_KINDS[role])
        for role, ref in pair.legs()
    )
    gates = tuple(
        GatePlan(g.name, g.type, _triggers(g.when), g)
        for g in m.gates
        if g.pairs is None or pair.id in g.pairs
    )
    cycle = CYCLE.with_guards(ENTRY_TRIGGER, (MIN_PROFIT_GUARD,))
    for trigger in (ENTRY_TRIGGER, EXIT_TRIGGER):
        guards = tuple(GATE_GUARD_PREFIX + g.name for g in gates if trigger in g.triggers)
        if guards:
            cycle = cycle.with_guards(trigger, guards)
    cycle = replace(
        cycle,
        name=f"cycle[{pair.id}]",
        guard_descriptions={**cycle.guard_descriptions, MIN_PROFIT_GUARD: _MIN_PROFIT_NOTE},
    )

    return PairPlan(
        id=pair.id,
        type=pair.type,
        asset=pair.asset,
        direction=pair.direction.value,
        legs=legs,
        thresholds=effective_thresholds(m, pair),
        sizing=effective_sizing(m, pair),
        gates=gates,
        hedge_leg=_hedge_leg(m, pair),
        cycle=cycle,
    )


def _triggers(hooks: list[Hook]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for hook in hooks for t in HOOK_TRIGGERS[hook]))


def _hedge_leg(m: Manifest, pair: SpotPerpPair | SpotSpotPair) -> LegPlan | None:
    if m.hedge is None:
        return None
    ref = m.hedge.instruments.get(pair.asset)
    if ref is None:  # the perp leg of the first spot_perp pair on this asset
        ref = next(
            (p.perp for p in m.pairs if isinstance(p, SpotPerpPair) and p.asset == pair.asset),
            None,
        )
    if ref is None:
        return None  # unreachable for a validated manifest: references.py refuses it
    plugin = m.venues[ref.venue].plugin
    return LegPlan("hedge", ref.venue, plugin, ref.symbol, HEDGE_INSTRUMENT_KIND)


def _pair_dict(p: PairPlan) -> dict[str, Any]:
    return {
        "id": p.id,
        "type": p.type,
        "asset": p.asset,
        "direction": p.direction,
        "legs": [_leg_dict(leg) for leg in p.legs],
        "hedge_leg": _leg_dict(p.hedge_leg) if p.hedge_leg else None,
        "thresholds": _plain(p.thresholds.model_dump()),
        "sizing": _plain(p.sizing.model_dump()),
        "gates": [
            {
                "name": g.name,
                "type": g.type,
                "triggers": list(g.triggers),
                "rule": _plain(g.rule.model_dump()),
            }
            for g in p.gates
        ],
        "machine": p.cycle.to_dict(),
    }


def _leg_dict(leg: LegPlan) -> dict[str, str]:
    return {
        "role": leg.role,
        "venue": leg.venue,
        "plugin": leg.plugin,
        "symbol": leg.symbol,
        "kind": leg.kind,
    }


def _plain(value: Any) -> Any:
    """JSON-ready: Decimal as its exact string, enums as values."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
