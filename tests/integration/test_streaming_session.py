"""What the streaming session promises beyond the contract kit: refused keys, misuse, sinks."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from arbiter.market.events import MarketEvent
from arbiter.sim import Simulation, start
from arbiter.testing.session_harness import Recorder, SessionHarness, book_matches
from arbiter.venues import ApiKeys, AuthenticationFailed, BookRef, StreamingSession
from arbiter_bybit.trading import BybitTrading
from arbiter_okx.trading import OkxTrading
from tests.support.session_harness import SimSessionObserver, make_session, session_config
from tests.support.trading_harness import SIZES, SYMBOLS, fast_limits

VENUES = ["bybit", "okx"]
TRADING = {"bybit": BybitTrading, "okx": OkxTrading}


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    simulation = await start(seed=4)
    yield simulation
    await simulation.stop()


@pytest.mark.parametrize("venue", VENUES)
async def test_start_when_stream_keys_refused_raises_authentication_failed_and_closes(
    sim: Simulation, venue: str
) -> None:
    config = session_config(sim, venue)
    assert config.keys is not None
    wrong = ApiKeys(config.keys.api_key, "not-the-secret", config.keys.passphrase)
    module = importlib.import_module(f"arbiter_{venue}.session")
    trading = TRADING[venue](config, limits=fast_limits(venue))  # REST keys are right
    session = StreamingSession(config, trading, module.stream_dialect(config, wrong))
    with pytest.raises(AuthenticationFailed, match=f"{venue}.private"):
        await session.start()
    assert session.connection_states() == {"private": "disconnected"}


@pytest.mark.parametrize("venue", VENUES)
async def test_start_when_all_keys_wrong_fails_before_any_stream_opens(
    sim: Simulation, venue: str
) -> None:
    config = session_config(sim, venue)
    assert config.keys is not None
    wrong = replace(config, keys=ApiKeys(config.keys.api_key, "nope", config.keys.passphrase))
    module = importlib.import_module(f"arbiter_{venue}.session")
    session: StreamingSession = module.make_session(wrong, limits=fast_limits(venue))
    with pytest.raises(AuthenticationFailed, match=venue):
        await session.start()
    assert session.connection_states() == {"private": "disconnected"}


@pytest.mark.parametrize("venue", VENUES)
async def test_watch_books_when_misused_says_what_was_expected(sim: Simulation, venue: str) -> None:
    session = make_session(sim, venue)
    spot, _ = SYMBOLS[venue]
    with pytest.raises(RuntimeError, match="call start"):
        session.watch_books([BookRef("spot", spot)])
    await session.start()
    try:
        with pytest.raises(ValueError, match="expected kind in"):
            session.watch_books([BookRef("option", spot)])
        with pytest.raises(ValueError, match="no spot instrument 'NOPE'"):
            session.watch_books([BookRef("spot", "NOPE")])
        assert session.connection_states() == {"private": "live"}  # nothing opened yet
    finally:
        await session.close()
    assert set(session.connection_states().values()) == {"disconnected"}


@pytest.mark.parametrize("venue", VENUES)
async def test_market_sinks_when_one_raises_the_others_still_get_every_event(
    sim: Simulation, venue: str, tmp_path: Path
) -> None:
    session = make_session(sim, venue)
    assert isinstance(session, StreamingSession)

    def broken(events: Sequence[MarketEvent]) -> None:
        raise RuntimeError("a consumer's bug")

    recorder = Recorder()
    session.on_market(broken)
    session.on_market(recorder.on_market)
    await session.start()
    try:
        spot, perp = SYMBOLS[venue]
        observer = SimSessionObserver(sim, venue)
        harness = SessionHarness(session, observer, spot, perp, *SIZES[venue], tmp_path)
        session.watch_books([BookRef("spot", spot)])
        sim.step(2)
        await recorder.until(lambda: book_matches(harness, "spot", spot), "the spot book")
        assert session.stats.sink_errors >= 1
        assert session.connection_states() == {"public.spot": "live", "private": "live"}
    finally:
        await session.close()
