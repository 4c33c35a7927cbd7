"""The matching engine: order types, partial fills, fees, reduce-only, funds and funding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.accounts import Account
from arbiter.sim.book import Side
from arbiter.sim.catalog import funded_account, venue_instruments
from arbiter.sim.clock import FakeClock
from arbiter.sim.engine import FUNDING_INTERVAL_MS, VenueEngine
from arbiter.sim.events import Event, Filled, OrderChanged
from arbiter.sim.orders import (
    CancelReason,
    OrderStatus,
    OrderType,
    Rejected,
    RejectReason,
    TimeInForce,
)

D = Decimal


@pytest.fixture
def engine() -> VenueEngine:
    eng = VenueEngine("bybit", venue_instruments("bybit"), clock=FakeClock())
    account = funded_account("bybit")
    eng.accounts[account.api_key] = account
    perp = eng.instrument(InstrumentKind.PERP, "BTCUSDT")
    # Asks 100.0 x 1, 100.1 x 2, 100.2 x 3 (lots of 0.001); bids 99.9 x 1, 99.8 x 2.
    eng.set_market(perp, {999: 1000, 998: 2000}, {1000: 1000, 1001: 2000, 1002: 3000})
    spot = eng.instrument(InstrumentKind.SPOT, "BTCUSDT")
    eng.set_market(spot, {9990: 1_000_000}, {10000: 1_000_000})
    return eng


def _acct(engine: VenueEngine) -> Account:
    return next(iter(engine.accounts.values()))


def _perp(engine: VenueEngine) -> Instrument:
    return engine.instrument(InstrumentKind.PERP, "BTCUSDT")


def test_limit_buy_when_crossing_several_levels_fills_at_each_level_price(
    engine: VenueEngine,
) -> None:
    perp = _perp(engine)

    order = engine.place(
        _acct(engine),
        perp,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=D("2.5"),
        price=D("100.1"),
    )

    assert order.status is OrderStatus.FILLED
    assert order.filled_value == D("100.0") * 1 + D("100.1") * D("1.5")
    assert engine.book(perp).asks == {1001: 500, 1002: 3000}


def test_ioc_when_book_is_thin_fills_what_it_can_and_cancels_rest(engine: VenueEngine) -> None:
    order = engine.place(
        _acct(engine), _perp(engine), side=Side.BUY, order_type=OrderType.LIMIT, qty=D(5), price=D("100.1"),
        tif=TimeInForce.IOC,
    )  # fmt: skip

    assert order.filled == D(3)
    assert order.status is OrderStatus.CANCELLED
    assert order.cancel_reason is CancelReason.IOC_REMAINDER
    assert order.filled_value == D("100.0") * 1 + D("100.1") * 2


def test_fok_when_not_fully_fillable_cancels_without_trading(engine: VenueEngine) -> None:
    book_before = dict(engine.book(_perp(engine)).asks)

    order = engine.place(
        _acct(engine), _perp(engine), side=Side.BUY, order_type=OrderType.LIMIT, qty=D(4), price=D("100.1"),
        tif=TimeInForce.FOK,
    )  # fmt: skip

    assert order.filled == 0
    assert order.cancel_reason is CancelReason.FOK_NOT_FILLED
    assert engine.book(_perp(engine)).asks == book_before


def test_post_only_when_it_would_take_is_cancelled(engine: VenueEngine) -> None:
    order = engine.place(
        _acct(engine), _perp(engine), side=Side.BUY, order_type=OrderType.LIMIT, qty=D(1), price=D("100.0"),
        tif=TimeInForce.POST_ONLY,
    )  # fmt: skip

    assert order.status is OrderStatus.CANCELLED
    assert order.cancel_reason is CancelReason.POST_ONLY_WOULD_TAKE


def test_resting_bid_when_market_trades_through_fills_as_maker_at_its_price(
    engine: VenueEngine,
) -> None:
    acct, perp = _acct(engine), _perp(engine)
    order = engine.place(
        acct, perp, side=Side.BUY, order_type=OrderType.LIMIT, qty=D(1), price=D("99.9")
    )
    usdt = acct.balance("USDT")

    engine.set_market(perp, {997: 1000}, {998: 5000, 1000: 1000})  # sellers now at 99.8

    assert order.status is OrderStatus.FILLED
    assert order.avg_price == D("99.9")
    assert acct.balance("USDT") == usdt - D("99.9") * perp.maker_fee


def test_perp_round_trip_when_closed_realizes_pnl_minus_fees_exactly(engine: VenueEngine) -> None:
    acct, perp = _acct(engine), _perp(engine)
    usdt = acct.balance("USDT")
    engine.place(acct, perp, side=Side.BUY, order_type=OrderType.MARKET, qty=D(1))
    engine.set_market(perp, {1010: 5000}, {1011: 5000})

    engine.place(
        acct, perp, side=Side.SELL, order_type=OrderType.MARKET, qty=D(1), reduce_only=True
    )

    fees = (D("100.0") + D("101.0")) * perp.taker_fee
    assert acct.position(perp).qty == 0
    assert acct.balance("USDT") == usdt + D("1.0") - fees


def test_reduce_only_when_no_position_rejected(engine: VenueEngine) -> None:
    with pytest.raises(Rejected) as err:
        engine.place(
            _acct(engine),
            _perp(engine),
            side=Side.SELL,
            order_type=OrderType.MARKET,
            qty=D(1),
            reduce_only=True,
        )

    assert err.value.reason is RejectReason.REDUCE_ONLY_WOULD_INCREASE


def test_spot_buy_when_funds_short_rejected_insufficient_balance(engine: VenueEngine) -> None:
    spot = engine.instrument(InstrumentKind.SPOT, "BTCUSDT")

    with pytest.raises(Rejected) as err:
        engine.place(
            _acct(engine),
            spot,
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            qty=D(2000),
            price=D("100.00"),
        )

    assert err.value.reason is RejectReason.INSUFFICIENT_BALANCE


def test_spot_buy_when_filled_pays_fee_in_base_coin(engine: VenueEngine) -> None:
    acct = _acct(engine)
    spot = engine.instrument(InstrumentKind.SPOT, "BTCUSDT")
    btc, usdt = acct.balance("BTC"), acct.balance("USDT")

    engine.place(
        acct,
        spot,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=D(1),
        price=D("100.00"),
        tif=TimeInForce.IOC,
    )

    assert acct.balance("BTC") == btc + D(1) - D(1) * spot.taker_fee
    assert acct.balance("USDT") == usdt - D("100.00")


def test_place_when_price_off_tick_rejected_off_grid(engine: VenueEngine) -> None:
    with pytest.raises(Rejected) as err:
        engine.place(
            _acct(engine),
            _perp(engine),
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            qty=D(1),
            price=D("99.95001"),
        )

    assert err.value.reason is RejectReason.OFF_GRID


def test_duplicate_client_id_when_reused_rejected(engine: VenueEngine) -> None:
    acct, perp = _acct(engine), _perp(engine)
    engine.place(
        acct, perp, side=Side.BUY, order_type=OrderType.LIMIT, qty=D(1), price=D(90), client_id="x"
    )

    with pytest.raises(Rejected) as err:
        engine.place(
            acct,
            perp,
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            qty=D(1),
            price=D(90),
            client_id="x",
        )

    assert err.value.reason is RejectReason.DUPLICATE_CLIENT_ID


def test_funding_when_time_passes_long_pays_rate_times_notional(engine: VenueEngine) -> None:
    acct, perp = _acct(engine), _perp(engine)
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    engine.place(acct, perp, side=Side.BUY, order_type=OrderType.MARKET, qty=D(1))
    usdt = acct.balance("USDT")
    mark = engine.mark(perp)
    rate = engine.funding["perp:BTCUSDT"].rate

    clock.advance(FUNDING_INTERVAL_MS)
    settled = engine.settle_funding()

    assert settled == 2  # both perps pass their funding time
    assert acct.balance("USDT") == usdt - D(1) * mark * rate
    assert acct.position(perp).funding_paid == D(1) * mark * rate


def test_fill_when_it_happens_emits_execution_before_order_update(engine: VenueEngine) -> None:
    seen: list[Event] = []
    engine.listeners.append(seen.append)

    engine.place(_acct(engine), _perp(engine), side=Side.BUY, order_type=OrderType.MARKET, qty=D(1))

    kinds = [type(e).__name__ for e in seen if isinstance(e, Filled | OrderChanged)]
    assert kinds == ["OrderChanged", "Filled", "OrderChanged"]
