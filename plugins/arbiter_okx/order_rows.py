"""What an OKX order row means where ccxt's reading and ours must agree: the REST rows
(`/trade/order`, `orders-pending`, `orders-history`) and the `orders` channel's pushes carry the
same row, so both paths read these two things through here.

- Size: `sz` is in the instrument's units (base coin for spot, contracts for swaps), except a
  spot market buy sized in the quote coin (`tgtCcy` quote_ccy), whose `sz` is an amount of
  quote; its base size is known only as what filled (`accFillSz`), as ccxt reads it too.
- Why it was cancelled: OKX's own words (`cancelSourceReason`), else its code (`cancelSource`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from arbiter.venues import field_decimal


def sized_in_quote(row: Mapping[str, Any]) -> bool:
    return (
        row.get("tgtCcy") == "quote_ccy"
        and row.get("instType") == "SPOT"
        and row.get("ordType") == "market"
        and row.get("side") == "buy"
    )


def base_size(row: Mapping[str, Any]) -> Decimal:
    """The order's size in the instrument's units."""
    return field_decimal(row, "accFillSz" if sized_in_quote(row) else "sz")


def cancel_reason(row: Mapping[str, Any]) -> str:
    return str(row.get("cancelSourceReason") or row.get("cancelSource") or "")
