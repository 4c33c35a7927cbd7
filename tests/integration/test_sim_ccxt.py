"""Acceptance: ccxt's own Bybit and OKX clients trade against the simulator, unchanged but URLs.

Every check compares what ccxt reports with the simulator's own state, and money with exact
Decimal arithmetic from the fills. The market only moves when a test calls `sim.step()`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import ccxt.pro as ccxtpro
import pytest

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim import Simulation, start
from arbiter.sim.book import Side
from arbiter.sim.clients import point_at_simulator
from arbiter.sim.engine import VenueEngine

PERP = "BTC/USDT:USDT"
SPOT = "BTC/USDT"


@dataclass(frozen=True)
class VenueCase:
    name: str
    perp_id: str
    spot_id: str
    perp_amount: float  # one order's size in the venue's perp units (coins or contracts)
    duplicate_code: str
    total_is_equity: bool  # ccxt's "total" is OKX's eq (wallet + unrealized PnL), Bybit's wallet

    def by_client_id(self, client_id: str) -> tuple[str | None, dict[str, Any]]:
        """ccxt's (id, params) that fetch an order by client id alone on this venue."""
        if self.name == "bybit":
            # ccxt's bybit sends the id as orderId; empty means "not given" to the venue.
            return "", {"orderLinkId": client_id, "acknowledged": True}
        return None, {"clOrdId": client_id}


CASES = [
    VenueCase("bybit", "BTCUSDT", "BTCUSDT", 0.01, "110072", False),
    VenueCase("okx", "BTC-USDT-SWAP", "BTC-USDT", 1, "51016", True),
]


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest) -> VenueCase:
    param: VenueCase = request.param
    return param


@pytest.fixture
async def sim(case: VenueCase) -> AsyncIterator[Simulation]:
    simulation = await start(venues=[case.name], seed=7)
    yield simulation
    await simulation.stop()


@pytest.fixture
async def client(case: VenueCase, sim: Simulation) -> AsyncIterator[Any]:
    exchange = getattr(ccxt, case.name)({"enableRateLimit": False})
    point_at_simulator(exchange, sim.endpoints(case.name))
    await exchange.load_markets()
    yield exchange
    await exchange.close()


def _perp(engine: VenueEngine, case: VenueCase) -> Instrument:
    return engine.instrument(InstrumentKind.PERP, case.perp_id)


def _spot(engine: VenueEngine, case: VenueCase) -> Instrument:
    return engine.instrument(InstrumentKind.SPOT, case.spot_id)


def _best(engine: VenueEngine, inst: Instrument, side: Side) -> Decimal:
    levels = engine.book(inst).depth(side, 1)
    return inst.ticks_to_price(levels[0][0])


async def test_load_markets_when_connected_lists_spot_and_perps(client: Any) -> None:
    assert {SPOT, PERP, "ETH/USDT", "ETH/USDT:USDT"} <= set(client.markets)
    assert client.markets[PERP]["swap"]
    assert client.markets[SPOT]["spot"]


async def test_fetch_order_book_when_called_matches_engine_book(
    client: Any, sim: Simulation, case: VenueCase
) -> None:
    engine = sim.engine(case.name)
    inst = _perp(engine, case)

    book = await client.fetch_order_book(PERP, 5)

    assert Decimal(str(book["bids"][0][0])) == _best(engine, inst, Side.BUY)
    assert Decimal(str(book["asks"][0][0])) == _best(engine, inst, Side.SELL)


async def test_limit_ioc_perp_when_crossing_fills_and_charges_exact_fee(
    client: Any, sim: Simulation, case: VenueCase
) -> None:
    engine = sim.engine(case.name)
    account = next(iter(engine.accounts.values()))
    inst = _perp(engine, case)
    usdt_before = account.balance("USDT")
    ask = _best(engine, inst, Side.SELL)

    await client.create_order(
        PERP,
        "limit",
        "buy",
        case.perp_amount,
        float(ask),
        {"timeInForce": "IOC", "clientOrderId": "ioc-1"},
    )

    order = engine.find_order(account, None, "ioc-1")
    assert order.filled == Decimal(str(case.perp_amount))
    expected_fee = inst.base_qty(order.filled) * ask * inst.taker_fee
    assert order.fee == expected_fee
    assert account.balance("USDT") == usdt_before - expected_fee
    balance = await client.fetch_balance()
    upnl = account.position(inst).unrealized_pnl(engine.mark(inst))
    expected_total = account.balance("USDT") + (upnl if case.total_is_equity else 0)
    assert Decimal(str(balance["USDT"]["total"])) == expected_total
    positions = await client.fetch_positions([PERP])
    assert len(positions) == 1
    assert Decimal(str(positions[0]["contracts"])) == account.position(inst).qty
    assert Decimal(str(positions[0]["entryPrice"])) == ask
    order_id, params = case.by_client_id("ioc-1")
    fetched = await client.fetch_order(order_id, PERP, params)
    assert fetched["status"] == "closed"
    assert fetched["clientOrderId"] == "ioc-1"
    assert Decimal(str(fetched["filled"])) == order.filled


async def test_market_spot_sell_when_filled_moves_base_and_quote_exactly(
    client: Any, sim: Simulation, case: VenueCase
) -> None:
    engine = sim.engine(case.name)
    account = next(iter(engine.accounts.values()))
    inst = _spot(engine, case)
    base_before, quote_before = account.balance("BTC"), account.balance("USDT")
    book_before = engine.book(inst).depth(Side.BUY, 50)

    await client.create_order(SPOT, "market", "sell", 0.05, None, {"clientOrderId": "mkt-1"})

    order = engine.find_order(account, None, "mkt-1")
    assert order.filled == Decimal("0.05")
    # Walk the bids we saw before the order: that is the value it must have received.
    left, value = inst.qty_to_lots(Decimal("0.05")), Decimal(0)
    for ticks, lots in book_before:
        take = min(left, lots)
        value += inst.lots_to_qty(take) * inst.ticks_to_price(ticks)
        left -= take
        if not left:
            break
    fee = value * inst.taker_fee
    assert account.balance("BTC") == base_before - Decimal("0.05")
    assert account.balance("USDT") == quote_before + value - fee
    balance = await client.fetch_balance()
    assert Decimal(str(balance["BTC"]["total"])) == account.balance("BTC")


async def test_resting_order_when_cancelled_leaves_open_orders(
    client: Any, sim: Simulation, case: VenueCase
) -> None:
    engine = sim.engine(case.name)
    account = next(iter(engine.accounts.values()))
    inst = _spot(engine, case)
    far_bid = inst.round_price_down(_best(engine, inst, Side.BUY) * Decimal("0.9"))
    created = await client.create_order(
        SPOT, "limit", "buy", 0.01, float(far_bid), {"clientOrderId": "rest-1"}
    )

    open_before = await client.fetch_open_orders(SPOT)
    await client.cancel_order(created["id"], SPOT)
    open_after = await client.fetch_open_orders(SPOT)

    assert [o["clientOrderId"] for o in open_before] == ["rest-1"]
    assert open_after == []
    assert engine.find_order(account, None, "rest-1").status.value == "cancelled"


async def test_create_when_client_id_reused_refused_with_venue_duplicate_code(
    client: Any, sim: Simulation, case: VenueCase
) -> None:
    engine = sim.engine(case.name)
    inst = _spot(engine, case)
    far_bid = float(inst.round_price_down(_best(engine, inst, Side.BUY) * Decimal("0.9")))
    await client.create_order(SPOT, "limit", "buy", 0.01, far_bid, {"clientOrderId": "dup-1"})

    with pytest.raises(ccxt.InvalidOrder, match=case.duplicate_code):
        await client.create_order(SPOT, "limit", "buy", 0.01, far_bid, {"clientOrderId": "dup-1"})

    assert len(engine.orders) == 1


async def test_signed_request_when_secret_wrong_refused(sim: Simulation, case: VenueCase) -> None:
    exchange = getattr(ccxt, case.name)({"enableRateLimit": False})
    point_at_simulator(exchange, sim.endpoints(case.name))
    exchange.secret = "not-the-secret"
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await exchange.fetch_balance()
    finally:
        await exchange.close()


async def test_watch_order_book_when_market_moves_matches_engine_top(
    sim: Simulation, case: VenueCase
) -> None:
    engine = sim.engine(case.name)
    exchange = getattr(ccxtpro, case.name)({"enableRateLimit": False})
    point_at_simulator(exchange, sim.endpoints(case.name))
    try:
        for symbol, inst in ((PERP, _perp(engine, case)), (SPOT, _spot(engine, case))):
            await exchange.watch_order_book(symbol)
            for _ in range(3):
                sim.step()
                book = await exchange.watch_order_book(symbol)
                assert Decimal(str(book["bids"][0][0])) == _best(engine, inst, Side.BUY)
                assert Decimal(str(book["asks"][0][0])) == _best(engine, inst, Side.SELL)
    finally:
        await exchange.close()
