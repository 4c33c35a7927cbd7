"""Map ccxt's exceptions onto our split: did the request take effect, or might it have?

The question that matters for an order is not "what went wrong" but "can the order exist
now". ccxt's hierarchy answers a different question, so the order of the checks below is the
point: duplicate id first (the order exists), then the venue's explicit refusals (it does not),
then everything network-shaped (it might).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import ccxt

from arbiter.venues.errors import (
    Ambiguous,
    AuthenticationFailed,
    DuplicateClientId,
    InsufficientFunds,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    VenueError,
)

_DEFINITIVE: tuple[tuple[type[BaseException], type[VenueError]], ...] = (
    (ccxt.DuplicateOrderId, DuplicateClientId),
    (ccxt.OrderNotFound, OrderNotFound),
    (ccxt.InsufficientFunds, InsufficientFunds),
    (ccxt.RateLimitExceeded, RateLimited),  # the venue counted and refused the request
    (ccxt.DDoSProtection, RateLimited),
    (ccxt.InvalidNonce, OrderRejected),  # timestamp outside the recv window: refused unprocessed
    (ccxt.OnMaintenance, OrderRejected),  # the venue said so explicitly
    (ccxt.AuthenticationError, AuthenticationFailed),
    (ccxt.ExchangeError, OrderRejected),  # any other answer the venue gave on purpose
)


def map_ccxt_error(venue: str, exc: BaseException) -> VenueError:
    if isinstance(exc, VenueError):
        return exc
    for ccxt_type, ours in _DEFINITIVE:
        if isinstance(exc, ccxt_type):
            return ours(venue, _message(exc), type(exc).__name__)
    # Timeouts, disconnects, 5xx, unparseable answers and anything unexpected: the request may
    # have reached the matching engine, so only a query can tell.
    return Ambiguous(venue, _message(exc) or type(exc).__name__, type(exc).__name__)


def _message(exc: BaseException) -> str:
    text = str(exc)
    return text[:500]


@contextmanager
def translated(venue: str) -> Iterator[None]:
    """Run a ccxt call; whatever it raises leaves as one of our `VenueError`s."""
    try:
        yield
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise map_ccxt_error(venue, exc) from exc
