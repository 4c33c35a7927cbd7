"""The exchange simulator: a matching engine that speaks Bybit v5 and OKX v5 on loopback.

`start()` runs the venues and returns a `Simulation` with their endpoints and engines.
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
