"""The order-rate bucket: bursts up to its size, then exactly `rate` per second, in order."""

from __future__ import annotations

import asyncio

import pytest

from arbiter.venues.order_path.ratelimit import TokenBucket


class ManualClock:
    """Time that moves only when the bucket sleeps: waits are measured, never spent."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # yield, so a test's timeout can end a bucket that never settles


async def test_acquire_when_within_burst_never_waits() -> None:
    clock = ManualClock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)

    for _ in range(10):
        await bucket.acquire()

    assert clock.slept == []


async def test_acquire_when_burst_spent_waits_one_interval_per_token() -> None:
    clock = ManualClock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        await bucket.acquire()

    async with asyncio.timeout(5):
        for _ in range(5):
            await bucket.acquire()

    assert clock.slept == pytest.approx([0.1] * 5)
    assert clock.now == pytest.approx(100.5)
    assert bucket.waited_s == pytest.approx(0.5)


async def test_acquire_when_time_passed_refills_up_to_burst_only() -> None:
    clock = ManualClock()
    bucket = TokenBucket(4, burst=2, clock=clock, sleep=clock.sleep)
    await bucket.acquire()
    await bucket.acquire()
    clock.now += 60  # a long pause earns no more than the burst

    async with asyncio.timeout(5):
        for _ in range(3):
            await bucket.acquire()

    assert clock.slept == pytest.approx([0.25])


async def test_acquire_when_callers_queue_serves_them_in_arrival_order() -> None:
    clock = ManualClock()
    bucket = TokenBucket(1, clock=clock, sleep=clock.sleep)
    served: list[int] = []

    async def take(n: int) -> None:
        await bucket.acquire()
        served.append(n)

    async with asyncio.timeout(5):
        await asyncio.gather(*(take(n) for n in range(4)))

    assert served == [0, 1, 2, 3]
    assert clock.now == pytest.approx(103.0)


async def test_acquire_when_a_token_frees_while_others_wait_does_not_jump_the_queue() -> None:
    clock = ManualClock()
    bucket = TokenBucket(1, clock=clock, sleep=clock.sleep)
    served: list[str] = []

    async def take(name: str) -> None:
        await bucket.acquire()
        served.append(name)

    await take("first")  # the burst's only token
    waiting = [asyncio.create_task(take(f"queued{n}")) for n in range(2)]
    await asyncio.sleep(0)  # both are inside the bucket, the first asleep for its token
    clock.now += 5  # plenty of time passes: a newcomer finds tokens free
    async with asyncio.timeout(5):
        await take("newcomer")
        await asyncio.gather(*waiting)

    assert served == ["first", "queued0", "queued1", "newcomer"]


async def test_acquire_when_nobody_waits_takes_a_free_token_at_once() -> None:
    clock = ManualClock()
    bucket = TokenBucket(2, clock=clock, sleep=clock.sleep)
    await bucket.acquire()
    await bucket.acquire()
    clock.now += 0.5  # one token earned back

    await bucket.acquire()

    assert clock.slept == []
    assert bucket.waited_s == 0


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1, None), (5, 0.5)])
def test_bucket_when_rate_or_burst_impossible_refused(rate: float, burst: float | None) -> None:
    with pytest.raises(ValueError, match="expected"):
        TokenBucket(rate, burst)


async def test_acquire_when_cost_above_burst_refused() -> None:
    bucket = TokenBucket(2)
    with pytest.raises(ValueError, match="at most the burst"):
        await bucket.acquire(3)
