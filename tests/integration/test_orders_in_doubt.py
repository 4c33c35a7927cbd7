"""Orders whose outcome stays in doubt, and the unhedged budget that bounds every wait for it.

A runtime trades one Bybit-spot / OKX-perp pair on the simulator with the real plugins. Faults
act on OKX only, so the spot leg fills and the perp leg is the one in doubt: its request held on
its way, its answer lost, its pushes lost, its queries failing, its cancel answered "not found".
Whatever happens, the executor never raises, never waits past the budget, the pair halts with an
incident rather than guess, the books never hide the naked leg, and once the venue can be heard
again every order ends and the journal agrees with the venues (`tests.support.journal_agreement`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.sim import FaultKind
from arbiter.sim.faults import FaultRule
from arbiter.sim.generator import STILL_MARKET
from tests.support.dual_leg_desk import OKX_ORDER, Desk, open_desk, resting_legs
from tests.support.sim_runtime import manifest

D = Decimal
OKX_QUERY = "okx GET /api/v5/trade/order"  # a query by client id (and the pending list)
OKX_CANCEL = "okx POST /api/v5/trade/cancel-order"


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    """Legs time out after 300 ms; a one-legged position may last 800 ms."""
    text = manifest("alpha", cooldown_s="3600", leg_timeout_ms="300", max_unhedged_ms="800")
    opened = await open_desk(tmp_path, "chase", STILL_MARKET, text)
    try:
        yield opened
    finally:
        await opened.runtime.stop()
        await opened.sim.stop()


def status_delta(desk: Desk) -> tuple[Decimal, Decimal]:
    """(net delta as status reports it, as the books expect it) in BTC."""
    body = desk.runtime.status()["strategies"][0]
    return D(body["net_delta"]["BTC"]), D(body["net_delta_expected"]["BTC"])


def pair_row(desk: Desk) -> dict[str, object]:
    rows: list[dict[str, object]] = desk.runtime.status()["strategies"][0]["pairs"]
    return rows[0]


async def test_entry_when_perp_request_is_held_past_the_budget_halts_and_shows_the_naked_leg(
    desk: Desk,
) -> None:
    runtime = desk.runtime
    desk.sim.faults.add(FaultKind.REST_HOLD, OKX_ORDER)  # on its way until released
    await desk.basis("80")

    # The budget ran out with the perp request still on its way: the pair halts (it does not
    # wait for the answer, nor guess the order away and chase a second one).
    await desk.until(lambda: desk.pair.machine.state == "halted", "halted at the budget")
    assert desk.engine_orders("okx") == []  # OKX has not seen it
    spot, perp = desk.held()
    assert spot > 0
    assert perp == 0
    legs = desk.legs(1)
    assert set(legs) == {"entry.spot/0", "entry.perp/0"}  # nothing else was sent
    assert legs["entry.perp/0"][0] == "submitted"
    # The books do not hide the naked leg: net delta reads what the venues hold.
    reported, expected = status_delta(desk)
    assert reported == desk.net_base() > 0
    assert expected == reported - perp_qty_base(desk)  # as if the perp order had filled
    incident = runtime.incidents.get("unresolved:alpha/btc")
    assert incident is not None
    assert incident.state == "open"
    assert pair_row(desk)["needs_operator"] is True
    assert legs["entry.perp/0"][1] in runtime.status()["orders_being_finished"]

    # The request arrives after all: the order is finished, the books follow the venue.
    desk.sim.faults.release_held()
    await desk.until(lambda: not runtime.tracker.open_orders(), "the perp order ended")
    await desk.cycle_settles("halted")
    desk.agrees()
    desk.hedged()
    assert status_delta(desk)[0] == desk.net_base()

    # The operator resumes the pair on what its fills hold; it exits like any other.
    assert runtime.resume_pair("alpha", "btc", "operator:test") == "open"
    assert desk.pair.open_base == desk.held()[1] > 0
    assert incident.state == "resolved"
    await desk.basis("-40")
    await desk.cycle_settles("cooling_down")
    assert desk.pair.stats.cycles_completed == 1
    desk.agrees()
    desk.no_client_id_twice()


def perp_qty_base(desk: Desk) -> Decimal:
    """The perp leg's order of cycle 1, in BTC (contracts of 0.01)."""
    row = desk.runtime.journal.connection.execute(
        "SELECT qty FROM intents WHERE pair = 'btc' AND cycle = 1 AND leg = 'entry.perp'"
    ).fetchone()
    return D(row[0]) * D("0.01")


@pytest.mark.parametrize("query_fault", [FaultKind.RATE_LIMIT, FaultKind.REST_5XX])
async def test_entry_when_answer_and_pushes_lost_and_queries_fail_halts_then_finishes_the_order(
    desk: Desk, query_fault: FaultKind
) -> None:
    runtime = desk.runtime
    desk.sim.faults.add(FaultKind.REST_5XX_AFTER_ACCEPT, OKX_ORDER)  # OKX takes it, says 502
    lost = desk.sim.faults.add(FaultKind.PRIVATE_DROP, "okx private:", probability=1.0)
    failing = desk.sim.faults.add(query_fault, OKX_QUERY, probability=1.0)
    await desk.basis("80")

    # Every query fails (rate limited, or 5xx), no push says what became of the order: the
    # executor neither raises nor waits past the budget; the pair halts, not errs.
    await desk.until(lambda: desk.pair.machine.state == "halted", "halted at the budget")
    legs = desk.legs(1)
    assert legs["entry.perp/0"][0] == "unknown"
    assert runtime.gateway.stats.query_errors > 0
    assert runtime.incidents.get("unresolved:alpha/btc") is not None
    # OKX did fill it, which nobody can know yet: the reported delta is the worst case.
    assert desk.held()[1] > 0
    assert abs(status_delta(desk)[0]) >= abs(desk.net_base())

    # The venue can be heard again: the order is queried to its end and its fills read.
    lift(desk, failing, lost)
    await desk.until(lambda: not runtime.tracker.open_orders(), "the perp order ended")
    await desk.until(
        lambda: runtime.tracker.snapshot(legs["entry.perp/0"][1]).missing_fill_qty == 0,
        "its fills read from the venue",
    )
    await desk.cycle_settles("halted")
    desk.agrees()
    desk.hedged()
    assert status_delta(desk)[0] == desk.net_base()
    assert desk.pair.machine.state == "halted"  # until an operator has looked


def lift(desk: Desk, *rules: FaultRule) -> None:
    for rule in rules:
        desk.sim.faults.rules.remove(rule)


async def test_cancel_when_answered_not_found_queries_the_order_and_cancels_it_again(
    desk: Desk,
) -> None:
    legs = resting_legs(desk)  # an IOC spot buy, a perp sell resting above the market
    # The venue answers the first cancel "order does not exist" although the order rests.
    desk.sim.faults.add(FaultKind.REJECT, OKX_CANCEL, code="51603", message="Order does not exist")

    result = await desk.runtime.executor.execute(legs, leg_timeout_ms=300, max_unhedged_ms=5_000)

    perp = legs[1].intent.client_id
    tracker = desk.runtime.tracker
    assert result.outcome == "one_leg_filled", result.reason
    assert tracker.snapshot(perp).state == "cancelled"
    history = tracker.history(perp)
    # "Not found" was not taken for "still working" (nor for "ended"): a query said it works,
    # and only then was the cancel taken as refused, and sent again.
    query_said_working = history.index(("ack", "pending_cancel", "pending_cancel"))
    refused = history.index(("cancel_rejected", "pending_cancel", "acknowledged"))
    assert query_said_working < refused
    assert history.count(("cancel_request", "acknowledged", "pending_cancel")) == 2
    okx = desk.sim.engine("okx")
    assert [o.client_id for o in okx.orders.values() if o.status.is_open] == []
    assert desk.runtime.gateway.stats.cancels >= 2
    desk.agrees()
