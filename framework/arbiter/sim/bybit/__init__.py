"""The Bybit v5 dialect: `codec.py` has Bybit's words for the engine's objects, `rest.py` its
REST endpoints, `ws.py` its public and private WebSockets."""

from arbiter.sim.bybit.rest import BybitRest
from arbiter.sim.bybit.ws import BybitWs

__all__ = ["BybitRest", "BybitWs"]
