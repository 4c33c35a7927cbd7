"""Realized PnL of one cycle: trading gains at average cost, minus fees, plus funding.

Every fill of the cycle (entry, exit, repairs) is added; each instrument keeps a signed base
position at its average cost, and a fill that reduces a position realizes
`closed qty * (price - average cost)` in the position's direction. Fees paid in the quote
asset are subtracted as they are; fees paid in the instrument's base asset (a spot buy on many
venues) shrink the base received and are valued at the fill price; fees in any other asset are
kept apart in `other_fees`, never guessed. Funding arrives through `add_funding`, a share of a
settlement the venue recorded (see `arbiter.runtime.funding`).

Each book also remembers when its positions moved (the venue time of each fill), so
`open_qty_at` tells what it held at a funding settlement's time, whatever order the reports
arrived in. `allocate` splits an amount among holders by signed holding, exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from arbiter.market.instrument import Instrument
from arbiter.venues import Fill, Side


@dataclass(frozen=True, slots=True)
class FundingPayment:
    venue: str
    symbol: str
    amount: Decimal  # positive = received, negative = paid
    asset: str
    ts_venue_ms: int = 0


@dataclass(slots=True)
class _Position:
    qty: Decimal = Decimal(0)  # signed base units
    avg_cost: Decimal = Decimal(0)


@dataclass(slots=True)
class CyclePnL:
    quote: str
    instruments: Mapping[tuple[str, str], Instrument]
    trading: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)  # in quote, positive = paid
    funding: Decimal = Decimal(0)  # in quote, positive = received
    other_fees: dict[str, Decimal] = field(default_factory=dict)
    _positions: dict[tuple[str, str], _Position] = field(default_factory=dict)
    # (venue, symbol) -> (venue time, signed base qty) of every fill, for `open_qty_at`
    _moves: dict[tuple[str, str], list[tuple[int, Decimal]]] = field(default_factory=dict)

    @property
    def realized(self) -> Decimal:
        return self.trading - self.fees + self.funding

    def open_qty(self, venue: str, symbol: str) -> Decimal:
        position = self._positions.get((venue, symbol))
        return position.qty if position else Decimal(0)

    def open_qty_at(self, venue: str, symbol: str, ts_ms: int) -> Decimal:
        """The signed base position of one instrument just after venue time `ts_ms` (fills
        stamped at that very millisecond included: a venue settles funding on the position it
        holds at the funding time)."""
        moves = self._moves.get((venue, symbol), ())
        return sum((qty for ts, qty in moves if ts <= ts_ms), Decimal(0))

    @property
    def flat(self) -> bool:
        return all(p.qty == 0 for p in self._positions.values())

    def add_fill(self, fill: Fill) -> None:
        inst = self._instrument(fill.venue, fill.symbol)
        qty = inst.base_qty(fill.qty)
        if fill.fee_asset == inst.base and fill.side is Side.BUY:
            qty -= fill.fee  # received base net of the fee
            self.fees += fill.fee * fill.price
        elif fill.fee_asset == self.quote:
            self.fees += fill.fee
        else:
            self.other_fees[fill.fee_asset] = (
                self.other_fees.get(fill.fee_asset, Decimal(0)) + fill.fee
            )
        signed = qty if fill.side is Side.BUY else -qty
        self._trade(inst.key, signed, fill.price)
        self._moves.setdefault(inst.key, []).append((fill.ts_venue_ms, signed))

    def add_funding(self, payment: FundingPayment) -> None:
        if payment.asset != self.quote:
            raise ValueError(
                f"{payment.venue}:{payment.symbol}: expected funding in {self.quote}, was {payment.asset}"
            )
        self._instrument(payment.venue, payment.symbol)
        self.funding += payment.amount

    def _instrument(self, venue: str, symbol: str) -> Instrument:
        try:
            return self.instruments[(venue, symbol)]
        except KeyError:
            raise KeyError(f"expected an instrument of this cycle, was {venue}:{symbol}") from None

    def _trade(self, key: tuple[str, str], signed_qty: Decimal, price: Decimal) -> None:
        pos = self._positions.setdefault(key, _Position())
        if signed_qty == 0:
            return
        if pos.qty == 0 or (pos.qty > 0) == (signed_qty > 0):
            with localcontext() as ctx:
                ctx.prec = 34  # average cost can be a repeating fraction; keep it tight
                total = abs(pos.qty) + abs(signed_qty)
                pos.avg_cost = (abs(pos.qty) * pos.avg_cost + abs(signed_qty) * price) / total
            pos.qty += signed_qty
            return
        closed = min(abs(signed_qty), abs(pos.qty))
        direction = 1 if pos.qty > 0 else -1
        self.trading += closed * (price - pos.avg_cost) * direction
        pos.qty += signed_qty
        if pos.qty == 0:
            pos.avg_cost = Decimal(0)
        elif (pos.qty > 0) != (direction > 0):  # flipped: the rest opens at this price
            pos.avg_cost = price


def allocate(amount: Decimal, holdings: Sequence[Decimal]) -> list[Decimal] | None:
    """Split `amount` among holders in proportion to their signed holdings; None when they
    net to zero (nothing to split by).

    Shares are rounded to the amount's own precision or 12 decimals, whichever is finer, and
    the largest holder takes the rounding, so the shares always add up to `amount` exactly
    (`amount` is kept to the digit, however few the venue printed). Signed: a holder
    on the other side of the net position gets a share of the opposite sign, which is what it
    would have paid or received on its own.
    """
    total = sum(holdings, Decimal(0))
    if total == 0:
        return None
    exponent = amount.as_tuple().exponent
    quantum = Decimal(1).scaleb(min(exponent if isinstance(exponent, int) else 0, -12))
    largest = max(range(len(holdings)), key=lambda i: abs(holdings[i]))
    shares = [
        Decimal(0) if i == largest else (amount * h / total).quantize(quantum, ROUND_HALF_EVEN)
        for i, h in enumerate(holdings)
    ]
    shares[largest] = amount - sum(shares, Decimal(0))
    return shares
