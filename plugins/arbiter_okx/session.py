"""An OKX venue session: `OkxTrading` (REST) plus the shared streaming session.

OKX serves spot and swaps on one public URL; the session still opens one connection per
product so each product keeps its own books. Endpoint `sim` reads its URLs from
`VenueConfig.urls` (`ws_public`, `ws_private`); `testnet` (OKX's demo trading) and `mainnet`
have defaults that `urls` may override.
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
from arbiter_okx.codec import OkxCodec
from arbiter_okx.streams import OkxBooks, OkxPrivateCodec
from arbiter_okx.trading import OkxTrading

URLS: Mapping[str, Mapping[str, str]] = {
    "mainnet": {
        "ws_public": "wss://ws.okx.com:8443/ws/v5/public",
        "ws_private": "wss://ws.okx.com:8443/ws/v5/private",
    },
    "testnet": {
        "ws_public": "wss://wspap.okx.com:8443/ws/v5/public",
        "ws_private": "wss://wspap.okx.com:8443/ws/v5/private",
    },
}
# OKX closes a connection idle for 30 s: ping after 20 s of silence, give up after 60 s.
KEEPALIVE = Keepalive(ping_interval_s=20.0, ping_when_idle=True, dead_after_s=60.0)


def stream_dialect(config: VenueConfig, keys: ApiKeys) -> StreamDialect:
    urls = endpoint_urls(config, URLS, ("ws_public", "ws_private"))

    def book_stream(kind: str, venue: str, instruments: Sequence[Instrument]) -> BookStream:
        codec = OkxCodec(instruments, venue=venue)
        return BookStream(codec, OkxBooks(codec, funding=kind == "perp"))

    def private_codec(instruments: Mapping[tuple[str, str], Instrument]) -> PrivateCodec:
        return OkxPrivateCodec(keys, config.account, instruments=instruments)

    return StreamDialect(
        public_urls={"spot": urls["ws_public"], "perp": urls["ws_public"]},
        private_url=urls["ws_private"],
        book_stream=book_stream,
        private_codec=private_codec,
        keepalive=KEEPALIVE,
    )


def make_session(config: VenueConfig, *, limits: VenueLimits | None = None) -> StreamingSession:
    """The whole OKX session of one account; `await session.start()` before use.

    `limits` replaces the venue's published rate limits (for tests that need the pace).
    """
    if config.keys is None:
        raise ValueError(f"{config.account}: expected API keys for the private stream, was none")
    trading = OkxTrading(config, limits=limits or config.limits)
    return StreamingSession(config, trading, stream_dialect(config, config.keys))
