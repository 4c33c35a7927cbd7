"""Venue plugins are found through entry points (group `arbiter.venues`).

An in-tree plugin registers exactly as a third-party one would, in its distribution's metadata:

    [project.entry-points."arbiter.venues"]
    bybit = "arbiter_bybit.plugin:PLUGIN"

The entry point names a `VenuePlugin` object. Loading is lazy and a plugin that fails to import
is reported with its error instead of breaking every other venue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

GROUP = "arbiter.venues"


@dataclass(frozen=True, slots=True)
class VenuePlugin:
    name: str
    version: str
    description: str
    capabilities: dict[str, Any] = field(default_factory=dict)
    # The plugin's own constructor of its venue session: (VenueConfig) -> VenueSession.
    factory: Any = None


@dataclass(frozen=True, slots=True)
class Installed:
    plugins: dict[str, VenuePlugin]
    broken: dict[str, str]  # entry point name -> why it could not be loaded

    @property
    def names(self) -> list[str]:
        return sorted(self.plugins)


def _load(ep: EntryPoint) -> VenuePlugin:
    plugin = ep.load()
    if not isinstance(plugin, VenuePlugin):
        raise TypeError(f"{ep.value} is a {type(plugin).__name__}, expected a VenuePlugin")
    if plugin.name != ep.name:
        raise ValueError(f"entry point {ep.name!r} names a plugin called {plugin.name!r}")
    return plugin


def installed() -> Installed:
    plugins: dict[str, VenuePlugin] = {}
    broken: dict[str, str] = {}
    for ep in entry_points(group=GROUP):
        try:
            plugins[ep.name] = _load(ep)
        except Exception as exc:  # one broken plugin must not hide the others
            broken[ep.name] = f"{type(exc).__name__}: {exc}"
    return Installed(plugins, broken)
