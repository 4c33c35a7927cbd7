"""Arbiter: declarative cross-exchange arbitrage.

Strategy manifests (YAML) are validated, compiled into explicit finite-state machines and run on
one shared asyncio runtime with venues as plugins.
"""

__version__ = "0.1.0"
