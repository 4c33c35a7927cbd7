"""The fast lane end to end: recorded bytes -> codec -> book -> coalescing hand-off -> consumer."""

from __future__ import annotations

import asyncio

from arbiter.market import BookDelta, BookSnapshot, Coalesced, CoalescingHub, OrderBook
from arbiter_bybit import BybitCodec
from tests.support.venue_frames import XRPUSDT_RECORDING

Top = tuple[tuple[int, int] | None, tuple[int, int] | None]


def _top(book: OrderBook) -> Top:
    return book.best_bid(), book.best_ask()


async def test_reader_when_consumer_is_slow_never_waits_and_consumer_sees_latest_top() -> None:
    codec = BybitCodec()
    hub: CoalescingHub[str, Top] = CoalescingHub()
    consumer = hub.subscribe()
    seen: list[Coalesced[str, Top]] = []

    async def slow_consumer() -> None:
        seen.extend(await consumer.next())

    task = asyncio.create_task(slow_consumer())
    await asyncio.sleep(0)  # the consumer is now parked on its wait

    # The reader replays the whole recording without yielding to the loop even once.
    for line in XRPUSDT_RECORDING.read_bytes().splitlines():
        for event in codec.feed(line):
            if isinstance(event, BookSnapshot | BookDelta):
                hub.publish(event.symbol, _top(codec.books[event.symbol]))
    await task

    assert len(seen) == 1
    assert seen[0].key == "XRPUSDT"
    assert seen[0].value == _top(codec.books["XRPUSDT"])
    assert seen[0].skipped == 49  # 50 updates, one slot: 49 coalesced away, none queued
    assert consumer.pending == 0
