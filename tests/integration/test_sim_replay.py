"""Replay: the simulator plays a recorded venue stream (the `arbiter book replay` format) into
its books, and a client of the simulated venue sees the recorded market."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from arbiter.market.instrument import InstrumentKind
from arbiter.sim import start
from arbiter.sim.book import Side
from arbiter.sim.engine import VenueEngine
from tests.support.venue_frames import XRPUSDT_RECORDING
from tests.support.wire_clients import Speaker, WsProbe


def _recorded_book(frames: int) -> dict[str, dict[Decimal, Decimal]]:
    """The book after the first `frames` lines of the recording, built straight from it."""
    book: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
    for line in XRPUSDT_RECORDING.read_text().splitlines()[:frames]:
        frame = json.loads(line)
        if frame["type"] == "snapshot":
            book = {"b": {}, "a": {}}
        for side in ("b", "a"):
            for price, size in frame["data"][side]:
                if Decimal(size):
                    book[side][Decimal(price)] = Decimal(size)
                else:
                    book[side].pop(Decimal(price), None)
    return book


async def test_replay_when_stepped_books_follow_the_recording_and_clients_see_it() -> None:
    sim = await start(
        venues=["bybit"], symbols=["XRP/USDT"], replay={"bybit": str(XRPUSDT_RECORDING)}
    )
    try:
        engine = sim.engine("bybit")
        inst = engine.instrument(InstrumentKind.PERP, "XRPUSDT")
        sim.step(9)  # `start` played the snapshot: ten frames in all

        expected = _recorded_book(10)
        book = engine.book(inst)
        for side, key in ((Side.BUY, "b"), (Side.SELL, "a")):
            played = {
                inst.ticks_to_price(t): inst.lots_to_qty(q) for t, q in book.depth(side, 1000)
            }
            assert played == expected[key]
        async with aiohttp.ClientSession() as session:
            probe = await WsProbe.open(session, sim.endpoints("bybit").ws_public + "/linear")
            await probe.send({"op": "subscribe", "args": ["orderbook.50.XRPUSDT"]})
            frames = await probe.wait_for(
                lambda fs: any(f.get("type") == "snapshot" for f in fs), "the snapshot"
            )
            snapshot = next(f for f in frames if f.get("type") == "snapshot")["data"]
            best_bid = max(expected["b"])
            assert snapshot["b"][0] == [str(best_bid), str(expected["b"][best_bid])]
            assert len(snapshot["b"]) == len(snapshot["a"]) == 50
            await probe.close()
    finally:
        await sim.stop()


async def test_replay_when_recording_ends_books_stay_as_last_played() -> None:
    sim = await start(
        venues=["bybit"], symbols=["XRP/USDT"], replay={"bybit": str(XRPUSDT_RECORDING)}
    )
    try:
        engine = sim.engine("bybit")
        inst = engine.instrument(InstrumentKind.PERP, "XRPUSDT")
        lines = len(XRPUSDT_RECORDING.read_text().splitlines())
        sim.step(lines + 5)  # past the end: nothing more to play, nothing breaks

        expected = _recorded_book(lines)
        played = {
            inst.ticks_to_price(t): inst.lots_to_qty(q)
            for t, q in engine.book(inst).depth(Side.SELL, 1000)
        }
        assert played == expected["a"]
    finally:
        await sim.stop()


@pytest.mark.parametrize("venue", ["bybit", "okx"])
async def test_replay_when_fed_a_recorded_sim_stream_rebuilds_the_same_book(
    venue: str, tmp_path: Path
) -> None:
    live = await start(venues=[venue], seed=8)
    try:
        async with aiohttp.ClientSession() as session:
            speaker = Speaker(venue, live.endpoints(venue), session)
            probe = await speaker.book_probe()
            live.step(20)
            frames = await probe.wait_for(
                lambda fs: len(speaker.book_frames(fs)) == 21, "twenty updates"
            )
            await probe.close()
        recording = tmp_path / f"{venue}.jsonl"
        recording.write_text("\n".join(json.dumps(f) for f in frames) + "\n")
        live_book = _perp_book(live.engine(venue))
    finally:
        await live.stop()

    played = await start(venues=[venue], seed=99, replay={venue: str(recording)})
    try:
        played.step(20)  # `start` played the snapshot

        assert _perp_book(played.engine(venue)) == live_book
    finally:
        await played.stop()


def _perp_book(engine: VenueEngine) -> list[list[tuple[int, int]]]:
    symbol = "BTCUSDT" if engine.name == "bybit" else "BTC-USDT-SWAP"
    book = engine.book(engine.instrument(InstrumentKind.PERP, symbol))
    return [book.depth(Side.BUY, 1000), book.depth(Side.SELL, 1000)]
