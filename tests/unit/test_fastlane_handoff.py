"""Coalescing hand-off: the reader never waits, consumers see the latest value and a skip count."""

from __future__ import annotations

import asyncio

from arbiter.market import Coalesced, CoalescingHub


def test_take_when_key_published_many_times_returns_latest_and_skipped_count() -> None:
    hub: CoalescingHub[str, int] = CoalescingHub()
    sub = hub.subscribe()
    for value in range(5):
        hub.publish("BTCUSDT", value)
    hub.publish("ETHUSDT", 100)
    assert sub.take() == [Coalesced("BTCUSDT", 4, 4), Coalesced("ETHUSDT", 100, 0)]
    assert sub.skipped_total == 4
    assert sub.take() == []


def test_publish_when_consumer_never_takes_keeps_one_slot_per_key() -> None:
    hub: CoalescingHub[str, int] = CoalescingHub()
    sub = hub.subscribe()
    for value in range(100_000):
        hub.publish(f"S{value % 3}", value)
    assert sub.pending == 3
    assert sub.skipped_total == 100_000 - 3


def test_subscribers_when_consuming_at_different_speeds_are_independent() -> None:
    hub: CoalescingHub[str, int] = CoalescingHub()
    fast, slow = hub.subscribe(), hub.subscribe()
    hub.publish("X", 1)
    assert fast.take() == [Coalesced("X", 1, 0)]
    hub.publish("X", 2)
    assert fast.take() == [Coalesced("X", 2, 0)]
    assert slow.take() == [Coalesced("X", 2, 1)]


def test_close_when_called_stops_delivery() -> None:
    hub: CoalescingHub[str, int] = CoalescingHub()
    sub = hub.subscribe()
    sub.close()
    hub.publish("X", 1)
    assert sub.take() == []


async def test_next_when_consumer_waits_wakes_on_publish_with_latest() -> None:
    hub: CoalescingHub[str, int] = CoalescingHub()
    sub = hub.subscribe()
    waiter = asyncio.create_task(sub.next())
    await asyncio.sleep(0)  # let the consumer start waiting (a yield, not a timed sleep)
    assert not waiter.done()
    hub.publish("X", 1)
    hub.publish("X", 2)  # the reader went on without waiting for the consumer
    assert await waiter == [Coalesced("X", 2, 1)]


async def test_next_when_value_already_pending_returns_without_waiting() -> None:
    hub: CoalescingHub[str, int] = CoalescingHub()
    sub = hub.subscribe()
    hub.publish("X", 7)
    assert await sub.next() == [Coalesced("X", 7, 0)]
