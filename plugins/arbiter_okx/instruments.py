"""OKX v5 `GET /api/v5/public/instruments` responses to `Instrument`s."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter_okx.codec import VENUE


def parse_instruments(
    payload: bytes | str | dict[str, Any], venue: str = VENUE
) -> list[Instrument]:
    """Spot and linear-swap instruments of one response; inverse swaps are skipped.

    An inverse swap's contract is worth a fixed amount of *quote* (ctVal USD), so its base value
    per contract moves with the price and cannot be an `Instrument.contract_value`.
    """
    doc: Any = payload if isinstance(payload, dict) else msgspec.json.decode(payload)
    if doc.get("code") != "0":
        raise ValueError(f"expected code '0', was {doc.get('code')!r}: {doc.get('msg')}")
    instruments = []
    for row in doc["data"]:
        inst_type = row["instType"]
        if inst_type == "SWAP" and row.get("ctType") == "linear":
            base, _, quote = row["instFamily"].partition("-")
            kind = InstrumentKind.PERP
            contract_value = Decimal(row["ctVal"])
        elif inst_type == "SPOT":
            base, quote = row["baseCcy"], row["quoteCcy"]
            kind = InstrumentKind.SPOT
            contract_value = Decimal(1)
        else:
            continue
        instruments.append(
            Instrument(
                venue=venue,
                symbol=row["instId"],
                kind=kind,
                base=base,
                quote=quote,
                tick_size=Decimal(row["tickSz"]),
                lot_size=Decimal(row["lotSz"]),
                min_qty=Decimal(row.get("minSz") or "0"),
                contract_value=contract_value,
            )
        )
    return instruments
