"""What a plugin is given to open one venue account: its endpoint, URLs, keys and limits.

Keys reach a plugin only here, resolved from the manifest's references when the account
connects (`arbiter.venues.registry.credentials`); nothing prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from arbiter.venues.contract.limits import VenueLimits


@dataclass(frozen=True, slots=True)
class ApiKeys:
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # a stray print or log of the object shows no secret
        return "ApiKeys(***)"


@dataclass(frozen=True, slots=True)
class VenueConfig:
    account: str  # the manifest's venue name, e.g. "bybit"
    endpoint: str  # "sim", "testnet" or "mainnet"
    urls: Mapping[str, str] = field(
        default_factory=dict
    )  # overrides: rest, ws_public, ws_private, ...
    keys: ApiKeys | None = None
    # Replaces the venue's published rate limits: an account with raised limits, or a
    # simulator that enforces none (tests that need the pace). None keeps the plugin's own.
    limits: VenueLimits | None = None
