"""Base holdings net of fees paid in the base coin; dust; buying up by the fee."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arbiter.execution.fees import base_change, base_fee, is_dust
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.venues import Fill, Side
from tests.support.instruments import OKX_BTC_PERP

D = Decimal
SPOT = Instrument(
    "bybit",
    "BTCUSDT",
    InstrumentKind.SPOT,
    "BTC",
    "USDT",
    D("0.01"),
    D("0.000001"),
    taker_fee=D("0.001"),
)
PERP = OKX_BTC_PERP  # contracts of 0.01 BTC


def _fill(inst: Instrument, side: Side, qty: str, fee: str, asset: str) -> Fill:
    return Fill(inst.venue, inst.symbol, "c", "v", "t", side, D(60000), D(qty), D(fee), asset)


@pytest.mark.parametrize(
    ("inst", "side", "qty", "fee", "asset", "change"),
    [
        (SPOT, Side.BUY, "0.01", "0.00001", "BTC", D("0.00999")),  # the fee is in the coins
        (SPOT, Side.SELL, "0.01", "0.6", "USDT", D("-0.01")),  # the fee is in the quote
        (SPOT, Side.SELL, "0.01", "0.00001", "BTC", D("-0.01001")),  # a venue that takes BTC
        (PERP, Side.SELL, "5", "0.3", "USDT", D("-0.05")),  # contracts of 0.01 BTC
    ],
)
def test_base_change_when_fee_paid_in_the_base_counts_it(
    inst: Instrument, side: Side, qty: str, fee: str, asset: str, change: Decimal
) -> None:
    assert base_change(_fill(inst, side, qty, fee, asset), inst) == change


def test_base_fee_when_fills_mix_assets_sums_the_base_ones() -> None:
    fills = [
        _fill(SPOT, Side.BUY, "0.01", "0.00001", "BTC"),
        _fill(SPOT, Side.BUY, "0.02", "0.00002", "BTC"),
        _fill(SPOT, Side.SELL, "0.01", "0.6", "USDT"),
    ]
    assert base_fee(fills, SPOT) == D("0.00003")


def test_is_dust_when_below_the_smallest_order_of_the_coarsest_leg() -> None:
    # spot lot 0.000001 BTC, perp lot 0.01 contracts of 0.01 BTC = 0.0001 BTC
    assert is_dust(D("0.00009"), [SPOT, PERP])
    assert is_dust(D("-0.00009"), [SPOT, PERP])
    assert not is_dust(D("0.0001"), [SPOT, PERP])  # one perp lot: both legs can trade it
    assert is_dust(D("0.0000009"), [SPOT])
    assert not is_dust(D("0.000001"), [SPOT])
    assert not is_dust(D("0.0000001"), [])


def test_is_dust_when_a_minimum_quantity_is_larger_than_the_lot() -> None:
    small = Instrument(
        "okx", "ETH-USDT", InstrumentKind.SPOT, "ETH", "USDT", D("0.01"), D("0.000001"), D("0.0001")
    )
    assert is_dust(D("0.00009"), [small])  # ninety lots, but under the smallest order
    assert not is_dust(D("0.0001"), [small])


def test_gross_buy_qty_when_spot_buys_up_so_the_net_covers_the_base() -> None:
    qty = SPOT.gross_buy_qty(D("0.0099"))
    assert qty == D("0.009910")  # 0.0099 / 0.999 = 0.00990991, up to the lot
    assert qty * (1 - SPOT.taker_fee) >= D("0.0099")
    assert qty * (1 - SPOT.taker_fee) - D("0.0099") < SPOT.lot_size
    assert PERP.gross_buy_qty(D("0.05")) == D("5")  # perps pay fees in USDT: no change
