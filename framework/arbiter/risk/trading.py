"""Trading states per strategy and global, and what each lets through.

The effective state of a strategy is the stricter of its own and the global one. `reducing`
lets an order through only when it shrinks an existing exposure; `halted` lets nothing through.
Every change fires the trading-state machine, and every change that tightens raises an incident
with who or what did it and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from arbiter.control.incidents import IncidentLog
from arbiter.fsm.runner import MachineRunner
from arbiter.fsm.trading_state import TRADING_STATE

_STRICTNESS = {"active": 0, "reducing": 1, "halted": 2}
GLOBAL = "*"


@dataclass(frozen=True, slots=True)
class StateChange:
    scope: str  # a strategy name, or "*" for global
    source: str
    dest: str
    by: str
    reason: str


class TradingStates:
    def __init__(
        self, incidents: IncidentLog, on_change: Callable[[StateChange], None] | None = None
    ) -> None:
        self._machines: dict[str, MachineRunner] = {GLOBAL: MachineRunner(TRADING_STATE)}
        self._incidents = incidents
        self._on_change = on_change

    def _machine(self, scope: str) -> MachineRunner:
        if scope not in self._machines:
            self._machines[scope] = MachineRunner(TRADING_STATE)
        return self._machines[scope]

    def state(self, strategy: str) -> str:
        own, everyone = self._machine(strategy).state, self._machines[GLOBAL].state
        return own if _STRICTNESS[own] >= _STRICTNESS[everyone] else everyone

    def set(self, scope: str, trigger: str, by: str, reason: str) -> StateChange:
        """Fire `reduce`, `halt` or `resume` on a strategy (or GLOBAL), recording who and why."""
        decision = self._machine(scope).fire(trigger)
        change = StateChange(scope, decision.source, decision.dest, by, reason)
        if decision.dest != decision.source:
            if self._on_change is not None:
                self._on_change(change)
            if trigger in ("reduce", "halt"):
                self._incidents.raise_(
                    f"trading:{scope}", "trading_state", by, f"{decision.dest}: {reason}"
                )
        return change

    def allows(
        self, strategy: str, position_before: Decimal, position_after: Decimal
    ) -> tuple[bool, str]:
        """May an order that moves this position from `before` to `after` go out now?"""
        state = self.state(strategy)
        if state == "active":
            return True, "active"
        if state == "halted":
            return False, f"{strategy} is halted: no new orders"
        reduces = (
            abs(position_after) < abs(position_before) and (position_after * position_before) >= 0
        )
        if reduces:
            return True, "reducing: this order shrinks exposure"
        return (
            False,
            f"{strategy} is reducing: order would move position {position_before} -> {position_after}",
        )
