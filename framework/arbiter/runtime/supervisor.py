"""The supervisor owns every long-lived task: nothing dies silently.

A task that raises is logged with its traceback and restarted after an exponential backoff.
When it fails more than `max_failures` times within `window_s`, the supervisor gives up on it
and calls `on_give_up` (the runtime raises an incident, and a safety loop's death stops
trading until an operator resumes it: see `arbiter.runtime.halts`).
A task that returns normally is finished, not restarted. `stop()` cancels everything and waits.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from loguru import logger

from arbiter import clock as process_clock

TaskFactory = Callable[[], Awaitable[None]]


@dataclass
class Supervised:
    name: str
    factory: TaskFactory
    owner: str | None  # the strategy a failure should halt, if any
    max_failures: int
    window_s: float
    restarts: int = 0
    failures: deque[float] = field(default_factory=deque)
    last_error: str = ""
    gave_up: bool = False
    finished: bool = False
    task: asyncio.Task[None] | None = None


class Supervisor:
    def __init__(
        self,
        on_give_up: Callable[[Supervised, BaseException], None] | None = None,
        base_backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
        clock: Callable[[], float] = process_clock.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._on_give_up = on_give_up
        self._base, self._max = base_backoff_s, max_backoff_s
        self._clock, self._sleep = clock, sleep
        self.tasks: dict[str, Supervised] = {}
        self._stopping = False

    def start(
        self,
        name: str,
        factory: TaskFactory,
        owner: str | None = None,
        max_failures: int = 5,
        window_s: float = 60.0,
    ) -> Supervised:
        if name in self.tasks and not (self.tasks[name].finished or self.tasks[name].gave_up):
            raise ValueError(f"a task named {name!r} is already supervised")
        entry = Supervised(name, factory, owner, max_failures, window_s)
        entry.task = asyncio.create_task(self._keep(entry), name=f"supervised:{name}")
        self.tasks[name] = entry
        return entry

    def backoff(self, failures_in_window: int) -> float:
        return float(min(self._max, self._base * 2 ** max(0, failures_in_window - 1)))

    async def _keep(self, entry: Supervised) -> None:
        log = logger.bind(task=entry.name, strategy=entry.owner)
        while not self._stopping:
            try:
                await entry.factory()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                now = self._clock()
                entry.failures.append(now)
                while entry.failures and now - entry.failures[0] > entry.window_s:
                    entry.failures.popleft()
                entry.last_error = f"{type(exc).__name__}: {exc}"
                if len(entry.failures) > entry.max_failures:
                    entry.gave_up = True
                    log.opt(exception=exc).error(
                        "task {} failed {} times within {}s; giving up",
                        entry.name,
                        len(entry.failures),
                        entry.window_s,
                    )
                    if self._on_give_up is not None:
                        self._on_give_up(entry, exc)
                    return
                delay = self.backoff(len(entry.failures))
                log.opt(exception=exc).warning(
                    "task {} died; restarting in {:.2f}s", entry.name, delay
                )
                await self._sleep(delay)
                entry.restarts += 1
                continue
            entry.finished = True
            return

    async def stop(self) -> None:
        self._stopping = True
        running = [e.task for e in self.tasks.values() if e.task is not None and not e.task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
