"""The session half of the venue contract, as checks a plugin author runs against their venue.

Subclass `VenueSessionContract` and provide a `session_harness` fixture that yields a
`SessionHarness` (see `session_harness`): a started `VenueSession`, a `SessionObserver` that
reads the venue's side of the story without going through the plugin (the simulator's engine,
or the venue's own web API), and optionally `StreamFaults`. Every check waits for the session
to agree with the venue: books level for level, orders state for state and fill for fill,
through the real order tracker and a real journal. Checks that need faults are skipped when the
harness has none (a testnet).

    class TestMyVenueSession(VenueSessionContract):
        @pytest.fixture
        async def session_harness(self, tmp_path: Path) -> AsyncIterator[SessionHarness]:
            session = make_session(config)
            await session.start()
            yield SessionHarness(session, MyObserver(...), "BTCUSDT", "BTCUSDT", ..., tmp_path)
            await session.close()
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import pytest

from arbiter.market.events import (
    BookDelta,
    BookSnapshot,
    Funding,
    ResyncRequested,
    Ticker,
    book_name,
)
from arbiter.testing.session_harness import (
    KINDS,
    Orders,
    Recorder,
    SessionHarness,
    StreamFault,
    StreamFaults,
    book_matches,
)
from arbiter.venues import BookRef, Side, TimeInForce


class VenueSessionContract:
    """The checks; a subclass supplies the `session_harness` fixture."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.asyncio]

    @pytest.fixture
    def recorder(self, session_harness: SessionHarness) -> Recorder:
        recorder = Recorder()
        session_harness.session.on_market(recorder.on_market)
        session_harness.session.on_private(recorder.on_private)
        return recorder

    @staticmethod
    def faults(h: SessionHarness) -> StreamFaults:
        if h.faults is None:
            pytest.skip("the harness cannot inject stream faults")
        return h.faults

    @staticmethod
    async def watch_synced(h: SessionHarness, recorder: Recorder, kind: str) -> str:
        symbol = h.symbol(kind)
        h.session.watch_books([BookRef(kind, symbol)])
        await h.observer.move()
        await recorder.until(lambda: book_matches(h, kind, symbol), f"{kind} {symbol} synced")
        return symbol

    # -- start and books ----------------------------------------------------------------------

    async def test_start_when_returned_instruments_loaded_and_private_stream_live(
        self, session_harness: SessionHarness
    ) -> None:
        h = session_harness
        listed = h.session.instruments()
        assert ("spot", h.spot) in listed
        assert ("perp", h.perp) in listed
        assert h.session.connection_states().get("private") == "live"

    @pytest.mark.parametrize("kind", KINDS)
    async def test_watch_books_when_market_moves_book_equals_the_venue(
        self, session_harness: SessionHarness, recorder: Recorder, kind: str
    ) -> None:
        h = session_harness
        symbol = await self.watch_synced(h, recorder, kind)
        for _ in range(3):
            await h.observer.move()
        await recorder.until(lambda: book_matches(h, kind, symbol), "the book to follow")
        assert h.session.connection_states()[f"public.{kind}"] == "live"
        venue = book_name(h.session.config.account, kind)
        book_events = [e for e in recorder.market if isinstance(e, BookSnapshot | BookDelta)]
        assert book_events
        assert {e.venue for e in book_events} == {venue}

    async def test_watch_books_when_perp_watched_its_funding_rate_arrives_too(
        self, session_harness: SessionHarness, recorder: Recorder
    ) -> None:
        h = session_harness
        await self.watch_synced(h, recorder, "perp")

        def funding_seen() -> bool:
            return any(
                (isinstance(e, Funding) or (isinstance(e, Ticker) and e.funding_rate is not None))
                and e.symbol == h.perp
                for e in recorder.market
            )

        await h.observer.move()
        await recorder.until(funding_seen, f"the funding rate of {h.perp}")

    async def test_watch_books_when_two_watchers_share_a_book_it_lives_until_the_last_leaves(
        self, session_harness: SessionHarness, recorder: Recorder
    ) -> None:
        h = session_harness
        ref = BookRef("perp", h.perp)
        symbol = await self.watch_synced(h, recorder, "perp")
        h.session.watch_books([ref])
        h.session.unwatch_books([ref])
        await h.observer.move()
        await recorder.until(lambda: book_matches(h, "perp", symbol), "the shared book alive")
        h.session.unwatch_books([ref])
        assert h.session.books("perp")[symbol].stale  # nobody keeps it up to date now
        with pytest.raises(ValueError, match="not watched"):
            h.session.unwatch_books([ref])

    # -- book faults --------------------------------------------------------------------------

    @pytest.mark.parametrize("kind", KINDS)
    async def test_disconnect_when_mid_stream_book_resyncs_equal_to_the_venue(
        self, session_harness: SessionHarness, recorder: Recorder, kind: str
    ) -> None:
        h = session_harness
        faults = self.faults(h)
        symbol = await self.watch_synced(h, recorder, kind)
        snapshots = sum(isinstance(e, BookSnapshot) for e in recorder.market)
        faults.inject(StreamFault.DISCONNECT, kind, symbol)
        await h.observer.move()

        def resynced() -> bool:
            again = sum(isinstance(e, BookSnapshot) for e in recorder.market) > snapshots
            return again and book_matches(h, kind, symbol)

        await recorder.until(resynced, "a fresh snapshot after the reconnect")
        await h.observer.move()
        await recorder.until(lambda: book_matches(h, kind, symbol), "the book to follow")

    @pytest.mark.parametrize("kind", KINDS)
    async def test_dropped_update_when_gap_shows_resync_is_asked_at_that_message(
        self, session_harness: SessionHarness, recorder: Recorder, kind: str
    ) -> None:
        h = session_harness
        faults = self.faults(h)
        symbol = await self.watch_synced(h, recorder, kind)
        start = len(recorder.market)
        faults.inject(StreamFault.DROP_UPDATE, kind, symbol)
        await h.observer.move()  # this update is dropped
        await h.observer.move()  # this one reveals the gap
        await recorder.until(
            lambda: any(isinstance(e, ResyncRequested) for e in recorder.market[start:]),
            "a resync request",
        )
        venue = book_name(h.session.config.account, kind)
        after = [
            e
            for e in recorder.market[start:]
            if isinstance(e, BookDelta | BookSnapshot | ResyncRequested)
            and (e.venue, e.symbol) == (venue, symbol)
        ]
        # Nothing past the gap was applied: the very message that showed it asked for a resync.
        assert isinstance(after[0], ResyncRequested), after[:3]
        await recorder.until(lambda: book_matches(h, kind, symbol), "the book resynced")

    @pytest.mark.parametrize("fault", [StreamFault.RESET, StreamFault.DUPLICATE])
    async def test_reset_or_duplicate_when_injected_book_ends_equal_to_the_venue(
        self, session_harness: SessionHarness, recorder: Recorder, fault: StreamFault
    ) -> None:
        h = session_harness
        faults = self.faults(h)
        for kind in KINDS:
            symbol = await self.watch_synced(h, recorder, kind)
            faults.inject(fault, kind, symbol)
            for _ in range(3):
                await h.observer.move()
            await recorder.until(
                partial(book_matches, h, kind, symbol),
                f"{kind} after {fault}",
            )

    # -- private stream -----------------------------------------------------------------------

    async def test_order_when_filled_reaches_the_tracker_as_the_venue_has_it(
        self, session_harness: SessionHarness, recorder: Recorder
    ) -> None:
        h = session_harness
        orders = Orders.open(h, recorder, "fill")
        for kind in KINDS:
            price = orders.crossing(kind, Side.BUY)
            cid = await orders.place(orders.request(kind, Side.BUY, price, TimeInForce.IOC))
            await recorder.until(partial(orders.agrees, cid), f"{kind} order agreed")
            assert orders.tracker.snapshot(cid).state == "filled"
        assert orders.refused() == []

    async def test_private_disconnect_when_fills_happen_meanwhile_none_is_lost(
        self, session_harness: SessionHarness, recorder: Recorder
    ) -> None:
        h = session_harness
        faults = self.faults(h)
        orders = Orders.open(h, recorder, "gap")
        # The socket closes on this order's first event: none of its events is ever pushed,
        # so its fills can only come from the REST reconciliation after the reconnect.
        faults.inject(StreamFault.PRIVATE_DISCONNECT, "perp", h.perp)
        price = orders.crossing("perp", Side.SELL)
        cid = await orders.place(orders.request("perp", Side.SELL, price, TimeInForce.IOC))
        await recorder.until(lambda: orders.agrees(cid), "the missed fills reconciled")
        assert orders.tracker.snapshot(cid).state == "filled"
        await recorder.until(
            lambda: h.session.connection_states().get("private") == "live", "private live"
        )
        assert orders.refused() == []

    async def test_private_disconnect_when_an_order_ends_unfilled_meanwhile_its_end_arrives(
        self, session_harness: SessionHarness, recorder: Recorder
    ) -> None:
        h = session_harness
        faults = self.faults(h)
        orders = Orders.open(h, recorder, "quiet")
        # An IOC that cannot fill is cancelled at once: no fill and no open order is left to
        # tell of it, so only a query by client id after the reconnect can.
        faults.inject(StreamFault.PRIVATE_DISCONNECT, "spot", h.spot)
        price = orders.far("spot", Side.BUY)
        cid = await orders.place(orders.request("spot", Side.BUY, price, TimeInForce.IOC))
        await recorder.until(lambda: orders.agrees(cid), "the order's end reconciled")
        assert orders.tracker.snapshot(cid).state == "cancelled"
        assert orders.refused() == []

    async def test_private_reorder_when_events_swap_tracker_ends_as_the_venue(
        self, session_harness: SessionHarness, recorder: Recorder
    ) -> None:
        h = session_harness
        faults = self.faults(h)
        orders = Orders.open(h, recorder, "reorder")
        faults.inject(StreamFault.PRIVATE_REORDER, "spot", h.spot)
        price = orders.crossing("spot", Side.BUY)
        cid = await orders.place(orders.request("spot", Side.BUY, price, TimeInForce.IOC))
        await recorder.until(lambda: orders.agrees(cid), "the order agreed")
        assert orders.refused() == []

    async def test_fill_after_cancel_when_the_fill_wins_tracker_ends_filled(
        self, session_harness: SessionHarness, recorder: Recorder
    ) -> None:
        h = session_harness
        faults = self.faults(h)
        orders = Orders.open(h, recorder, "race")
        price = orders.far("perp", Side.BUY)
        cid = await orders.place(orders.request("perp", Side.BUY, price, TimeInForce.GTC))
        await recorder.until(lambda: orders.agrees(cid), "the resting order acknowledged")
        faults.inject(StreamFault.FILL_AFTER_CANCEL, "perp", h.perp)
        await orders.cancel(cid)
        await recorder.until(lambda: orders.agrees(cid), "the fill that beat the cancel")
        snap = orders.tracker.snapshot(cid)
        assert (snap.state, snap.filled_qty) == ("filled", snap.qty)
        assert orders.refused() == []
