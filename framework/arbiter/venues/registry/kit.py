"""What a venue plugin module needs to declare itself: a lazy session factory, its capabilities.

A plugin's entry-point module must import cheaply and never fail on an optional part, so the
session (streams and trading together) is imported only when the runtime builds one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from arbiter.venues.contract.config import VenueConfig
from arbiter.venues.contract.limits import Capabilities, VenueLimits


def lazy_session(module: str) -> Callable[[VenueConfig], Any]:
    """A factory calling `<module>.make_session(config)`, imported on first use."""

    def make_session(config: VenueConfig) -> Any:
        return importlib.import_module(module).make_session(config)

    make_session.__doc__ = f"A full venue session from {module}.make_session for one account."
    return make_session


def plugin_capabilities(
    declared: Capabilities, limits: VenueLimits, endpoints: tuple[str, ...]
) -> dict[str, Any]:
    """What `arbiter venues` lists for a plugin: its declared capabilities and limits."""
    return asdict(declared) | {
        "client_id_max_length": limits.client_ids.max_length,
        "client_id_pattern": limits.client_ids.pattern.pattern,
        "orders_per_second": limits.orders_per_second,
        "requests_per_second": limits.requests_per_second,
        "endpoints": list(endpoints),
    }
