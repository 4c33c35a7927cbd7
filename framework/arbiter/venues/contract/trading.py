"""The trading half of the venue plugin contract: what execution and risk call.

A plugin implements `TradingVenue` for one venue account. Every method either returns a
normalized value or raises one of the contract's errors (`arbiter.venues.contract.errors`):
`Definitive` when the request certainly did not take effect, `Ambiguous` when it may have,
`DuplicateClientId` when an order with that client id already exists. Callers rely on that
split to never send an order twice.

Placing has two spellings. `place_order` waits for the answer; `begin_order` writes the request
before it returns where the venue can, so a caller placing both legs of a pair writes both
before it waits for either. A venue that cannot write early returns a task of its own
`place_order`: every venue has both, and callers never ask which kind they hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from arbiter.market.instrument import Instrument
from arbiter.venues.contract.limits import Capabilities, VenueLimits
from arbiter.venues.contract.orders import (
    AccountEvent,
    Fill,
    OrderAck,
    OrderRequest,
    OrderUpdate,
    PositionUpdate,
    PrivateEvent,
)


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class FeeRate:
    symbol: str
    maker: Decimal  # rates as fractions of notional, positive = paid (0.0002 is 2 bps)
    taker: Decimal
    kind: str | None = None  # "spot" or "perp": Bybit prices both under one symbol


PrivateSink = Callable[[PrivateEvent], None]


class TradingVenue(Protocol):
    name: str
    limits: VenueLimits
    capabilities: Capabilities

    async def start(self) -> None:
        """Open the client and load the venue's markets; every other call needs this first."""
        ...

    async def close(self) -> None:
        """Release the client's connections; safe to call twice."""
        ...

    async def instruments(self) -> list[Instrument]: ...

    async def place_order(self, request: OrderRequest) -> OrderAck: ...

    def begin_order(self, request: OrderRequest) -> Awaitable[OrderAck]:
        """`place_order`, its request written before this returns where the venue can (its
        own order entry on an idle connection). The awaitable answers what `place_order`
        would, refusals included; a venue that cannot write early returns a task of its
        `place_order`."""
        ...

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

    async def fee_rates(self, symbols: list[str]) -> list[FeeRate]:
        """The account's rates, one per listed product of each symbol (two for a Bybit symbol
        listed as spot and linear)."""
        ...

    async def fills(self, symbol: str | None, since_ms: int) -> list[Fill]:
        """Executions since `since_ms` (venue clock), oldest first, for one symbol or all.

        A private stream that reconnects calls this to apply what it missed; fills are
        deduplicated by `trade_id`, so overlapping windows are harmless.
        """
        ...

    async def account_events(self, since_ms: int) -> list[AccountEvent]:
        """What the venue did to the account by itself since `since_ms` (venue clock), oldest
        first: funding settlements and forced executions, read from the venue's own records.

        Never order fills (those are `fills`). A private stream reads this after every
        (re)connect and whenever the venue says it settled something; each record carries the
        venue's id, so overlapping windows are harmless.
        """
        ...
