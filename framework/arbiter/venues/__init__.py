"""The venue plugin contract, in one import: `from arbiter.venues import ...`.

A plugin (`plugins/arbiter_bybit`, `plugins/arbiter_okx`, or a third party's) imports from here
and from `arbiter.market`, nothing else; `__all__` is what it may use, and a test holds that
list. The modules behind it are grouped by what they are:

- `contract/`: what every venue is, as data and protocols: the trading and session halves
  (`TradingVenue`, `VenueSession`), orders and private events, errors (the split callers rely
  on, and the frame errors a reader survives), limits and client ids, the config an account
  is opened with, and the exact readers of a venue message's fields;
- `streams/`: the one venue session every plugin shares (`StreamingSession`): its WebSocket
  connections, the venue-neutral halves of the stream codecs, the private stream with its REST
  reconciliation, and the trading object it hands out (watched until each order ends);
- `rest/`: one `TradingVenue` over ccxt (`CcxtTrading`): the client, the requests, the answers
  and the error translation;
- `order_path/`: placing and cancelling without ccxt in the way (`OrderEntry`), on the order
  path's own connections, paced by the account's order rate;
- `registry/`: how the runtime finds plugins (entry points), what a plugin module declares,
  and an account's keys (resolved at connect time, never logged).

The rest of the framework imports these names from here too, and the few only it uses
(`IntentId`, `installed`, `resolve`, `redact`, ...) from their modules. Modules inside this
package import each other by their own paths, never from here, so that importing any one of
them cannot run into a half-built package.

The REST kit and the order entry stand on ccxt, whose import loads every exchange it knows; a
process that never trades (`arbiter sim`, `arbiter schema`) must not pay for that. So those
names are imported on first use, and everything else when this package is.
"""

import typing

from arbiter.venues.contract.client_ids import ClientIdRules
from arbiter.venues.contract.config import ApiKeys, VenueConfig
from arbiter.venues.contract.errors import (
    FRAME_ERRORS,
    Ambiguous,
    AuthenticationFailed,
    Definitive,
    DuplicateClientId,
    InsufficientFunds,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    VenueError,
)
from arbiter.venues.contract.fields import (
    field_decimal,
    field_int,
    field_price,
    field_signed,
    field_text,
)
from arbiter.venues.contract.limits import Capabilities, VenueLimits
from arbiter.venues.contract.orders import (
    AccountEvent,
    BalanceUpdate,
    Fill,
    ForcedExecution,
    ForcedKind,
    FundingSettlement,
    OrderAck,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionUpdate,
    PrivateEvent,
    Side,
    TimeInForce,
)
from arbiter.venues.contract.session import BookRef, MarketSink, VenueSession
from arbiter.venues.contract.trading import Balance, FeeRate, PrivateSink, TradingVenue
from arbiter.venues.registry.kit import lazy_session, plugin_capabilities
from arbiter.venues.registry.plugins import VenuePlugin
from arbiter.venues.streams.codecs import (
    BookCodec,
    BookDialect,
    BookStream,
    PrivateCodec,
    PrivateStreamEvent,
    SettlementsDue,
    StreamError,
    StreamReady,
    StreamRejected,
    as_text,
)
from arbiter.venues.streams.session import StreamDialect, StreamingSession, endpoint_urls
from arbiter.venues.streams.websocket import Frame, Keepalive, SessionCodec

if typing.TYPE_CHECKING:
    from arbiter.venues.order_path.entry import OrderEntry, iso8601_ms
    from arbiter.venues.rest.convert import MalformedAnswer, dec
    from arbiter.venues.rest.requests import CcxtMarket, kind_of
    from arbiter.venues.rest.trading import CcxtTrading, FeeTable
else:
    import importlib

    _ON_FIRST_USE = {
        "CcxtMarket": "arbiter.venues.rest.requests",
        "CcxtTrading": "arbiter.venues.rest.trading",
        "FeeTable": "arbiter.venues.rest.trading",
        "MalformedAnswer": "arbiter.venues.rest.convert",
        "OrderEntry": "arbiter.venues.order_path.entry",
        "dec": "arbiter.venues.rest.convert",
        "iso8601_ms": "arbiter.venues.order_path.entry",
        "kind_of": "arbiter.venues.rest.requests",
    }

    def __getattr__(name: str) -> object:
        module = _ON_FIRST_USE.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # the next lookup is an ordinary one
        return value


__all__ = [
    "FRAME_ERRORS",
    "AccountEvent",
    "Ambiguous",
    "ApiKeys",
    "AuthenticationFailed",
    "Balance",
    "BalanceUpdate",
    "BookCodec",
    "BookDialect",
    "BookRef",
    "BookStream",
    "Capabilities",
    "CcxtMarket",
    "CcxtTrading",
    "ClientIdRules",
    "Definitive",
    "DuplicateClientId",
    "FeeRate",
    "FeeTable",
    "Fill",
    "ForcedExecution",
    "ForcedKind",
    "Frame",
    "FundingSettlement",
    "InsufficientFunds",
    "Keepalive",
    "MalformedAnswer",
    "MarketSink",
    "OrderAck",
    "OrderEntry",
    "OrderNotFound",
    "OrderRejected",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "PositionUpdate",
    "PrivateCodec",
    "PrivateEvent",
    "PrivateSink",
    "PrivateStreamEvent",
    "RateLimited",
    "SessionCodec",
    "SettlementsDue",
    "Side",
    "StreamDialect",
    "StreamError",
    "StreamReady",
    "StreamRejected",
    "StreamingSession",
    "TimeInForce",
    "TradingVenue",
    "VenueConfig",
    "VenueError",
    "VenueLimits",
    "VenuePlugin",
    "VenueSession",
    "as_text",
    "dec",
    "endpoint_urls",
    "field_decimal",
    "field_int",
    "field_price",
    "field_signed",
    "field_text",
    "iso8601_ms",
    "kind_of",
    "lazy_session",
    "plugin_capabilities",
]
