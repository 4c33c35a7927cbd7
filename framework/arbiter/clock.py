"""One clock for the whole process: every trading path reads time here, never from `time`.

Live, it is the operating system's: a monotonic clock for durations and deadlines, the wall
clock for what venues and journals date. Simulated (a soak, a backtest), it is the running event
loop's time, which a simulated loop moves on its own (jumping to the next timer when every task
waits): durations follow it, and wall time is a fixed start plus the loop time gone by. The rest
of the code cannot tell the two apart, which is the point: what a simulated run shows is what
the same code does live.

Timers and timeouts (`asyncio.sleep`, `asyncio.timeout`, `loop.call_later`) already follow the
loop's time and need nothing from here. Latency measurements of our own code (how long a
decision took) read `time.perf_counter_ns` on purpose: they measure the CPU, not the market.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol


class Clock(Protocol):
    def monotonic_ns(self) -> int:
        """Nanoseconds from an arbitrary start; never goes back."""
        ...

    def wall_ns(self) -> int:
        """Nanoseconds since the Unix epoch."""
        ...


class SystemClock:
    """The operating system's clocks (live). Its reads are the builtins themselves, so a live
    read costs no Python frame on the hot path."""

    monotonic_ns = staticmethod(time.monotonic_ns)
    wall_ns = staticmethod(time.time_ns)


class LoopTime(Protocol):
    def time(self) -> float: ...


class LoopClock:
    """The running event loop's time (simulated): wall time is `start_wall_ns` plus the loop
    time gone by since the clock was made."""

    def __init__(self, loop: LoopTime, start_wall_ns: int) -> None:
        self._loop = loop
        self._start_loop_ns = self._loop_ns()
        self._start_wall_ns = start_wall_ns

    def _loop_ns(self) -> int:
        return round(self._loop.time() * 1e9)

    def monotonic_ns(self) -> int:
        return self._loop_ns()

    def wall_ns(self) -> int:
        return self._start_wall_ns + self._loop_ns() - self._start_loop_ns


# The current clock's two reads, bound at module level: callers read `clock.monotonic_ns()`
# through the module, so `using` rebinding them is seen everywhere at once, and live they are
# the builtins (no wrapper call per read).
_current: Clock = SystemClock()
monotonic_ns: Callable[[], int] = _current.monotonic_ns
wall_ns: Callable[[], int] = _current.wall_ns


def monotonic() -> float:
    """Seconds, for code that counts in seconds."""
    return monotonic_ns() / 1e9


def wall_seconds() -> float:
    """Seconds since the Unix epoch, for what counts in seconds (incident times)."""
    return wall_ns() / 1e9


def wall_ms() -> int:
    return wall_ns() // 1_000_000


def current() -> Clock:
    return _current


def _install(clock: Clock) -> None:
    global _current, monotonic_ns, wall_ns
    _current, monotonic_ns, wall_ns = clock, clock.monotonic_ns, clock.wall_ns


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Read `clock` everywhere while the block runs (a simulated run); the previous after.

    Code must read through the module (`clock.monotonic_ns()`), never bind the function itself
    (`from arbiter.clock import monotonic_ns`): a bound copy would keep the clock of its import.
    """
    before = _current
    _install(clock)
    try:
        yield clock
    finally:
        _install(before)
