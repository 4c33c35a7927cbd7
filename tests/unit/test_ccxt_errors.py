"""ccxt exceptions become 'it did not happen' or 'it may have happened', in the right order."""

from __future__ import annotations

import asyncio

import ccxt
import pytest

from arbiter.venues import (
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
from arbiter.venues.rest.errors import error_codes, map_ccxt_error, translated


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


def test_venue_code_when_named_by_the_plugin_wins_over_ccxt_class() -> None:
    # ccxt files Bybit's duplicate orderLinkId (110072) as a plain InvalidOrder.
    exc = ccxt.InvalidOrder('bybit {"retCode":110072,"retMsg":"OrderLinkedID is duplicate"}')

    mapped = map_ccxt_error("bybit", exc, {"110072": DuplicateClientId}, ("retCode",))

    assert type(mapped) is DuplicateClientId
    assert mapped.code == "110072"


def test_venue_code_when_nested_in_okx_data_is_found() -> None:
    exc = ccxt.InvalidOrder(
        'okx {"code": "1", "msg": "All operations failed", "data": [{"sCode": "51016"}]}'
    )

    assert error_codes(exc, ("code", "sCode")) == ["1", "51016"]
    mapped = map_ccxt_error("okx", exc, {"51016": DuplicateClientId}, ("code", "sCode"))
    assert type(mapped) is DuplicateClientId


@pytest.mark.parametrize(
    "message", ["bybit 502 Bad Gateway", 'bybit {"retCode": 10001}', "okx {not json"]
)
def test_venue_code_when_absent_or_unnamed_falls_back_to_ccxt_class(message: str) -> None:
    mapped = map_ccxt_error(
        "bybit", ccxt.InvalidOrder(message), {"110072": DuplicateClientId}, ("retCode",)
    )
    assert type(mapped) is OrderRejected
