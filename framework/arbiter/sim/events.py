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


Event = BookChanged | PublicTrade | OrderChanged | Filled | PositionChanged | WalletChanged
