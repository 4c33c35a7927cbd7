"""Bybit's published limits: its client order ids and its rates.

- Client order ids (`orderLinkId`): at most 36 of `[A-Za-z0-9_-]`.
- Rates (v5, per UID): order create/amend/cancel 10/s on linear; most private reads 50/s; ccxt
  weighs each endpoint against a 20 ms base interval (50 requests/s).
"""

from __future__ import annotations

import re

from arbiter.venues import ClientIdRules, VenueLimits

BYBIT_CLIENT_IDS = ClientIdRules("bybit", re.compile(r"[A-Za-z0-9_-]{1,36}"), 36)
BYBIT_LIMITS = VenueLimits(BYBIT_CLIENT_IDS, orders_per_second=10, requests_per_second=50)
