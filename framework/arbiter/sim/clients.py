"""Point ccxt's own clients at a simulated venue, so nothing can reach a real host.

Every URL in the client's `urls["api"]` tree (REST and WebSocket, whatever it is called) keeps
its path but gets the simulator's scheme, host and port; options that would fetch data the
simulator does not list (options and futures markets) are narrowed to spot and perpetuals.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from arbiter.sim.server import VenueEndpoints


def _rehost(tree: Any, http_base: str, ws_base: str) -> Any:
    if isinstance(tree, dict):
        return {k: _rehost(v, http_base, ws_base) for k, v in tree.items()}
    if isinstance(tree, str) and "://" in tree:
        path = urlsplit(tree.replace("{hostname}", "venue")).path
        base = ws_base if tree.startswith("ws") else http_base
        return base + path
    return tree


def point_at_simulator(client: Any, endpoints: VenueEndpoints) -> Any:
    """Rewire a ccxt (or ccxt.pro) client to `endpoints`; returns the same client."""
    ws_base = "ws://" + urlsplit(endpoints.ws_public).netloc
    client.urls["api"] = _rehost(client.urls["api"], endpoints.rest, ws_base)
    client.apiKey = endpoints.api_key
    client.secret = endpoints.secret
    if endpoints.passphrase:
        client.password = endpoints.passphrase
    if endpoints.venue == "bybit":
        client.options["fetchMarkets"] = {"types": ["spot", "linear"]}
    else:
        client.options["fetchMarkets"] = {"types": ["spot", "swap"]}
    return client
