"""Explicit finite-state machines declared as tables: cycle, order and venue connection."""

from arbiter.fsm.cycle import CYCLE
from arbiter.fsm.hedger import HEDGER
from arbiter.fsm.incident import INCIDENT
from arbiter.fsm.order import ORDER
from arbiter.fsm.runner import Decision, GuardResult, IllegalTransition, MachineRunner
from arbiter.fsm.table import MachineDef, State, Transition
from arbiter.fsm.trading_state import TRADING_STATE
from arbiter.fsm.venue_connection import VENUE_CONNECTION

MACHINES: dict[str, MachineDef] = {
    m.name: m for m in (CYCLE, ORDER, VENUE_CONNECTION, HEDGER, TRADING_STATE, INCIDENT)
}

__all__ = [
    "CYCLE",
    "HEDGER",
    "INCIDENT",
    "MACHINES",
    "ORDER",
    "TRADING_STATE",
    "VENUE_CONNECTION",
    "Decision",
    "GuardResult",
    "IllegalTransition",
    "MachineDef",
    "MachineRunner",
    "State",
    "Transition",
]
