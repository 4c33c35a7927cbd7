"""OKX's own messages (tests/fixtures/venues/real/okx, sources in its SOURCES.md) through the
code the runtime reads them with: the public codec, the private stream codec and the order
tracker. Every parsed field is checked against the message's own text, exactly.

Every WebSocket file of the corpus is named here (REST answers in
tests/integration/test_okx_corpus_rest.py); one the code leaves alone is in `IGNORED`, with why.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbiter.execution import Intent, OrderTracker
from arbiter.market.book import Side as BookSide
from arbiter.market.events import (
    BookSnapshot,
    CodecError,
    CodecErrorKind,
    Funding,
    Ticker,
    Trade,
    TradeSide,
)
from arbiter.store import Journal
from arbiter.venues import (
    ApiKeys,
    BalanceUpdate,
    Fill,
    ForcedExecution,
    ForcedKind,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionUpdate,
    SettlementsDue,
    Side,
    StreamError,
)
from arbiter.venues.contract.client_ids import IntentId
from arbiter_okx import OkxCodec, okx_checksum, parse_instruments
from arbiter_okx.limits import OKX_CLIENT_IDS
from arbiter_okx.messages import BOOKS
from arbiter_okx.streams import OkxPrivateCodec
from tests.support.rest_replay import REAL_OKX, real_okx

D = Decimal

# Files the code leaves alone on purpose, and why (each is still fed and checked to change
# nothing, see test_ignored_messages_when_fed_change_nothing).
IGNORED = {
    "ws_balance_and_position_snapshot_doc.json": (
        "balances and positions again, as `account` and `positions` push them, but without"
        " `availBal`: only its funding_fee event is read"
    ),
}


def frame(name: str) -> str:
    return (REAL_OKX / name).read_text()


def item(name: str, index: int = 0) -> dict[str, Any]:
    row: dict[str, Any] = real_okx(name)["data"][index]
    return row


def live_codec() -> OkxPrivateCodec:
    codec = OkxPrivateCodec(ApiKeys("key", "secret", "pass"), "okx", clock_s=lambda: "1")
    codec.feed(json.dumps({"event": "login", "code": "0", "msg": ""}), 0)
    codec.pending_frames()
    for channel in ("orders", "positions", "account", "balance_and_position"):
        codec.feed(json.dumps({"event": "subscribe", "arg": {"channel": channel}}), 0)
    codec.reconciled()
    return codec


def price_or_none(text: str) -> Decimal | None:
    return D(text) if text and D(text) else None


def assert_order_update(update: object, m: dict[str, Any], status: OrderStatus) -> None:
    assert isinstance(update, OrderUpdate)
    assert update.status is status
    assert (update.symbol, update.client_id, update.venue_order_id) == (
        m["instId"],
        m["clOrdId"],
        m["ordId"],
    )
    assert update.side is Side(m["side"])
    assert update.qty == D(m["sz"])
    assert update.filled_qty == D(m["accFillSz"])
    assert update.avg_price == price_or_none(m["avgPx"])
    assert update.price == price_or_none(m["px"])
    assert update.ts_venue_ms == int(m["uTime"])
    if status is OrderStatus.CANCELLED:
        assert update.reason == (m["cancelSourceReason"] or m["cancelSource"])


def assert_fill(fill: object, m: dict[str, Any], fee: Decimal) -> None:
    assert isinstance(fill, Fill)
    assert (fill.symbol, fill.client_id, fill.venue_order_id, fill.trade_id) == (
        m["instId"],
        m["clOrdId"],
        m["ordId"],
        m["tradeId"],
    )
    assert fill.side is Side(m["side"])
    assert fill.price == D(m["fillPx"])
    assert fill.qty == D(m["fillSz"])
    assert fill.fee == fee
    assert fill.fee_asset == (m.get("fillFeeCcy") or m["feeCcy"])
    assert fill.is_maker == (m["execType"] == "M")
    assert fill.ts_venue_ms == int(m["fillTime"])


# -- public market data ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ws_books_snapshot.json", "ws_books_update.json"])
def test_books_push_when_decoded_keeps_every_level_text(name: str) -> None:
    raw = json.loads(frame(name))
    (push,) = BOOKS.decode(json.dumps(raw["data"]))
    data = raw["data"][0]
    assert push.bids == data["bids"]
    assert push.asks == data["asks"]
    assert (push.seqId, push.prevSeqId, push.checksum) == (
        data["seqId"],
        data["prevSeqId"],
        data["checksum"],
    )


def test_books_snapshot_when_its_checksum_is_not_its_levels_is_refused_not_trusted() -> None:
    # The public sample was cut to 8 levels a side after OKX computed its checksum.
    codec = OkxCodec()
    data = item("ws_books_snapshot.json")
    events = codec.feed(frame("ws_books_snapshot.json"))
    error = next(e for e in events if isinstance(e, CodecError))
    assert error.kind is CodecErrorKind.CHECKSUM
    expected = okx_checksum(
        [f"{p}:{s}" for p, s, *_ in data["bids"]], [f"{p}:{s}" for p, s, *_ in data["asks"]]
    )
    assert f"expected checksum {data['checksum']}" in error.detail
    assert f"computed {expected}" in error.detail
    assert codec.books["BTC-USDT"].stale
    assert levels(codec, "BTC-USDT", BookSide.BID) == [(D(p), D(q)) for p, q, *_ in data["bids"]]
    assert levels(codec, "BTC-USDT", BookSide.ASK) == [(D(p), D(q)) for p, q, *_ in data["asks"]]


def levels(codec: OkxCodec, inst: str, side: BookSide) -> list[tuple[Decimal, Decimal]]:
    book = codec.books[inst]
    return [(book.price(p), book.size(q)) for p, q in book.depth(side)]


def test_bbo_tbt_when_fed_is_a_whole_book_of_its_one_level() -> None:
    data = item("ws_bbo_tbt.json")
    codec = OkxCodec()
    (snap,) = codec.feed(frame("ws_bbo_tbt.json"))
    assert isinstance(snap, BookSnapshot)
    assert (snap.update_id, snap.ts_ms) == (data["seqId"], int(data["ts"]))
    assert levels(codec, "BTC-USDT", BookSide.BID) == [(D(p), D(q)) for p, q, *_ in data["bids"]]
    assert levels(codec, "BTC-USDT", BookSide.ASK) == [(D(p), D(q)) for p, q, *_ in data["asks"]]


def test_trades_ticker_funding_when_fed_read_every_field_exactly() -> None:
    codec = OkxCodec()
    (trade,) = codec.feed(frame("ws_trades.json"))
    t = item("ws_trades.json")
    assert trade == Trade(
        "okx", t["instId"], t["tradeId"], D(t["px"]), D(t["sz"]), TradeSide.BUY, int(t["ts"])
    )
    (ticker,) = codec.feed(frame("ws_tickers.json"))
    k = item("ws_tickers.json")
    assert isinstance(ticker, Ticker)
    assert (ticker.symbol, ticker.ts_ms) == (k["instId"], int(k["ts"]))
    assert (ticker.bid, ticker.bid_size, ticker.ask, ticker.ask_size, ticker.last) == (
        D(k["bidPx"]),
        D(k["bidSz"]),
        D(k["askPx"]),
        D(k["askSz"]),
        D(k["last"]),
    )
    (funding,) = codec.feed(frame("ws_funding_rate.json"))
    f = item("ws_funding_rate.json")
    assert funding == Funding(
        "okx",
        f["instId"],
        D(f["fundingRate"]),
        int(f["fundingTime"]),
        int(f["ts"]),
        next_rate=D(f["nextFundingRate"]),
    )


# -- private: orders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "ws_orders_swap_market_filled.json",
        "ws_orders_spot_fok_filled.json",
        "ws_orders_swap_optimal_limit_ioc_filled.json",
        "ws_orders_spot_limit_filled_doc.json",
    ],
)
def test_orders_push_of_a_fill_when_fed_yields_the_fill_then_the_order(name: str) -> None:
    m = item(name)
    fill, update = live_codec().feed(frame(name), 7)
    # OKX signs a charged fee negative; ours is positive when paid. The push's own fee is
    # `fillFee`; older pushes carry only the order's cumulative `fee`, all of it this fill's.
    assert_fill(fill, m, -D(m.get("fillFee") or m["fee"]))
    assert_order_update(update, m, OrderStatus.FILLED)


def test_orders_push_of_a_partial_fill_when_fed_keeps_the_order_working() -> None:
    m = item("ws_orders_spot_ioc_partially_filled.json")
    fill, update = live_codec().feed(frame("ws_orders_spot_ioc_partially_filled.json"), 7)
    assert_fill(fill, m, -D(m["fee"]))
    assert_order_update(update, m, OrderStatus.PARTIALLY_FILLED)


@pytest.mark.parametrize(
    "name",
    [
        "ws_orders_spot_ioc_canceled_after_fill.json",
        "ws_orders_swap_post_only_canceled.json",
        "ws_orders_option_mmp_canceled.json",
    ],
)
def test_orders_push_of_a_cancel_when_fed_keeps_what_was_filled(name: str) -> None:
    m = item(name)
    (update,) = live_codec().feed(frame(name), 7)
    assert_order_update(update, m, OrderStatus.CANCELLED)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.sqlite") as j:
        yield j


def test_cancel_after_partial_fill_when_tracked_ends_cancelled_with_its_fill_kept(
    journal: Journal,
) -> None:
    partial = item("ws_orders_spot_ioc_partially_filled.json")
    tracker = OrderTracker(journal, clock=iter(range(10**9)).__next__)
    intent = Intent.build(
        IntentId("basis", "btc", 1, "entry.spot"),
        "okx",
        OKX_CLIENT_IDS,
        symbol=partial["instId"],
        side=Side(partial["side"]),
        order_type=OrderType.LIMIT,
        qty=D(partial["sz"]),
        price=D(partial["px"]),
        decision_price=D(partial["px"]),
        kind="spot",
    )
    tracker.add(intent)
    tracker.submitted(intent.client_id)
    codec = live_codec()
    events = [
        *codec.feed(frame("ws_orders_spot_ioc_partially_filled.json"), 1),
        *codec.feed(frame("ws_orders_spot_ioc_canceled_after_fill.json"), 2),
    ]
    for event in events:
        assert isinstance(event, OrderUpdate | Fill)
        # The corpus order's client id is another program's; the venue's facts are kept.
        applied = tracker.apply(dataclasses.replace(event, client_id=intent.client_id))
        assert applied.incident is None

    snap = tracker.snapshot(intent.client_id)
    assert snap.state == "cancelled"
    assert snap.filled_qty == D(partial["accFillSz"])
    (kept,) = tracker.fills(intent.client_id)
    assert (kept.trade_id, kept.qty, kept.price) == (
        partial["tradeId"],
        D(partial["fillSz"]),
        D(partial["fillPx"]),
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ws_orders_swap_adl.json", ForcedKind.ADL),
        ("ws_orders_swap_full_liquidation.json", ForcedKind.LIQUIDATION),
    ],
)
def test_orders_push_the_venue_forced_when_fed_is_a_forced_execution(
    name: str, kind: ForcedKind
) -> None:
    m = item(name)
    (forced,) = live_codec().feed(frame(name), 7)
    assert forced == ForcedExecution(
        venue="okx",
        symbol=m["instId"],
        kind=kind,
        trade_id=m["tradeId"],
        side=Side(m["side"]),
        price=D(m["fillPx"]),
        qty=D(m["fillSz"]),
        fee=-D(m["fee"]),
        fee_asset=m["feeCcy"],
        ts_venue_ms=int(m["fillTime"]),
        ts_local_ns=7,
    )


def test_orders_push_of_an_unknown_state_when_fed_is_a_counted_error_naming_it() -> None:
    codec = live_codec()
    (error,) = codec.feed(frame("ws_orders_swap_unknown_state.json"), 7)
    assert isinstance(error, StreamError)
    assert "expected a known order state, was 'future_state'" in error.detail
    assert codec.stats.errors == 1


# -- private: account, positions, balance_and_position --------------------------------------


@pytest.mark.parametrize("name", ["ws_account.json", "ws_account_doc.json"])
def test_account_push_when_fed_reads_cash_balance_and_available_balance(name: str) -> None:
    details = item(name)["details"]
    events = live_codec().feed(frame(name), 7)
    assert events == [
        BalanceUpdate("okx", d["ccy"], D(d["availBal"]), D(d["cashBal"]), int(d["uTime"]), 7)
        for d in details
    ]


def test_account_push_without_details_changes_nothing() -> None:
    codec = live_codec()
    assert codec.feed(frame("ws_account_empty.json"), 7) == []
    assert codec.stats.errors == 0


def test_positions_push_when_fed_reads_size_sign_entry_and_pnl() -> None:
    m = item("ws_positions.json")
    (update,) = live_codec().feed(frame("ws_positions.json"), 7)
    assert update == PositionUpdate(
        "okx", m["instId"], D(m["pos"]), D(m["avgPx"]), D(m["upl"]), int(m["uTime"]), 7
    )


def test_positions_push_of_a_future_is_skipped_and_counted() -> None:
    codec = live_codec()
    future, swap = real_okx("ws_positions_doc.json")["data"]
    assert future["instType"] == "FUTURES"
    (update,) = codec.feed(frame("ws_positions_doc.json"), 7)
    assert update == PositionUpdate(
        "okx",
        swap["instId"],
        D(swap["pos"]),
        D(swap["avgPx"]),
        D(swap["upl"]),
        int(swap["uTime"]),
        7,
    )
    assert codec.skipped_positions == 1


def test_positions_push_when_instruments_known_reads_only_listed_perps() -> None:
    listed = parse_instruments(real_okx("rest_public_instruments_swap.json"))
    assert {i.symbol for i in listed} == {"ETH-USDT-SWAP", "BTC-USDT-SWAP"}  # no inverse swap
    codec = OkxPrivateCodec(
        ApiKeys("key", "secret", "pass"),
        "okx",
        clock_s=lambda: "1",
        instruments={(i.kind.value, i.symbol): i for i in listed},
    )
    codec.decode(json.dumps({"event": "login", "code": "0"}), 0)
    # An expiry future and an inverse swap (ETH-USD-SWAP): neither is a perp the plugin lists.
    assert codec.decode(frame("ws_positions_doc.json"), 7) == []
    assert codec.skipped_positions == 2
    m = item("ws_positions.json")
    (update,) = codec.decode(frame("ws_positions.json"), 7)
    assert isinstance(update, PositionUpdate)
    assert (update.symbol, update.size) == (m["instId"], D(m["pos"]))


def test_balance_and_position_funding_fee_when_fed_asks_for_the_bills() -> None:
    m = item("ws_balance_and_position_funding_fee_doc.json")
    assert live_codec().feed(frame("ws_balance_and_position_funding_fee_doc.json"), 7) == [
        SettlementsDue("okx", int(m["pTime"]))
    ]


def test_ignored_messages_when_fed_change_nothing() -> None:
    codec = live_codec()
    for name in IGNORED:
        assert codec.feed(frame(name), 7) == []
    assert codec.stats.errors == 0


# -- the corpus is all read ------------------------------------------------------------------


NAMED_HERE = {
    "ws_books_snapshot.json",
    "ws_books_update.json",
    "ws_bbo_tbt.json",
    "ws_trades.json",
    "ws_tickers.json",
    "ws_funding_rate.json",
    "ws_orders_swap_market_filled.json",
    "ws_orders_spot_fok_filled.json",
    "ws_orders_swap_optimal_limit_ioc_filled.json",
    "ws_orders_spot_limit_filled_doc.json",
    "ws_orders_spot_ioc_partially_filled.json",
    "ws_orders_spot_ioc_canceled_after_fill.json",
    "ws_orders_swap_post_only_canceled.json",
    "ws_orders_option_mmp_canceled.json",
    "ws_orders_swap_adl.json",
    "ws_orders_swap_full_liquidation.json",
    "ws_orders_swap_unknown_state.json",
    "ws_account.json",
    "ws_account_doc.json",
    "ws_account_empty.json",
    "ws_positions.json",
    "ws_positions_doc.json",
    "ws_balance_and_position_funding_fee_doc.json",
    *IGNORED,
}


def test_every_websocket_file_of_the_corpus_is_read_by_a_test_here() -> None:
    on_disk = {p.name for p in REAL_OKX.glob("ws_*.json")}
    assert on_disk == NAMED_HERE
