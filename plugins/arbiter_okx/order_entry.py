"""OKX v5 order entry, signed here rather than through ccxt (see `arbiter.venues.OrderEntry`).

- `POST /api/v5/trade/order` and `POST /api/v5/trade/cancel-order`, JSON bodies.
- Signature: base64 HMAC-SHA256 of timestamp (ISO 8601, milliseconds, UTC) + method + request
  path + the raw JSON body, in the `OK-ACCESS-*` headers with the passphrase; demo trading adds
  `x-simulated-trading: 1`, which ccxt keeps in its default headers (sent here too).
- Accepted: `code` "0" with `sCode` "0" on the order's row, the order id in `ordId`. Anything
  else goes to ccxt's OKX error table, which reads each row's `sCode` (51016 duplicate
  `clOrdId`, 51008 funds, 50011 rate limit, ...).
- Spot trades in cash mode with sizes in the base currency (`tgtCcy: base_ccy`, as
  `OrderRequest` means them); swaps in the client's margin mode (ccxt's default, cross) and net
  position mode; a limit order's time in force is its `ordType`.
"""

from __future__ import annotations

import base64
from typing import Any

from arbiter.venues import (
    ApiKeys,
    CcxtMarket,
    OrderEntry,
    OrderRequest,
    OrderType,
    TimeInForce,
    iso8601_ms,
)

_LIMIT_TYPE = {
    TimeInForce.GTC: "limit",
    TimeInForce.IOC: "ioc",
    TimeInForce.FOK: "fok",
    TimeInForce.POST_ONLY: "post_only",
}


class OkxOrderEntry(OrderEntry):
    api_url = "rest"
    place_path = "/api/v5/trade/order"
    cancel_path = "/api/v5/trade/cancel-order"

    @classmethod
    def signs(cls, keys: ApiKeys) -> bool:
        return bool(keys.passphrase) and super().signs(keys)

    def place_body(
        self, market: CcxtMarket, request: OrderRequest, amount: str, price: str | None
    ) -> dict[str, Any]:
        spot = bool(market.get("spot"))
        options = self.client.options
        margin = options.get("defaultMarginMode") or options.get("marginMode") or "cross"
        limit = request.type is OrderType.LIMIT
        body: dict[str, Any] = {
            "instId": market["id"],
            "tdMode": "cash" if spot else margin,
            "side": request.side.value,
            "ordType": _LIMIT_TYPE[request.tif] if limit else "market",
            "sz": amount,
            "clOrdId": request.client_id,
        }
        if spot:
            body["tgtCcy"] = "base_ccy"
        if limit:
            body["px"] = price
        if request.reduce_only:
            body["reduceOnly"] = True
        return body

    def cancel_body(self, market: CcxtMarket, client_id: str) -> dict[str, Any]:
        return {"instId": market["id"], "clOrdId": client_id}

    def signed_headers(self, method: str, path: str, body: str) -> dict[str, str]:
        timestamp = iso8601_ms(self.now_ms())
        digest = self.hmac_sha256((timestamp + method + path + body).encode())
        return {
            "OK-ACCESS-KEY": self.api_key,
            "OK-ACCESS-PASSPHRASE": self.passphrase,
            "OK-ACCESS-TIMESTAMP": timestamp,
            "OK-ACCESS-SIGN": base64.b64encode(digest).decode(),
        }

    def accepted(self, answer: Any) -> bool:
        if not isinstance(answer, dict) or answer.get("code") != "0":
            return False
        rows = answer.get("data")
        return isinstance(rows, list) and all(
            isinstance(row, dict) and str(row.get("sCode", "0")) == "0" for row in rows
        )

    def refused(self, answer: Any) -> bool:
        return isinstance(answer, dict) and str(answer.get("code", "0")) not in ("0", "2")

    def order_id(self, answer: Any) -> str:
        rows = answer.get("data") or [{}]
        return str(rows[0].get("ordId") or "")
