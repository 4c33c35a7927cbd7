"""Slippage against the decision price: per fill, per leg, per cycle.

Signed so that worse for us is positive: paying more than the decision price on a buy, or
receiving less on a sell. Costs are in the quote currency (base quantity times the price
difference), bps are relative to the decision notional. Arithmetic is Decimal; only the bps
division rounds, at 28 significant digits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from arbiter.venues import Fill, Side

_BPS = Decimal(10_000)


def _sign(side: Side) -> int:
    return 1 if side is Side.BUY else -1


def _bps(cost: Decimal, notional: Decimal) -> Decimal:
    if notional == 0:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 28
        return (cost / notional * _BPS).normalize()


def fill_slippage_bps(side: Side, decision_price: Decimal, fill_price: Decimal) -> Decimal:
    if decision_price <= 0:
        raise ValueError(f"expected positive decision price, was {decision_price}")
    return _bps(_sign(side) * (fill_price - decision_price), decision_price)


@dataclass(frozen=True, slots=True)
class LegSlippage:
    leg: str
    side: Side
    decision_price: Decimal
    base_qty: Decimal  # filled, in base units
    cost: Decimal  # quote currency; positive = worse than decided
    bps: Decimal

    @property
    def decision_notional(self) -> Decimal:
        return self.base_qty * self.decision_price


def leg_slippage(
    leg: str,
    side: Side,
    decision_price: Decimal,
    fills: Iterable[Fill],
    contract_value: Decimal = Decimal(1),
) -> LegSlippage:
    """Slippage of one leg's fills (venue units times `contract_value` give base units)."""
    if decision_price <= 0:
        raise ValueError(f"{leg}: expected positive decision price, was {decision_price}")
    base_qty, cost = Decimal(0), Decimal(0)
    for fill in fills:
        if fill.side is not side:
            raise ValueError(f"{leg}: expected {side} fills, was {fill.side} ({fill.trade_id})")
        qty = fill.qty * contract_value
        base_qty += qty
        cost += _sign(side) * (fill.price - decision_price) * qty
    return LegSlippage(
        leg, side, decision_price, base_qty, cost, _bps(cost, base_qty * decision_price)
    )


@dataclass(frozen=True, slots=True)
class CycleSlippage:
    legs: tuple[LegSlippage, ...]

    @property
    def cost(self) -> Decimal:
        return sum((leg.cost for leg in self.legs), Decimal(0))

    @property
    def bps(self) -> Decimal:
        """Total cost over the total decision notional of every leg."""
        return _bps(self.cost, sum((leg.decision_notional for leg in self.legs), Decimal(0)))


def cycle_slippage(legs: Sequence[LegSlippage]) -> CycleSlippage:
    return CycleSlippage(tuple(legs))
