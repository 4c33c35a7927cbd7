"""A token bucket: at most `rate` operations per second, with bursts of up to `burst`.

Waiters are served in arrival order (one lock), so a burst of orders leaves in the order it was
decided; a caller that finds nobody waiting and a token free takes it at once, without the lock. The clock and the sleep are injectable: tests drive them by hand instead of waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"expected a positive rate, was {rate}")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else rate)
        if self.burst < 1:
            raise ValueError(f"expected a burst of at least 1, was {self.burst}")
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = asyncio.Lock()
        self._queued = 0  # callers inside `_wait_for` (holding or awaiting the lock)
        self.waited_s = 0.0  # total time callers spent waiting, for metrics

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until `cost` tokens are free, then take them."""
        if cost > self.burst:
            raise ValueError(f"expected a cost of at most the burst {self.burst}, was {cost}")
        if self.try_acquire(cost):
            return
        self._queued += 1
        try:
            await self._wait_for(cost)
        finally:
            self._queued -= 1

    def try_acquire(self, cost: float = 1.0) -> bool:
        """Take `cost` tokens now if nobody is waiting and they are free (without the lock);
        False, taking nothing, otherwise."""
        if self._queued:
            return False
        self._refill()
        if self._tokens < cost:
            return False
        self._tokens -= cost
        return True

    async def _wait_for(self, cost: float) -> None:
        async with self._lock:
            self._refill()
            if self._tokens < cost:
                wait = (cost - self._tokens) / self.rate
                self.waited_s += wait
                await self._sleep(wait)
                self._refill()
                # The sleep paid for the deficit; a clock that reads a hair early (float
                # rounding) must not make the caller wait again, or forever.
                self._tokens = max(self._tokens, cost)
            self._tokens -= cost
