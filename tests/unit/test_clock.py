"""The process's one clock: the system's live, the event loop's in a simulated run."""

from __future__ import annotations

import asyncio
import time

from arbiter import clock
from arbiter.clock import LoopClock, SystemClock


class _Loop:
    """A loop's time as a simulated loop moves it: only when told."""

    def __init__(self) -> None:
        self.now = 5.0

    def time(self) -> float:
        return self.now


def test_clock_when_live_reads_the_system_clocks() -> None:
    before_wall, before_mono = time.time_ns(), time.monotonic_ns()
    wall, mono = clock.wall_ns(), clock.monotonic_ns()
    assert isinstance(clock.current(), SystemClock)
    assert before_wall <= wall <= time.time_ns()
    assert before_mono <= mono <= time.monotonic_ns()


def test_clock_when_simulated_follows_the_loop_and_dates_from_its_start() -> None:
    loop = _Loop()
    start = 1_700_000_000_000_000_000
    with clock.using(LoopClock(loop, start)):
        assert (clock.wall_ns(), clock.monotonic_ns()) == (start, 5_000_000_000)
        loop.now = 3600.25  # an hour gone by in an instant
        assert clock.monotonic_ns() == 3_600_250_000_000
        assert clock.wall_ns() == start + 3_595_250_000_000
        assert clock.wall_ms() == clock.wall_ns() // 1_000_000
        assert clock.monotonic() == 3600.25
    assert isinstance(clock.current(), SystemClock)  # the live clock again after the run


async def test_clock_when_simulated_on_a_running_loop_reads_its_time() -> None:
    loop = asyncio.get_running_loop()
    with clock.using(LoopClock(loop, 0)):
        assert abs(clock.monotonic_ns() - loop.time() * 1e9) < 1e6
