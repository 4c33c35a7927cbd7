"""Orders and private events as every venue plugin reports them (normalized, exact).

Quantities are in the venue's own order units (coins for spot and Bybit linear, contracts for
OKX swaps); `Instrument.base_qty` converts. Timestamps: `ts_venue_ms` is the venue's clock,
`ts_local_ns` is our monotonic receive time, so latency can be measured per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class OrderStatus(StrEnum):
    """The venue's view of an order, mapped onto the order machine's events."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal
    price: Decimal | None = None  # required for limit orders
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    # "spot" or "perp". A venue can list both under one symbol (Bybit: "BTCUSDT" is spot and
    # linear), so a plugin must refuse a request whose product it cannot tell from the symbol.
    kind: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in (None, "spot", "perp"):
            raise ValueError(f"{self.client_id}: expected kind spot or perp, was {self.kind!r}")
        if self.qty <= 0:
            raise ValueError(f"{self.client_id}: expected positive qty, was {self.qty}")
        if self.type is OrderType.LIMIT and (self.price is None or self.price <= 0):
            raise ValueError(f"{self.client_id}: expected a positive limit price, was {self.price}")
        if self.type is OrderType.MARKET and self.price is not None:
            raise ValueError(f"{self.client_id}: a market order takes no price, was {self.price}")


@dataclass(frozen=True, slots=True)
class OrderAck:
    """The venue accepted the request (not that it filled)."""

    venue: str
    client_id: str
    venue_order_id: str


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    venue: str
    symbol: str
    client_id: str
    venue_order_id: str
    status: OrderStatus
    side: Side
    qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None
    price: Decimal | None = None
    reason: str = ""
    ts_venue_ms: int = 0
    ts_local_ns: int = 0


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. `trade_id` is unique per venue and symbol: fills are deduplicated by it."""

    venue: str
    symbol: str
    client_id: str
    venue_order_id: str
    trade_id: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal  # positive = paid
    fee_asset: str
    is_maker: bool = False
    ts_venue_ms: int = 0
    ts_local_ns: int = 0


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    venue: str
    symbol: str
    size: Decimal  # signed: positive long, negative short, in venue order units
    entry_price: Decimal | None
    unrealized_pnl: Decimal = Decimal(0)
    ts_venue_ms: int = 0
    ts_local_ns: int = 0


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    venue: str
    asset: str
    free: Decimal
    total: Decimal
    ts_venue_ms: int = 0
    ts_local_ns: int = 0


@dataclass(frozen=True, slots=True)
class FundingSettlement:
    """A funding payment the venue settled on one of the account's perp positions.

    Read from the venue's own settlement record (Bybit: an execution of type Funding; OKX: a
    funding-fee bill), never from a rate we multiplied ourselves. `settlement_id` is the
    venue's id of that record: a settlement is booked once however often it is reported.
    """

    venue: str
    symbol: str
    amount: Decimal  # from our side: positive = received, negative = paid
    asset: str
    settlement_id: str
    ts_venue_ms: int
    ts_local_ns: int = 0


class ForcedKind(StrEnum):
    ADL = "adl"  # auto-deleveraging: the venue closed part of the position against another
    LIQUIDATION = "liquidation"  # the venue took the position over (bust / liquidation)


@dataclass(frozen=True, slots=True)
class ForcedExecution:
    """A trade the venue made on the account's position with no order of ours behind it."""

    venue: str
    symbol: str
    kind: ForcedKind
    trade_id: str
    side: Side
    price: Decimal
    qty: Decimal  # venue order units, like `Fill.qty`
    fee: Decimal  # positive = paid
    fee_asset: str
    ts_venue_ms: int
    ts_local_ns: int = 0


# What a venue does to the account by itself, read back over REST after a gap.
AccountEvent = FundingSettlement | ForcedExecution

PrivateEvent = (
    OrderUpdate | Fill | PositionUpdate | BalanceUpdate | FundingSettlement | ForcedExecution
)
