"""Slippage against the decision price (worse for us is positive) and realized cycle PnL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arbiter.execution.pnl import CyclePnL, FundingPayment
from arbiter.execution.slippage import cycle_slippage, fill_slippage_bps, leg_slippage
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.venues import Fill, Side
from tests.support.instruments import OKX_BTC_PERP

D = Decimal

SPOT = Instrument("bybit", "BTCUSDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.1"), D("0.0001"))
PERP = OKX_BTC_PERP  # contracts of 0.01 BTC
INSTRUMENTS = {SPOT.key: SPOT, PERP.key: PERP}


def fill(
    inst: Instrument,
    side: Side,
    qty: str,
    price: str,
    trade_id: str,
    fee: str = "0",
    fee_asset: str = "USDT",
) -> Fill:
    return Fill(
        inst.venue, inst.symbol, "c", "v", trade_id, side, D(price), D(qty), D(fee), fee_asset
    )


@pytest.mark.parametrize(
    ("side", "price", "expected"),
    [
        (Side.BUY, "100.1", D(10)),  # paid more: worse
        (Side.BUY, "99.9", D(-10)),  # paid less: better
        (Side.SELL, "99.9", D(10)),  # received less: worse
        (Side.SELL, "100.1", D(-10)),
        (Side.BUY, "100", D(0)),
    ],
)
def test_fill_slippage_when_priced_is_signed_worse_positive(
    side: Side, price: str, expected: Decimal
) -> None:
    assert fill_slippage_bps(side, D(100), D(price)) == expected


def test_leg_slippage_when_partial_fills_is_quantity_weighted() -> None:
    fills = [
        fill(SPOT, Side.BUY, "0.25", "100.2", "t1"),
        fill(SPOT, Side.BUY, "0.75", "100.0", "t2"),
    ]
    leg = leg_slippage("entry.spot", Side.BUY, D(100), fills)
    assert leg.base_qty == D("1.00")
    assert leg.cost == D("0.05")  # 0.25 * 0.2
    assert leg.bps == D(5)


def test_leg_slippage_when_contracts_converts_to_base() -> None:
    leg = leg_slippage(
        "entry.perp",
        Side.SELL,
        D(100000),
        [fill(PERP, Side.SELL, "100", "99990", "p1")],
        contract_value=PERP.contract_value,
    )
    assert leg.base_qty == D(1)
    assert leg.cost == D(10)
    assert leg.bps == D(1)


def test_leg_slippage_when_fill_has_other_side_is_refused() -> None:
    with pytest.raises(ValueError, match="expected buy fills, was sell"):
        leg_slippage("entry.spot", Side.BUY, D(100), [fill(SPOT, Side.SELL, "1", "100", "t1")])


def test_cycle_slippage_when_legs_differ_sums_cost_over_total_notional() -> None:
    spot = leg_slippage("entry.spot", Side.BUY, D(100), [fill(SPOT, Side.BUY, "1", "100.1", "a")])
    perp = leg_slippage(
        "entry.perp", Side.SELL, D(100), [fill(SPOT, Side.SELL, "1", "100.05", "b")]
    )
    cycle = cycle_slippage([spot, perp])
    assert cycle.cost == D("0.05")  # 0.1 worse on the buy, 0.05 better on the sell
    assert cycle.bps == D("2.5")  # 0.05 / 200 notional


def test_pnl_when_cycle_round_trips_both_legs_includes_fees_and_funding() -> None:
    pnl = CyclePnL("USDT", INSTRUMENTS)
    pnl.add_fill(fill(SPOT, Side.BUY, "1", "100000", "s1", fee="20"))
    pnl.add_fill(fill(PERP, Side.SELL, "100", "100100", "p1", fee="5"))
    assert not pnl.flat
    assert pnl.open_qty("okx", "BTC-USDT-SWAP") == D("-1.00")
    pnl.add_funding(FundingPayment("okx", "BTC-USDT-SWAP", D("3.5"), "USDT"))
    pnl.add_fill(fill(SPOT, Side.SELL, "1", "100300", "s2", fee="20"))
    pnl.add_fill(fill(PERP, Side.BUY, "100", "100350", "p2", fee="5"))
    assert pnl.flat
    assert pnl.trading == D(300) - D(250)
    assert pnl.fees == D(50)
    assert pnl.funding == D("3.5")
    assert pnl.realized == D("3.5")


def test_pnl_when_fee_paid_in_base_shrinks_position_and_counts_at_fill_price() -> None:
    pnl = CyclePnL("USDT", INSTRUMENTS)
    pnl.add_fill(fill(SPOT, Side.BUY, "1", "100", "s1", fee="0.001", fee_asset="BTC"))
    assert pnl.open_qty("bybit", "BTCUSDT") == D("0.999")
    assert pnl.fees == D("0.100")


def test_pnl_when_fee_in_third_asset_is_kept_apart() -> None:
    pnl = CyclePnL("USDT", INSTRUMENTS)
    pnl.add_fill(fill(SPOT, Side.BUY, "1", "100", "s1", fee="0.02", fee_asset="BNB"))
    assert pnl.other_fees == {"BNB": D("0.02")}
    assert pnl.fees == 0


def test_pnl_when_position_flips_realizes_closed_part_and_reopens_at_price() -> None:
    pnl = CyclePnL("USDT", INSTRUMENTS)
    pnl.add_fill(fill(SPOT, Side.BUY, "1", "100", "a"))
    pnl.add_fill(fill(SPOT, Side.BUY, "1", "102", "b"))  # average cost 101
    pnl.add_fill(fill(SPOT, Side.SELL, "3", "103", "c"))
    assert pnl.trading == D(4)  # 2 closed at 103 - 101
    assert pnl.open_qty("bybit", "BTCUSDT") == D(-1)
    pnl.add_fill(fill(SPOT, Side.BUY, "1", "104", "d"))
    assert pnl.trading == D(3)
    assert pnl.flat


def test_pnl_when_funding_in_other_asset_is_refused() -> None:
    pnl = CyclePnL("USDT", INSTRUMENTS)
    with pytest.raises(ValueError, match="expected funding in USDT, was USDC"):
        pnl.add_funding(FundingPayment("okx", "BTC-USDT-SWAP", D(1), "USDC"))
