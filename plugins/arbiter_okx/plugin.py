"""The OKX venue plugin, as the registry finds it (entry point `arbiter.venues`: okx).

Importing this module stays cheap and cannot fail on a missing optional part: the session
(streams and trading together) is imported only when the runtime builds one.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict
from importlib.metadata import version
from typing import Any

from arbiter.venues.registry import VenuePlugin
from arbiter.venues.session import VenueConfig
from arbiter_okx.trading import OkxTrading


def make_session(config: VenueConfig) -> Any:
    """A full OKX venue session (`arbiter.venues.session.VenueSession`) for one account."""
    session = importlib.import_module("arbiter_okx.session")
    return session.make_session(config)


def _capabilities() -> dict[str, Any]:
    limits = OkxTrading.default_limits
    return asdict(OkxTrading.capabilities) | {
        "client_id_max_length": limits.client_ids.max_length,
        "client_id_pattern": limits.client_ids.pattern.pattern,
        "orders_per_second": limits.orders_per_second,
        "requests_per_second": limits.requests_per_second,
        "endpoints": ["sim", "testnet", "mainnet"],
    }


PLUGIN = VenuePlugin(
    name="okx",
    version=version("arbiter"),
    description="OKX v5: spot and USDT perpetuals; REST through ccxt, streams over websockets",
    capabilities=_capabilities(),
    factory=make_session,
)
