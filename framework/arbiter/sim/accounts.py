"""Accounts: balances per coin and perp positions, moved only by fills, fees and funding.

Both venues run unified accounts here: one USDT wallet margins the perps and pays for spot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from arbiter.market.instrument import Instrument

ZERO = Decimal(0)


@dataclass
class Position:
    instrument: Instrument
    qty: Decimal = ZERO  # signed venue units: > 0 long, < 0 short
    entry_price: Decimal = ZERO
    leverage: Decimal = Decimal(10)
    realized_pnl: Decimal = ZERO
    funding_paid: Decimal = ZERO  # cumulative; positive means the account paid
    updated_ms: int = 0

    @property
    def base_qty(self) -> Decimal:
        return self.instrument.base_qty(self.qty)

    def margin(self) -> Decimal:
        return abs(self.base_qty) * self.entry_price / self.leverage

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return self.base_qty * (mark - self.entry_price)

    def apply_fill(self, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Move the position by a fill; returns the realized PnL of any part that closed it."""
        realized = ZERO
        if self.qty == 0 or (self.qty > 0) == (signed_qty > 0):
            new_qty = self.qty + signed_qty
            self.entry_price = (self.qty * self.entry_price + signed_qty * price) / new_qty
            self.qty = new_qty
            return realized
        closing = min(abs(signed_qty), abs(self.qty))
        direction = Decimal(1) if self.qty > 0 else Decimal(-1)
        realized = self.instrument.base_qty(closing) * (price - self.entry_price) * direction
        self.realized_pnl += realized
        remainder = abs(signed_qty) - closing
        self.qty += signed_qty
        if self.qty == 0:
            self.entry_price = ZERO
        elif remainder:
            # Flipped through zero: what is left opens a new position at the fill price.
            self.entry_price = price
        return realized


@dataclass
class Account:
    api_key: str
    secret: str
    passphrase: str = ""
    balances: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)  # keyed by instrument symbol

    def balance(self, coin: str) -> Decimal:
        return self.balances.get(coin, ZERO)

    def credit(self, coin: str, amount: Decimal) -> None:
        self.balances[coin] = self.balance(coin) + amount

    def position(self, instrument: Instrument) -> Position:
        pos = self.positions.get(instrument.symbol)
        if pos is None:
            pos = Position(instrument)
            self.positions[instrument.symbol] = pos
        return pos

    def used_margin(self) -> Decimal:
        return sum((p.margin() for p in self.positions.values()), ZERO)
