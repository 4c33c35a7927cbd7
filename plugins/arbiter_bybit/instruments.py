"""Bybit v5 `GET /v5/market/instruments-info` responses to `Instrument`s."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter_bybit.codec import VENUE


def parse_instruments(
    payload: bytes | str | dict[str, Any], venue: str = VENUE
) -> list[Instrument]:
    """Every instrument in one instruments-info page (linear perps and spot alike).

    Linear rows carry `contractType` and `lotSizeFilter.qtyStep`; spot rows have neither and
    give their lot as `basePrecision`. Fees are not in this response; the defaults stand.
    """
    doc: Any = payload if isinstance(payload, dict) else msgspec.json.decode(payload)
    if doc.get("retCode") != 0:
        raise ValueError(f"expected retCode 0, was {doc.get('retCode')!r}: {doc.get('retMsg')}")
    instruments = []
    for row in doc["result"]["list"]:
        lot = row["lotSizeFilter"]
        is_perp = "contractType" in row
        instruments.append(
            Instrument(
                venue=venue,
                symbol=row["symbol"],
                kind=InstrumentKind.PERP if is_perp else InstrumentKind.SPOT,
                base=row["baseCoin"],
                quote=row["quoteCoin"],
                tick_size=Decimal(row["priceFilter"]["tickSize"]),
                lot_size=Decimal(lot["qtyStep"] if is_perp else lot["basePrecision"]),
                min_qty=Decimal(lot.get("minOrderQty", "0")),
                min_notional=Decimal(lot.get("minNotionalValue") or lot.get("minOrderAmt") or "0"),
            )
        )
    return instruments
