"""Instruments: the exact trading rules of one venue symbol.

Prices and sizes cross this boundary as `Decimal`; inside the fast lane they are integer ticks
and lots, so arithmetic on the hot path is exact and cheap. Conversions refuse values that are
not on the grid instead of rounding them silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum


class InstrumentKind(StrEnum):
    SPOT = "spot"
    PERP = "perp"  # linear (USDT-margined) perpetual swap


class OffGridError(ValueError):
    """A price or size that is not a whole number of ticks or lots."""


@dataclass(frozen=True, slots=True)
class Instrument:
    venue: str
    symbol: str  # the venue's own symbol, e.g. "BTCUSDT" (Bybit) or "BTC-USDT-SWAP" (OKX)
    kind: InstrumentKind
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    contract_value: Decimal = Decimal(1)  # base units per contract (OKX swaps: ctVal)
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.00055")

    def __post_init__(self) -> None:
        if self.tick_size <= 0:
            raise ValueError(
                f"{self.venue}:{self.symbol}: expected positive tick_size, was {self.tick_size}"
            )
        if self.lot_size <= 0:
            raise ValueError(
                f"{self.venue}:{self.symbol}: expected positive lot_size, was {self.lot_size}"
            )
        if self.contract_value <= 0:
            raise ValueError(
                f"{self.venue}:{self.symbol}: expected positive contract_value, was {self.contract_value}"
            )

    @property
    def key(self) -> tuple[str, str]:
        return (self.venue, self.symbol)

    def price_to_ticks(self, price: Decimal) -> int:
        ticks, rem = divmod(price, self.tick_size)
        if rem:
            raise OffGridError(
                f"{self.venue}:{self.symbol}: price {price} is not a multiple of tick {self.tick_size}"
            )
        return int(ticks)

    def ticks_to_price(self, ticks: int) -> Decimal:
        return ticks * self.tick_size

    def qty_to_lots(self, qty: Decimal) -> int:
        lots, rem = divmod(qty, self.lot_size)
        if rem:
            raise OffGridError(
                f"{self.venue}:{self.symbol}: size {qty} is not a multiple of lot {self.lot_size}"
            )
        return int(lots)

    def lots_to_qty(self, lots: int) -> Decimal:
        return lots * self.lot_size

    def round_price_down(self, price: Decimal) -> Decimal:
        return _to_grid(price, self.tick_size, ROUND_FLOOR)

    def round_price_up(self, price: Decimal) -> Decimal:
        return _to_grid(price, self.tick_size, ROUND_CEILING)

    def round_qty_down(self, qty: Decimal) -> Decimal:
        return _to_grid(qty, self.lot_size, ROUND_FLOOR)

    def round_qty_up(self, qty: Decimal) -> Decimal:
        return _to_grid(qty, self.lot_size, ROUND_CEILING)

    @property
    def buy_fee_in_base(self) -> bool:
        """Whether a buy pays its fee in the base asset it receives: spot on Bybit and OKX (and
        the simulator) does, so a spot buy of q coins leaves q x (1 - fee) in the account.
        Perpetuals pay fees in their settlement currency."""
        return self.kind is InstrumentKind.SPOT

    def gross_buy_qty(self, base: Decimal) -> Decimal:
        """Venue units to buy so that `base` coins are held after a taker fee paid in them
        (rounded up to a lot: a little more, never less); `base` itself when the fee is not."""
        qty = base / self.contract_value
        if self.buy_fee_in_base:
            qty = self.round_qty_up(qty / (1 - self.taker_fee))
        return qty

    def base_qty(self, qty: Decimal) -> Decimal:
        """Base-asset amount of `qty` venue units (contracts for OKX swaps, coins elsewhere)."""
        return qty * self.contract_value


def _to_grid(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    # Decimal's `//` truncates toward zero, so floor and ceiling are spelled out explicitly.
    return (value / step).to_integral_value(rounding=rounding) * step
