"""The plugins' stream codecs over real sockets against the simulator's WebSocket dialects.

No REST here: the book streams and the private codecs run in a bare `WsSession`, and the orders
are placed on the simulator's engine directly, so these tests pin the wire dialects alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest

from arbiter.market.book import OrderBook
from arbiter.market.book import Side as BookSide
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim import FaultKind, Simulation, start
from arbiter.sim.book import Side as SimSide
from arbiter.sim.orders import OrderType
from arbiter.venues import (
    ApiKeys,
    Fill,
    OrderStatus,
    OrderUpdate,
    StreamDialect,
    StreamReady,
    VenueConfig,
)
from arbiter.venues.streams.websocket import WsSession
from arbiter_bybit.session import stream_dialect as bybit_dialect
from arbiter_okx.session import stream_dialect as okx_dialect

TIMEOUT_S = 15.0
Levels = list[tuple[Decimal, Decimal]]


@dataclass(frozen=True)
class Case:
    venue: str
    spot: str
    perp: str
    dialect: Callable[[VenueConfig, ApiKeys], StreamDialect]


CASES = [
    Case("bybit", "BTCUSDT", "BTCUSDT", bybit_dialect),
    Case("okx", "BTC-USDT", "BTC-USDT-SWAP", okx_dialect),
]
KINDS = {"spot": InstrumentKind.SPOT, "perp": InstrumentKind.PERP}


class Changes:
    """Collects what a sink receives; `wait_until` re-checks a condition on every delivery."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, events: Sequence[Any]) -> None:
        self.events.extend(events)
        self._changed.set()

    async def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        async def watch() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(watch(), TIMEOUT_S)
        except TimeoutError:
            raise AssertionError(f"expected {what} within {TIMEOUT_S} s") from None


def engine_levels(sim: Simulation, venue: str, kind: str, symbol: str) -> tuple[Levels, Levels]:
    engine = sim.engine(venue)
    inst = engine.instrument(KINDS[kind], symbol)
    book = engine.book(inst)

    def side(s: SimSide) -> Levels:
        return [(inst.ticks_to_price(t), inst.lots_to_qty(q)) for t, q in book.depth(s, 10_000)]

    return side(SimSide.BUY), side(SimSide.SELL)


def book_levels(book: OrderBook) -> tuple[Levels, Levels]:
    def side(s: BookSide) -> Levels:
        return [(book.price(p), book.size(q)) for p, q in book.depth(s)]

    return side(BookSide.BID), side(BookSide.ASK)


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    simulation = await start(seed=3)
    yield simulation
    await simulation.stop()


def _config(sim: Simulation, case: Case) -> tuple[VenueConfig, ApiKeys]:
    ep = sim.endpoints(case.venue)
    keys = ApiKeys(ep.api_key, ep.secret, ep.passphrase or None)
    return VenueConfig(case.venue, "sim", urls=ep.as_dict(), keys=keys), keys


def _instruments(sim: Simulation, venue: str, kind: str, label: str) -> list[Instrument]:
    return [
        replace(i, venue=label)
        for i in sim.engine(venue).instruments.values()
        if i.kind is KINDS[kind]
    ]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.venue)
@pytest.mark.parametrize("kind", ["spot", "perp"])
async def test_book_stream_when_market_moves_and_socket_drops_book_equals_engine(
    sim: Simulation, case: Case, kind: str
) -> None:
    config, keys = _config(sim, case)
    dialect = case.dialect(config, keys)
    symbol = case.spot if kind == "spot" else case.perp
    label = f"{case.venue}:{kind}"
    stream = dialect.book_stream(kind, label, _instruments(sim, case.venue, kind, label))
    changes = Changes()
    ws = WsSession(label, dialect.public_urls[kind], stream, changes, base_backoff_s=0.01)
    stream.watch([symbol])
    task = asyncio.create_task(ws.run())

    def converged() -> bool:
        book = stream.books.get(symbol)
        return (
            book is not None
            and not book.stale
            and book_levels(book) == engine_levels(sim, case.venue, kind, symbol)
        )

    try:
        await changes.wait_until(converged, "the first snapshot")
        topic = f"orderbook.50.{symbol}" if case.venue == "bybit" else f"books:{symbol}"
        sim.faults.add(FaultKind.WS_DISCONNECT, topic)
        sim.step(3)
        await changes.wait_until(lambda: ws.stats.connects == 2, "a reconnect")
        sim.step(3)
        await changes.wait_until(converged, "the book resynced after the reconnect")
        assert ws.state.state == "live"
        assert all(e.venue == label for e in changes.events if hasattr(e, "venue"))
    finally:
        await ws.close()
        await task


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.venue)
async def test_private_codec_when_order_fills_reports_order_and_fill_as_engine_has_them(
    sim: Simulation, case: Case
) -> None:
    config, keys = _config(sim, case)
    dialect = case.dialect(config, keys)
    codec = dialect.private_codec({})
    changes = Changes()
    ws = WsSession(f"{case.venue}.private", dialect.private_url, codec, changes)
    task = asyncio.create_task(ws.run())
    try:
        await changes.wait_until(
            lambda: any(isinstance(e, StreamReady) for e in changes.events), "login and acks"
        )
        assert ws.state.state == "syncing"  # not live before the reconciliation
        codec.reconciled()
        ws.refresh()
        assert ws.state.state == "live"

        engine = sim.engine(case.venue)
        account = next(iter(engine.accounts.values()))
        inst = engine.instrument(InstrumentKind.PERP, case.perp)
        order = engine.place(
            account,
            inst,
            side=SimSide.BUY,
            order_type=OrderType.MARKET,
            qty=inst.lot_size * 3,
            client_id="streamtest1",
        )
        assert order.filled == order.qty

        def filled() -> bool:
            return any(
                isinstance(e, OrderUpdate) and e.status is OrderStatus.FILLED
                for e in changes.events
            )

        await changes.wait_until(filled, "the Filled order update")
        fills = [e for e in changes.events if isinstance(e, Fill)]
        assert sum(f.qty for f in fills) == order.qty
        assert sum(inst.base_qty(f.qty) * f.price for f in fills) == order.filled_value
        assert sum(f.fee for f in fills) == order.fee
        assert {f.client_id for f in fills} == {"streamtest1"}
        assert all(f.fee_asset == "USDT" and not f.is_maker for f in fills)
        last = [e for e in changes.events if isinstance(e, OrderUpdate)][-1]
        assert (last.venue_order_id, last.filled_qty) == (order.order_id, order.qty)
        assert codec.stats.errors == 0
    finally:
        await ws.close()
        await task


async def test_okx_sim_when_order_fills_pushes_each_fill_inside_one_orders_push(
    sim: Simulation,
) -> None:
    """OKX reports a fill in the order's own push; the simulator must not add a second one."""
    import websockets

    case = CASES[1]
    config, keys = _config(sim, case)
    codec = okx_dialect(config, keys).private_codec({})
    frames: list[str] = []
    async with websockets.connect(config.urls["ws_private"]) as ws:
        for frame in codec.connect_frames():
            await ws.send(frame)
        await asyncio.wait_for(ws.recv(), TIMEOUT_S)  # login
        codec.feed('{"event":"login","code":"0"}', 0)
        for frame in codec.pending_frames():
            await ws.send(frame)
        for _ in range(3):
            await asyncio.wait_for(ws.recv(), TIMEOUT_S)  # one ack per channel
        engine = sim.engine("okx")
        account = next(iter(engine.accounts.values()))
        inst = engine.instrument(InstrumentKind.PERP, case.perp)
        book = engine.book(inst)
        ask_ticks, ask_lots = book.depth(SimSide.SELL, 1)[0]
        order = engine.place(
            account,
            inst,
            side=SimSide.BUY,
            order_type=OrderType.LIMIT,
            price=inst.ticks_to_price(ask_ticks),
            qty=inst.lots_to_qty(ask_lots + 5),  # fills the top level, rests the rest
            client_id="restingpart",
        )
        while True:
            frame = str(await asyncio.wait_for(ws.recv(), TIMEOUT_S))
            if '"orders"' in frame:
                frames.append(frame)
            if '"partially_filled"' in frame:
                break
    updates = [codec.feed(f, 0) for f in frames]
    assert [[type(e).__name__ for e in batch] for batch in updates] == [
        ["OrderUpdate"],  # accepted: live
        ["Fill", "OrderUpdate"],  # the fill and the state after it, in one push
    ]
    fill = updates[1][0]
    assert isinstance(fill, Fill)
    assert (fill.qty, fill.price) == (inst.lots_to_qty(ask_lots), inst.ticks_to_price(ask_ticks))
    assert fill.fee == order.fee
    assert fill.trade_id
