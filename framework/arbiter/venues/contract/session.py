"""The session half of the venue plugin contract: one venue account, all it streams and trades.

A plugin's `VenuePlugin.factory(config)` returns a `VenueSession`. The runtime creates one per
venue account in its manifests, shares it between every strategy using that account, and:

1. `await session.start()`: loads instruments over REST, opens the private stream (auth) and
   reconciles it, so `trading` is usable when it returns;
2. `session.watch_books([...])`: reference-counted subscriptions; the session opens one public
   WebSocket per product type (spot, linear) on first use, resubscribes and resyncs every book
   after a reconnect, and resyncs a book at once when its codec reports a gap; watching a perp
   also streams its funding rate (`Funding`, or a `Ticker` with `funding_rate`);
3. market events go to every `on_market` sink, synchronously from the reader (sinks must not
   block); a market event's `venue` is `"{account}:{kind}"`, the runtime's book key, because
   one account may list a symbol on two products (Bybit's "BTCUSDT" is spot and linear);
   private events go to `on_private` sinks the same way, and after every reconnect of
   the private stream the open orders and recent fills read over REST are delivered there too
   (duplicates included: consumers dedup fills by trade id);
4. `await session.close()`.

Books are the codec's own `OrderBook` objects (`books(kind)`), read live by the spread engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from arbiter.market.book import OrderBook
from arbiter.market.events import MarketEvent
from arbiter.market.instrument import Instrument
from arbiter.venues.contract.config import VenueConfig
from arbiter.venues.contract.trading import PrivateSink, TradingVenue

MarketSink = Callable[[Sequence[MarketEvent]], None]


@dataclass(frozen=True, slots=True)
class BookRef:
    kind: str  # "spot" or "perp"
    symbol: str  # the venue's own symbol


class VenueSession(Protocol):
    config: VenueConfig
    trading: TradingVenue

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def instruments(self) -> Mapping[tuple[str, str], Instrument]:
        """(kind, symbol) -> instrument, loaded by `start`."""
        ...

    def watch_books(self, refs: Sequence[BookRef]) -> None: ...

    def unwatch_books(self, refs: Sequence[BookRef]) -> None: ...

    def books(self, kind: str) -> Mapping[str, OrderBook]:
        """symbol -> live book for one product type."""
        ...

    def on_market(self, sink: MarketSink) -> None: ...

    def on_private(self, sink: PrivateSink) -> None:
        """Deliver every private event (orders, fills, positions, balances, funding
        settlements, forced executions) to `sink`."""
        ...

    def connection_states(self) -> Mapping[str, str]:
        """stream name -> venue-connection machine state, e.g. {"public.spot": "live"}."""
        ...
