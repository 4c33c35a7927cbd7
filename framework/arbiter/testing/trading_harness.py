"""What the trading contract kit needs from a plugin author: a harness and a way to see the venue.

`TradingHarness` bundles a started `TradingVenue` with a `VenueObserver` (the venue's own state,
read without the plugin) and, optionally, a `FaultInjector` and a second connection for timeout
faults. The helpers build orders the way the checks need them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from arbiter.market.instrument import Instrument
from arbiter.venues import OrderRequest, OrderStatus, OrderType, Side, TradingVenue
from arbiter.venues.contract.client_ids import IntentId


@dataclass(frozen=True)
class ObservedOrder:
    """An order as the venue itself holds it."""

    kind: str  # "spot" or "perp"
    symbol: str
    status: OrderStatus
    side: Side
    qty: Decimal
    filled_qty: Decimal
    price: Decimal | None


class VenueObserver(Protocol):
    def order(self, client_id: str) -> ObservedOrder | None: ...

    def order_count(self) -> int:
        """Orders the account has on the venue, in any state."""
        ...

    def order_requests(self) -> int:
        """Order placements that reached the venue (accepted or not)."""
        ...

    def wallet(self, asset: str) -> Decimal:
        """The account's wallet balance of `asset` (without unrealized PnL)."""
        ...

    def position(self, symbol: str) -> Decimal:
        """Signed perp position in venue units; 0 when flat."""
        ...

    def best(self, kind: str, symbol: str, side: Side) -> Decimal:
        """Best bid (BUY) or best ask (SELL) now."""
        ...

    def instrument(self, kind: str, symbol: str) -> Instrument:
        """The venue's listing, with the account's fee rates."""
        ...


class VenueFault(StrEnum):
    SERVER_ERROR_AFTER_ACCEPT = "server_error_after_accept"  # accepted, then a 5xx
    TIMEOUT_AFTER_ACCEPT = "timeout_after_accept"  # accepted, then no answer
    RATE_LIMIT = "rate_limit"  # the venue's rate-limit refusal
    REJECT = "reject"  # a generic refusal before the matching engine


class FaultInjector(Protocol):
    def inject(self, fault: VenueFault, operation: str) -> None:
        """Make the next request of `operation` ("place") meet `fault`."""
        ...


@dataclass
class TradingHarness:
    venue: TradingVenue
    observer: VenueObserver
    spot: str  # the venue's spot symbol
    perp: str  # the venue's linear perp symbol (may equal `spot`)
    spot_qty: Decimal  # one small order in venue units, above every minimum
    perp_qty: Decimal
    faults: FaultInjector | None = None
    # A second venue on the same account, started, whose requests from then on time out after
    # `timeout_ms` (start it with a normal timeout: only the faulted request should time out).
    connect: Callable[[int], Awaitable[TradingVenue]] | None = None
    timeout_ms: int = 300


_RUN = f"contract-{time.time_ns()}"  # client ids stay unique across runs on a real account
_ids = itertools.count()


def client_id(harness: TradingHarness, leg: str) -> str:
    """A fresh client order id within the venue's rules, derived as execution derives them."""
    return IntentId(_RUN, "kit", next(_ids), leg).client_id(harness.venue.limits.client_ids)


def far_bid(harness: TradingHarness) -> Decimal:
    """A spot buy price 10 % under the market: rests, never fills."""
    inst = harness.observer.instrument("spot", harness.spot)
    return inst.round_price_down(harness.observer.best("spot", harness.spot, Side.BUY) * 9 / 10)


def spot_request(harness: TradingHarness, leg: str, **kw: object) -> OrderRequest:
    fields: dict[str, object] = {
        "client_id": client_id(harness, leg),
        "symbol": harness.spot,
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "qty": harness.spot_qty,
        "price": far_bid(harness),
        "kind": "spot",
    }
    return OrderRequest(**(fields | kw))  # type: ignore[arg-type]


def now_ms() -> int:
    return time.time_ns() // 1_000_000
