"""Venue errors, split by what they mean for an order that was being sent.

- `Definitive`: the venue answered; the request certainly did not take effect (rejected,
  insufficient balance, rate limited, unknown order). Safe to act on.
- `Ambiguous`: no trustworthy answer (timeout, disconnect, 5xx). The order may exist. Nothing
  may be resent until a query by client order id resolves it.
- `DuplicateClientId`: the venue already has an order with this client id, i.e. an earlier
  attempt of the same intent did arrive. Resolved by querying it, never by a new id.

`FRAME_ERRORS` are the other kind: what a malformed venue message raises while a codec picks it
apart. A reader never dies of one; the codec that catches it counts the frame as bad (a market
codec stales the book, a private codec emits a `StreamError`) and reads on.
"""

from __future__ import annotations


class VenueError(Exception):
    def __init__(self, venue: str, message: str, code: str = "") -> None:
        self.venue, self.code, self.message = venue, code, message
        super().__init__(f"{venue}: {message}" + (f" (code {code})" if code else ""))


class Definitive(VenueError):
    """The request did not take effect."""


class OrderRejected(Definitive):
    pass


class InsufficientFunds(OrderRejected):
    pass


class RateLimited(Definitive):
    pass


class OrderNotFound(Definitive):
    pass


class DuplicateClientId(VenueError):
    """An order with this client id already exists on the venue: query it."""


class Ambiguous(VenueError):
    """The request may or may not have taken effect."""


class AuthenticationFailed(Definitive):
    pass


# Everything a malformed message can raise while it is decoded or converted: msgspec's errors,
# `UnitsError` and the field readers' errors are ValueErrors; the others come from shapes a
# decoder let through as `Any` (a list where a dict was expected, a missing key, a bad number).
FRAME_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError)
