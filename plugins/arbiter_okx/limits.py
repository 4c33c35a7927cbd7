"""OKX's published limits: its client order ids and its rates.

- Client order ids (`clOrdId`): letters and digits, at most 32.
- Rates: place/amend/cancel 60 requests per 2 s (30/s) per instrument; ccxt weighs each
  endpoint against a 110 ms base interval (about 9 requests/s).
"""

from __future__ import annotations

import re

from arbiter.venues import ClientIdRules, VenueLimits

OKX_CLIENT_IDS = ClientIdRules("okx", re.compile(r"[A-Za-z0-9]{1,32}"), 32)
OKX_LIMITS = VenueLimits(OKX_CLIENT_IDS, orders_per_second=30, requests_per_second=9)
