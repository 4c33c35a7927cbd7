"""The supervisor restarts dying tasks with backoff and gives up loudly."""

from __future__ import annotations

import asyncio

from arbiter.runtime.supervisor import Supervised, Supervisor


class _FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def test_task_when_it_dies_twice_is_restarted_with_growing_backoff() -> None:
    fake = _FakeTime()
    runs = 0
    done = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 2:
            raise RuntimeError(f"boom {runs}")
        done.set()

    sup = Supervisor(clock=fake.clock, sleep=fake.sleep)
    entry = sup.start("reader", flaky)
    await done.wait()
    assert entry.task is not None
    await entry.task
    assert runs == 3
    assert entry.restarts == 2
    assert fake.sleeps == [0.1, 0.2]
    assert entry.finished
    assert not entry.gave_up
    assert entry.last_error == "RuntimeError: boom 2"


async def test_task_when_it_keeps_failing_gives_up_and_reports_owner() -> None:
    fake = _FakeTime()
    given_up: list[tuple[str, str | None, str]] = []

    async def always_fails() -> None:
        raise ValueError("bad frame handler")

    sup = Supervisor(
        on_give_up=lambda e, exc: given_up.append((e.name, e.owner, str(exc))),
        clock=fake.clock,
        sleep=fake.sleep,
    )
    entry: Supervised = sup.start(
        "strategy-loop", always_fails, owner="btc-basis", max_failures=3, window_s=60
    )
    assert entry.task is not None
    await entry.task
    assert entry.gave_up
    assert entry.restarts == 3
    assert given_up == [("strategy-loop", "btc-basis", "bad frame handler")]


async def test_failures_when_spread_beyond_window_never_give_up() -> None:
    fake = _FakeTime()
    runs = 0

    async def fails_rarely() -> None:
        nonlocal runs
        runs += 1
        fake.now += 100  # each run lives longer than the window
        if runs < 6:
            raise RuntimeError("rare")

    sup = Supervisor(clock=fake.clock, sleep=fake.sleep)
    entry = sup.start("rare", fails_rarely, max_failures=2, window_s=60)
    assert entry.task is not None
    await entry.task
    assert entry.finished
    assert not entry.gave_up
    assert fake.sleeps == [0.1] * 5  # the window never holds more than one failure


async def test_stop_when_tasks_running_cancels_and_waits() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    sup = Supervisor()
    entry = sup.start("forever", forever)
    await started.wait()
    await sup.stop()
    assert entry.task is not None
    assert entry.task.cancelled()
