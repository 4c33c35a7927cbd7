"""Orders, executions and the venue-neutral reasons the engine refuses an order.

Each wire dialect maps these to its own words (status strings, error codes); the engine never
speaks a venue's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from arbiter.market.instrument import Instrument
from arbiter.sim.book import Side


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class RejectReason(StrEnum):
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    REDUCE_ONLY_WOULD_INCREASE = "reduce_only_would_increase"
    ORDER_NOT_FOUND = "order_not_found"
    QTY_TOO_SMALL = "qty_too_small"
    NOTIONAL_TOO_SMALL = "notional_too_small"
    OFF_GRID = "off_grid"
    UNKNOWN_SYMBOL = "unknown_symbol"
    INVALID_PARAM = "invalid_param"


class CancelReason(StrEnum):
    """Why an order ended without filling completely (venues report these)."""

    USER = "user"
    IOC_REMAINDER = "ioc_remainder"
    FOK_NOT_FILLED = "fok_not_filled"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    NO_LIQUIDITY = "no_liquidity"
    # The venue refused the rest of an order that had already traded (Bybit: Rejected).
    VENUE_REJECTED = "venue_rejected"


class Rejected(Exception):
    """An order the venue refuses outright; `reason` is mapped to the dialect's error code."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class Order:
    order_id: str
    client_id: str
    instrument: Instrument
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: Decimal  # venue units: coins for spot and Bybit perps, contracts for OKX swaps
    price: Decimal | None
    reduce_only: bool
    created_ms: int
    updated_ms: int
    status: OrderStatus = OrderStatus.NEW
    filled: Decimal = Decimal(0)
    filled_value: Decimal = Decimal(0)  # quote value of fills (price * base qty)
    fee: Decimal = Decimal(0)
    fee_coin: str = ""
    cancel_reason: CancelReason | None = None
    # Spot market buys on both venues default to a quote-coin amount; the engine converts.
    quote_amount: Decimal | None = None

    @property
    def leaves(self) -> Decimal:
        return self.qty - self.filled if self.status.is_open else Decimal(0)

    @property
    def avg_price(self) -> Decimal:
        if not self.filled:
            return Decimal(0)
        return self.filled_value / self.instrument.base_qty(self.filled)


@dataclass(frozen=True)
class Execution:
    exec_id: str
    order: Order
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_coin: str
    fee_rate: Decimal
    is_maker: bool
    ts_ms: int
    seq: int = field(default=0)
