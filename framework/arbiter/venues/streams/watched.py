"""A plugin's trading object as the session hands it out: every order placed through it is
watched until the private stream has seen it end.

Why: an order placed and finished while the private stream was down (an IOC that expired, a
cancel that went through) leaves no open order and no fill behind, so open orders and recent
fills alone cannot tell the reconciliation about it. Noting each order before it is sent lets
the reconciliation query it by client id instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

from arbiter.market.instrument import Instrument
from arbiter.venues.contract.errors import Definitive
from arbiter.venues.contract.limits import Capabilities, VenueLimits
from arbiter.venues.contract.orders import (
    AccountEvent,
    Fill,
    OrderAck,
    OrderRequest,
    OrderUpdate,
    PositionUpdate,
)
from arbiter.venues.contract.trading import Balance, FeeRate, TradingVenue

OrderNote = Callable[[str, str], None]  # (client id, symbol)


class WatchedTrading:
    """Delegates the contract to `inner` (a plugin's own extras are reached
    through `inner` itself); tells `placed` of every order before it is sent,
    `refused` of every order the venue certainly did not take, and `sent` once the request is
    over whatever its answer (until then, a venue that does not know the order yet proves
    nothing: the request may still be on its way)."""

    def __init__(
        self, inner: TradingVenue, placed: OrderNote, refused: OrderNote, sent: OrderNote
    ) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.limits: VenueLimits = inner.limits
        self.capabilities: Capabilities = inner.capabilities
        self._placed, self._refused, self._sent = placed, refused, sent

    async def place_order(self, request: OrderRequest) -> OrderAck:
        self._placed(request.client_id, request.symbol)
        try:
            return await self.inner.place_order(request)
        except Definitive:
            self._refused(request.client_id, request.symbol)
            raise
        finally:
            self._sent(request.client_id, request.symbol)

    def begin_order(self, request: OrderRequest) -> Awaitable[OrderAck]:
        """The inner venue's `begin_order`, its request written at once where it can be."""
        self._placed(request.client_id, request.symbol)
        loop = asyncio.get_running_loop()
        try:
            answer = self.inner.begin_order(request)
        except Definitive:
            self._refused(request.client_id, request.symbol)
            self._sent(request.client_id, request.symbol)
            raise
        except BaseException:
            self._sent(request.client_id, request.symbol)
            raise
        return loop.create_task(self._refusals(request, answer))

    async def _refusals(self, request: OrderRequest, answer: Awaitable[OrderAck]) -> OrderAck:
        try:
            return await answer
        except Definitive:
            self._refused(request.client_id, request.symbol)
            raise
        finally:
            self._sent(request.client_id, request.symbol)

    # -- the rest of the contract, unchanged -------------------------------------------------

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def instruments(self) -> list[Instrument]:
        return await self.inner.instruments()

    async def cancel_order(self, symbol: str, client_id: str) -> None:
        await self.inner.cancel_order(symbol, client_id)

    async def amend_order(
        self, symbol: str, client_id: str, qty: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        await self.inner.amend_order(symbol, client_id, qty, price)

    async def query_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        return await self.inner.query_order(symbol, client_id)

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        return await self.inner.open_orders(symbol)

    async def balances(self) -> dict[str, Balance]:
        return await self.inner.balances()

    async def positions(self) -> list[PositionUpdate]:
        return await self.inner.positions()

    async def fee_rates(self, symbols: list[str]) -> list[FeeRate]:
        return await self.inner.fee_rates(symbols)

    async def fills(self, symbol: str | None, since_ms: int) -> list[Fill]:
        return await self.inner.fills(symbol, since_ms)

    async def account_events(self, since_ms: int) -> list[AccountEvent]:
        return await self.inner.account_events(since_ms)
