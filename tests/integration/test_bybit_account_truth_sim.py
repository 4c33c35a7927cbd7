"""What the Bybit session reports about the account, checked against the simulated venue's own
records (its balances, open orders, positions, orders), now that the simulator speaks Bybit's
account dialect as Bybit does: `availableToWithdraw` "0" on a funded unified wallet,
`entryPrice` on position pushes (`avgPrice` over REST), orders rejected after a partial fill."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from arbiter.market.instrument import InstrumentKind
from arbiter.sim import Simulation, start
from arbiter.sim.accounts import Account
from arbiter.sim.book import Side as SimSide
from arbiter.sim.engine import VenueEngine
from arbiter.testing.session_harness import Recorder
from arbiter.venues import (
    BalanceUpdate,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionUpdate,
    Side,
    VenueSession,
)
from tests.support.session_harness import make_session

D = Decimal
DAY_MS = 86_400_000


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    simulation = await start(venues=["bybit"], seed=21)
    engine = simulation.engine("bybit")
    for funding in engine.funding.values():  # no funding time falls inside a test by itself
        funding.next_ms = engine.clock.now_ms() + DAY_MS
    yield simulation
    await simulation.stop()


@pytest.fixture
async def session(sim: Simulation) -> AsyncIterator[tuple[VenueSession, Recorder]]:
    venue_session = make_session(sim, "bybit")
    recorder = Recorder()
    venue_session.on_private(recorder.on_private)
    await venue_session.start()
    yield venue_session, recorder
    await venue_session.close()


def _account(sim: Simulation) -> tuple[VenueEngine, Account]:
    engine = sim.engine("bybit")
    return engine, engine.account(sim.endpoints("bybit").api_key)


async def test_free_balance_when_wallet_says_nothing_to_withdraw_is_what_the_venue_holds_free(
    sim: Simulation, session: tuple[VenueSession, Recorder]
) -> None:
    venue_session, recorder = session
    trading = venue_session.trading
    engine, account = _account(sim)
    perp = engine.instrument(InstrumentKind.PERP, "BTCUSDT")
    await trading.place_order(  # rests: locks quote
        OrderRequest(
            "rest1", "BTCUSDT", Side.BUY, OrderType.LIMIT, D("0.01"), D(20000), kind="spot"
        )
    )
    # The fill moves the wallet: its push carries the margin and what the resting order locks.
    await trading.place_order(
        OrderRequest("long1", "BTCUSDT", Side.BUY, OrderType.MARKET, D("0.05"), kind="perp")
    )
    locked, _ = engine.holds(account)["USDT"]
    held = locked + account.used_margin()
    truth_free = account.balance("USDT") - held
    assert locked > 0
    assert account.used_margin() > 0

    def pushed() -> BalanceUpdate | None:
        usdt = [e for e in recorder.private if isinstance(e, BalanceUpdate) and e.asset == "USDT"]
        return usdt[-1] if usdt else None

    await recorder.until(lambda: (p := pushed()) is not None and p.free == truth_free, "the push")
    update = pushed()
    assert update is not None
    assert (update.free, update.total) == (truth_free, account.balance("USDT"))
    balance = (await trading.balances())["USDT"]
    assert (balance.free, balance.total) == (truth_free, account.balance("USDT"))
    assert balance.free > 0  # the wallet's availableToWithdraw said "0"
    assert perp.quote == "USDT"


async def test_position_push_when_perp_held_carries_the_venues_entry_price(
    sim: Simulation, session: tuple[VenueSession, Recorder]
) -> None:
    venue_session, recorder = session
    _, account = _account(sim)
    await venue_session.trading.place_order(
        OrderRequest("short1", "BTCUSDT", Side.SELL, OrderType.MARKET, D("0.03"), kind="perp")
    )
    position = account.positions["BTCUSDT"]

    def pushed() -> PositionUpdate | None:
        found = [e for e in recorder.private if isinstance(e, PositionUpdate)]
        return found[-1] if found else None

    await recorder.until(lambda: (p := pushed()) is not None and p.size == position.qty, "push")
    update = pushed()
    assert update is not None
    assert (update.size, update.entry_price) == (position.qty, position.entry_price)
    assert update.entry_price is not None
    (listed,) = await venue_session.trading.positions()
    assert (listed.size, listed.entry_price) == (position.qty, position.entry_price)


async def test_rejected_after_partial_fill_when_venue_refuses_the_rest_reports_fills_and_reason(
    sim: Simulation, session: tuple[VenueSession, Recorder]
) -> None:
    venue_session, recorder = session
    engine, account = _account(sim)
    perp = engine.instrument(InstrumentKind.PERP, "BTCUSDT")
    ticks, lots = engine.book(perp).depth(SimSide.SELL, 1)[0]
    qty = perp.lots_to_qty(lots) + perp.lot_size  # one lot more than the best ask holds
    await venue_session.trading.place_order(
        OrderRequest(
            "part1", "BTCUSDT", Side.BUY, OrderType.LIMIT, qty, perp.ticks_to_price(ticks),
            kind="perp",
        )
    )  # fmt: skip
    order = engine.find_order(account, None, "part1")
    assert D(0) < order.filled < order.qty
    engine.reject_rest(account, order)

    def ended() -> OrderUpdate | None:
        found = [
            e
            for e in recorder.private
            if isinstance(e, OrderUpdate) and e.client_id == "part1" and e.status.final
        ]
        return found[-1] if found else None

    await recorder.until(lambda: ended() is not None, "the rejection")
    update = ended()
    assert update is not None
    assert (update.status, update.filled_qty, update.qty, update.reason) == (
        OrderStatus.REJECTED,
        order.filled,
        order.qty,
        "UNKNOWN",
    )
    queried = await venue_session.trading.query_order("BTCUSDT", "part1")
    assert queried is not None
    assert (queried.status, queried.filled_qty, queried.reason) == (
        OrderStatus.REJECTED,
        order.filled,
        "UNKNOWN",
    )
