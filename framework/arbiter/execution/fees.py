"""What a fill changes in base holdings once its fee is paid, and when a residual is dust.

A spot buy pays its fee in the coins it buys (Bybit, OKX): the account receives the filled
quantity less the fee. Exposure, inventory and a cycle's hedged quantity are therefore counted
*net*: the gross filled quantity would report a hedge the account does not hold. A residual
below the precision at which both legs trade together is dust (`is_dust`), and a pair that
leaves only dust is hedged.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from arbiter.market.instrument import Instrument
from arbiter.venues import Fill, Side

ZERO = Decimal(0)


def base_change(fill: Fill, instrument: Instrument) -> Decimal:
    """Signed base coins this fill added to (bought) or took from (sold) the account, net of a
    fee charged in the base asset."""
    base = instrument.base_qty(fill.qty)
    signed = base if fill.side is Side.BUY else -base
    if fill.fee and fill.fee_asset == instrument.base:
        signed -= fill.fee
    return signed


def base_fee(fills: Iterable[Fill], instrument: Instrument) -> Decimal:
    """Fees these fills paid in the base asset."""
    return sum((f.fee for f in fills if f.fee_asset == instrument.base), ZERO)


def is_dust(residual: Decimal, instruments: Iterable[Instrument]) -> bool:
    """A residual (base) smaller than the smallest order of the coarsest leg (one lot, or the
    venue's minimum quantity when larger): below the precision at which both legs trade
    together, which is how a pair is sized and hedged. (Buying up by a fee leaves up to one lot
    of the buying leg; a partial fill on the coarse leg leaves at least one of its lots.) What
    dust there is stays in the inventory, in the open, for the hedger's band.
    """
    smallest = [max(i.lot_size, i.min_qty) * i.contract_value for i in instruments]
    return bool(smallest) and abs(residual) < max(smallest)
