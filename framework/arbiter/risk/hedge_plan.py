"""Turn a net delta into hedge slices: perp orders that bring delta back inside its band.

Rules:
- nothing is sent while |delta| (in quote) is inside the band;
- the target is zero delta, not the band edge, so the hedger does not hover at the edge;
- each slice is at most `max_order_notional` and rounded *down* to the lot (never over-hedge);
- each slice is a limit IOC priced no worse than `max_slippage_bps` from the touch it crosses;
- a slice that shrinks an existing perp position the other way is `reduce_only`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arbiter.market.instrument import Instrument
from arbiter.risk.inventory import AssetDelta
from arbiter.risk.snapshot import BPS
from arbiter.venues import Side


@dataclass(frozen=True, slots=True)
class HedgeSlice:
    venue: str
    symbol: str
    side: Side
    qty: Decimal  # venue order units (contracts for OKX swaps)
    limit_price: Decimal
    reduce_only: bool


@dataclass(frozen=True, slots=True)
class HedgeDecision:
    asset: str
    delta_notional: Decimal
    band_notional: Decimal
    slices: tuple[HedgeSlice, ...]
    reason: str


def plan_hedge(
    delta: AssetDelta,
    instrument: Instrument,
    *,
    venue_account: str,
    best_bid: Decimal,
    best_ask: Decimal,
    band_notional: Decimal,
    max_order_notional: Decimal,
    max_slippage_bps: Decimal,
) -> HedgeDecision:
    if best_bid <= 0 or best_ask <= 0 or best_bid >= best_ask:
        raise ValueError(
            f"{instrument.symbol}: expected a two-sided uncrossed book, was {best_bid}/{best_ask}"
        )
    mid = (best_bid + best_ask) / 2
    delta_notional = delta.notional(mid)
    if abs(delta_notional) <= band_notional:
        reason = f"{delta.asset} delta {delta_notional:.2f} quote inside band {band_notional}"
        return HedgeDecision(delta.asset, delta_notional, band_notional, (), reason)

    side = Side.SELL if delta.base > 0 else Side.BUY  # long delta: sell perp
    touch = best_bid if side is Side.SELL else best_ask
    slip = max_slippage_bps / BPS
    limit = (
        instrument.round_price_down(touch * (1 - slip))
        if side is Side.SELL
        else instrument.round_price_up(touch * (1 + slip))
    )
    total_units = instrument.round_qty_down(abs(delta.base) / instrument.contract_value)
    max_units = instrument.round_qty_down(max_order_notional / (touch * instrument.contract_value))
    if max_units <= 0:
        raise ValueError(
            f"{instrument.symbol}: max_order_notional {max_order_notional} is below one lot at {touch}"
        )
    # A sell shrinks a long perp, a buy shrinks a short: that part can be reduce-only.
    perp_now = delta.perp + delta.pending_perp
    reducible = instrument.round_qty_down(
        (max(-perp_now, Decimal(0)) if side is Side.BUY else max(perp_now, Decimal(0)))
        / instrument.contract_value
    )

    slices: list[HedgeSlice] = []
    remaining = total_units
    while remaining > 0:
        qty = min(remaining, max_units)
        reduce = reducible >= qty
        if reducible > 0 and not reduce:
            qty = reducible  # split at the flat point: reduce-only up to it, opening after
            reduce = True
        slices.append(HedgeSlice(venue_account, instrument.symbol, side, qty, limit, reduce))
        if reduce:
            reducible -= qty
        remaining -= qty
    reason = (
        f"{delta.asset} delta {delta_notional:.2f} quote outside band {band_notional}: "
        f"{side.value} {total_units} {instrument.symbol} in {len(slices)} slice(s) limit {limit}"
    )
    return HedgeDecision(delta.asset, delta_notional, band_notional, tuple(slices), reason)
