"""The plugins' own signed place/cancel requests: the same orders ccxt would send, the same
answers, and every unrecognized outcome ambiguous.

The simulator verifies signatures exactly as the venues document them; a small aiohttp server
on loopback plays the answers the simulator never gives (garbage, silence).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from aiohttp import web

from arbiter.sim import Simulation, start
from arbiter.venues import (
    Ambiguous,
    ApiKeys,
    AuthenticationFailed,
    CcxtTrading,
    OrderEntry,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    VenueConfig,
    iso8601_ms,
)
from arbiter.venues.order_path import entry as order_entry
from arbiter.venues.order_path.entry import routed_directly
from arbiter.venues.rest.client import build_client
from arbiter.venues.rest.errors import map_ccxt_error, translated
from arbiter.venues.rest.requests import choose_market, order_params
from arbiter_bybit.order_entry import BybitOrderEntry
from arbiter_okx.order_entry import OkxOrderEntry
from tests.support.trading_harness import PLUGINS, SIZES, SYMBOLS, trading

D = Decimal


@pytest.fixture(params=sorted(PLUGINS))
def venue(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def sim(venue: str) -> AsyncIterator[Simulation]:
    simulation = await start(venues=[venue], seed=3)
    yield simulation
    await simulation.stop()


def _shapes(venue: str) -> list[OrderRequest]:
    """Every kind of order the order path sends: types, times in force, sides, products."""
    spot, perp = SYMBOLS[venue]
    spot_qty, perp_qty = SIZES[venue]
    limit = OrderType.LIMIT
    out = [
        OrderRequest(
            f"s{tif.value.replace('_', '')}",
            spot,
            Side.BUY,
            limit,
            spot_qty,
            D("30000.1"),
            tif,
            kind="spot",
        )
        for tif in TimeInForce
    ]
    return [
        *out,
        OrderRequest("smb", spot, Side.BUY, OrderType.MARKET, spot_qty, kind="spot"),
        OrderRequest("sms", spot, Side.SELL, OrderType.MARKET, spot_qty, kind="spot"),
        OrderRequest(
            "pli", perp, Side.SELL, limit, perp_qty, D(30000), TimeInForce.IOC, kind="perp"
        ),
        OrderRequest(
            "plr",
            perp,
            Side.BUY,
            limit,
            perp_qty,
            D("29999.5"),
            TimeInForce.POST_ONLY,
            reduce_only=True,
            kind="perp",
        ),
        OrderRequest(
            "pmr", perp, Side.SELL, OrderType.MARKET, perp_qty, reduce_only=True, kind="perp"
        ),
    ]


def _entry(plugin: CcxtTrading) -> OrderEntry:
    entry = plugin._entry
    assert entry is not None, "expected the plugin to sign its own orders"
    return entry


async def test_place_body_when_built_here_is_what_ccxt_would_send(
    sim: Simulation, venue: str
) -> None:
    async with trading(sim, venue) as plugin:
        entry = _entry(plugin)
        for request in _shapes(venue):
            listed = plugin._listed(request.symbol)
            market = choose_market(venue, plugin.limits.client_ids, listed, request)
            amount = plugin._on_grid(market, request.qty, "qty")
            price = plugin._on_grid(market, request.price, "price") if request.price else None

            ours = entry.place_body(market, request, amount, price)

            theirs = plugin.client.create_order_request(
                market["symbol"],
                request.type.value,
                request.side.value,
                amount,
                price,
                order_params(request),
            )
            assert ours == theirs, request
            # written as compact JSON exactly as `json.dumps` (what ccxt uses) writes these fields
            written = order_entry._COMPACT_JSON.encode(ours)
            assert written == json.dumps(ours, separators=(",", ":")).encode(), request


async def test_place_and_cancel_when_signed_here_never_call_ccxt_and_reach_the_venue(
    sim: Simulation, venue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spot, _ = SYMBOLS[venue]
    request = OrderRequest(
        "lean1", spot, Side.BUY, OrderType.LIMIT, SIZES[venue][0], D(30000), kind="spot"
    )
    async with trading(sim, venue) as plugin:
        assert plugin.lean_orders

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("the order path went through ccxt")

        monkeypatch.setattr(plugin.client, "create_order", refuse)
        monkeypatch.setattr(plugin.client, "cancel_order", refuse)

        ack = await plugin.place_order(request)
        engine = sim.engine(venue)
        account = next(iter(engine.accounts.values()))
        placed = engine.find_order(account, None, "lean1")
        await plugin.cancel_order(spot, "lean1")

    assert ack.venue_order_id == placed.order_id
    assert placed.price == D(30000)
    assert engine.find_order(account, None, "lean1").status.value == OrderStatus.CANCELLED.value


async def test_cancel_when_venue_no_longer_has_it_is_not_found(sim: Simulation, venue: str) -> None:
    spot, _ = SYMBOLS[venue]
    request = OrderRequest(
        "gone1", spot, Side.BUY, OrderType.LIMIT, SIZES[venue][0], D(30000), kind="spot"
    )
    async with trading(sim, venue) as plugin:
        await plugin.place_order(request)
        await plugin.cancel_order(spot, "gone1")
        with pytest.raises(OrderNotFound):
            await plugin.cancel_order(spot, "gone1")  # known here, refused by the venue


async def test_place_when_secret_wrong_is_refused_as_authentication_without_the_secret(
    sim: Simulation, venue: str
) -> None:
    spot, _ = SYMBOLS[venue]
    request = OrderRequest(
        "auth1", spot, Side.BUY, OrderType.LIMIT, SIZES[venue][0], D(30000), kind="spot"
    )
    wrong = "not-the-secret-0123456789"
    async with trading(sim, venue) as plugin:
        keys = plugin.config.keys
        assert keys is not None
        bad = type(_entry(plugin))(venue, plugin.client, replace(keys, api_secret=wrong))
        market = plugin._listed(spot)[0]

        with pytest.raises(ccxt.AuthenticationError) as caught:
            await bad.place(market, request, "0.01", "30000")

    mapped = map_ccxt_error(venue, caught.value)
    assert isinstance(mapped, AuthenticationFailed)
    assert wrong not in str(mapped)
    assert len(sim.engine(venue).orders) == 0


def test_signs_when_key_is_rsa_or_okx_lacks_passphrase_is_false() -> None:
    rsa = "-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----"
    assert not BybitOrderEntry.signs(ApiKeys("k", rsa))
    assert BybitOrderEntry.signs(ApiKeys("k", "hmac-secret"))
    assert not OkxOrderEntry.signs(ApiKeys("k", "hmac-secret"))
    assert OkxOrderEntry.signs(ApiKeys("k", "hmac-secret", "passphrase"))


def test_routed_directly_when_any_ccxt_proxy_is_set_is_false() -> None:
    config = VenueConfig("okx", "sim", {"rest": "http://127.0.0.1:9"}, ApiKeys("k", "s", "p"))
    client = build_client("okx", config, timeout_ms=1000, rate_limit_ms=1)
    assert routed_directly(client)
    for setting in ("httpsProxy", "socksProxy", "proxyUrl", "aiohttp_proxy"):
        setattr(client, setting, "http://127.0.0.1:3128")
        assert not routed_directly(client), setting
        setattr(client, setting, None)


async def test_hmac_sha256_when_signing_repeatedly_matches_the_rfc_4231_vectors() -> None:
    # RFC 4231 test cases 1 and 2: each signature starts from the key's state afresh.
    cases = [
        ("bybit", BybitOrderEntry, ApiKeys("k", "\x0b" * 20), b"Hi There"),
        ("okx", OkxOrderEntry, ApiKeys("k", "Jefe", "p"), b"what do ya want for nothing?"),
    ]
    expected = [
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ]
    signed = []
    for name, entry_type, keys, message in cases:
        config = VenueConfig(name, "sim", {"rest": "http://127.0.0.1:9"}, keys)
        client = build_client(name, config, timeout_ms=1000, rate_limit_ms=1)
        try:
            entry = entry_type(name, client, keys)
            signed.append([entry.hmac_sha256(message).hex() for _ in range(2)])
        finally:
            await client.close()
    assert signed == [[e, e] for e in expected]


def test_iso8601_ms_when_formatted_is_utc_with_milliseconds() -> None:
    assert iso8601_ms(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    assert iso8601_ms(5) == "1970-01-01T00:00:00.005Z"


# -- answers the simulator never gives -------------------------------------------------------

Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _served(answer: Answer) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v5/order/create", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def _place_on(
    answer: Answer, timeout_ms: int = 10_000, release: asyncio.Event | None = None
) -> str:
    """Place through the Bybit entry against `answer`; errors leave as ours (`translated`)."""
    runner, base = await _served(answer)
    config = VenueConfig("bybit", "sim", {"rest": base}, ApiKeys("key", "secret"))
    client = build_client("bybit", config, timeout_ms=timeout_ms, rate_limit_ms=1)
    entry = BybitOrderEntry("bybit", client, ApiKeys("key", "secret"))
    request = OrderRequest(
        "odd1", "BTCUSDT", Side.BUY, OrderType.LIMIT, D("0.01"), D(30000), kind="spot"
    )
    try:
        with translated("bybit"):
            return await entry.place({"id": "BTCUSDT", "spot": True}, request, "0.01", "30000")
    finally:
        if release is not None:
            release.set()  # let a held handler finish, so the server can stop
        await client.close()
        await runner.cleanup()


async def test_answer_when_accepted_by_a_plain_server_gives_the_order_id() -> None:
    async def accepted(request: web.Request) -> web.Response:
        body = await request.json()
        assert body["orderLinkId"] == "odd1"
        return web.json_response({"retCode": 0, "retMsg": "OK", "result": {"orderId": "42"}})

    assert await _place_on(accepted) == "42"


@pytest.mark.parametrize(
    ("status", "text"),
    [(200, "<html>maintenance page</html>"), (200, '{"unexpected": true}'), (503, "busy")],
)
async def test_answer_when_unrecognized_is_ambiguous(status: int, text: str) -> None:
    async def odd(request: web.Request) -> web.Response:
        return web.Response(status=status, text=text)

    with pytest.raises(Ambiguous):
        await _place_on(odd)


async def test_answer_when_it_never_comes_times_out_as_ambiguous() -> None:
    never = asyncio.Event()

    async def silent(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response(status=200)

    with pytest.raises(Ambiguous):
        await _place_on(silent, timeout_ms=200, release=never)
