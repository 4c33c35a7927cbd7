"""The venue's order rules on the wire: post-only, fill-or-kill, reduce-only, balance and
margin checks with each venue's own codes, and funding paid at the venue's funding times."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim import FakeClock, Simulation, start
from arbiter.sim.book import Side
from tests.support.wire_clients import Speaker

INSUFFICIENT = {"bybit": "110007", "okx": "51008"}
SPOT_INSUFFICIENT = {"bybit": "170131", "okx": "51008"}
REDUCE_ONLY = {"bybit": "110017", "okx": "51169"}


@pytest.fixture(params=["bybit", "okx"])
def venue(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(ms=int(time.time() * 1000))


@pytest.fixture
async def sim(venue: str, clock: FakeClock) -> AsyncIterator[Simulation]:
    simulation = await start(venues=[venue], seed=17, clock=clock)
    yield simulation
    await simulation.stop()


@pytest.fixture
async def speaker(venue: str, sim: Simulation, clock: FakeClock) -> AsyncIterator[Speaker]:
    async with aiohttp.ClientSession() as session:
        yield Speaker(venue, sim.endpoints(venue), session, clock=clock.now_ms)


def _perp(sim: Simulation, venue: str) -> Instrument:
    symbol = "BTCUSDT" if venue == "bybit" else "BTC-USDT-SWAP"
    return sim.engine(venue).instrument(InstrumentKind.PERP, symbol)


def _asks(sim: Simulation, venue: str, n: int) -> list[tuple[Decimal, Decimal]]:
    inst = _perp(sim, venue)
    levels = sim.engine(venue).book(inst).depth(Side.SELL, n)
    return [(inst.ticks_to_price(t), inst.lots_to_qty(q)) for t, q in levels]


def _position(sim: Simulation, venue: str) -> Decimal:
    account = next(iter(sim.engine(venue).accounts.values()))
    return account.position(_perp(sim, venue)).qty


async def _open_long(speaker: Speaker, sim: Simulation, venue: str) -> None:
    (ask, _), *_ = _asks(sim, venue, 1)
    reply = await speaker.place("open-1", "buy", str(ask), "IOC")
    assert speaker.accepted(reply)
    assert _position(sim, venue) == Decimal(speaker.lot)


# -- post-only and fill-or-kill -----------------------------------------------------------------


async def test_post_only_when_it_would_take_is_accepted_then_cancelled_untraded(
    venue: str, sim: Simulation, speaker: Speaker
) -> None:
    asks_before = _asks(sim, venue, 50)
    (ask, _), *_ = asks_before

    reply = await speaker.place("po-1", "buy", str(ask), "PostOnly")

    assert speaker.accepted(reply)
    row = await speaker.order_row("po-1")
    if venue == "bybit":
        assert (row["orderStatus"], row["rejectReason"]) == (
            "Cancelled",
            "EC_PostOnlyWillTakeLiquidity",
        )
    else:
        assert (row["state"], row["cancelSource"]) == ("canceled", "31")
    assert _asks(sim, venue, 50) == asks_before
    assert _position(sim, venue) == 0


async def test_post_only_when_below_the_ask_rests_on_the_book(
    venue: str, sim: Simulation, speaker: Speaker
) -> None:
    (ask, _), *_ = _asks(sim, venue, 1)
    below = ask - _perp(sim, venue).tick_size

    reply = await speaker.place("po-2", "buy", str(below), "PostOnly")

    assert speaker.accepted(reply)
    assert await speaker.status("po-2") == "new"


async def test_fok_when_book_cannot_fill_all_is_cancelled_without_trading(
    venue: str, sim: Simulation, speaker: Speaker
) -> None:
    inst = _perp(sim, venue)
    asks_before = _asks(sim, venue, 50)
    (ask, size), *_ = asks_before

    reply = await speaker.place("fok-1", "buy", str(ask), "FOK", qty=str(size + inst.lot_size))

    assert speaker.accepted(reply)
    row = await speaker.order_row("fok-1")
    if venue == "bybit":
        assert (row["orderStatus"], row["cumExecQty"]) == ("Cancelled", "0")
    else:
        assert (row["state"], row["accFillSz"], row["cancelSource"]) == ("canceled", "0", "13")
    assert _asks(sim, venue, 50) == asks_before


async def test_fok_when_book_can_fill_all_fills_across_levels(
    venue: str, sim: Simulation, speaker: Speaker
) -> None:
    levels = _asks(sim, venue, 3)
    total = sum((size for _, size in levels), Decimal(0))

    reply = await speaker.place("fok-2", "buy", str(levels[-1][0]), "FOK", qty=str(total))

    assert speaker.accepted(reply)
    assert await speaker.status("fok-2") == "filled"
    assert _position(sim, venue) == total


# -- reduce-only --------------------------------------------------------------------------------


async def test_reduce_only_when_no_position_refused_with_venue_code(
    venue: str, sim: Simulation, speaker: Speaker
) -> None:
    reply = await speaker.place("ro-1", "sell", reduce_only=True)

    assert speaker.error_code(reply) == REDUCE_ONLY[venue]
    assert sim.engine(venue).orders == {}


async def test_reduce_only_when_it_would_grow_the_position_refused_with_venue_code(
    venue: str, sim: Simulation, speaker: Speaker
) -> None:
    await _open_long(speaker, sim, venue)

    reply = await speaker.place("ro-2", "buy", reduce_only=True)

    assert speaker.error_code(reply) == REDUCE_ONLY[venue]
    assert _position(sim, venue) == Decimal(speaker.lot)


async def test_reduce_only_when_larger_than_position_closes_it_and_no_more(
    venue: str, sim: Simulation, speaker: Speaker
) -> None:
    await _open_long(speaker, sim, venue)

    reply = await speaker.place("ro-3", "sell", qty=str(Decimal(speaker.lot) * 3), reduce_only=True)

    assert speaker.accepted(reply)
    assert await speaker.status("ro-3") == "filled"
    assert _position(sim, venue) == 0  # closed, not flipped short


# -- balance and margin -------------------------------------------------------------------------


async def test_perp_order_when_margin_short_refused_with_venue_code(
    venue: str, sim: Simulation, speaker: Speaker
) -> None:
    # 100,000 USDT at 10x carries about 16 BTC of perp; ask for 50 BTC.
    qty = "50" if venue == "bybit" else "5000"
    (ask, _), *_ = _asks(sim, venue, 1)
    price = _perp(sim, venue).round_price_down(ask * Decimal("0.9"))  # rests: margin only

    reply = await speaker.place("m-1", "buy", str(price), qty=qty)

    assert speaker.error_code(reply) == INSUFFICIENT[venue]
    assert sim.engine(venue).orders == {}


@pytest.mark.parametrize(("side", "qty"), [("buy", "5"), ("sell", "1")])
async def test_spot_order_when_funds_short_refused_with_venue_code(
    venue: str, sim: Simulation, speaker: Speaker, side: str, qty: str
) -> None:
    # The account holds 100,000 USDT and about 0.17 BTC: 5 BTC cannot be paid, 1 not sold.
    spot = sim.engine(venue).instrument(
        InstrumentKind.SPOT, "BTCUSDT" if venue == "bybit" else "BTC-USDT"
    )
    bid = spot.ticks_to_price(sim.engine(venue).book(spot).depth(Side.BUY, 1)[0][0])

    reply = await speaker.place("s-1", side, str(bid), qty=qty, spot=True)

    assert speaker.error_code(reply) == SPOT_INSUFFICIENT[venue]
    assert sim.engine(venue).orders == {}


# -- funding ------------------------------------------------------------------------------------


async def _next_funding_ms(speaker: Speaker) -> int:
    if speaker.venue == "bybit":
        params = {"category": "linear", "symbol": speaker.perp}
        body = (await speaker.request("GET", "/v5/market/tickers", params)).json()
        return int(body["result"]["list"][0]["nextFundingTime"])
    body = (
        await speaker.request("GET", "/api/v5/public/funding-rate", {"instId": speaker.perp})
    ).json()
    return int(body["data"][0]["fundingTime"])


async def test_funding_when_funding_time_passes_long_pays_rate_times_position_value(
    venue: str, sim: Simulation, speaker: Speaker, clock: FakeClock
) -> None:
    await _open_long(speaker, sim, venue)
    inst = _perp(sim, venue)
    engine = sim.engine(venue)
    rate = engine.funding[f"perp:{inst.symbol}"].rate
    due = await _next_funding_ms(speaker)
    before = await speaker.usdt()

    clock.advance(due - clock.now_ms() - 1)
    sim.step()
    unpaid = await speaker.usdt()
    clock.advance(1)
    sim.step()
    paid = await speaker.usdt()

    assert unpaid == before  # a millisecond early: nothing
    # Longs pay shorts when the rate is positive: position value at the mark, times the rate.
    expected = inst.base_qty(Decimal(speaker.lot)) * engine.mark(inst) * rate
    assert rate > 0
    assert paid == before - expected
    assert await _next_funding_ms(speaker) == due + 8 * 3600 * 1000
