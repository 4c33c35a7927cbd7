"""Clocks: the engine reads time only through one of these, so tests can move it by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from arbiter import clock as process_clock


class Clock(Protocol):
    def now_ms(self) -> int: ...


class WallClock:
    """The process's one clock (`arbiter.clock`): the system's live, the event loop's in a
    simulated run, so the venue and the runtime trading against it agree on the time."""

    def now_ms(self) -> int:
        return process_clock.wall_ms()


@dataclass
class FakeClock:
    """A clock that moves only when told to: funding times and recv windows without waiting."""

    ms: int = 1_700_000_000_000

    def now_ms(self) -> int:
        return self.ms

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError(f"expected a non-negative step, was {ms} ms")
        self.ms += ms
