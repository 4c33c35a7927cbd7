"""What a pair holds after a step and its repair: the base both legs hold alike."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arbiter.execution.dual_leg import LegResult
from arbiter.execution.records import OrderSnapshot
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.runtime.pair_runner import held_after
from arbiter.venues import Side
from tests.support.instruments import OKX_BTC_PERP

D = Decimal
SPOT = Instrument("bybit", "BTCUSDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.01"), D("0.0001"))
PERP = OKX_BTC_PERP  # contracts of 0.01 BTC


def leg(role: str, side: Side, filled: str) -> LegResult:
    inst = SPOT if role == "spot" else PERP
    qty = D(filled) / inst.contract_value
    snap = OrderSnapshot(f"{role}-{side}", inst.venue, inst.symbol, qty, "filled", fills_qty=qty)
    return LegResult(role, side, snap, inst)


BUY, SELL = Side.BUY, Side.SELL


@pytest.mark.parametrize(
    ("before", "legs", "held"),
    [
        # entry, the perp leg partly filled, unwound: the part both legs hold stays
        (
            "0",
            [("spot", BUY, "0.0099"), ("perp", SELL, "0.0068"), ("spot", SELL, "0.0031")],
            "0.0068",
        ),
        # entry, the perp leg partly filled, chased: the whole entry is hedged
        (
            "0",
            [("spot", BUY, "0.0099"), ("perp", SELL, "0.0068"), ("perp", SELL, "0.0031")],
            "0.0099",
        ),
        # entry, the perp leg rejected, unwound: flat
        ("0", [("spot", BUY, "0.0099"), ("perp", SELL, "0"), ("spot", SELL, "0.0099")], "0"),
        # entry, handed to the hedger: the pair keeps the hedged part only
        ("0", [("spot", BUY, "0.0099"), ("perp", SELL, "0.0068")], "0.0068"),
        # exit, both legs partly filled, the short one chased: what is left stays held
        ("0.05", [("spot", SELL, "0.03"), ("perp", BUY, "0.02"), ("perp", BUY, "0.01")], "0.02"),
        # exit, the perp leg rejected, the spot sale unwound: the position is back
        ("0.05", [("spot", SELL, "0.05"), ("perp", BUY, "0"), ("spot", BUY, "0.05")], "0.05"),
        # exit, completed by a chase: flat
        ("0.05", [("spot", SELL, "0.05"), ("perp", BUY, "0.03"), ("perp", BUY, "0.02")], "0"),
    ],
)
def test_held_after_when_step_and_repair_filled_is_what_both_legs_hold(
    before: str, legs: list[tuple[str, Side, str]], held: str
) -> None:
    assert held_after("spot", D(before), [leg(*x) for x in legs]) == D(held)
