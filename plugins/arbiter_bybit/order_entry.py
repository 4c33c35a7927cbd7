"""Bybit v5 order entry, signed here rather than through ccxt (see `arbiter.venues.OrderEntry`).

- `POST /v5/order/create` and `POST /v5/order/cancel`, JSON bodies; spot and linear perps share
  symbols, so `category` says which.
- Signature: hex HMAC-SHA256 of timestamp + API key + recv window + the raw JSON body, in the
  `X-BAPI-*` headers; the venue refuses a timestamp outside
  `server_time - recv_window <= timestamp < server_time + 1000` (ccxt's `recvWindow` option).
- Accepted: `retCode` 0, the order id in `result.orderId`. Anything else goes to ccxt's Bybit
  error table (110072 duplicate `orderLinkId`, 110007 / 170131 funds, 10006 rate limit, ...).
- A spot market order's `qty` is in the base coin (`marketUnit: baseCoin`), as `OrderRequest`
  means it; Bybit's default for a spot market buy would be the quote coin.
"""

from __future__ import annotations

from typing import Any

from arbiter.venues import CcxtMarket, OrderEntry, OrderRequest, OrderType, Side, TimeInForce

_SIDE = {Side.BUY: "Buy", Side.SELL: "Sell"}
_TIF = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
    TimeInForce.POST_ONLY: "PostOnly",
}


class BybitOrderEntry(OrderEntry):
    api_url = "private"
    place_path = "/v5/order/create"
    cancel_path = "/v5/order/cancel"

    def place_body(
        self, market: CcxtMarket, request: OrderRequest, amount: str, price: str | None
    ) -> dict[str, Any]:
        spot = bool(market.get("spot"))
        body: dict[str, Any] = {
            "category": "spot" if spot else "linear",
            "symbol": market["id"],
            "side": _SIDE[request.side],
            "orderType": "Limit" if request.type is OrderType.LIMIT else "Market",
            "qty": amount,
            "orderLinkId": request.client_id,
        }
        if request.type is OrderType.LIMIT:
            body["price"] = price
            body["timeInForce"] = _TIF[request.tif]
        elif spot:
            body["marketUnit"] = "baseCoin"
        if request.reduce_only:
            body["reduceOnly"] = True
        return body

    def cancel_body(self, market: CcxtMarket, client_id: str) -> dict[str, Any]:
        category = "spot" if market.get("spot") else "linear"
        return {"category": category, "symbol": market["id"], "orderLinkId": client_id}

    def signed_headers(self, method: str, path: str, body: str) -> dict[str, str]:
        timestamp = str(self.now_ms())
        window = str(self.client.options.get("recvWindow") or 5000)
        payload = (timestamp + self.api_key + window + body).encode()
        return {
            "X-BAPI-API-KEY": self.api_key,
            "X-BAPI-TIMESTAMP": timestamp,
            "X-BAPI-RECV-WINDOW": window,
            "X-BAPI-SIGN": self.hmac_sha256(payload).hex(),
        }

    def accepted(self, answer: Any) -> bool:
        return isinstance(answer, dict) and str(answer.get("retCode")) == "0"

    def refused(self, answer: Any) -> bool:
        return isinstance(answer, dict) and str(answer.get("retCode", "0")) != "0"

    def order_id(self, answer: Any) -> str:
        result = answer.get("result")
        return str(result.get("orderId") or "") if isinstance(result, dict) else ""
