"""Orders as ccxt arguments, refused here when the venue would refuse them for our own fault.

Everything in this module runs before a request leaves: a client id outside the venue's rules,
a product the symbol does not name unambiguously, reduce-only on spot, a size or price off the
market's grid. Each refusal is an `OrderRejected` (definitive: nothing was sent), so execution
never meets an ambiguous outcome for an order that could not have existed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt

from arbiter.venues.contract.client_ids import ClientIdRules
from arbiter.venues.contract.errors import OrderRejected
from arbiter.venues.contract.orders import OrderRequest, OrderType, TimeInForce

CcxtMarket = dict[str, Any]  # a ccxt market structure


def kind_of(market: CcxtMarket) -> str:
    return "spot" if market.get("spot") else "perp"


def choose_market(
    venue: str, rules: ClientIdRules, listed: list[CcxtMarket], request: OrderRequest
) -> CcxtMarket:
    """The one market of `listed` (the request symbol's products) the request can go to."""
    try:
        rules.check(request.client_id)
    except ValueError as exc:
        raise OrderRejected(venue, str(exc), "client_id") from None
    cid, symbol = request.client_id, request.symbol
    markets = listed
    if request.kind is not None:
        markets = [m for m in listed if kind_of(m) == request.kind]
        if not markets:
            raise OrderRejected(venue, f"{cid}: {symbol} is not listed as {request.kind}", "symbol")
    if len(markets) > 1:
        kinds = " and ".join(kind_of(m) for m in markets)
        raise OrderRejected(
            venue, f"{cid}: {symbol} is listed as {kinds}; expected kind to say which", "kind"
        )
    market = markets[0]
    if request.reduce_only and kind_of(market) == "spot":
        raise OrderRejected(venue, f"{cid}: reduce-only applies to perps only", "reduce_only")
    if request.type is OrderType.MARKET and request.tif in (TimeInForce.POST_ONLY, TimeInForce.FOK):
        raise OrderRejected(venue, f"{cid}: a market order cannot be {request.tif.value}", "tif")
    return market


def exact(client: Any, venue: str, market: CcxtMarket, value: Decimal, what: str) -> str:
    """`value` ("qty" or "price") as the string ccxt will send, refused when ccxt would have to
    round it: it must already be on the market's grid."""
    convert = client.amount_to_precision if what == "qty" else client.price_to_precision
    try:
        text = str(convert(market["symbol"], format(value, "f")))
    except ccxt.BaseError as exc:
        raise OrderRejected(venue, f"{market['id']}: {what} {value}: {exc}", what) from None
    if Decimal(text) != value:
        step = market["precision"]["amount" if what == "qty" else "price"]
        raise OrderRejected(
            venue, f"{market['id']}: {what} {value} is not a multiple of {step}", "off_grid"
        )
    return text


def order_params(request: OrderRequest) -> dict[str, Any]:
    """ccxt's unified parameters for the request's client id, time in force and reduce-only."""
    params: dict[str, Any] = {"clientOrderId": request.client_id}
    if request.type is OrderType.LIMIT:
        if request.tif is TimeInForce.POST_ONLY:
            params["postOnly"] = True
        else:
            params["timeInForce"] = request.tif.value.upper()
    if request.reduce_only:
        params["reduceOnly"] = True
    return params
