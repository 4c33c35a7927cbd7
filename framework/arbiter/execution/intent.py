"""An intent: one order we mean to place, journaled before anything is sent.

The intent carries everything needed to (re)build the venue request after a restart, so a retry
sends byte-for-byte the same order under the same client order id, and the decision price that
slippage is measured against.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arbiter.venues import ClientIdRules, OrderRequest, OrderType, Side, TimeInForce
from arbiter.venues.contract.client_ids import IntentId


@dataclass(frozen=True, slots=True)
class Intent:
    id: IntentId
    venue: str
    request: OrderRequest
    decision_price: Decimal  # the price the strategy saw when it decided; slippage is against it

    def __post_init__(self) -> None:
        if self.decision_price <= 0:
            raise ValueError(
                f"{self.id}: expected positive decision_price, was {self.decision_price}"
            )

    @property
    def client_id(self) -> str:
        return self.request.client_id

    @classmethod
    def build(
        cls,
        intent_id: IntentId,
        venue: str,
        rules: ClientIdRules | None,
        *,
        symbol: str,
        side: Side,
        order_type: OrderType,
        qty: Decimal,
        price: Decimal | None,
        decision_price: Decimal,
        tif: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
        kind: str | None = None,
    ) -> Intent:
        """An intent whose client order id is derived from its id within `rules`."""
        request = OrderRequest(
            client_id=intent_id.client_id(rules),
            symbol=symbol,
            side=side,
            type=order_type,
            qty=qty,
            price=price,
            tif=tif,
            reduce_only=reduce_only,
            kind=kind,
        )
        return cls(intent_id, venue, request, decision_price)
