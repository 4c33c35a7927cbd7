"""What an OKX account bill is, for the account events we book: funding settlements.

OKX's private stream says a funding fee was settled (`balance_and_position`, `eventType`
funding_fee) but not how much; the amount is in the account's bills (`GET
/api/v5/account/bills`, the last 7 days, or `/api/v5/account/bills-archive`, 3 months):

- `type` 8 is a funding fee (`subType` 173 paid, 174 received); `pnl` is the payment from the
  account's side, negative when paid, in cross and isolated margin alike (`balChg` moves the
  cash balance only in cross margin; isolated margin moves `posBalChg` instead);
- `billId` identifies the settlement, `ts` is when it settled, `ccy` the coin, `instId` the
  swap.

Fields are read exactly; a bill that lacks one raises `ValueError` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arbiter.venues import FundingSettlement, field_int, field_signed, field_text

FUNDING_FEE = "8"


def funding_from_bill(venue: str, bill: Mapping[str, Any], recv_ns: int = 0) -> FundingSettlement:
    kind = bill.get("type")
    if kind != FUNDING_FEE:
        raise ValueError(f"expected a funding-fee bill (type {FUNDING_FEE}), was type {kind!r}")
    return FundingSettlement(
        venue=venue,
        symbol=field_text(bill, "instId"),
        amount=field_signed(bill, "pnl"),
        asset=field_text(bill, "ccy"),
        settlement_id=field_text(bill, "billId"),
        ts_venue_ms=field_int(bill.get("ts")),
        ts_local_ns=recv_ns,
    )
