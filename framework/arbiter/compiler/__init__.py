"""Manifest -> plan: one cycle machine per pair, gates bound to transitions as guards."""

from arbiter.compiler.plan import (
    GATE_GUARD_PREFIX,
    GatePlan,
    LegPlan,
    PairPlan,
    Plan,
    compile_manifest,
)

__all__ = ["GATE_GUARD_PREFIX", "GatePlan", "LegPlan", "PairPlan", "Plan", "compile_manifest"]
