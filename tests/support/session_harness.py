"""The simulator as the session contract kit sees a venue: an observer that also reads books and
moves the market, and the stream faults as the simulator's fault rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from arbiter.sim import FaultKind, Simulation, start
from arbiter.sim.book import Side as SimSide
from arbiter.testing.session_harness import Levels, SessionHarness, StreamFault
from arbiter.venues import ApiKeys, VenueConfig, VenueSession
from arbiter.venues.registry.plugins import installed
from tests.support.trading_harness import SIZES, SYMBOLS, SimObserver, fast_limits

_BOOK_FAULTS = {
    StreamFault.DISCONNECT: FaultKind.WS_DISCONNECT,
    StreamFault.DROP_UPDATE: FaultKind.WS_DROP_DELTA,
    StreamFault.RESET: FaultKind.WS_RESET,
    StreamFault.DUPLICATE: FaultKind.WS_DUPLICATE,
}


def book_topic(venue: str, symbol: str) -> str:
    """The simulator's fault target of a book (a substring of what it matches)."""
    return f"orderbook.50.{symbol}" if venue == "bybit" else f"books:{symbol}"


def session_config(sim: Simulation, venue: str) -> VenueConfig:
    ep = sim.endpoints(venue)
    keys = ApiKeys(ep.api_key, ep.secret, ep.passphrase or None)
    urls = {"rest": ep.rest, "ws_public": ep.ws_public, "ws_private": ep.ws_private}
    return VenueConfig(account=venue, endpoint="sim", urls=urls, keys=keys)


def make_session(sim: Simulation, venue: str) -> VenueSession:
    """The session as the runtime builds it (the installed plugin's entry-point factory), with
    the rate limits out of the way of a test's pace."""
    factory = installed().plugins[venue].factory
    config = replace(session_config(sim, venue), limits=fast_limits(venue))
    session: VenueSession = factory(config)
    return session


@dataclass
class SimSessionObserver(SimObserver):
    def book(self, kind: str, symbol: str) -> tuple[Levels, Levels]:
        inst = self.instrument(kind, symbol)
        book = self.engine.book(inst)

        def side(s: SimSide) -> Levels:
            levels = book.depth(s, 10_000)
            return [(inst.ticks_to_price(t), inst.lots_to_qty(q)) for t, q in levels]

        return side(SimSide.BUY), side(SimSide.SELL)

    async def move(self) -> None:
        self.sim.step()


@dataclass
class SimStreamFaults:
    sim: Simulation
    venue: str

    def inject(self, fault: StreamFault, kind: str, symbol: str) -> None:
        book_fault = _BOOK_FAULTS.get(fault)
        if book_fault is not None:
            self.sim.faults.add(book_fault, book_topic(self.venue, symbol))
        elif fault is StreamFault.PRIVATE_DISCONNECT:
            self.sim.faults.add(FaultKind.WS_DISCONNECT, "private:")
        elif fault is StreamFault.PRIVATE_REORDER:
            self.sim.faults.add(FaultKind.PRIVATE_REORDER, "private:")
        else:
            if getattr(self.sim.engine(self.venue), "faults", None) is None:
                pytest.skip("this simulator has no fill-after-cancel race")
            self.sim.faults.add(FaultKind.FILL_AFTER_CANCEL, f"{self.venue} {symbol}")


@asynccontextmanager
async def sim_harness(
    venue: str, journal_dir: Path, seed: int = 11
) -> AsyncIterator[SessionHarness]:
    """One simulated venue (only that one, so its fault rules match nothing else) and a
    started session on it."""
    sim = await start(venues=[venue], seed=seed)
    session = make_session(sim, venue)
    try:
        await session.start()
        spot, perp = SYMBOLS[venue]
        spot_qty, perp_qty = SIZES[venue]
        yield SessionHarness(
            session,
            SimSessionObserver(sim, venue),
            spot,
            perp,
            spot_qty,
            perp_qty,
            journal_dir,
            SimStreamFaults(sim, venue),
        )
    finally:
        await session.close()
        await sim.stop()
