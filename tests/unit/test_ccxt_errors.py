"""ccxt exceptions become 'it did not happen' or 'it may have happened', in the right order."""

from __future__ import annotations

import asyncio

import ccxt
import pytest

from arbiter.venues.ccxt_errors import map_ccxt_error, translated
from arbiter.venues.errors import (
    Ambiguous,
    AuthenticationFailed,
    Definitive,
    DuplicateClientId,
    InsufficientFunds,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    VenueError,
)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            ccxt.DuplicateOrderId("orderLinkId dup"),
            DuplicateClientId,
        ),  # an InvalidOrder, but it exists
        (ccxt.OrderNotFound("gone"), OrderNotFound),
        (ccxt.InsufficientFunds("110007"), InsufficientFunds),
        (ccxt.RateLimitExceeded("10006"), RateLimited),  # a NetworkError in ccxt, yet definitive
        (ccxt.InvalidNonce("recv_window"), OrderRejected),
        (ccxt.OnMaintenance("maintenance"), OrderRejected),
        (ccxt.PermissionDenied("ip"), AuthenticationFailed),
        (ccxt.InvalidOrder("tick"), OrderRejected),
        (ccxt.BadSymbol("XYZ"), OrderRejected),
        (ccxt.RequestTimeout("timeout"), Ambiguous),
        (ccxt.ExchangeNotAvailable("502"), Ambiguous),
        (ccxt.NetworkError("reset"), Ambiguous),
        (ccxt.NullResponse("empty"), Ambiguous),
        (TimeoutError(), Ambiguous),
        (ConnectionResetError("peer"), Ambiguous),
    ],
)
def test_ccxt_error_when_mapped_lands_in_the_right_outcome(
    exc: BaseException, expected: type[VenueError]
) -> None:
    mapped = map_ccxt_error("bybit", exc)
    assert type(mapped) is expected
    assert mapped.venue == "bybit"
    assert mapped.code == type(exc).__name__


def test_definitive_and_ambiguous_when_mapped_never_overlap() -> None:
    assert isinstance(map_ccxt_error("okx", ccxt.InvalidOrder("x")), Definitive)
    assert not isinstance(map_ccxt_error("okx", ccxt.RequestTimeout("x")), Definitive)
    assert not isinstance(map_ccxt_error("okx", ccxt.DuplicateOrderId("x")), Definitive | Ambiguous)


async def test_translated_when_ccxt_raises_reraises_ours_and_keeps_cancellation() -> None:
    with pytest.raises(Ambiguous, match="okx: 504 gateway"), translated("okx"):
        raise ccxt.ExchangeNotAvailable("504 gateway")
    with pytest.raises(asyncio.CancelledError), translated("okx"):
        raise asyncio.CancelledError
