"""Map ccxt's exceptions onto our split: did the request take effect, or might it have?

The question that matters for an order is not "what went wrong" but "can the order exist
now". ccxt's hierarchy answers a different question, so the order of the checks below is the
point: duplicate id first (the order exists), then the venue's explicit refusals (it does not),
then everything network-shaped (it might).

ccxt files some answers under a class too broad for that question: Bybit's duplicate
`orderLinkId` (110072) and OKX's duplicate `clOrdId` (51016) arrive as a plain `InvalidOrder`.
A plugin names such codes (`codes`), found in the venue's own answer that ccxt quotes in the
exception message, and they win over ccxt's class.

ccxt's message is its id followed by the venue's whole JSON answer. A plugin that names the keys
of the venue's own message (`message_keys`: Bybit's `retMsg`) gets the error in the venue's
words instead, with the venue's code: "bybit: API key is invalid. (code 10003)", not a JSON
dump under ccxt's class name. The whole text stays on the ccxt exception (`__cause__`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import ccxt

from arbiter.venues.contract.errors import (
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


def _quoted_answer(exc: BaseException) -> Any:
    """The venue's JSON answer that ccxt quotes in its message, or None."""
    text = str(exc)
    start = text.find("{")
    if start < 0:
        return None
    try:
        return json.loads(text[start:])
    except ValueError:
        return None


def venue_words(
    exc: BaseException, code_keys: Collection[str], message_keys: Collection[str]
) -> tuple[str, str] | None:
    """(message, code) of the venue's answer quoted by ccxt, read at its top level; None when
    the answer carries no message under `message_keys`."""
    body = _quoted_answer(exc)
    if not isinstance(body, dict):
        return None
    message = next((body[k] for k in message_keys if isinstance(body.get(k), str) and body[k]), "")
    if not message:
        return None
    code = next((str(body[k]) for k in code_keys if isinstance(body.get(k), str | int)), "")
    return message, code


def error_codes(exc: BaseException, keys: Collection[str]) -> list[str]:
    """The venue's error codes (values of `keys`, at any depth) in the JSON ccxt quotes."""
    body = _quoted_answer(exc)
    if body is None:
        return []
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in keys and isinstance(value, str | int) and str(value) not in ("", "0"):
                    found.append(str(value))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(body)
    return found


def map_ccxt_error(
    venue: str,
    exc: BaseException,
    codes: Mapping[str, type[VenueError]] | None = None,
    code_keys: Collection[str] = (),
    message_keys: Collection[str] = (),
) -> VenueError:
    if isinstance(exc, VenueError):
        return exc
    said = venue_words(exc, code_keys, message_keys) if message_keys else None
    if codes:
        for code in error_codes(exc, code_keys):
            if code in codes:
                return codes[code](venue, said[0] if said else _message(exc), code)
    for ccxt_type, ours in _DEFINITIVE:
        if isinstance(exc, ccxt_type):
            if said is not None:
                return ours(venue, _message_of(said[0]), said[1] or type(exc).__name__)
            return ours(venue, _message(exc), type(exc).__name__)
    # Timeouts, disconnects, 5xx, unparseable answers and anything unexpected: the request may
    # have reached the matching engine, so only a query can tell.
    return Ambiguous(venue, _message(exc) or type(exc).__name__, type(exc).__name__)


def _message(exc: BaseException) -> str:
    return _message_of(str(exc))


def _message_of(text: str) -> str:
    return text[:500]


@contextmanager
def translated(
    venue: str,
    codes: Mapping[str, type[VenueError]] | None = None,
    code_keys: Collection[str] = (),
    message_keys: Collection[str] = (),
) -> Iterator[None]:
    """Run a ccxt call; whatever it raises leaves as one of our `VenueError`s."""
    try:
        yield
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise map_ccxt_error(venue, exc, codes, code_keys, message_keys) from exc
