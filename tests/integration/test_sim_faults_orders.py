"""Order-path faults on the wire: REST errors before and after the engine accepted an order,
rate limits and rejections in each venue's own codes, endpoint latency, out-of-order private
events and the fill-after-cancel race, seen by plain signed clients (and ccxt where natural).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim import FaultKind, FaultPlan, Latency, Simulation, start
from arbiter.sim.clients import point_at_simulator
from arbiter.sim.events import Event, OrderChanged
from tests.support.wire_clients import WAIT_S, Speaker

DUPLICATE = {"bybit": "110072", "okx": "51016"}


@pytest.fixture(params=["bybit", "okx"])
def venue(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def plan() -> FaultPlan:
    return FaultPlan(seed=3)


@pytest.fixture
async def sim(venue: str, plan: FaultPlan) -> AsyncIterator[Simulation]:
    simulation = await start(venues=[venue], seed=13, faults=plan)
    yield simulation
    await simulation.stop()


@pytest.fixture
async def speaker(venue: str, sim: Simulation) -> AsyncIterator[Speaker]:
    async with aiohttp.ClientSession() as session:
        yield Speaker(venue, sim.endpoints(venue), session)


@pytest.fixture
async def exchange(venue: str, sim: Simulation) -> AsyncIterator[Any]:
    client = getattr(ccxt, venue)({"enableRateLimit": False, "timeout": 30_000})
    point_at_simulator(client, sim.endpoints(venue))
    await client.load_markets()
    yield client
    await client.close()


def _perp(sim: Simulation, venue: str) -> Instrument:
    symbol = "BTCUSDT" if venue == "bybit" else "BTC-USDT-SWAP"
    return sim.engine(venue).instrument(InstrumentKind.PERP, symbol)


def _far_bid(sim: Simulation, venue: str) -> str:
    """A buy price 10% under the market: the order rests."""
    inst = _perp(sim, venue)
    best = sim.engine(venue).book(inst).best_bid()
    assert best is not None
    return str(inst.round_price_down(inst.ticks_to_price(best) * Decimal("0.9")))


def _ask(sim: Simulation, venue: str) -> str:
    inst = _perp(sim, venue)
    best = sim.engine(venue).book(inst).best_ask()
    assert best is not None
    return str(inst.ticks_to_price(best))


def _held(sim: Simulation, venue: str, client_id: str) -> bool:
    engine = sim.engine(venue)
    account = next(iter(engine.accounts.values()))
    return any(o.client_id == client_id for o in engine.open_orders(account)) or any(
        o.client_id == client_id for o in engine.orders.values()
    )


def _accepted_event(sim: Simulation, venue: str, client_id: str) -> asyncio.Event:
    """Set when the engine takes the order `client_id`."""
    accepted = asyncio.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, OrderChanged) and event.order.client_id == client_id:
            accepted.set()

    sim.engine(venue).listeners.append(on_event)
    return accepted


def _target(speaker: Speaker) -> str:
    return f"{speaker.venue} POST {speaker.order_path}"


def _ccxt_target(venue: str) -> str:
    # ccxt's okx places single orders through the batch endpoint.
    return "bybit POST /v5/order/create" if venue == "bybit" else "okx POST /api/v5/trade/batch"


# -- REST before and after the engine --------------------------------------------------------


async def test_5xx_when_before_engine_no_order_exists_and_retry_succeeds(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker
) -> None:
    plan.add(FaultKind.REST_5XX, _target(speaker))

    first = await speaker.place("gw-1", "buy", _far_bid(sim, venue))

    assert first.status == 502
    assert not _held(sim, venue, "gw-1")
    assert await speaker.status("gw-1") is None
    retry = await speaker.place("gw-1", "buy", _far_bid(sim, venue))
    assert speaker.accepted(retry)
    assert await speaker.status("gw-1") == "new"


async def test_5xx_after_accept_when_retried_engine_holds_order_and_refuses_duplicate(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker
) -> None:
    plan.add(FaultKind.REST_5XX_AFTER_ACCEPT, _target(speaker))

    first = await speaker.place("amb-1", "buy", _far_bid(sim, venue))

    assert first.status == 502  # the client cannot tell whether its order exists...
    assert _held(sim, venue, "amb-1")  # ...but it does
    assert await speaker.status("amb-1") == "new"
    retry = await speaker.place("amb-1", "buy", _far_bid(sim, venue))
    assert not speaker.accepted(retry)
    assert speaker.error_code(retry) == DUPLICATE[venue]


async def test_timeout_after_accept_when_client_gives_up_order_exists(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker
) -> None:
    plan.add(FaultKind.REST_TIMEOUT_AFTER_ACCEPT, _target(speaker))
    accepted = _accepted_event(sim, venue, "to-1")

    with pytest.raises(TimeoutError):
        await speaker.place("to-1", "buy", _far_bid(sim, venue), give_up_s=0.5)

    # However late the request reached the engine, it was taken: no answer ever comes.
    await asyncio.wait_for(accepted.wait(), WAIT_S)
    assert await speaker.status("to-1") == "new"


async def test_timeout_after_accept_when_delay_set_answers_504_late(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker
) -> None:
    plan.add(FaultKind.REST_TIMEOUT_AFTER_ACCEPT, _target(speaker), delay_ms=200)

    sent = time.perf_counter()
    reply = await speaker.place("to-2", "buy", _far_bid(sim, venue))

    assert reply.status == 504
    assert time.perf_counter() - sent >= 0.2
    assert await speaker.status("to-2") == "new"


# -- the venue's own refusals -----------------------------------------------------------------


async def test_rate_limit_when_scripted_answers_venue_code_and_places_nothing(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker
) -> None:
    plan.add(FaultKind.RATE_LIMIT, _target(speaker))

    reply = await speaker.place("rl-1", "buy", _far_bid(sim, venue))

    if venue == "bybit":
        # Bybit: HTTP 200, retCode 10006, and headers saying when the limit resets.
        assert (reply.status, reply.json()["retCode"]) == (200, 10006)
        assert reply.headers["X-Bapi-Limit-Status"] == "0"
        assert int(reply.headers["X-Bapi-Limit-Reset-Timestamp"]) > 0
    else:
        assert (reply.status, reply.json()["code"]) == (429, "50011")  # OKX: HTTP 429, 50011
    assert not _held(sim, venue, "rl-1")


async def test_rate_limit_when_ccxt_places_it_raises_rate_limit_exceeded(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker, exchange: Any
) -> None:
    plan.add(FaultKind.RATE_LIMIT, _ccxt_target(venue))

    with pytest.raises(ccxt.RateLimitExceeded):
        await exchange.create_order(
            "BTC/USDT:USDT", "limit", "buy", float(speaker.lot), float(_far_bid(sim, venue))
        )

    assert sim.engine(venue).orders == {}


async def test_reject_when_default_answers_venue_generic_refusal(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker
) -> None:
    plan.add(FaultKind.REJECT, _target(speaker))

    reply = await speaker.place("rj-1", "buy", _far_bid(sim, venue))

    assert not speaker.accepted(reply)
    assert speaker.error_code(reply) == {"bybit": "10001", "okx": "51000"}[venue]
    if venue == "okx":
        assert reply.json()["code"] == "1"  # an order endpoint: the code rides per order
    assert not _held(sim, venue, "rj-1")


async def test_reject_when_rule_names_code_ccxt_sees_that_error(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker, exchange: Any
) -> None:
    code = {"bybit": "110007", "okx": "51008"}[venue]
    plan.add(FaultKind.REJECT, _ccxt_target(venue), code=code, message="Insufficient balance")

    with pytest.raises(ccxt.InsufficientFunds, match=code):
        await exchange.create_order(
            "BTC/USDT:USDT", "limit", "buy", float(speaker.lot), float(_far_bid(sim, venue))
        )

    assert sim.engine(venue).orders == {}


async def test_latency_when_endpoint_has_band_answer_waits_at_least_its_floor(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker
) -> None:
    plan.latency[speaker.order_path] = Latency(mean_ms=300, jitter_ms=50)

    sent = time.perf_counter()
    reply = await speaker.place("lat-1", "buy", _far_bid(sim, venue))

    assert speaker.accepted(reply)
    assert time.perf_counter() - sent >= 0.25  # mean - jitter: the band's floor


# -- private stream -----------------------------------------------------------------------------


async def test_private_reorder_when_order_fills_client_sees_later_event_first(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker
) -> None:
    channel = "order" if venue == "bybit" else "orders"
    plan.add(FaultKind.PRIVATE_REORDER, f"{venue} private:{channel}")
    private = await speaker.private_probe()

    reply = await speaker.place("ro-1", "buy", _ask(sim, venue), tif="IOC")

    assert speaker.accepted(reply)
    frames = await private.wait_for(
        lambda fs: len(speaker.order_updates(fs, "ro-1")) >= 2, "both order updates"
    )
    if venue == "bybit":
        # In order: order New, execution, order Filled. The New update now comes second.
        assert speaker.private_kinds(frames) == ["execution", "order", "order"]
        assert speaker.order_updates(frames, "ro-1") == ["new", "filled"]
    else:
        # OKX reports both on `orders`: filled arrives before live.
        assert speaker.order_updates(frames, "ro-1") == ["filled", "new"]
    await private.close()


async def test_private_reorder_when_nothing_follows_held_event_still_arrives(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker
) -> None:
    channel = "order" if venue == "bybit" else "orders"
    plan.add(FaultKind.PRIVATE_REORDER, f"{venue} private:{channel}")
    private = await speaker.private_probe()

    reply = await speaker.place("ro-2", "buy", _far_bid(sim, venue))  # rests: one event only

    assert speaker.accepted(reply)
    frames = await private.wait_for(
        lambda fs: speaker.order_updates(fs, "ro-2") == ["new"], "the held update"
    )
    assert plan.fired == [(FaultKind.PRIVATE_REORDER, f"{venue} private:{channel}")]
    assert speaker.order_updates(frames, "ro-2") == ["new"]
    await private.close()


async def test_fill_after_cancel_when_raced_cancel_acked_then_two_filled_messages(
    venue: str, sim: Simulation, plan: FaultPlan, speaker: Speaker
) -> None:
    inst = _perp(sim, venue)
    plan.add(FaultKind.FILL_AFTER_CANCEL, f"{venue} {inst.symbol}")
    engine = sim.engine(venue)
    account = next(iter(engine.accounts.values()))
    usdt_before = account.balance("USDT")
    private = await speaker.private_probe()
    price = _far_bid(sim, venue)
    assert speaker.accepted(await speaker.place("fac-1", "buy", price))

    cancel = await speaker.cancel("fac-1")

    assert speaker.accepted(cancel)  # both venues ack a cancel on receipt...
    frames = await private.wait_for(
        lambda fs: speaker.order_updates(fs, "fac-1").count("filled") >= 2, "two Filled updates"
    )
    assert speaker.order_updates(frames, "fac-1") == ["new", "filled", "filled"]
    if venue == "bybit":
        assert speaker.private_kinds(frames).count("execution") == 1  # one fill, told twice
    assert await speaker.status("fac-1") == "filled"  # ...and the fill won
    position = account.position(inst)
    assert position.qty == Decimal(speaker.lot)
    assert position.entry_price == Decimal(price)
    fee = inst.base_qty(Decimal(speaker.lot)) * Decimal(price) * inst.maker_fee
    assert account.balance("USDT") == usdt_before - fee
    await private.close()


async def test_cancel_when_no_race_scripted_order_is_cancelled_once(
    venue: str, sim: Simulation, speaker: Speaker
) -> None:
    private = await speaker.private_probe()
    assert speaker.accepted(await speaker.place("c-1", "buy", _far_bid(sim, venue)))

    assert speaker.accepted(await speaker.cancel("c-1"))

    frames = await private.wait_for(
        lambda fs: "cancelled" in speaker.order_updates(fs, "c-1"), "the cancel"
    )
    assert speaker.order_updates(frames, "c-1") == ["new", "cancelled"]
    await private.close()
