"""Incidents: operator-visible faults with a lifecycle (open, acknowledged, resolved)."""

from __future__ import annotations

from arbiter.fsm.table import MachineDef, State, Transition

INCIDENT = MachineDef(
    name="incident",
    description="open -> acknowledged -> resolved; a recurrence reopens.",
    states=(
        State("open", "raised; nobody has looked yet"),
        State("acknowledged", "an operator owns it"),
        State("resolved", "the condition cleared or was fixed", terminal=True),
    ),
    initial="open",
    transitions=(
        Transition("acknowledge", ("open",), "acknowledged"),
        Transition("resolve", ("open", "acknowledged"), "resolved"),
        Transition("recur", ("open", "acknowledged"), None, note="counted, same incident"),
        Transition("recur", ("resolved",), "open", note="the condition came back"),
    ),
)
