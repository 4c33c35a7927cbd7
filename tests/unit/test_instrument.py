from decimal import Decimal

import pytest

from arbiter.market.instrument import Instrument, InstrumentKind, OffGridError


def _btc() -> Instrument:
    return Instrument(
        venue="bybit",
        symbol="BTCUSDT",
        kind=InstrumentKind.PERP,
        base="BTC",
        quote="USDT",
        tick_size=Decimal("0.10"),
        lot_size=Decimal("0.001"),
    )


def test_price_to_ticks_when_on_grid_round_trips_exactly() -> None:
    inst = _btc()
    assert inst.price_to_ticks(Decimal("65000.30")) == 650003
    assert inst.ticks_to_price(650003) == Decimal("65000.3")


def test_price_to_ticks_when_off_grid_raises_with_venue_and_symbol() -> None:
    with pytest.raises(OffGridError, match=r"bybit:BTCUSDT: price 65000.05"):
        _btc().price_to_ticks(Decimal("65000.05"))


def test_rounding_when_between_ticks_goes_the_safe_way() -> None:
    inst = _btc()
    assert inst.round_price_down(Decimal("65000.05")) == Decimal("65000.0")
    assert inst.round_price_up(Decimal("65000.05")) == Decimal("65000.1")
    assert inst.round_qty_down(Decimal("0.0019")) == Decimal("0.001")


def test_instrument_when_tick_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="expected positive tick_size, was 0"):
        Instrument("okx", "X", InstrumentKind.SPOT, "X", "USDT", Decimal(0), Decimal(1))


def test_rounding_when_negative_floors_and_ceils_not_truncates() -> None:
    inst = _btc()
    assert inst.round_price_down(Decimal("-0.05")) == Decimal("-0.1")
    assert inst.round_price_up(Decimal("-0.05")) == Decimal("0")
