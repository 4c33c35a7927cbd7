"""Incidents: operator-visible faults with a lifecycle (open, acknowledged, resolved).

An incident is keyed by what it is about (e.g. "legging:btc-basis/btc"); raising the same key
again while it is open counts a recurrence instead of opening a duplicate, and raising it after
it was resolved reopens it. Every change is handed to the notifiers (journal, logs, webhooks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from arbiter import clock as process_clock
from arbiter.fsm.incident import INCIDENT
from arbiter.fsm.runner import MachineRunner


@dataclass
class Incident:
    key: str
    kind: str  # e.g. "risk_breach", "legging", "overfill", "kill_switch", "task_failed"
    source: str  # who or what raised it: "risk:max_net_delta", "operator:alice", "supervisor"
    reason: str
    opened_at: float
    count: int = 1
    acknowledged_by: str | None = None
    history: list[tuple[float, str, str]] = field(default_factory=list)  # (time, event, detail)
    machine: MachineRunner = field(default_factory=lambda: MachineRunner(INCIDENT), repr=False)

    @property
    def state(self) -> str:
        return self.machine.state


Notifier = Callable[[Incident, str], None]


class IncidentLog:
    def __init__(self, clock: Callable[[], float] = process_clock.wall_seconds) -> None:
        self._clock = clock
        self._by_key: dict[str, Incident] = {}
        self._notifiers: list[Notifier] = []

    def subscribe(self, notifier: Notifier) -> None:
        self._notifiers.append(notifier)

    def raise_(self, key: str, kind: str, source: str, reason: str) -> Incident:
        now = self._clock()
        incident = self._by_key.get(key)
        if incident is None:
            incident = Incident(key, kind, source, reason, opened_at=now)
            incident.history.append((now, "open", reason))
            self._by_key[key] = incident
            self._notify(incident, "open")
            return incident
        event = "reopen" if incident.state == "resolved" else "recur"
        incident.machine.fire("recur")
        incident.count += 1
        incident.reason, incident.source = reason, source
        incident.history.append((now, event, reason))
        self._notify(incident, event)
        return incident

    def acknowledge(self, key: str, who: str) -> Incident:
        incident = self._by_key[key]
        incident.machine.fire("acknowledge")
        incident.acknowledged_by = who
        incident.history.append((self._clock(), "acknowledge", who))
        self._notify(incident, "acknowledge")
        return incident

    def resolve(self, key: str, detail: str) -> Incident:
        incident = self._by_key[key]
        incident.machine.fire("resolve")
        incident.history.append((self._clock(), "resolve", detail))
        self._notify(incident, "resolve")
        return incident

    def open(self) -> list[Incident]:
        return [i for i in self._by_key.values() if i.state != "resolved"]

    def get(self, key: str) -> Incident | None:
        return self._by_key.get(key)

    def _notify(self, incident: Incident, event: str) -> None:
        for notifier in self._notifiers:
            notifier(incident, event)
