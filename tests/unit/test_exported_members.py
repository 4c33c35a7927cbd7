"""A plugin author needs one import: `arbiter.venues` exports exactly these names, and each
resolves (a name added to the package or dropped from it must be added or dropped here too)."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import arbiter.venues

EXPORTED = [
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


def test_venues_exports_when_listed_equal_the_contract() -> None:
    assert arbiter.venues.__all__ == EXPORTED


def test_venues_exports_when_looked_up_every_name_resolves() -> None:
    for name in EXPORTED:
        assert getattr(arbiter.venues, name) is not None, name


def test_venues_package_when_imported_holds_no_public_name_it_does_not_export() -> None:
    for name in EXPORTED:
        getattr(arbiter.venues, name)  # names imported on first use are in the namespace now

    public = {
        name
        for name, value in vars(arbiter.venues).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }

    assert public == set(EXPORTED)


def test_venues_package_when_imported_leaves_ccxt_until_a_rest_name_is_used() -> None:
    code = (
        "import sys, arbiter.venues; print('ccxt' in sys.modules);"
        " arbiter.venues.CcxtTrading; print('ccxt' in sys.modules)"
    )

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert done.stdout.split() == ["False", "True"]
