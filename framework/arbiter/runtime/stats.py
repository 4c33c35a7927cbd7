"""What a runtime counts while it runs (reported by `status()` and the run summary)."""

from __future__ import annotations

from dataclasses import dataclass, field

from arbiter import clock
from arbiter.execution.recovery import RecoveryReport


@dataclass
class RuntimeStats:
    started_ns: int = field(default_factory=clock.monotonic_ns)
    book_events: int = 0
    private_events: int = 0
    reloads: int = 0
    reloads_rejected: int = 0
    dispatch_errors: int = 0  # book events a strategy's engine raised on (logged, skipped)
    recovery: RecoveryReport | None = None
