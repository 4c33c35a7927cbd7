"""The Bybit venue plugin, as the registry finds it (entry point `arbiter.venues`: bybit)."""

from __future__ import annotations

from importlib.metadata import version

from arbiter.venues import VenuePlugin, lazy_session, plugin_capabilities
from arbiter_bybit.trading import BybitTrading

PLUGIN = VenuePlugin(
    name="bybit",
    version=version("arbiter"),
    description="Bybit v5: spot and USDT perpetuals; REST through ccxt, streams over websockets",
    capabilities=plugin_capabilities(
        BybitTrading.capabilities, BybitTrading.default_limits, ("sim", "testnet", "mainnet")
    ),
    factory=lazy_session("arbiter_bybit.session"),
)
