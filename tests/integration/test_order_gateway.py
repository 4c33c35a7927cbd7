"""The order gateway against both plugins on the simulator: write before send, on the wire.

"Before send" is checked where it matters: at the moment the order path hands an order's bytes
to its socket (`OrderWire.taps`), another connection to the journal file (what a restarted process would read) must
already hold both legs' intents and `submitted` marks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbiter.execution.gateway import OrderGateway, OrderRefused
from arbiter.execution.intent import Intent
from arbiter.execution.order_tracker import OrderTracker
from arbiter.sim import FaultKind, Simulation, start
from arbiter.store import Journal
from arbiter.venues import CcxtTrading, Definitive, OrderRejected, OrderType, Side, TimeInForce
from arbiter.venues.contract.client_ids import IntentId
from arbiter.venues.streams.watched import WatchedTrading
from tests.support.journal_view import restart_view
from tests.support.trading_harness import PLACE, PLUGINS, fast_limits, sim_config

D = Decimal
LEGS = {"bybit": ("BTCUSDT", "spot", D("0.01")), "okx": ("BTC-USDT-SWAP", "perp", D(1))}


@dataclass
class WireWatch:
    """At each order body written, what another process would read from the journal."""

    journal: Path
    seen: dict[str, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] = field(
        default_factory=dict
    )

    def tap(self, data: bytes) -> None:
        other = restart_view(self.journal)  # a crash right now: what the restart would read
        try:
            intents = other.execute("SELECT client_id FROM intents ORDER BY client_id").fetchall()
            submits = other.execute(
                "SELECT client_id FROM order_events WHERE trigger = 'submit' ORDER BY client_id"
            ).fetchall()
        finally:
            other.close()
        self.seen[data.decode()] = (intents, submits)


@dataclass
class Rig:
    sim: Simulation
    journal: Journal
    venues: dict[str, CcxtTrading]
    wire: WireWatch

    def gateway(self, **kw: Any) -> OrderGateway:
        return OrderGateway(OrderTracker(self.journal), self.venues, **kw)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    sim = await start(venues=sorted(LEGS), seed=7)
    journal = Journal.open(tmp_path / "journal.sqlite")
    wire = WireWatch(journal.path)
    venues: dict[str, CcxtTrading] = {}
    try:
        for name in sorted(LEGS):
            venue = PLUGINS[name](sim_config(sim, name), limits=fast_limits(name))
            await venue.start()
            entry = venue._entry
            assert entry is not None, f"expected {name} to write its own order requests"
            entry.wire.taps.append(wire.tap)
            venues[name] = venue
        yield Rig(sim, journal, venues, wire)
    finally:
        for venue in venues.values():
            await venue.close()
        journal.close()
        await sim.stop()


def _intent(venue: str, cycle: int = 1, **kw: Any) -> Intent:
    symbol, kind, qty = LEGS[venue]
    fields: dict[str, Any] = {
        "symbol": symbol,
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "qty": qty,
        "price": D(30000),  # far under the market: rests
        "decision_price": D(30000),
        "tif": TimeInForce.GTC,
        "kind": kind,
    }
    rules = PLUGINS[venue].default_limits.client_ids
    return Intent.build(
        IntentId("gw", "btc", cycle, f"entry.{kind}"), venue, rules, **(fields | kw)
    )


def _orders_on(rig: Rig, venue: str) -> int:
    return len(rig.sim.engine(venue).orders)


async def test_place_all_when_bytes_leave_both_intents_and_submits_are_already_committed(
    rig: Rig,
) -> None:
    gateway = rig.gateway()
    spot, perp = _intent("bybit"), _intent("okx")

    placed = await gateway.place_all([spot, perp])

    assert [s.state for s in placed] == ["acknowledged", "acknowledged"]
    both = sorted((i.client_id,) for i in (spot, perp))
    bodies = {i.client_id: [b for b in rig.wire.seen if i.client_id in b] for i in (spot, perp)}
    assert all(len(found) == 1 for found in bodies.values()), bodies
    for (body,) in bodies.values():
        assert rig.wire.seen[body] == (both, both)


async def test_place_all_when_one_leg_is_refused_the_other_still_stands(rig: Rig) -> None:
    gateway = rig.gateway()
    spot = _intent("bybit")
    flat_reduce = _intent("okx", order_type=OrderType.MARKET, price=None, reduce_only=True)

    placed = await gateway.place_all([spot, flat_reduce])

    assert [s.state for s in placed] == ["acknowledged", "rejected"]
    assert gateway.stats.rejected == 1
    assert _orders_on(rig, "bybit") == 1


async def test_place_all_when_answer_is_lost_resolves_by_query_without_resending(
    rig: Rig,
) -> None:
    rig.sim.faults.add(FaultKind.REST_5XX_AFTER_ACCEPT, PLACE["bybit"][1])
    gateway = rig.gateway()
    spot, perp = _intent("bybit"), _intent("okx")

    placed = await gateway.place_all([spot, perp])

    assert [s.state for s in placed] == ["acknowledged", "acknowledged"]
    assert gateway.stats.ambiguous == 1
    assert (_orders_on(rig, "bybit"), _orders_on(rig, "okx")) == (1, 1)
    assert gateway.tracker.history(spot.client_id)[:2] == [
        ("submit", "new", "submitted"),
        ("send_ambiguous", "submitted", "unknown"),
    ]


async def test_place_all_when_a_venue_is_unknown_journals_and_sends_nothing(rig: Rig) -> None:
    gateway = rig.gateway()
    stray = Intent(_intent("okx").id, "kraken", _intent("okx").request, D(30000))

    with pytest.raises(KeyError, match="expected a venue of \\['bybit', 'okx'\\], was 'kraken'"):
        await gateway.place_all([_intent("bybit"), stray])

    assert rig.journal.load_state().orders == {}
    assert rig.wire.seen == {}


async def test_place_all_when_admission_refuses_one_leg_journals_and_sends_nothing(
    rig: Rig,
) -> None:
    gateway = rig.gateway()
    spot, perp = _intent("bybit"), _intent("okx")
    gateway.admit = lambda intent: "kill switch holds" if intent.venue == "okx" else ""

    with pytest.raises(OrderRefused, match=f"{perp.client_id} .* refused: kill switch holds"):
        await gateway.place_all([spot, perp])

    assert rig.journal.load_state().orders == {}
    assert rig.wire.seen == {}
    assert (_orders_on(rig, "bybit"), _orders_on(rig, "okx")) == (0, 0)
    assert gateway.stats.refused == 1
    gateway.admit = lambda intent: ""  # the kill cleared: the same intents go out
    placed = await gateway.place_all([spot, perp])
    assert [s.state for s in placed] == ["acknowledged", "acknowledged"]


async def test_place_all_when_answered_has_spare_machines_for_the_next_decision(rig: Rig) -> None:
    gateway = rig.gateway(spare_machines=3)
    assert gateway.tracker.spare_machines == 3

    await gateway.place_all([_intent("bybit"), _intent("okx")])

    assert gateway.tracker.spare_machines == 3


async def test_wait_final_when_the_order_ends_is_woken_without_polling(rig: Rig) -> None:
    gateway = rig.gateway()
    spot = _intent("bybit")
    await gateway.place(spot)
    waiter = asyncio.create_task(gateway.wait_final(spot.client_id, timeout_s=30))
    await asyncio.sleep(0)  # the waiter is parked on its order

    await gateway.cancel(spot.client_id)
    await gateway.resolve(spot.client_id)  # what the private stream would have said

    final = await asyncio.wait_for(waiter, timeout=30)
    assert final.state == "cancelled"


async def test_place_all_when_connections_are_open_writes_every_leg_before_it_waits(
    rig: Rig,
) -> None:
    gateway = rig.gateway()
    await gateway.place_all([_intent("bybit", cycle=1), _intent("okx", cycle=1)])  # connects
    spot, perp = _intent("bybit", cycle=2), _intent("okx", cycle=2)
    written_by_first_wait: list[int] = []
    # Runs at the first turn of the loop after place_all starts, i.e. once it first waits.
    asyncio.get_running_loop().call_soon(lambda: written_by_first_wait.append(len(rig.wire.seen)))
    before = len(rig.wire.seen)

    placed = await gateway.place_all([spot, perp])

    assert [s.state for s in placed] == ["acknowledged", "acknowledged"]
    assert written_by_first_wait == [before + 2]
    for body, (intents, submits) in rig.wire.seen.items():
        if spot.client_id in body or perp.client_id in body:
            assert {(spot.client_id,), (perp.client_id,)} <= set(intents) & set(submits)


async def test_begin_order_when_the_venue_would_refuse_writes_nothing_and_reports_it(
    rig: Rig,
) -> None:
    okx = rig.venues["okx"]
    flat_reduce = _intent("okx", order_type=OrderType.MARKET, price=None, reduce_only=True)
    off_grid = _intent("bybit", qty=D("0.010000001"))  # between two lots
    before = len(rig.wire.seen)

    off_grid_answer = rig.venues["bybit"].begin_order(off_grid.request)
    with pytest.raises(OrderRejected, match="not a multiple"):
        await off_grid_answer
    assert len(rig.wire.seen) == before  # refused here: nothing left
    with pytest.raises(Definitive):
        await okx.begin_order(flat_reduce.request)  # refused by the venue: same error class
    assert _orders_on(rig, "bybit") == 0


async def test_watched_begin_order_when_refused_notes_placed_refused_and_sent(rig: Rig) -> None:
    notes: list[tuple[str, str]] = []
    watched = WatchedTrading(
        rig.venues["okx"],  # type: ignore[arg-type]
        lambda cid, symbol: notes.append(("placed", cid)),
        lambda cid, symbol: notes.append(("refused", cid)),
        lambda cid, symbol: notes.append(("sent", cid)),
    )
    fine = _intent("okx", cycle=1)
    flat_reduce = _intent("okx", cycle=2, order_type=OrderType.MARKET, price=None, reduce_only=True)

    ack = await watched.begin_order(fine.request)
    with pytest.raises(Definitive):
        await watched.begin_order(flat_reduce.request)

    assert ack.client_id == fine.client_id
    assert notes == [
        ("placed", fine.client_id),
        ("sent", fine.client_id),  # the request is over: "no such order" now means never got
        ("placed", flat_reduce.client_id),
        ("refused", flat_reduce.client_id),
        ("sent", flat_reduce.client_id),
    ]
