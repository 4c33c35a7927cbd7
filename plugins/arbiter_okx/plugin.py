"""The OKX venue plugin, as the registry finds it (entry point `arbiter.venues`: okx)."""

from __future__ import annotations

from importlib.metadata import version

from arbiter.venues import VenuePlugin, lazy_session, plugin_capabilities
from arbiter_okx.trading import OkxTrading

PLUGIN = VenuePlugin(
    name="okx",
    version=version("arbiter"),
    description="OKX v5: spot and USDT perpetuals; REST through ccxt, streams over websockets",
    capabilities=plugin_capabilities(
        OkxTrading.capabilities, OkxTrading.default_limits, ("sim", "testnet", "mainnet")
    ),
    factory=lazy_session("arbiter_okx.session"),
)
