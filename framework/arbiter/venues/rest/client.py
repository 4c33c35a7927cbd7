"""Build a ccxt async client for one venue account: endpoint, URL overrides, keys, exact numbers.

- `endpoint` "mainnet" keeps ccxt's own URLs; "testnet" switches ccxt to the venue's sandbox
  (Bybit's testnet hosts, OKX's demo-trading header); "sim" has no public host at all, so it
  needs `urls["rest"]` and refuses to start without one.
- `urls["rest"]` (any endpoint) replaces scheme, host and port of every HTTP URL ccxt knows for
  the venue and keeps each path, so one base URL redirects the whole REST API (a simulator, a
  proxy). WebSocket URLs are left to the streaming half.
- Keys come from `config.keys` only and go straight into the client; nothing here logs them.
- `client.number = str`: ccxt then hands back every amount as the venue's own decimal string
  (ccxt does its arithmetic on strings internally), so nothing passes through a float on the
  way to our `Decimal`s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import ccxt.async_support as ccxt_async

from arbiter import clock as process_clock
from arbiter.venues.contract.config import VenueConfig

ENDPOINTS = ("sim", "testnet", "mainnet")


class EndpointError(ValueError):
    """A venue account whose endpoint settings cannot work."""


def rest_override(config: VenueConfig) -> str | None:
    """The REST base URL the account must use instead of ccxt's, checked; None keeps ccxt's."""
    if config.endpoint not in ENDPOINTS:
        raise EndpointError(
            f"{config.account}: expected endpoint one of {', '.join(ENDPOINTS)}, was {config.endpoint!r}"
        )
    rest = config.urls.get("rest")
    if config.endpoint == "sim" and not rest:
        raise EndpointError(
            f"{config.account}: endpoint 'sim' needs urls.rest (the simulator's base URL, "
            f"e.g. http://127.0.0.1:8080); urls given: {sorted(config.urls) or 'none'}"
        )
    if rest is not None:
        parts = urlsplit(rest)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise EndpointError(
                f"{config.account}: expected urls.rest like http://host:port, was {rest!r}"
            )
    return rest


def rehost(tree: Any, base: str) -> Any:
    """Every HTTP URL in ccxt's `urls["api"]` tree moved onto `base`, paths kept."""
    if isinstance(tree, Mapping):
        return {k: rehost(v, base) for k, v in tree.items()}
    if isinstance(tree, str) and tree.startswith(("http://", "https://")):
        # ccxt spells some hosts with a placeholder ("https://api.{hostname}"): only the path
        # survives, so the placeholder's value does not matter.
        path = urlsplit(tree.replace("{hostname}", "venue")).path
        return base.rstrip("/") + path
    return tree


def build_client(
    exchange_id: str,
    config: VenueConfig,
    *,
    timeout_ms: int,
    rate_limit_ms: float,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """A ccxt async client for `config`, not yet connected (ccxt opens its session lazily)."""
    rest = rest_override(config)
    cls = getattr(ccxt_async, exchange_id, None)
    if cls is None:
        raise EndpointError(f"{config.account}: ccxt has no exchange {exchange_id!r}")
    settings: dict[str, Any] = {
        "enableRateLimit": True,
        "rateLimit": rate_limit_ms,
        "timeout": timeout_ms,
        "options": dict(options or {}),
    }
    if config.keys is not None:
        settings["apiKey"] = config.keys.api_key
        settings["secret"] = config.keys.api_secret
        if config.keys.passphrase:
            settings["password"] = config.keys.passphrase
    client = cls(settings)
    client.number = str
    # ccxt dates (and signs) its requests by its own reading of the system clock; it reads the
    # process's one clock instead, so a simulated run's requests carry the simulated time.
    client.milliseconds = process_clock.wall_ms
    client.seconds = lambda: process_clock.wall_ms() // 1000
    client.microseconds = lambda: process_clock.wall_ns() // 1000
    if config.endpoint == "testnet":
        client.set_sandbox_mode(True)
    if rest is not None:
        client.urls["api"] = rehost(client.urls["api"], rest)
        if rest.startswith("http://"):
            # ccxt pauses 250 ms on close so TLS connections can shut down cleanly; plain HTTP
            # (a simulator on loopback) has nothing to wait for.
            client.timeout_on_exit = 0
    return client
