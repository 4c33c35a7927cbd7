"""What an OKX balance is: one reading of a currency's `details` row, for the `account` channel
and `GET /api/v5/account/balance` alike, so a reconciliation never changes what a figure means.

OKX prints several figures per currency; we keep two:

- total is `cashBal`, what the account holds of the coin. Not `eq`: equity adds the unrealized
  PnL of positions (and, in isolated margin, the margin moved into them), so it moves with every
  mark price, and the runtime keeps PnL from positions itself. Fills, fees and (in cross margin)
  funding change `cashBal`, which is what the pre-trade funds check and the ledger count.
- free is `availBal`, what can back a new order: the cash less what open orders (`ordFrozen`)
  and positions hold. Where OKX leaves it "" (some account modes), free is `cashBal` less
  `frozenBal` ("" counts as nothing), and never more than the total.

Numbers are read exactly; a row without `ccy` or `cashBal` raises `ValueError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arbiter.venues import Balance, field_signed, field_text


def read_balance(detail: Mapping[str, Any]) -> Balance:
    """One currency's row of `details` as our `Balance` (free, total)."""
    asset = field_text(detail, "ccy")
    total = field_signed(detail, "cashBal")
    if detail.get("availBal"):
        free = field_signed(detail, "availBal")
    else:
        free = min(total, total - field_signed(detail, "frozenBal", default="0"))
    return Balance(asset, free, total)
