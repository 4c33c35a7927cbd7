"""The trading half of the venue plugin contract: what execution and risk call.

A plugin implements `TradingVenue` for one venue account. Every method either returns a
normalized value or raises one of `arbiter.venues.errors`: `Definitive` when the request
certainly did not take effect, `Ambiguous` when it may have, `DuplicateClientId` when an order
with that client id already exists. Callers rely on that split to never send an order twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from arbiter.market.instrument import Instrument
from arbiter.venues.client_ids import ClientIdRules
from arbiter.venues.orders import OrderAck, OrderRequest, OrderUpdate, PositionUpdate, PrivateEvent


@dataclass(frozen=True, slots=True)
class VenueLimits:
    client_ids: ClientIdRules
    orders_per_second: int
    requests_per_second: int


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class FeeRate:
    symbol: str
    maker: Decimal
    taker: Decimal


@dataclass(frozen=True, slots=True)
class Capabilities:
    spot: bool = True
    perp: bool = True
    amend: bool = True
    reduce_only: bool = True
    order_types: tuple[str, ...] = ("limit", "market")
    time_in_force: tuple[str, ...] = ("gtc", "ioc", "fok", "post_only")
    extra: dict[str, str] = field(default_factory=dict)


PrivateSink = Callable[[PrivateEvent], None]


class TradingVenue(Protocol):
    name: str
    limits: VenueLimits
    capabilities: Capabilities

    async def instruments(self) -> list[Instrument]: ...

    async def place_order(self, request: OrderRequest) -> OrderAck: ...

    async def cancel_order(self, symbol: str, client_id: str) -> None: ...

    async def amend_order(
        self, symbol: str, client_id: str, qty: Decimal | None = None, price: Decimal | None = None
    ) -> None: ...

    async def query_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """The order with this client id, or None when the venue has never seen it."""
        ...

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]: ...

    async def balances(self) -> dict[str, Balance]: ...

    async def positions(self) -> list[PositionUpdate]: ...

    async def fee_rates(self, symbols: list[str]) -> list[FeeRate]: ...

    def on_private(self, sink: PrivateSink) -> None:
        """Deliver every private event (orders, fills, positions, balances) to `sink`."""
        ...
