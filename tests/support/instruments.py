"""Instruments several tests share."""

from __future__ import annotations

from decimal import Decimal

from arbiter.market.instrument import Instrument, InstrumentKind

# OKX's BTC swap trades contracts of 0.01 BTC: legs must be compared in base, never in venue units.
OKX_BTC_PERP = Instrument(
    "okx",
    "BTC-USDT-SWAP",
    InstrumentKind.PERP,
    "BTC",
    "USDT",
    Decimal("0.1"),
    Decimal("0.01"),
    contract_value=Decimal("0.01"),
)
