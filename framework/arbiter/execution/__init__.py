"""The order pipeline: intents, idempotent order tracking, pre-trade checks, slippage and PnL."""

from arbiter.execution.intent import Intent
from arbiter.execution.order_tracker import Applied, OrderTracker
from arbiter.execution.records import (
    ChangeKind,
    Incident,
    IncidentKind,
    JournaledEvent,
    OrderChange,
    OrderJournal,
    OrderSnapshot,
)

__all__ = [
    "Applied",
    "ChangeKind",
    "Incident",
    "IncidentKind",
    "Intent",
    "JournaledEvent",
    "OrderChange",
    "OrderJournal",
    "OrderSnapshot",
    "OrderTracker",
]
