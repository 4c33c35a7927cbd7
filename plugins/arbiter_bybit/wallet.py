"""What a coin of a Bybit (unified) wallet holds and how much of it is free: one rule for the
private `wallet` topic and for REST `GET /v5/account/wallet-balance`, which list the account's
coins in the same words.

- `walletBalance` is the total.
- Free is `walletBalance - locked - totalPositionIM - totalOrderIM`, each of the three counted 0
  when Bybit leaves it out or sends "" (it does both: the documentation's wallet push sends ""
  for the margins of a coin that backs none), and never below 0 (a loss can leave the margins
  above the balance).
- `availableToWithdraw` is not read: on a unified account Bybit sends "0" (or "") for it with
  tens of thousands of USDT in the wallet, and a pre-trade check on free balance would then
  refuse every order.
- `spotBorrow`, `borrowAmount`, `equity` and the account-wide totals are not read.

Fields are read exactly (`arbiter.venues.field_text` and its siblings); a coin without `coin` or
`walletBalance` raises `ValueError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from arbiter.venues import field_signed, field_text

HELD = ("locked", "totalPositionIM", "totalOrderIM")
ZERO = Decimal(0)


def coin_balance(coin: Mapping[str, Any]) -> tuple[str, Decimal, Decimal]:
    """(asset, free, total) of one entry of a wallet's `coin` list."""
    asset = field_text(coin, "coin")
    total = field_signed(coin, "walletBalance")
    held = sum((field_signed(coin, key, default="0") for key in HELD), ZERO)
    return asset, max(total - held, ZERO), total
