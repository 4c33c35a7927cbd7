"""A Bybit venue session: `BybitTrading` (REST) plus the shared streaming session.

Bybit splits public streams by category: `{ws_public}/spot` and `{ws_public}/linear`; the
private stream is one URL. Endpoint `sim` reads its URLs from `VenueConfig.urls` (`ws_public`,
`ws_private`, as `arbiter.sim.VenueEndpoints` names them); `testnet` and `mainnet` have
defaults that `urls` may override.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from arbiter.market.instrument import Instrument
from arbiter.venues import (
    ApiKeys,
    BookStream,
    Keepalive,
    PrivateCodec,
    StreamDialect,
    StreamingSession,
    VenueConfig,
    VenueLimits,
    endpoint_urls,
)
from arbiter_bybit.codec import BybitCodec
from arbiter_bybit.streams import BybitBooks, BybitPrivateCodec
from arbiter_bybit.trading import BybitTrading

URLS: Mapping[str, Mapping[str, str]] = {
    "mainnet": {
        "ws_public": "wss://stream.bybit.com/v5/public",
        "ws_private": "wss://stream.bybit.com/v5/private",
    },
    "testnet": {
        "ws_public": "wss://stream-testnet.bybit.com/v5/public",
        "ws_private": "wss://stream-testnet.bybit.com/v5/private",
    },
}
CATEGORIES = {"spot": "spot", "perp": "linear"}
# Bybit asks for a ping every 20 s; a socket silent for three of those is dead.
KEEPALIVE = Keepalive(ping_interval_s=20.0, dead_after_s=60.0)


def stream_dialect(config: VenueConfig, keys: ApiKeys) -> StreamDialect:
    urls = endpoint_urls(config, URLS, ("ws_public", "ws_private"))
    base = urls["ws_public"].rstrip("/")

    def book_stream(kind: str, venue: str, instruments: Sequence[Instrument]) -> BookStream:
        codec = BybitCodec(instruments, venue=venue)
        return BookStream(codec, BybitBooks(codec, funding=kind == "perp"))

    def private_codec(instruments: Mapping[tuple[str, str], Instrument]) -> PrivateCodec:
        return BybitPrivateCodec(keys, config.account, instruments)

    return StreamDialect(
        public_urls={kind: f"{base}/{category}" for kind, category in CATEGORIES.items()},
        private_url=urls["ws_private"],
        book_stream=book_stream,
        private_codec=private_codec,
        keepalive=KEEPALIVE,
    )


def make_session(config: VenueConfig, *, limits: VenueLimits | None = None) -> StreamingSession:
    """The whole Bybit session of one account; `await session.start()` before use.

    `limits` replaces the venue's published rate limits (for tests that need the pace).
    """
    if config.keys is None:
        raise ValueError(f"{config.account}: expected API keys for the private stream, was none")
    trading = BybitTrading(config, limits=limits or config.limits)
    return StreamingSession(config, trading, stream_dialect(config, config.keys))
