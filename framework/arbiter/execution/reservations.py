"""The reservation ledger: funds that open intents will spend but venues may not show yet.

A venue's free balance lags our own orders (an IOC order in flight, a fill not yet pushed), so
pre-trade checks subtract what our open intents reserve. A reservation shrinks as its order
fills and disappears when the order is final. Updates take the order's *cumulative* filled
quantity, never a delta, so a duplicated or replayed event cannot release twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, localcontext

from arbiter.execution.records import OrderSnapshot


@dataclass(frozen=True, slots=True)
class Reservation:
    client_id: str
    venue: str
    asset: str
    amount: Decimal  # for the whole order quantity
    qty: Decimal
    filled_qty: Decimal = Decimal(0)

    @property
    def remaining(self) -> Decimal:
        """Still reserved: the unfilled share of `amount`, rounded up (never under-reserve)."""
        if self.filled_qty >= self.qty:
            return Decimal(0)
        with localcontext() as ctx:
            ctx.prec = 34
            ctx.rounding = ROUND_CEILING
            return self.amount * (self.qty - self.filled_qty) / self.qty


class Reservations:
    def __init__(self) -> None:
        self._by_order: dict[str, list[Reservation]] = {}

    def reserve(
        self, client_id: str, venue: str, asset: str, amount: Decimal, qty: Decimal
    ) -> None:
        if amount < 0:
            raise ValueError(f"{client_id}: expected a non-negative reservation, was {amount}")
        if qty <= 0:
            raise ValueError(f"{client_id}: expected positive qty, was {qty}")
        self._by_order.setdefault(client_id, []).append(
            Reservation(client_id, venue, asset, amount, qty)
        )

    def reserved(self, venue: str, asset: str) -> Decimal:
        return sum(
            (
                r.remaining
                for rs in self._by_order.values()
                for r in rs
                if r.venue == venue and r.asset == asset
            ),
            Decimal(0),
        )

    def update(self, snapshot: OrderSnapshot) -> None:
        """Follow an order: shrink by its cumulative fills, release when it is final."""
        held = self._by_order.get(snapshot.client_id)
        if held is None:
            return
        if snapshot.is_final:
            self.release(snapshot.client_id)
            return
        self._by_order[snapshot.client_id] = [
            Reservation(r.client_id, r.venue, r.asset, r.amount, r.qty, snapshot.filled_qty)
            if snapshot.filled_qty > r.filled_qty
            else r
            for r in held
        ]

    def release(self, client_id: str) -> None:
        self._by_order.pop(client_id, None)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._by_order
