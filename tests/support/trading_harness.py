"""The simulator as the trading contract kit sees a venue: an observer, faults, and the plugins.

`SimObserver` reads the engine directly (never through the plugin under test); `SimFaults`
turns the kit's faults into the simulator's fault rules on the venue's order endpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim import FaultKind, Simulation
from arbiter.sim.accounts import Account
from arbiter.sim.book import Side as SimSide
from arbiter.sim.engine import VenueEngine
from arbiter.sim.orders import Rejected
from arbiter.sim.rest import REST_RECORDS, RestRecords
from arbiter.testing.trading import ObservedOrder, VenueFault
from arbiter.venues import ApiKeys, CcxtTrading, OrderStatus, Side, VenueConfig, VenueLimits
from arbiter_bybit.trading import BybitTrading
from arbiter_okx.trading import OkxTrading

PLUGINS: dict[str, type[CcxtTrading]] = {"bybit": BybitTrading, "okx": OkxTrading}
PLACE = {"bybit": ("POST", "/v5/order/create"), "okx": ("POST", "/api/v5/trade/order")}
SYMBOLS = {"bybit": ("BTCUSDT", "BTCUSDT"), "okx": ("BTC-USDT", "BTC-USDT-SWAP")}
SIZES = {"bybit": (Decimal("0.01"), Decimal("0.01")), "okx": (Decimal("0.01"), Decimal(1))}
_FAULTS = {
    VenueFault.SERVER_ERROR_AFTER_ACCEPT: FaultKind.REST_5XX_AFTER_ACCEPT,
    VenueFault.TIMEOUT_AFTER_ACCEPT: FaultKind.REST_TIMEOUT_AFTER_ACCEPT,
    VenueFault.RATE_LIMIT: FaultKind.RATE_LIMIT,
    VenueFault.REJECT: FaultKind.REJECT,
}


def records(sim: Simulation, venue: str) -> RestRecords:
    return sim.venues[venue].runner.app[REST_RECORDS]


def sim_config(sim: Simulation, venue: str) -> VenueConfig:
    ep = sim.endpoints(venue)
    keys = ApiKeys(ep.api_key, ep.secret, ep.passphrase or None)
    return VenueConfig(account=venue, endpoint="sim", urls={"rest": ep.rest}, keys=keys)


def fast_limits(venue: str) -> VenueLimits:
    """The venue's own client id rules, with rate limits out of the way of a test's pace."""
    rules = PLUGINS[venue].default_limits.client_ids
    return VenueLimits(rules, orders_per_second=1000, requests_per_second=1000)


@asynccontextmanager
async def trading(sim: Simulation, venue: str, **kw: Any) -> AsyncIterator[CcxtTrading]:
    plugin = PLUGINS[venue](sim_config(sim, venue), limits=fast_limits(venue), **kw)
    await plugin.start()
    try:
        yield plugin
    finally:
        await plugin.close()


@dataclass
class SimObserver:
    sim: Simulation
    venue: str

    @property
    def engine(self) -> VenueEngine:
        return self.sim.engine(self.venue)

    @property
    def account(self) -> Account:
        return next(iter(self.engine.accounts.values()))

    def order(self, client_id: str) -> ObservedOrder | None:
        try:
            o = self.engine.find_order(self.account, None, client_id)
        except Rejected:
            return None
        return ObservedOrder(
            kind=o.instrument.kind.value,
            symbol=o.instrument.symbol,
            status=OrderStatus(o.status.value),
            side=Side(o.side.value),
            qty=o.qty,
            filled_qty=o.filled,
            price=o.price,
        )

    def order_count(self) -> int:
        return len(self.engine.orders)

    def order_requests(self) -> int:
        return records(self.sim, self.venue).requests.seen[PLACE[self.venue]]

    def wallet(self, asset: str) -> Decimal:
        return self.account.balance(asset)

    def position(self, symbol: str) -> Decimal:
        pos = self.account.positions.get(symbol)
        return pos.qty if pos is not None else Decimal(0)

    def best(self, kind: str, symbol: str, side: Side) -> Decimal:
        inst = self.instrument(kind, symbol)
        (ticks, _), *_ = self.engine.book(inst).depth(SimSide(side.value), 1)
        return inst.ticks_to_price(ticks)

    def instrument(self, kind: str, symbol: str) -> Instrument:
        return self.engine.instrument(InstrumentKind(kind), symbol)


@dataclass
class SimFaults:
    sim: Simulation
    venue: str

    def inject(self, fault: VenueFault, operation: str) -> None:
        if operation != "place":
            raise ValueError(f"expected operation 'place', was {operation!r}")
        self.sim.faults.add(_FAULTS[fault], PLACE[self.venue][1])
