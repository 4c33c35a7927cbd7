"""The exchange simulator: a matching engine that speaks Bybit v5 and OKX v5 on loopback.

`start()` runs the venues and returns a `Simulation` with their endpoints and engines.

Laid out like the plugins: what every venue shares is here (the engine and its books, accounts
and orders, the market generator, faults and their gates, the REST skeleton `rest.py`, the
WebSocket connection `wsconn.py`, the server); what a venue says its own way is in its package,
`bybit/` or `okx/`, each with the same files: `codec.py`, `rest.py`, `ws.py`.
"""

from arbiter.sim.clock import FakeClock, WallClock
from arbiter.sim.faults import FaultKind, FaultPlan, FaultPlanError, FaultRule, Latency
from arbiter.sim.server import Simulation, VenueEndpoints, start

__all__ = [
    "FakeClock",
    "FaultKind",
    "FaultPlan",
    "FaultPlanError",
    "FaultRule",
    "Latency",
    "Simulation",
    "VenueEndpoints",
    "WallClock",
    "start",
]
