"""The contract of a sans-IO market-data codec, its counters, and how the framework finds one.

Codecs live in venue plugins; the framework never imports a plugin. It finds codecs through the
`arbiter.market_codecs` entry-point group (name = venue, value = a class taking no required
arguments), so an out-of-tree plugin registers a codec exactly like the in-tree ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from arbiter.market.book import OrderBook
from arbiter.market.events import MarketEvent

ENTRY_POINT_GROUP = "arbiter.market_codecs"


@dataclass(slots=True)
class CodecStats:
    frames: int = 0
    updates_applied: int = 0  # snapshots and deltas that reached a book
    gaps: int = 0  # sequence breaks
    resyncs: int = 0  # resync requests emitted
    checksum_failures: int = 0
    malformed: int = 0  # frames refused as bad JSON, bad fields or crossed books
    dropped_while_stale: int = 0  # deltas that arrived for a book waiting on a snapshot
    sequence_resets: int = 0  # venue-announced resets (Bybit u == 1, OKX maintenance)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@runtime_checkable
class MarketCodec(Protocol):
    venue: str
    stats: CodecStats

    @property
    def books(self) -> Mapping[str, OrderBook]: ...

    def feed(self, frame: bytes | str) -> list[MarketEvent]: ...


class UnknownCodecError(LookupError):
    pass


def available_codecs() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def load_codec(venue: str) -> MarketCodec:
    """A fresh codec for `venue` from the installed plugins."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=venue):
        codec: MarketCodec = ep.load()()
        return codec
    raise UnknownCodecError(
        f"expected a venue with a market codec ({', '.join(available_codecs()) or 'none installed'}),"
        f" was {venue!r}"
    )
