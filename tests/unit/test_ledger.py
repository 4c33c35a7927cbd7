"""A strategy's ledger: the hedger's running book, funding by holding, PnL by trading day."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest

from arbiter.execution.intent import Intent
from arbiter.execution.pnl import FundingPayment, allocate
from arbiter.market.instrument import Instrument
from arbiter.risk.inventory import Inventory
from arbiter.runtime.ledger import HEDGE_PAIR, Ledger
from arbiter.venues import Fill, OrderType, Side
from arbiter.venues.contract.client_ids import IntentId
from tests.support.instruments import OKX_BTC_PERP

D = Decimal
PERP: Instrument = OKX_BTC_PERP  # contracts of 0.01 BTC
DAY = 86_400_000
T0 = 1_789_315_200_000  # 2026-09-13 16:00 UTC


def _intent(pair: str, cycle: int, leg: str, side: Side, price: str) -> Intent:
    return Intent.build(
        IntentId("alpha", pair, cycle, leg),
        "okx",
        None,
        symbol=PERP.symbol,
        side=side,
        order_type=OrderType.LIMIT,
        qty=D(100),
        price=D(price),
        decision_price=D(price),
        kind="perp",
    )


def _fill(intent: Intent, contracts: str, price: str, fee: str, ts_ms: int) -> Fill:
    return Fill(
        "okx",
        PERP.symbol,
        intent.client_id,
        "v",
        f"t-{intent.client_id}",
        intent.request.side,
        D(price),
        D(contracts),
        D(fee),
        "USDT",
        ts_venue_ms=ts_ms,
    )


def _book(
    ledger: Ledger,
    pair: str,
    cycle: int,
    side: Side,
    contracts: str,
    price: str,
    fee: str = "0",
    ts_ms: int = T0,
) -> None:
    leg = "hedge.BTC" if pair == HEDGE_PAIR else "entry.perp"
    intent = _intent(pair, cycle, leg, side, price)
    ledger.on_fill(intent, _fill(intent, contracts, price, fee, ts_ms), PERP, "BTC")


def _ledger(now_ms: int = T0, day_start: time = time(0, 0)) -> Ledger:
    return Ledger("alpha", Inventory(), clock_ms=lambda: now_ms, day_start=day_start)


def test_hedge_when_bought_at_100_and_sold_at_90_in_two_orders_realizes_the_loss() -> None:
    ledger = _ledger()
    _book(ledger, HEDGE_PAIR, 1, Side.BUY, "100", "100", fee="0.5")  # 1 BTC
    _book(ledger, HEDGE_PAIR, 2, Side.SELL, "100", "90", fee="0.45")

    lines = ledger.lines()
    assert lines.hedge == D(-10)
    assert lines.fees == D("0.95")
    assert ledger.realized == D("-10.95") == lines.realized
    assert ledger.cycle_results() == []  # the hedger's book is no cycle
    assert ledger.inventory.delta("BTC").perp == 0  # bought 1, sold 1: booked like any fill


def test_hedge_fill_when_it_arrives_reaches_the_inventory_once_however_late() -> None:
    """The hedger does not book its own fills: the pipeline does, each once, so one that
    arrives after the hedger stopped waiting for its order still counts."""
    ledger = _ledger()
    _book(ledger, HEDGE_PAIR, 1, Side.SELL, "100", "100")  # 1 BTC short
    assert ledger.inventory.delta("BTC").perp == D(-1)


def test_funding_when_two_books_hold_the_perp_splits_by_holding_at_the_settlement() -> None:
    ledger = _ledger()
    _book(ledger, "btc", 1, Side.SELL, "300", "100", ts_ms=T0 - 1000)  # short 3 BTC
    _book(ledger, HEDGE_PAIR, 1, Side.BUY, "100", "100", ts_ms=T0 - 500)  # hedger long 1 BTC
    # Reported after the settlement, though it happened before it: it counts at its own time.
    _book(ledger, HEDGE_PAIR, 2, Side.BUY, "100", "100", ts_ms=T0 + 1)

    assert ledger.holding_at("okx", PERP.symbol, T0) == D(-2)
    ledger.on_funding(FundingPayment("okx", PERP.symbol, D("0.7"), "USDT", T0))

    assert ledger.cycles[("btc", 1)].funding == D("1.05")  # 3/2 of what the account got
    assert ledger.hedges["BTC"].funding == D("-0.35")  # -1/2: the long side pays
    assert ledger.lines().funding == D("0.7")
    assert ledger.realized == D("0.7")


def test_funding_when_no_book_held_the_perp_stays_on_the_strategy_line() -> None:
    ledger = _ledger()
    ledger.on_funding(FundingPayment("okx", PERP.symbol, D("-1.25"), "USDT", T0))
    assert ledger.lines().funding == D("-1.25") == ledger.realized


def test_realized_today_when_changes_span_two_days_counts_each_at_its_own_timestamp() -> None:
    ledger = _ledger(now_ms=T0 + DAY)
    _book(ledger, "btc", 1, Side.BUY, "100", "100", ts_ms=T0)
    _book(ledger, "btc", 1, Side.SELL, "100", "97", ts_ms=T0 + 60_000)  # -3 yesterday
    _book(ledger, "btc", 2, Side.BUY, "100", "100", ts_ms=T0 + DAY)
    _book(ledger, "btc", 2, Side.SELL, "100", "99", ts_ms=T0 + DAY + 1)  # -1 today
    ledger.on_funding(FundingPayment("okx", PERP.symbol, D("0.25"), "USDT", T0 + DAY))

    assert ledger.realized == D("-3.75")
    assert ledger.realized_today() == D("-0.75")


def test_realized_today_when_replayed_in_a_new_ledger_is_the_same() -> None:
    first, again = _ledger(), _ledger()
    for ledger in (first, again):
        _book(ledger, "btc", 1, Side.BUY, "300", "200", ts_ms=T0 - 10)
        _book(ledger, "btc", 1, Side.SELL, "300", "100", ts_ms=T0)  # 3 BTC 100 lower: -300
    assert first.realized_today() == again.realized_today() == D(-300)


def test_day_start_when_moved_past_a_loss_moves_it_to_the_other_day() -> None:
    # The loss at 16:00 UTC; the clock at 18:00.
    ledger = _ledger(now_ms=T0 + 2 * 3600_000, day_start=time(17, 0))
    _book(ledger, "btc", 1, Side.BUY, "100", "100", ts_ms=T0 - 1)
    _book(ledger, "btc", 1, Side.SELL, "100", "90", ts_ms=T0)
    assert ledger.realized_today() == 0  # the day began at 17:00, after the loss

    ledger.set_day_start(time(19, 0))
    assert ledger.realized_today() == D(-10)  # the day began yesterday at 19:00


@pytest.mark.parametrize(
    ("amount", "holdings", "shares"),
    [
        ("0.7", ["-3", "1"], ["1.05", "-0.35"]),
        (
            "-0.6364003",
            ["1", "1", "1"],
            ["-0.212133433334", "-0.212133433333", "-0.212133433333"],
        ),
        ("-0.2", ["1", "3", "-1"], ["-0.066666666667", "-0.200000000000", "0.066666666667"]),
        ("1", ["2", "-2"], None),
    ],
)
def test_allocate_when_split_adds_up_to_the_amount_exactly(
    amount: str, holdings: list[str], shares: list[str] | None
) -> None:
    got = allocate(D(amount), [D(h) for h in holdings])
    assert got == (None if shares is None else [D(s) for s in shares])
    if got is not None:
        assert sum(got, D(0)) == D(amount)


def test_forced_when_venue_closes_part_of_a_short_reduces_the_books_that_held_it() -> None:
    ledger = _ledger()
    _book(ledger, "btc", 1, Side.SELL, "300", "100", ts_ms=T0 - 1000)  # short 3 BTC
    _book(ledger, HEDGE_PAIR, 1, Side.SELL, "100", "100", ts_ms=T0 - 500)  # hedger short 1
    _book(ledger, "btc", 2, Side.BUY, "100", "100", ts_ms=T0 - 400)  # a long book: untouched
    adl = Fill(
        "okx",
        PERP.symbol,
        "",
        "",
        "adl-1",
        Side.BUY,
        D(110),
        D(200),
        D("0.4"),
        "USDT",
        ts_venue_ms=T0,
    )

    ledger.on_forced(adl, PERP, "BTC")

    # 2 BTC bought back at 110 from the shorts, 3:1: 1.5 and 0.5 BTC, each losing 10 a coin.
    assert ledger.cycles[("btc", 1)].trading == D(-15)
    assert ledger.hedges["BTC"].trading == D(-5)
    assert ledger.cycles[("btc", 2)].trading == 0
    assert ledger.fees == D("0.4")
    # The cycles' fills (-3 + 1), the hedger's (-1: its fills are booked like any other's) and
    # the venue's +2, which no order of ours would have told the inventory of.
    assert ledger.inventory.delta("BTC").perp == D(-3) + D(1) + D(-1) + D(2)
