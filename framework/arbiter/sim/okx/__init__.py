"""The OKX v5 dialect: `codec.py` has OKX's words for the engine's objects (and the `books`
checksum), `rest.py` its REST endpoints, `ws.py` its public and private WebSockets."""

from arbiter.sim.okx.rest import OkxRest
from arbiter.sim.okx.ws import OkxWs

__all__ = ["OkxRest", "OkxWs"]
