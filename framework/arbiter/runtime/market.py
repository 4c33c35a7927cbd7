"""What the runtime knows of every venue account, shared by all strategies.

Book keys are `"{account}:{kind}"` (e.g. "bybit:spot"), because one account can list the same
symbol on two products (Bybit spot and linear are both "BTCUSDT"). The books themselves are the
venue sessions' live objects: reading one reads the venue's current state, never a copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from arbiter.compiler.plan import LegPlan
from arbiter.market.book import OrderBook
from arbiter.market.events import book_name
from arbiter.market.instrument import Instrument
from arbiter.risk.snapshot import BalanceView
from arbiter.venues import ClientIdRules, Side


def book_key(leg: LegPlan) -> str:
    return book_name(leg.venue, leg.kind)


@dataclass
class MarketState:
    books: dict[str, Mapping[str, OrderBook]] = field(
        default_factory=dict
    )  # "acct:kind" -> symbol -> book
    instruments: dict[tuple[str, str, str], Instrument] = field(
        default_factory=dict
    )  # (acct, kind, symbol)
    balances: dict[tuple[str, str], BalanceView] = field(default_factory=dict)  # (acct, asset)
    funding: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (acct, symbol)
    healthy: dict[str, bool] = field(default_factory=dict)  # acct -> every stream live
    rules: dict[str, ClientIdRules] = field(default_factory=dict)  # acct -> client id rules

    def book(self, leg: LegPlan) -> OrderBook | None:
        return self.books.get(book_key(leg), {}).get(leg.symbol)

    def instrument(self, leg: LegPlan) -> Instrument | None:
        return self.instruments.get((leg.venue, leg.kind, leg.symbol))

    def touch(self, leg: LegPlan, side: Side) -> Decimal | None:
        """The price a taker order on `side` crosses: the best ask to buy, the best bid to sell."""
        book = self.book(leg)
        if book is None or book.stale:
            return None
        level = book.best_ask() if side is Side.BUY else book.best_bid()
        return None if level is None else book.price(level[0])

    def free_balances(self) -> dict[tuple[str, str], Decimal]:
        """(account, asset) -> free balance, as the venues last reported it."""
        return {key: view.free for key, view in self.balances.items()}

    def top(self, leg: LegPlan) -> tuple[Decimal, Decimal] | None:
        """(best bid, best ask) of a live book, or None when stale or one side is empty."""
        bid, ask = self.touch(leg, Side.SELL), self.touch(leg, Side.BUY)
        return None if bid is None or ask is None else (bid, ask)
