"""Bybit's own REST answers (tests/fixtures/venues/real/bybit, see SOURCES.md) read by the
plugin the runtime uses: `BybitTrading`, its real ccxt client, over a loopback HTTP server that
answers each request with a captured answer. Every field the plugin returns is checked against
the answer's own text, exactly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from arbiter.venues import (
    ApiKeys,
    AuthenticationFailed,
    Balance,
    Fill,
    FundingSettlement,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    Side,
    VenueConfig,
)
from arbiter_bybit.trading import BybitTrading
from tests.support.bybit_corpus import load, rows
from tests.support.trading_harness import fast_limits

D = Decimal
# What the plugin reads for itself before any of the tested calls: the listings and the account.
REFERENCE = {
    ("/v5/market/instruments-info", "spot"): "rest_reference/nautilus_instruments_spot.json",
    ("/v5/market/instruments-info", "linear"): "rest_reference/nautilus_instruments_linear.json",
    ("/v5/user/query-api", ""): "rest_reference/nautilus_query_api.json",
    ("/v5/account/info", ""): "rest_reference/nautilus_account_info.json",
}
EMPTY = {"retCode": 0, "retMsg": "OK", "result": {"list": [], "nextPageCursor": ""}}


class Replay:
    """A loopback Bybit that answers (path, category) with a captured answer, and an empty
    list for anything else the test did not give."""

    def __init__(self, answers: Mapping[tuple[str, str], str | dict[str, Any]]) -> None:
        self.answers = {**REFERENCE, **answers}
        self.asked: list[tuple[str, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.asked.append((request.path, query))
        if query.get("cursor"):
            return web.json_response(EMPTY)  # each capture is one whole page
        category = query.get("category", "")
        name = self.answers.get((request.path, category))
        if name is None:
            return web.json_response(EMPTY)
        answer = load(name) if isinstance(name, str) else name
        if request.path == "/v5/market/instruments-info":
            # Every live answer names its category beside the list (ccxt reads linear from
            # it); these captured listings were saved without it.
            answer["result"].setdefault("category", category)
        return web.json_response(answer)


@asynccontextmanager
async def replaying(
    answers: Mapping[tuple[str, str], str],
) -> AsyncIterator[tuple[BybitTrading, Replay]]:
    replay = Replay(answers)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", replay.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    config = VenueConfig(
        account="bybit",
        endpoint="sim",
        urls={"rest": f"http://127.0.0.1:{port}"},
        keys=ApiKeys("replay-key", "replay-secret"),
    )
    plugin = BybitTrading(config, limits=fast_limits("bybit"))
    plugin.client.options["fetchCurrencies"] = False  # no coin list in the corpus
    try:
        await plugin.start()
        yield plugin, replay
    finally:
        await plugin.close()
        await runner.cleanup()


def _free(coin: dict[str, Any]) -> Decimal:
    held = sum((D(coin.get(k) or "0") for k in ("locked", "totalPositionIM", "totalOrderIM")), D(0))
    return max(D(coin["walletBalance"]) - held, D(0))


@pytest.mark.parametrize(
    "name",
    [
        "rest_wallet_balance/nautilus_available_zero.json",
        "rest_wallet_balance/nautilus_spot_borrow.json",
        "rest_wallet_balance/docs_wallet.json",
    ],
)
async def test_balances_when_captured_free_is_wallet_less_locked_and_margins(name: str) -> None:
    async with replaying({("/v5/account/wallet-balance", ""): name}) as (plugin, _):
        balances = await plugin.balances()
    coins = [coin for account in rows(load(name)) for coin in account["coin"]]
    assert balances == {
        c["coin"]: Balance(c["coin"], _free(c), D(c["walletBalance"])) for c in coins
    }


async def test_balances_when_available_to_withdraw_is_zero_on_a_funded_coin_is_free() -> None:
    # No REST capture of this quirk is public; the wallet push below is, and Bybit lists the
    # account in the same words on both paths (`data` of the push, `result.list` of the answer).
    push = load("ws_wallet/nautilus_available_zero.json")
    answer = {"retCode": 0, "retMsg": "OK", "result": {"list": push["data"]}, "retExtInfo": {}}
    async with replaying({("/v5/account/wallet-balance", ""): answer}) as (plugin, _):
        usdt = (await plugin.balances())["USDT"]
    (coin,) = push["data"][0]["coin"]
    assert coin["availableToWithdraw"] == "0"
    # 51333.82543837 in the wallet, 50.028 held as order margin: the rest is free, not 0.
    assert (usdt.free, usdt.total) == (D("51283.79743837"), D("51333.82543837"))


async def test_positions_when_captured_read_avg_price_signed_sizes_exactly() -> None:
    name = "rest_position_list/nautilus_positions.json"
    async with replaying({("/v5/position/list", "linear"): name}) as (plugin, _):
        positions = await plugin.positions()
    listed = [r for r in rows(load(name)) if D(r["size"])]
    assert [
        (p.symbol, p.size, p.entry_price, p.unrealized_pnl, p.ts_venue_ms) for p in positions
    ] == [
        (
            r["symbol"],
            D(r["size"]) * (-1 if r["side"] == "Sell" else 1),
            D(r["avgPrice"]),
            D(r["unrealisedPnl"]),
            int(r["updatedTime"]),
        )
        for r in listed
    ]
    assert all(isinstance(p, PositionUpdate) for p in positions)


@pytest.mark.parametrize(
    "name", ["rest_order_realtime/nautilus_new.json", "rest_order_realtime/docs_new.json"]
)
async def test_open_orders_when_captured_map_every_field_exactly(name: str) -> None:
    async with replaying({("/v5/order/realtime", "linear"): name}) as (plugin, _):
        orders = await plugin.open_orders()
    assert sorted((_replace_local(o) for o in orders), key=lambda o: o.venue_order_id) == [
        OrderUpdate(
            venue="bybit",
            symbol=r["symbol"],
            client_id=r["orderLinkId"],
            venue_order_id=r["orderId"],
            status=OrderStatus.NEW,
            side=Side.BUY if r["side"] == "Buy" else Side.SELL,
            qty=D(r["qty"]),
            filled_qty=D(r["cumExecQty"]),
            avg_price=None,
            price=D(r["price"]),
            reason="",
            ts_venue_ms=int(r["updatedTime"]),
        )
        for r in rows(load(name))
    ]


def _replace_local(update: Any) -> Any:
    """The event without its local receive time (the only field not from the venue)."""
    return replace(update, ts_local_ns=0)


async def test_query_when_rejected_after_a_partial_fill_is_rejected_with_fills_and_reason() -> None:
    name = "rest_order_history/nautilus_partially_filled_rejected.json"
    (row,) = rows(load(name))
    async with replaying({("/v5/order/history", "linear"): name}) as (plugin, _):
        update = await plugin.query_order("BTCUSDT", row["orderLinkId"])
    assert update is not None
    assert _replace_local(update) == OrderUpdate(
        venue="bybit",
        symbol="BTCUSDT",
        client_id=row["orderLinkId"],
        venue_order_id=row["orderId"],
        status=OrderStatus.REJECTED,
        side=Side.BUY,
        qty=D(row["qty"]),
        filled_qty=D(row["cumExecQty"]),  # 0.005 traded before the rest was refused
        avg_price=D(row["avgPrice"]),
        price=D(row["price"]),
        reason=row["rejectReason"],
        ts_venue_ms=int(row["updatedTime"]),
    )


@pytest.mark.parametrize(
    "name", ["rest_order_history/nautilus_cancelled.json", "rest_order_history/docs_history.json"]
)
async def test_query_when_cancelled_maps_status_and_reason(name: str) -> None:
    (row,) = rows(load(name))
    async with replaying({("/v5/order/history", "linear"): name}) as (plugin, _):
        update = await plugin.query_order(row["symbol"], row["orderLinkId"])
    assert update is not None
    assert (update.status, update.filled_qty, update.qty, update.price) == (
        OrderStatus.CANCELLED,
        D(row["cumExecQty"]),
        D(row["qty"]),
        D(row["price"]),
    )
    reject = row["rejectReason"]
    assert update.reason == (reject if reject not in ("", "EC_NoError") else row["cancelType"])


def _fill(r: dict[str, Any], fee_asset: str) -> Fill:
    return Fill(
        venue="bybit",
        symbol=r["symbol"],
        client_id=r["orderLinkId"],
        venue_order_id=r["orderId"],
        trade_id=r["execId"],
        side=Side.BUY if r["side"] == "Buy" else Side.SELL,
        price=D(r["execPrice"]),
        qty=D(r["execQty"]),
        fee=D(r["execFee"]),
        fee_asset=fee_asset,
        is_maker=r["isMaker"],
        ts_venue_ms=int(r["execTime"]),
    )


async def test_fills_when_spot_row_names_its_fee_coin_keep_bybits_fee_currency() -> None:
    spot = "rest_execution_list/nautilus_trade_spot_fee_currency.json"
    linear = "rest_execution_list/nautilus_trades_linear.json"
    answers = {("/v5/execution/list", "spot"): spot, ("/v5/execution/list", "linear"): linear}
    async with replaying(answers) as (plugin, _):
        fills = await plugin.fills(None, 0)
    expected = [_fill(r, r["feeCurrency"]) for r in rows(load(spot)) + rows(load(linear))]
    assert [_replace_local(f) for f in fills] == sorted(
        expected, key=lambda f: (f.ts_venue_ms, f.trade_id)
    )
    (spot_fill,) = [f for f in fills if f.symbol == "BTCUSDT" and f.client_id.startswith("spot")]
    assert (spot_fill.fee, spot_fill.fee_asset) == (D("0.000025"), "BTC")  # not USDT


async def test_fills_when_row_is_of_a_product_not_traded_skip_it_and_read_the_rest() -> None:
    name = "rest_execution_list/docs_trade.json"  # ETHPERP (a USDC perp), feeCurrency ""
    async with replaying({("/v5/execution/list", "linear"): name}) as (plugin, replay):
        fills = await plugin.fills(None, 0)
    # No order of ours trades ETHPERP: the row is skipped, not booked against a guessed
    # market, and never fails the read (a reconciliation would retry it forever).
    assert fills == []
    assert ("/v5/execution/list", {"category": "linear", "startTime": "0", "limit": "100"}) in [
        (p, {k: v for k, v in q.items() if k in ("category", "startTime", "limit")})
        for p, q in replay.asked
    ]


async def test_account_events_when_funding_rows_listed_are_settlements_exactly() -> None:
    name = "rest_execution_list/funding.json"
    async with replaying({("/v5/execution/list", "linear"): name}) as (plugin, _):
        events = await plugin.account_events(0)
    assert [(e.symbol, e.amount, e.asset, e.settlement_id, e.ts_venue_ms) for e in events] == [
        (r["symbol"], -D(r["execFee"]), "USDT", r["execId"], int(r["execTime"]))
        for r in sorted(rows(load(name)), key=lambda r: int(r["execTime"]))
    ]
    assert all(isinstance(e, FundingSettlement) for e in events)


async def test_signed_read_when_key_refused_fails_in_bybits_words() -> None:
    name = "rest_errors/java_issue_api_key_invalid.json"
    async with replaying({("/v5/account/wallet-balance", ""): name}) as (plugin, _):
        with pytest.raises(AuthenticationFailed) as caught:
            await plugin.balances()
    assert (caught.value.message, caught.value.code) == ("API key is invalid.", "10003")
    assert str(caught.value) == "bybit: API key is invalid. (code 10003)"


async def test_instruments_when_captured_listings_and_fee_rates_read_exactly() -> None:
    fees = "rest_reference/nautilus_fee_rate.json"
    async with replaying({("/v5/account/fee-rate", "linear"): fees}) as (plugin, _):
        instruments = await plugin.instruments()
    rates = {r["symbol"]: r for r in rows(load(fees))}
    perps = {i.symbol: i for i in instruments if i.kind.value == "perp"}
    listed = rows(load("rest_reference/nautilus_instruments_linear.json"))
    assert sorted(perps) == sorted(r["symbol"] for r in listed)
    for r in listed:
        inst = perps[r["symbol"]]
        assert (inst.tick_size, inst.lot_size, inst.min_qty) == (
            D(r["priceFilter"]["tickSize"]),
            D(r["lotSizeFilter"]["qtyStep"]),
            D(r["lotSizeFilter"]["minOrderQty"]),
        )
        assert (inst.maker_fee, inst.taker_fee) == (
            D(rates[r["symbol"]]["makerFeeRate"]),
            D(rates[r["symbol"]]["takerFeeRate"]),
        )
    spot = {i.symbol: i for i in instruments if i.kind.value == "spot"}
    for r in rows(load("rest_reference/nautilus_instruments_spot.json")):
        assert (spot[r["symbol"]].tick_size, spot[r["symbol"]].lot_size) == (
            D(r["priceFilter"]["tickSize"]),
            D(r["lotSizeFilter"]["basePrecision"]),
        )


async def test_fills_when_spot_row_leaves_fee_coin_empty_read_it_against_the_spot_market() -> None:
    # The captured spot row with `feeCurrency` "", as Bybit's documentation prints a row that
    # names no fee coin: only the row's market says the fee is in BTC (a spot buy pays in base).
    captured = load("rest_execution_list/nautilus_trade_spot_fee_currency.json")
    (row,) = rows(captured)
    answer = {**captured, "result": {**captured["result"], "list": [{**row, "feeCurrency": ""}]}}
    async with replaying({("/v5/execution/list", "spot"): answer}) as (plugin, _):
        (fill,) = await plugin.fills(None, 0)
    assert _replace_local(fill) == _fill(row, "BTC")
