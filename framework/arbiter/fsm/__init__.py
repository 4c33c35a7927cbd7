"""Explicit finite-state machines declared as tables: cycle, order and venue connection."""

from arbiter.fsm.cycle import CYCLE
from arbiter.fsm.order import ORDER
from arbiter.fsm.runner import Decision, GuardResult, IllegalTransition, MachineRunner
from arbiter.fsm.table import MachineDef, State, Transition
from arbiter.fsm.venue_connection import VENUE_CONNECTION

MACHINES: dict[str, MachineDef] = {m.name: m for m in (CYCLE, ORDER, VENUE_CONNECTION)}

__all__ = [
    "CYCLE",
    "MACHINES",
    "ORDER",
    "VENUE_CONNECTION",
    "Decision",
    "GuardResult",
    "IllegalTransition",
    "MachineDef",
    "MachineRunner",
    "State",
    "Transition",
]
