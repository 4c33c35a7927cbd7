"""Both legs of a cycle, and their repair, with the real plugins against the simulator.

A runtime trades one Bybit-spot / OKX-perp pair on a still market; a cycle starts only when a
test moves the OKX perp's basis past the entry threshold. Faults act on one venue's order
endpoint or private stream, so they hit exactly one leg. After each cycle the journal is
compared with the engines' own state, exactly (`tests.support.journal_agreement`): orders, fills, balances and
positions. Waits are on conditions with a generous timeout, never on a fixed sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.market.instrument import InstrumentKind
from arbiter.sim import FaultKind
from arbiter.sim.control import state
from arbiter.sim.generator import STILL_MARKET
from arbiter.venues import Side
from tests.support.dual_leg_desk import OKX_ORDER, Desk, open_desk, resting_legs

D = Decimal
# The OKX perp book thin and its levels far apart: a 600 USDT sell takes the ~10 levels within
# its 20 bps limit, fills part, and the IOC expires the rest; the levels beyond stay for a
# repair (still market: nothing refills the book).
THIN_PERP = replace(STILL_MARKET, depth={"okx:BTC:perp": 0.002}, level_spacing=0.0003)


@pytest.fixture
async def desk(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Desk]:
    repair, market = getattr(request, "param", ("chase", STILL_MARKET))
    opened = await open_desk(tmp_path, repair, market)
    try:
        yield opened
    finally:
        await opened.runtime.stop()
        await opened.sim.stop()


# -- both legs -----------------------------------------------------------------------------


async def test_entry_when_both_legs_fill_holds_a_hedged_position_the_venue_agrees_with(
    desk: Desk,
) -> None:
    await desk.basis("80")
    await desk.cycle_settles("open")

    legs = desk.legs(1)
    assert {leg: s for leg, (s, _, _) in legs.items()} == {
        "entry.spot/0": "filled",
        "entry.perp/0": "filled",
    }
    # the spot leg bought more than the perp sold: its fee is paid in BTC
    assert desk.pair.open_base == legs["entry.perp/0"][2] * D("0.01") > 0
    assert legs["entry.spot/0"][2] > desk.pair.open_base
    assert desk.held() == (desk.held()[0], desk.pair.open_base)
    desk.agrees()
    desk.hedged()
    # The cycle machine journaled the entry under the cycle it entered (a restart reads it).
    rows = desk.runtime.journal.connection.execute(
        "SELECT trigger, cycle FROM cycle_transitions WHERE pair = 'btc' ORDER BY id"
    ).fetchall()
    assert [(t, c) for t, c in rows if t != "spread_entered"] == [
        ("enter", 1),
        ("both_filled", 1),
    ]

    await desk.basis("-40")
    await desk.cycle_settles("cooling_down")
    assert desk.pair.stats.cycles_completed == 1
    desk.agrees()
    desk.hedged()
    okx = desk.sim.engine("okx")
    perp = okx.instrument(InstrumentKind.PERP, "BTC-USDT-SWAP")
    assert next(iter(okx.accounts.values())).position(perp).qty == 0


# -- one leg rejected ------------------------------------------------------------------------


@pytest.mark.parametrize("desk", [("chase", STILL_MARKET)], indirect=True)
async def test_repair_chase_when_perp_leg_rejected_completes_the_missing_leg(desk: Desk) -> None:
    desk.sim.faults.add(FaultKind.REJECT, OKX_ORDER)
    await desk.basis("80")
    await desk.cycle_settles("open")

    legs = desk.legs(1)
    assert legs["entry.perp/0"][0] == "rejected"
    assert legs["entry.perp/0"][1] not in desk.engine_orders("okx")
    assert legs["entry.perp.chase/1"][0] == "filled"
    assert desk.pair.stats.repairs == {"repaired": 1}
    perp = legs["entry.perp.chase/1"][2]
    assert desk.pair.open_base == perp * D("0.01") == desk.held()[1]  # contracts of 0.01 BTC
    desk.agrees()
    desk.hedged()


@pytest.mark.parametrize("desk", [("chase", STILL_MARKET)], indirect=True)
async def test_repair_chase_when_every_chase_is_refused_unwinds_the_spot_leg_within_budget(
    desk: Desk,
) -> None:
    desk.sim.faults.add(FaultKind.REJECT, OKX_ORDER, count=4)  # the leg and its 3 chases
    await desk.basis("80")
    await desk.cycle_settles("cooling_down")

    legs = desk.legs(1)
    assert [legs[f"entry.perp.chase/{n}"][0] for n in (1, 2, 3)] == ["rejected"] * 3
    # the chase could not close it: the spot leg is traded back, as the next order of the cycle
    assert legs["entry.spot.unwind/4"][0] == "filled"
    assert desk.pair.stats.repairs == {"flattened": 1}
    assert desk.pair.open_base == 0
    assert desk.runtime.incidents.get("legging:alpha/btc") is None  # repaired in time
    desk.agrees()
    desk.hedged()  # flat but for fee dust


async def test_entry_when_a_leg_is_rate_limited_sends_it_again_as_a_new_attempt(
    desk: Desk,
) -> None:
    desk.sim.faults.add(FaultKind.RATE_LIMIT, OKX_ORDER)  # the venue did not take it
    await desk.basis("80")
    await desk.cycle_settles("open")

    legs = desk.legs(1)
    assert {leg: st for leg, (st, _, _) in legs.items()} == {
        "entry.spot/0": "filled",
        "entry.perp/0": "rejected",
        "entry.perp/1": "filled",  # execution.retry: the same order, a new client id
    }
    assert desk.pair.stats.repairs == {}  # no repair was needed
    assert desk.pair.open_base == legs["entry.perp/1"][2] * D("0.01") == desk.held()[1]
    assert legs["entry.perp/0"][1] not in desk.engine_orders("okx")
    desk.agrees()
    desk.hedged()


@pytest.mark.parametrize("desk", [("unwind", STILL_MARKET)], indirect=True)
async def test_repair_unwind_when_perp_leg_rejected_trades_the_spot_leg_back(desk: Desk) -> None:
    desk.sim.faults.add(FaultKind.REJECT, OKX_ORDER)
    await desk.basis("80")
    await desk.cycle_settles("cooling_down")

    legs = desk.legs(1)
    assert legs["entry.perp/0"][0] == "rejected"
    assert legs["entry.spot.unwind/1"][0] == "filled"
    # it sells what the buy left in the account (net of the fee), down to the lot
    held = legs["entry.spot/0"][2] - desk.fee_paid_in_btc()
    assert legs["entry.spot.unwind/1"][2] == held // desk.spot_lot() * desk.spot_lot()
    assert desk.pair.stats.repairs == {"flattened": 1}
    assert desk.pair.open_base == 0
    desk.agrees()
    desk.hedged()  # flat
    assert desk.engine_orders("okx") == []


@pytest.mark.parametrize("desk", [("hedge", STILL_MARKET)], indirect=True)
async def test_repair_hedge_when_perp_leg_rejected_hedger_restores_delta_within_band(
    desk: Desk,
) -> None:
    desk.sim.faults.add(FaultKind.REJECT, OKX_ORDER)
    await desk.basis("80")
    await desk.cycle_settles("cooling_down")

    legs = desk.legs(1)
    assert legs["entry.perp/0"][0] == "rejected"
    assert desk.pair.stats.repairs == {"handed_to_hedger": 1}
    hedger = desk.runtime.strategies["alpha"].hedger
    assert hedger is not None
    assert [d.slices for d in hedger.decisions if d.slices], "the hedger sent nothing"
    desk.agrees()
    band = desk.runtime.strategies["alpha"].loaded.manifest.hedge
    assert band is not None
    mid = desk.runtime.market.touch(desk.pair.pair.legs[0], Side.SELL)
    assert mid is not None
    assert abs(desk.net_base()) * mid <= band.band_notional
    assert abs(desk.runtime.strategies["alpha"].runner.inventory.delta("BTC").base) * mid <= (
        band.band_notional
    )


# -- one leg partly filled, the rest expired --------------------------------------------------


def partial_entry(desk: Desk) -> tuple[Decimal, Decimal]:
    """(spot held net of its fee, perp filled) in BTC of cycle 1's entry, checking that the perp leg
    filled in part and the venue ended the IOC's remainder (both venues say cancelled)."""
    legs = desk.legs(1)
    state, _, contracts = legs["entry.perp/0"]
    assert state in ("cancelled", "expired")
    assert 0 < contracts < D("0.99"), contracts  # part of the 0.99-contract order
    return legs["entry.spot/0"][2] - desk.fee_paid_in_btc(), contracts * D("0.01")


@pytest.mark.parametrize("desk", [("chase", THIN_PERP)], indirect=True)
async def test_repair_chase_when_perp_leg_partly_filled_sells_the_rest_deeper(desk: Desk) -> None:
    await desk.basis("80")
    await desk.cycle_settles("open")

    spot, perp = partial_entry(desk)
    chased = sum((q for leg, (_, _, q) in desk.legs(1).items() if ".chase/" in leg), D(0))
    assert 0 <= spot - (perp + chased * D("0.01")) < desk.spot_lot()  # down to dust
    assert desk.pair.stats.repairs == {"repaired": 1}
    assert desk.pair.open_base == perp + chased * D("0.01")
    desk.agrees()
    desk.hedged()


@pytest.mark.parametrize("desk", [("unwind", THIN_PERP)], indirect=True)
async def test_repair_unwind_when_perp_leg_partly_filled_keeps_the_hedged_part_open(
    desk: Desk,
) -> None:
    await desk.basis("80")
    await desk.cycle_settles("open")

    spot, perp = partial_entry(desk)
    assert desk.legs(1)["entry.spot.unwind/1"][2] == (spot - perp) // desk.spot_lot() * (
        desk.spot_lot()
    )
    assert desk.pair.stats.repairs == {"flattened": 1}
    # What both legs still hold is a hedged position the pair owns and will exit.
    assert desk.pair.open_base == perp
    desk.agrees()
    desk.hedged()

    # The exit meets the thin perp book too: part of it fills, the unwind buys the spot back
    # down to what the perp closed, and the pair holds the rest, still hedged.
    await desk.basis("-40")
    await desk.until(lambda: desk.pair.stats.repairs == {"flattened": 2}, "exit repaired")
    await desk.cycle_settles("open")
    _, perp_short = desk.held()
    assert desk.pair.open_base == perp_short > 0
    desk.agrees()
    desk.hedged()


@pytest.mark.parametrize("desk", [("hedge", THIN_PERP)], indirect=True)
async def test_repair_hedge_when_perp_leg_partly_filled_hedges_the_rest_keeps_the_pair_open(
    desk: Desk, tmp_path: Path
) -> None:
    await desk.basis("80")
    await desk.cycle_settles("open")

    spot, perp = partial_entry(desk)
    assert desk.pair.stats.repairs == {"handed_to_hedger": 1}
    assert desk.pair.open_base == perp  # the pair's own hedged part; the rest is the hedger's
    spot_held, perp_short = desk.held()
    assert spot_held == spot
    assert abs(perp_short - spot) < D("0.0001")  # the hedger sold what the entry could not
    desk.agrees()
    band = desk.runtime.strategies["alpha"].loaded.manifest.hedge
    assert band is not None
    mid = desk.runtime.market.touch(desk.pair.pair.legs[0], Side.SELL)
    assert mid is not None
    assert abs(desk.net_base()) * mid <= band.band_notional

    # A restart reads the same from the journal: the pair holds its hedged part, the residual
    # was the hedger's (and is hedged), so nothing is one-legged and nothing is reported.
    await desk.restart(tmp_path)
    assert desk.pair.machine.state == "open"
    assert desk.pair.open_base == perp
    assert desk.runtime.incidents.open() == []
    # rebuilt from the journal, the books say what the venues hold (net of BTC fees)
    assert desk.runtime.strategies["alpha"].runner.inventory.delta("BTC").base == desk.net_base()


# -- venue races and ambiguity ----------------------------------------------------------------


async def test_dual_leg_when_a_fill_beats_the_cancel_absorbs_both_filled_reports(
    desk: Desk,
) -> None:
    legs = resting_legs(desk)
    desk.sim.faults.add(FaultKind.FILL_AFTER_CANCEL, "okx BTC-USDT-SWAP")

    result = await desk.runtime.executor.execute(legs, leg_timeout_ms=300)

    assert result.outcome == "both_filled", result.reason
    assert 0 <= result.residual_base < desk.spot_lot()
    perp = legs[1].intent.client_id
    tracker = desk.runtime.tracker
    assert tracker.snapshot(perp).state == "filled"
    history = tracker.history(perp)
    assert ("cancel_request", "acknowledged", "pending_cancel") in history
    assert ("fill", "pending_cancel", "filled") in history  # the fill won the race
    # The venue reports Filled twice (the fill, then the cancel's outcome): the second is a
    # duplicate the machine absorbs, and the fill is counted once.
    await desk.until(
        lambda: tracker.history(perp).count(("fill", "filled", "filled")) == 2,
        "both Filled reports applied",
    )
    assert tracker.snapshot(perp).filled_qty == D("0.99")
    assert len(tracker.fills(perp)) == 1
    assert tracker.incidents == []
    assert desk.runtime.incidents.open() == []
    desk.agrees()


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": FaultKind.REST_5XX_AFTER_ACCEPT},
        {"kind": FaultKind.REST_TIMEOUT_AFTER_ACCEPT, "delay_ms": 300},  # then a 504
    ],
    ids=["502", "timeout"],
)
async def test_entry_when_venue_accepted_but_answer_lost_resolves_the_one_order(
    desk: Desk, fault: dict[str, object]
) -> None:
    kind = fault.pop("kind")
    assert isinstance(kind, FaultKind)
    desk.sim.faults.add(kind, OKX_ORDER, **fault)  # type: ignore[arg-type]
    await desk.basis("80")
    await desk.cycle_settles("open")

    assert desk.sim.faults.fired == [(kind, OKX_ORDER)]
    # The pair did not wait for the lost answer (the fills said enough); it comes later.
    await desk.until(lambda: desk.runtime.gateway.stats.ambiguous == 1, "the answer is lost")
    legs = desk.legs(1)
    assert set(legs) == {"entry.spot/0", "entry.perp/0"}  # nothing re-sent, no repair order
    assert desk.engine_orders("okx") == [legs["entry.perp/0"][1]]
    assert legs["entry.perp/0"][0] == "filled"
    assert desk.pair.stats.repairs == {}
    assert desk.pair.open_base == legs["entry.perp/0"][2] * D("0.01")
    desk.agrees()


async def test_cycle_when_private_events_duplicated_and_reordered_counts_each_fill_once(
    desk: Desk,
) -> None:
    for venue in ("bybit", "okx"):
        desk.sim.faults.add(FaultKind.WS_DUPLICATE, f"{venue} private:", probability=1.0)
        desk.sim.faults.add(FaultKind.PRIVATE_REORDER, f"{venue} private:", probability=1.0)
    await desk.basis("80")
    await desk.cycle_settles("open")
    await desk.basis("-40")
    await desk.cycle_settles("cooling_down")

    fired = {kind for kind, _ in desk.sim.faults.fired}
    assert fired == {FaultKind.WS_DUPLICATE, FaultKind.PRIVATE_REORDER}
    host = desk.runtime.strategies["alpha"]
    executions = sum(len(v["executions"]) for v in state(desk.sim).values())
    assert host.ledger.fills == executions == 4
    desk.hedged()  # flat but for dust below a lot, and the books say so
    assert desk.pair.stats.cycles_completed == 1
    assert desk.runtime.tracker.incidents == []
    desk.agrees()
