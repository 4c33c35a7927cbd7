"""Venue-agnostic bookkeeping every codec shares: its books, its counters, and how a book fails.

A codec decides *whether* a frame is valid (that is venue dialect); the keeper decides *what
happens* when it is not, identically for every venue: count it, stale the book, ask for a resync
once per stale episode, and hand back the events that say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from arbiter.market.book import OrderBook
from arbiter.market.codec import CodecStats
from arbiter.market.events import CodecError, CodecErrorKind, MarketEvent, ResyncRequested
from arbiter.market.instrument import Instrument
from arbiter.market.units import DEFAULT_SCALE, UnitParser, parser_for, scale_of


class BookKeeper:
    def __init__(self, venue: str, instruments: Iterable[Instrument] = ()) -> None:
        self.venue = venue
        self.stats = CodecStats()
        self.books: dict[str, OrderBook] = {}
        self._instruments = {i.symbol: i for i in instruments if i.venue == venue}
        self._resync_pending: set[str] = set()
        self._parsers: dict[str, tuple[UnitParser, UnitParser]] = {}

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    def book(self, symbol: str) -> OrderBook:
        found = self.books.get(symbol)
        if found is None:
            price_scale, size_scale = self._scales(symbol)
            found = self.books[symbol] = OrderBook(self.venue, symbol, price_scale, size_scale)
            self._parsers[symbol] = (parser_for(price_scale), parser_for(size_scale))
        return found

    def parsers(self, symbol: str) -> tuple[UnitParser, UnitParser]:
        """(price parser, size parser) at the scales of `symbol`'s book."""
        found = self._parsers.get(symbol)
        if found is None:
            self.book(symbol)
            found = self._parsers[symbol]
        return found

    def _scales(self, symbol: str) -> tuple[int, int]:
        instrument = self._instruments.get(symbol)
        if instrument is None:
            # Unknown instrument (e.g. replaying a file): a scale fine enough for any venue
            # number; a price with more decimals is refused, never rounded.
            return DEFAULT_SCALE, DEFAULT_SCALE
        return scale_of(instrument.tick_size), scale_of(instrument.lot_size)

    def synced(self, symbol: str) -> None:
        """A snapshot landed: the next break may request a resync again."""
        self._resync_pending.discard(symbol)

    def malformed(
        self, kind: CodecErrorKind, detail: str, symbol: str | None = None, channel: str = ""
    ) -> list[MarketEvent]:
        """A refused frame: counted; if it concerned a book, that book goes stale."""
        self.stats.malformed += 1
        events: list[MarketEvent] = [CodecError(self.venue, kind, detail, symbol)]
        if symbol is not None and channel:
            events.extend(self.stale(symbol, f"{kind}: {detail}", channel))
        return events

    def gap(self, symbol: str, detail: str, channel: str) -> list[MarketEvent]:
        self.stats.gaps += 1
        return self.stale(symbol, f"gap: {detail}", channel)

    def checksum_failed(self, symbol: str, detail: str, channel: str) -> list[MarketEvent]:
        self.stats.checksum_failures += 1
        events: list[MarketEvent] = [
            CodecError(self.venue, CodecErrorKind.CHECKSUM, detail, symbol)
        ]
        events.extend(self.stale(symbol, f"checksum: {detail}", channel))
        return events

    def stale(self, symbol: str, reason: str, channel: str) -> list[MarketEvent]:
        """Stale the book and request one resync per stale episode."""
        self.book(symbol).mark_stale(reason)
        if symbol in self._resync_pending:
            return []
        self._resync_pending.add(symbol)
        self.stats.resyncs += 1
        return [ResyncRequested(self.venue, symbol, reason, channel)]

    def dropped(self, symbol: str, channel: str) -> list[MarketEvent]:
        """A delta for a book waiting on its snapshot cannot be applied; ask for one if needed."""
        self.stats.dropped_while_stale += 1
        return self.stale(symbol, self.book(symbol).stale_reason or "no snapshot yet", channel)
