"""What the engine tells the wire dialects; they encode each event in their venue's words."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arbiter.market.instrument import Instrument
from arbiter.sim.accounts import Account, Position
from arbiter.sim.book import BookDelta, Side
from arbiter.sim.orders import Execution, Order


@dataclass(frozen=True)
class BookChanged:
    instrument: Instrument
    delta: BookDelta


@dataclass(frozen=True)
class PublicTrade:
    instrument: Instrument
    trade_id: str
    price: Decimal
    qty: Decimal
    taker_side: Side
    ts_ms: int


@dataclass(frozen=True)
class OrderChanged:
    account: Account
    order: Order


@dataclass(frozen=True)
class Filled:
    account: Account
    execution: Execution


@dataclass(frozen=True)
class PositionChanged:
    account: Account
    position: Position


@dataclass(frozen=True)
class WalletChanged:
    account: Account


@dataclass(frozen=True)
class FundingSettled:
    """Funding paid or received on one position at one funding time (the venue's record)."""

    account: Account
    position: Position
    amount: Decimal  # from the account's side: negative = paid, positive = received
    coin: str
    balance: Decimal  # the account's balance of `coin` after the payment
    rate: Decimal
    mark: Decimal
    settlement_id: str
    seq: int  # in the same sequence as executions (Bybit lists both in one history)
    ts_ms: int


@dataclass(frozen=True)
class ForcedTraded:
    """The venue closed part of a position by itself: auto-deleveraging or a liquidation."""

    account: Account
    instrument: Instrument
    kind: str  # "adl" or "liquidation"
    side: Side  # the trade's side: a buy closes a short
    qty: Decimal  # venue units
    price: Decimal
    fee: Decimal  # positive = paid, in the quote coin
    exec_id: str
    order_id: str
    seq: int  # in the same sequence as executions
    ts_ms: int


Event = (
    BookChanged
    | PublicTrade
    | OrderChanged
    | Filled
    | PositionChanged
    | WalletChanged
    | FundingSettled
    | ForcedTraded
)
