"""Slow lane arithmetic: net delta per asset and the hedge slices that restore it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.risk.hedge_plan import HedgeDecision, plan_hedge
from arbiter.risk.inventory import Inventory
from arbiter.venues import Side

# OKX BTC-USDT-SWAP as the venue lists it (fixtures/okx/http_get_instruments_swap.json).
OKX_BTC_SWAP = Instrument(
    "okx",
    "BTC-USDT-SWAP",
    InstrumentKind.PERP,
    "BTC",
    "USDT",
    tick_size=Decimal("0.1"),
    lot_size=Decimal("0.01"),
    min_qty=Decimal("0.01"),
    contract_value=Decimal("0.01"),
)
BID, ASK = Decimal("65000.0"), Decimal("65000.2")


def _plan(
    inventory: Inventory, band: str = "250", max_order: str = "20000", slip: str = "5"
) -> HedgeDecision:
    return plan_hedge(
        inventory.delta("BTC"),
        OKX_BTC_SWAP,
        venue_account="okx",
        best_bid=BID,
        best_ask=ASK,
        band_notional=Decimal(band),
        max_order_notional=Decimal(max_order),
        max_slippage_bps=Decimal(slip),
    )


def test_delta_when_spot_long_and_perp_short_equal_is_zero() -> None:
    inv = Inventory()
    inv.apply_fill("BTC", "bybit", "spot", Decimal("0.5"))
    inv.apply_fill("BTC", "okx", "perp", Decimal("-0.5"))
    assert inv.delta("BTC").base == 0


def test_delta_when_hedge_ratio_partial_counts_spot_scaled() -> None:
    inv = Inventory(hedge_ratio=Decimal("0.8"))
    inv.apply_fill("BTC", "bybit", "spot", Decimal(1))
    inv.apply_fill("BTC", "okx", "perp", Decimal("-0.8"))
    assert inv.delta("BTC").base == 0


def test_delta_when_intent_pending_counts_until_filled_then_once() -> None:
    inv = Inventory()
    inv.reserve("c1", "BTC", "spot", Decimal("0.3"))
    assert inv.delta("BTC").base == Decimal("0.3")
    inv.apply_fill("BTC", "bybit", "spot", Decimal("0.1"))
    inv.fill_pending("c1", Decimal("0.1"))
    assert inv.delta("BTC").base == Decimal("0.3")  # 0.1 held + 0.2 pending, never 0.4
    inv.apply_fill("BTC", "bybit", "spot", Decimal("0.2"))
    inv.fill_pending("c1", Decimal("0.2"))
    assert inv.delta("BTC").pending_spot == 0
    assert inv.delta("BTC").base == Decimal("0.3")
    inv.release("c1")  # idempotent after completion
    assert inv.delta("BTC").base == Decimal("0.3")


def test_delta_when_pending_order_cancelled_drops_out() -> None:
    inv = Inventory()
    inv.reserve("c1", "BTC", "perp", Decimal("-1"))
    inv.release("c1")
    assert inv.delta("BTC").base == 0
    assert inv.assets() == []


def test_hedge_when_delta_inside_band_sends_nothing() -> None:
    inv = Inventory()
    inv.apply_fill("BTC", "bybit", "spot", Decimal("0.003"))  # ~195 USDT
    decision = _plan(inv)
    assert decision.slices == ()
    assert "inside band 250" in decision.reason


def test_hedge_when_long_spot_unhedged_sells_perp_in_lot_rounded_slices_to_zero() -> None:
    inv = Inventory()
    inv.apply_fill("BTC", "bybit", "spot", Decimal("0.5"))  # 32,500 USDT long: 50 contracts
    decision = _plan(inv, max_order="13000")  # 13,000 / (65,000 x 0.01) = 20 contracts per slice
    slices = decision.slices
    assert [s.qty for s in slices] == [Decimal(20), Decimal(20), Decimal(10)]
    assert all(s.side is Side.SELL and not s.reduce_only for s in slices)
    assert sum(s.qty for s in slices) * OKX_BTC_SWAP.contract_value == Decimal("0.5")
    assert slices[0].limit_price == Decimal(
        "64967.5"
    )  # 5 bps under the bid, rounded down to the tick


def test_hedge_when_delta_not_a_whole_lot_rounds_down_never_over_hedges() -> None:
    inv = Inventory()
    inv.apply_fill("BTC", "bybit", "spot", Decimal("0.012345"))  # 1.2345 contracts -> 1.23
    (only,) = _plan(inv, band="100").slices
    assert only.qty == Decimal("1.23")


def test_hedge_when_short_delta_buys_with_limit_above_ask() -> None:
    inv = Inventory()
    inv.apply_fill("BTC", "okx", "perp", Decimal("-0.2"))
    (only,) = _plan(inv).slices
    assert only.side is Side.BUY
    assert only.limit_price == Decimal("65032.8")  # 65000.2 x 1.0005 = 65032.7001, rounded up
    assert only.reduce_only  # buying back part of a short perp only reduces it


def test_hedge_when_crossing_flat_splits_reduce_only_then_opening() -> None:
    inv = Inventory()
    inv.apply_fill("BTC", "okx", "perp", Decimal("0.1"))  # long 10 contracts of perp
    inv.apply_fill("BTC", "bybit", "spot", Decimal("0.3"))  # delta +0.4 BTC: sell 40 contracts
    slices = _plan(inv).slices
    assert [(s.qty, s.reduce_only) for s in slices] == [(Decimal(10), True), (Decimal(30), False)]


def test_hedge_when_book_crossed_refuses_to_price() -> None:
    with pytest.raises(ValueError, match="expected a two-sided uncrossed book"):
        plan_hedge(
            Inventory().delta("BTC"),
            OKX_BTC_SWAP,
            venue_account="okx",
            best_bid=ASK,
            best_ask=BID,
            band_notional=Decimal(1),
            max_order_notional=Decimal(1),
            max_slippage_bps=Decimal(1),
        )
