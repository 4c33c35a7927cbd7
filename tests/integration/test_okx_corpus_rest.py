"""OKX's own REST answers (tests/fixtures/venues/real/okx, sources in its SOURCES.md) through
`OkxTrading` and a real ccxt client, served on loopback by a replay server: the same requests,
the same parsing and conversion the reconciliation runs. Every field is checked against the
answer's own text, exactly.

Every REST file of the corpus is named here; one no code reads is in `NOT_READ`, with why.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from arbiter.venues import (
    ApiKeys,
    Balance,
    BalanceUpdate,
    Fill,
    FundingSettlement,
    OrderAck,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionUpdate,
    Side,
    VenueConfig,
)
from arbiter_okx import OkxCodec
from arbiter_okx.streams import OkxPrivateCodec
from arbiter_okx.trading import OkxTrading
from tests.support.rest_replay import REAL_OKX, RestReplay, okx_listing, real_okx

D = Decimal
T = TypeVar("T")

SPOT = ["BTC-USDT", "LTC-USDT"]
SWAPS = ["BTC-USDT-SWAP", "ETH-USDT-SWAP", "LTC-USDT-SWAP", "ADA-USDT-SWAP"]

# Answers no code reads, and why.
NOT_READ = {
    "rest_market_books.json": "REST books carry no seqId: books sync from the pushed snapshot",
    "rest_market_books_swap.json": "likewise, a swap's REST book (2024) without seqId",
    "rest_market_books_doc.json": "the documentation's REST book, which shows a seqId",
    "rest_public_instruments_spot.json": "its rows build the replayed listing (tests.support.rest_replay)",
    "rest_public_instruments_swap.json": "likewise",
}


async def replayed(answers: dict[str, Any], call: Callable[[OkxTrading], Awaitable[T]]) -> T:
    async with RestReplay(answers, okx_listing(SPOT, SWAPS)) as replay:
        config = VenueConfig("okx", "sim", {"rest": replay.url}, ApiKeys("key", "secret", "pass"))
        trading = OkxTrading(config)
        await trading.start()
        try:
            return await call(trading)
        finally:
            await trading.close()


def rows(name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = real_okx(name)["data"]
    return data


def price_or_none(text: str) -> Decimal | None:
    return D(text) if text and D(text) else None


# -- balances --------------------------------------------------------------------------------

BALANCES = ["rest_account_balance_isolated.json", "rest_account_balance_doc.json"]


@pytest.mark.parametrize("name", BALANCES)
async def test_balance_answer_when_read_is_cash_balance_and_available_balance(name: str) -> None:
    balances = await replayed({"/api/v5/account/balance": real_okx(name)}, lambda t: t.balances())
    details = rows(name)[0]["details"]
    assert balances == {
        d["ccy"]: Balance(d["ccy"], D(d["availBal"]), D(d["cashBal"])) for d in details
    }
    # Equity (`eq`) is not the total: it moves with unrealized PnL and isolated margin.
    assert all(D(d["eq"]) != D(d["cashBal"]) for d in details)


@pytest.mark.parametrize("name", BALANCES)
async def test_balance_when_read_over_rest_and_pushed_on_account_agree(name: str) -> None:
    answer = real_okx(name)
    over_rest = await replayed({"/api/v5/account/balance": answer}, lambda t: t.balances())
    codec = OkxPrivateCodec(ApiKeys("key", "secret", "pass"), "okx", clock_s=lambda: "1")
    # The `account` channel pushes the same object the REST answer holds in `data`.
    pushed = codec.decode(json.dumps({"arg": {"channel": "account"}, "data": answer["data"]}), 0)
    assert {
        e.asset: Balance(e.asset, e.free, e.total) for e in pushed if isinstance(e, BalanceUpdate)
    } == over_rest


# -- orders ----------------------------------------------------------------------------------


def assert_order(update: OrderUpdate, m: dict[str, Any], status: OrderStatus) -> None:
    assert update.status is status
    assert (update.symbol, update.client_id, update.venue_order_id) == (
        m["instId"],
        m["clOrdId"],
        m["ordId"],
    )
    assert update.side is Side(m["side"])
    assert update.filled_qty == D(m["accFillSz"])
    assert update.avg_price == (price_or_none(m["avgPx"]) if D(m["accFillSz"]) else None)
    assert update.price == (None if m["ordType"] == "market" else price_or_none(m["px"]))
    assert update.ts_venue_ms == int(m["uTime"])


@pytest.mark.parametrize(
    "name",
    [
        "rest_trade_orders_pending_swap.json",
        "rest_trade_orders_pending_post_only.json",
        "rest_trade_orders_pending_doc.json",
    ],
)
async def test_open_orders_answer_when_read_lists_each_order_working(name: str) -> None:
    answer = real_okx(name)
    (update,) = await replayed({"/api/v5/trade/orders-pending": answer}, lambda t: t.open_orders())
    m = answer["data"][0]
    assert_order(update, m, OrderStatus.NEW)
    assert update.qty == D(m["sz"])


# Order rows: `/api/v5/trade/order` answers, and `orders-history` rows (the same row shape)
# read through the same query.
ORDER_ROWS = [
    ("rest_trade_order_spot_market.json", OrderStatus.FILLED),
    ("rest_trade_orders_history_swap.json", OrderStatus.FILLED),
    ("rest_trade_orders_history_swap_market.json", OrderStatus.FILLED),
    ("rest_trade_orders_history_canceled_after_fill.json", OrderStatus.CANCELLED),
]


@pytest.mark.parametrize(("name", "status"), ORDER_ROWS)
async def test_order_answer_when_queried_reads_state_and_fills_kept(
    name: str, status: OrderStatus
) -> None:
    answer = real_okx(name)
    m = answer["data"][0]
    update = await replayed(
        {"/api/v5/trade/order": answer},
        lambda t: t.query_order(m["instId"], m["clOrdId"] or "anyid"),
    )
    assert update is not None
    assert_order(update, m, status)
    assert update.qty == D(m["sz"])
    assert update.reason == (m["cancelSourceReason"] or m["cancelSource"])


@pytest.mark.parametrize(
    "name", ["rest_trade_order_spot_quote_doc.json", "rest_trade_orders_history_doc.json"]
)
async def test_order_sized_in_quote_when_queried_reads_its_size_as_what_filled(
    name: str,
) -> None:
    # A spot market buy sized in USDT (`tgtCcy` quote_ccy): `sz` is 100 USDT, not a base
    # quantity; once filled, its base size is what filled.
    answer = real_okx(name)
    m = answer["data"][0]
    assert m["tgtCcy"] == "quote_ccy"
    update = await replayed(
        {"/api/v5/trade/order": answer}, lambda t: t.query_order(m["instId"], "anyid")
    )
    assert update is not None
    assert_order(update, m, OrderStatus.FILLED)
    assert update.qty == D(m["accFillSz"])


ROWS_OF_ORDERS = [
    *(name for name, _ in ORDER_ROWS),
    "rest_trade_order_spot_quote_doc.json",
    "rest_trade_orders_history_doc.json",
    "rest_trade_orders_pending_swap.json",
    "rest_trade_orders_pending_post_only.json",
    "rest_trade_orders_pending_doc.json",
]


@pytest.mark.parametrize("name", ROWS_OF_ORDERS)
async def test_order_row_when_queried_over_rest_and_pushed_on_orders_reads_the_same(
    name: str,
) -> None:
    # The `orders` channel pushes the row REST lists: a reconciliation must not change what
    # the stream said (size, filled, status, prices, why it ended).
    answer = real_okx(name)
    m = answer["data"][0]
    over_rest = await replayed(
        {"/api/v5/trade/order": answer},
        lambda t: t.query_order(m["instId"], m["clOrdId"] or "anyid"),
    )
    codec = OkxPrivateCodec(ApiKeys("key", "secret", "pass"), "okx", clock_s=lambda: "1")
    frame = {"arg": {"channel": "orders", "instType": "ANY"}, "data": answer["data"]}
    (pushed,) = [e for e in codec.decode(json.dumps(frame), 0) if isinstance(e, OrderUpdate)]
    assert over_rest is not None
    assert dataclasses.replace(pushed, ts_local_ns=0) == dataclasses.replace(
        over_rest, ts_local_ns=0
    )


# -- fills -----------------------------------------------------------------------------------

FILLS = [
    "rest_trade_fills_spot.json",
    "rest_trade_fills_doc.json",
    "rest_trade_fills_history_doc.json",
    "rest_trade_fills_row.json",
    "rest_trade_fills_row_empty_fee.json",
]


@pytest.mark.parametrize("name", FILLS)
async def test_fills_answer_when_read_keeps_price_size_fee_coin_and_fill_time(name: str) -> None:
    answer = real_okx(name)
    # The corpus is older than the recent-fills window: the history endpoint is asked too.
    (fill,) = await replayed(
        {"/api/v5/trade/fills": answer, "/api/v5/trade/fills-history": answer},
        lambda t: t.fills(None, 0),
    )
    m = answer["data"][0]
    assert fill == Fill(
        venue="okx",
        symbol=m["instId"],
        client_id=m["clOrdId"],
        venue_order_id=m["ordId"],
        trade_id=m["tradeId"],
        side=Side(m["side"]),
        price=D(m["fillPx"]),
        qty=D(m["fillSz"]),
        # OKX signs a charged fee negative; "" is no fee, in the row's coin all the same.
        fee=-D(m["fee"] or "0"),
        fee_asset=m["feeCcy"],
        is_maker=m["execType"] == "M",
        ts_venue_ms=int(m.get("fillTime") or m["ts"]),
        ts_local_ns=fill.ts_local_ns,
    )


# -- positions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "rest_account_positions_swap.json",
        "rest_account_positions_swap_funding.json",
        "rest_account_positions_isolated.json",
        "rest_account_positions_long_short.json",
    ],
)
async def test_positions_answer_when_read_signs_each_row_by_its_side(name: str) -> None:
    answer = real_okx(name)
    updates = await replayed({"/api/v5/account/positions": answer}, lambda t: t.positions())
    assert updates == [
        PositionUpdate(
            "okx",
            m["instId"],
            -D(m["pos"]) if m["posSide"] == "short" else D(m["pos"]),
            D(m["avgPx"]),
            D(m["upl"]),
            int(m["uTime"]),
            u.ts_local_ns,
        )
        for m, u in zip(answer["data"], updates, strict=True)
    ]


async def test_positions_answer_when_a_margin_position_is_listed_leaves_it_out() -> None:
    answer = real_okx("rest_account_positions_margin_doc.json")
    assert answer["data"][0]["instType"] == "MARGIN"
    assert await replayed({"/api/v5/account/positions": answer}, lambda t: t.positions()) == []


async def test_positions_request_asks_for_swaps_only() -> None:
    asked: list[dict[str, Any]] = []

    async def call(trading: OkxTrading) -> list[PositionUpdate]:
        fetch = trading.client.privateGetAccountPositions

        async def recorded(params: dict[str, Any]) -> Any:
            asked.append(dict(params))
            return await fetch(params)

        trading.client.privateGetAccountPositions = recorded
        return await trading.positions()

    answer = real_okx("rest_account_positions_swap.json")
    await replayed({"/api/v5/account/positions": answer}, call)
    assert asked == [{"instType": "SWAP"}]


# -- bills -----------------------------------------------------------------------------------


async def test_funding_bill_when_read_is_the_settlement_it_records() -> None:
    answer = real_okx("rest_account_bills_funding_derived.json")
    (settled,) = await replayed(
        {"/api/v5/account/bills": answer, "/api/v5/account/bills-archive": answer},
        lambda t: t.account_events(0),
    )
    m = answer["data"][0]
    assert settled == FundingSettlement(
        venue="okx",
        symbol=m["instId"],
        amount=D(m["pnl"]),
        asset=m["ccy"],
        settlement_id=m["billId"],
        ts_venue_ms=int(m["ts"]),
        ts_local_ns=settled.ts_local_ns,
    )


@pytest.mark.parametrize(
    "name",
    [
        "rest_account_bills_trade_doc.json",
        "rest_account_bills_trade.json",
        "rest_account_bills_transfer.json",
    ],
)
async def test_bill_of_another_type_when_listed_is_skipped(name: str) -> None:
    # Bills are asked for by type 8 (funding fees); a row of another type (a trade, a
    # transfer with "" amounts) is logged and skipped, never taken for a settlement.
    answer = real_okx(name)
    assert answer["data"][0]["type"] != "8"
    events = await replayed(
        {"/api/v5/account/bills": answer, "/api/v5/account/bills-archive": answer},
        lambda t: t.account_events(0),
    )
    assert events == []


# -- placing -------------------------------------------------------------------------------


def _request() -> OrderRequest:
    return OrderRequest(
        client_id="corpus1",
        symbol="BTC-USDT-SWAP",
        side=Side.BUY,
        type=OrderType.LIMIT,
        qty=D(1),
        price=D(100),
    )


async def test_place_answer_when_accepted_acks_with_the_venue_order_id() -> None:
    answer = real_okx("rest_trade_order_place.json")
    ack = await replayed({"/api/v5/trade/order": answer}, lambda t: t.place_order(_request()))
    assert ack == OrderAck("okx", "corpus1", answer["data"][0]["ordId"])


async def test_place_answer_when_refused_raises_naming_the_venue_code() -> None:
    answer = real_okx("rest_trade_order_place_rejected.json")
    with pytest.raises(OrderRejected, match=answer["data"][0]["sCode"]):
        await replayed({"/api/v5/trade/order": answer}, lambda t: t.place_order(_request()))


# -- books -----------------------------------------------------------------------------------


def test_rest_books_when_captured_carry_no_sequence_so_no_sync_mode_reads_them() -> None:
    for name in ("rest_market_books.json", "rest_market_books_swap.json"):
        (book,) = rows(name)
        assert "seqId" not in book
    assert not hasattr(OkxCodec, "apply_rest_snapshot")


# -- the corpus is all read ------------------------------------------------------------------


NAMED_HERE = {
    *BALANCES,
    "rest_trade_orders_pending_swap.json",
    "rest_trade_orders_pending_post_only.json",
    "rest_trade_orders_pending_doc.json",
    *(name for name, _ in ORDER_ROWS),
    "rest_trade_order_spot_quote_doc.json",
    "rest_trade_orders_history_doc.json",
    *FILLS,
    "rest_account_positions_swap.json",
    "rest_account_positions_swap_funding.json",
    "rest_account_positions_isolated.json",
    "rest_account_positions_long_short.json",
    "rest_account_positions_margin_doc.json",
    "rest_account_bills_funding_derived.json",
    "rest_account_bills_trade_doc.json",
    "rest_account_bills_trade.json",
    "rest_account_bills_transfer.json",
    "rest_trade_order_place.json",
    "rest_trade_order_place_rejected.json",
    *NOT_READ,
}


def test_every_rest_file_of_the_corpus_is_read_by_a_test_here() -> None:
    assert {p.name for p in REAL_OKX.glob("rest_*.json")} == NAMED_HERE
