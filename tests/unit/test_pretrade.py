"""Pre-trade checks: both legs checked before either is sent, failures named with numbers."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from arbiter.execution import Intent
from arbiter.execution.pretrade import PlannedLeg, PositionLimit, PretradeChecker
from arbiter.execution.records import OrderSnapshot
from arbiter.execution.reservations import Reservations
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.venues import OrderType, Side
from arbiter.venues.contract.client_ids import IntentId

D = Decimal

BYBIT_SPOT = Instrument(
    "bybit",
    "BTCUSDT",
    InstrumentKind.SPOT,
    "BTC",
    "USDT",
    tick_size=D("0.1"),
    lot_size=D("0.000001"),
    min_qty=D("0.000048"),
    min_notional=D("5"),
    taker_fee=D("0.0002"),
)
OKX_PERP = Instrument(
    "okx",
    "BTC-USDT-SWAP",
    InstrumentKind.PERP,
    "BTC",
    "USDT",
    tick_size=D("0.1"),
    lot_size=D("0.01"),
    min_qty=D("0.01"),
    contract_value=D("0.01"),
    taker_fee=D("0.0005"),
)
BYBIT_PERP = replace(OKX_PERP, venue="bybit", symbol="BTCUSDT-PERP", contract_value=D(1))


def leg(
    instrument: Instrument,
    side: Side,
    qty: str,
    price: str | None,
    *,
    name: str = "entry.spot",
    reduce_only: bool = False,
    leverage: str = "1",
    price_bound: str | None = None,
) -> PlannedLeg:
    intent = Intent.build(
        IntentId("basis", "btc", 1, name),
        instrument.venue,
        None,
        symbol=instrument.symbol,
        side=side,
        order_type=OrderType.LIMIT if price else OrderType.MARKET,
        qty=D(qty),
        price=D(price) if price else None,
        decision_price=D("100000"),
        reduce_only=reduce_only,
    )
    return PlannedLeg(
        intent, instrument, D(leverage), D(price_bound) if price_bound is not None else None
    )


def spot_buy(qty: str = "0.02", price: str = "100010") -> PlannedLeg:
    return leg(BYBIT_SPOT, Side.BUY, qty, price)


def perp_short(contracts: str = "2", price: str = "100100", leverage: str = "5") -> PlannedLeg:
    return leg(OKX_PERP, Side.SELL, contracts, price, name="entry.perp", leverage=leverage)


PLENTY = {("bybit", "USDT"): D("10000"), ("okx", "USDT"): D("10000"), ("bybit", "BTC"): D(1)}


def test_both_legs_when_everything_fits_pass_and_reserve_exact_amounts() -> None:
    ledger = Reservations()
    spot, perp = spot_buy(), perp_short()
    result = PretradeChecker(ledger).check_and_reserve([spot, perp], PLENTY)
    assert result.passed, result.reason
    # 0.02 * 100010 = 2000.20 plus 0.02% taker fee
    assert ledger.reserved("bybit", "USDT") == D("2000.600040")
    # 2 contracts * 0.01 BTC * 100100 = 2002.00 notional; / 5x leverage + 0.05% fee
    assert ledger.reserved("okx", "USDT") == D("400.40") + D("1.001000")


def test_funds_when_reserved_leaves_too_little_fail_with_numbers_and_reserve_nothing() -> None:
    ledger = Reservations()
    ledger.reserve("earlier-order", "bybit", "USDT", D("900"), D("1"))
    balances = {**PLENTY, ("bybit", "USDT"): D("2500.5")}
    spot, perp = spot_buy(), perp_short()
    result = PretradeChecker(ledger).check_and_reserve([spot, perp], balances)
    assert not result.passed
    assert [f.check for f in result.failures] == ["funds"]
    assert result.failures[0].message == (
        "bybit USDT free 2500.5 minus reserved 900 < needed 2000.600040"
    )
    assert spot.intent.client_id not in ledger
    assert perp.intent.client_id not in ledger


def test_funds_when_both_legs_share_a_venue_asset_are_summed() -> None:
    spot = spot_buy()
    perp = leg(BYBIT_PERP, Side.SELL, "0.02", "100100", name="entry.perp", leverage="10")
    balances = {("bybit", "USDT"): D("2100")}  # enough for either leg alone, not both
    result = PretradeChecker(Reservations()).check([spot, perp], balances)
    assert len(result.failures) == 1
    failure = result.failures[0]
    assert failure.legs == "entry.spot bybit:BTCUSDT + entry.perp bybit:BTCUSDT-PERP"
    assert failure.message.endswith("< needed 2201.801040")


@pytest.mark.parametrize(
    ("qty", "price", "check", "message"),
    [
        (
            "0.02",
            "100010.05",
            "tick",
            "bybit:BTCUSDT: price 100010.05 is not a multiple of tick 0.1",
        ),
        (
            "0.0200005",
            "100010",
            "lot",
            "bybit:BTCUSDT: size 0.0200005 is not a multiple of lot 0.000001",
        ),
        ("0.000040", "200000", "min_qty", "qty 0.000040 < min qty 0.000048"),
        ("0.000048", "100", "min_notional", "notional 0.004800 at 100 < min notional 5"),
    ],
)
def test_instrument_rule_when_broken_is_named_with_its_numbers(
    qty: str, price: str, check: str, message: str
) -> None:
    result = PretradeChecker(Reservations()).check([spot_buy(qty, price), perp_short()], PLENTY)
    assert [(f.check, f.message) for f in result.failures] == [(check, message)]
    assert result.failures[0].legs == "entry.spot bybit:BTCUSDT"


def test_position_when_limit_would_be_exceeded_fails_with_numbers() -> None:
    limit = PositionLimit(max_notional=D("5000"), current_notional=D("3500"))
    result = PretradeChecker(Reservations()).check([spot_buy(), perp_short()], PLENTY, limit)
    assert [f.check for f in result.failures] == ["position"]
    assert result.failures[0].message == "pair notional 3500 plus 2002.00 > limit 5000"


def test_position_when_legs_reduce_only_is_not_limited() -> None:
    close = leg(OKX_PERP, Side.BUY, "2", "100100", name="exit.perp", reduce_only=True)
    limit = PositionLimit(max_notional=D("1000"), current_notional=D("2002"))
    result = PretradeChecker(Reservations()).check([close], PLENTY, limit)
    assert result.passed, result.reason


def test_funds_when_spot_sell_needs_base_and_reduce_only_perp_needs_only_fee() -> None:
    sell = leg(BYBIT_SPOT, Side.SELL, "0.5", "100000", name="exit.spot")
    close = leg(OKX_PERP, Side.BUY, "2", "100000", name="exit.perp", reduce_only=True)
    assert sell.funds() == ("BTC", D("0.5"))
    assert close.funds() == ("USDT", D("1.000000"))
    result = PretradeChecker(Reservations()).check([sell, close], {("bybit", "BTC"): D("0.4")})
    assert [f.message for f in result.failures] == [
        "bybit BTC free 0.4 minus reserved 0 < needed 0.5",
        "okx USDT free 0 minus reserved 0 < needed 1.000000",
    ]


def test_market_leg_when_checked_uses_price_bound() -> None:
    market = leg(BYBIT_SPOT, Side.BUY, "0.01", None, price_bound="100500")
    assert market.check_price == D("100500")
    assert market.funds() == ("USDT", D("1005.00") + D("0.201000"))


def _snapshot(client_id: str, filled: str, state: str) -> OrderSnapshot:
    return OrderSnapshot(client_id, "bybit", "BTCUSDT", D("2"), state, fills_qty=D(filled))


def test_reservation_when_order_fills_shrinks_then_final_releases() -> None:
    ledger = Reservations()
    ledger.reserve("c1", "bybit", "USDT", D("200"), D("2"))
    ledger.update(_snapshot("c1", "0.5", "partially_filled"))
    assert ledger.reserved("bybit", "USDT") == D("150")
    ledger.update(_snapshot("c1", "0.5", "partially_filled"))  # duplicate: no double release
    assert ledger.reserved("bybit", "USDT") == D("150")
    ledger.update(_snapshot("c1", "0.5", "cancelled"))
    assert ledger.reserved("bybit", "USDT") == 0
    assert "c1" not in ledger


def test_reservation_when_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="expected a non-negative reservation, was -1"):
        Reservations().reserve("c1", "bybit", "USDT", D(-1), D(1))


def test_reserve_when_restoring_a_partly_filled_order_reserves_only_the_rest() -> None:
    ledger = Reservations()
    perp = perp_short(contracts="2", price="100100", leverage="5")
    snapshot = OrderSnapshot(
        perp.intent.client_id,
        "okx",
        "BTC-USDT-SWAP",
        D(2),
        "partially_filled",
        fills_qty=D("0.5"),
    )
    PretradeChecker(ledger).reserve(perp, snapshot)
    assert ledger.reserved("okx", "USDT") == (D("400.40") + D("1.001000")) * 3 / 4
