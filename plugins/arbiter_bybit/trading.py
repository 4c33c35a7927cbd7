"""Bybit v5 trading over ccxt: only what sets Bybit apart from `CcxtTrading`.

- Spot and linear perps share symbols ("BTCUSDT"), so requests carry `kind`, and queries by
  client id look in both categories when we did not place the order in this process.
- Fee rates: `GET /v5/account/fee-rate?category=...` lists every symbol of a category at once.
- Recent fills: `GET /v5/execution/list` per category, paged by `nextPageCursor`.
- An order by client id: `/v5/order/realtime` (open and recent), then `/v5/order/history`.
- A duplicate `orderLinkId` is retCode 110072, which ccxt files as a plain `InvalidOrder`.
- Placing and cancelling are signed here, not by ccxt (`order_entry`); the rest is ccxt's.

Published limits (v5, per UID): order create/amend/cancel 10/s on linear; most private reads
50/s; ccxt weighs each endpoint against a 20 ms base interval (50 requests/s).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import ccxt

from arbiter.market.instrument import Instrument
from arbiter.venues.ccxt_convert import MalformedAnswer, dec
from arbiter.venues.ccxt_requests import Market, kind_of
from arbiter.venues.ccxt_trading import CcxtTrading, FeeTable
from arbiter.venues.client_ids import BYBIT_CLIENT_IDS
from arbiter.venues.contract import Capabilities, VenueLimits
from arbiter.venues.errors import DuplicateClientId, VenueError
from arbiter_bybit.instruments import parse_instruments
from arbiter_bybit.order_entry import BybitOrderEntry

_CATEGORY = {"spot": "spot", "perp": "linear"}
_PAGE = 100  # the largest page /v5/execution/list serves


class BybitTrading(CcxtTrading):
    exchange_id = "bybit"
    client_id_param = "orderLinkId"
    market_types = ("spot", "linear")
    default_limits = VenueLimits(BYBIT_CLIENT_IDS, orders_per_second=10, requests_per_second=50)
    capabilities = Capabilities(
        extra={"symbols": "spot and linear share symbols: orders must name their kind"}
    )
    error_codes: ClassVar[Mapping[str, type[VenueError]]] = {"110072": DuplicateClientId}
    error_code_keys = ("retCode",)
    order_entry = BybitOrderEntry

    def parse_instruments(self, rows: list[dict[str, Any]]) -> list[Instrument]:
        return parse_instruments({"retCode": 0, "result": {"list": rows}}, venue=self.name)

    async def fee_table(self, kinds: list[str]) -> FeeTable:
        table: FeeTable = {}
        for kind in kinds:
            answer = await self.client.privateGetV5AccountFeeRate({"category": _CATEGORY[kind]})
            for row in answer["result"]["list"]:
                what = f"{self.name} fee rate {row.get('symbol')!r}"
                table[(kind, row["symbol"])] = (
                    dec(row.get("makerFeeRate"), f"{what} makerFeeRate"),
                    dec(row.get("takerFeeRate"), f"{what} takerFeeRate"),
                )
        return table

    async def fill_rows(self, market: Market | None, since_ms: int) -> list[dict[str, Any]]:
        categories = [_CATEGORY[kind_of(market)]] if market else list(_CATEGORY.values())
        trades: list[dict[str, Any]] = []
        for category in categories:
            params: dict[str, Any] = {"category": category, "startTime": since_ms, "limit": _PAGE}
            if market is not None:
                params["symbol"] = market["id"]
            cursors: set[str] = set()
            while True:
                result = (await self.client.privateGetV5ExecutionList(params))["result"]
                trades += [self.client.parse_trade(row, market) for row in result["list"]]
                cursor = result.get("nextPageCursor") or ""
                if not cursor:
                    break
                if cursor in cursors:
                    raise MalformedAnswer(f"{self.name}: execution list repeats cursor {cursor!r}")
                cursors.add(cursor)
                params["cursor"] = cursor
        return trades

    async def find_by_client_id(self, market: Market, client_id: str) -> dict[str, Any] | None:
        symbol = market["symbol"]
        try:
            # ccxt sends the (empty) order id too; Bybit reads an empty one as not given.
            found: dict[str, Any] = await self.client.fetch_order(
                "", symbol, {"orderLinkId": client_id, "acknowledged": True}
            )
        except ccxt.OrderNotFound:
            pass
        else:
            return found
        older = await self.client.fetch_canceled_and_closed_orders(
            symbol, None, None, {"orderLinkId": client_id}
        )
        return dict(older[0]) if older else None

    async def fetch_open(self, ccxt_symbol: str | None, params: dict[str, Any]) -> list[Any]:
        # /v5/order/realtime serves 50 orders a page at most; ccxt follows nextPageCursor.
        rows: list[Any] = await self.client.fetch_open_orders(
            ccxt_symbol, None, None, params | {"paginate": True}
        )
        return rows

    def open_order_scopes(self) -> list[Mapping[str, Any]]:
        return [{"type": "spot"}, {"type": "swap", "subType": "linear"}]

    def position_params(self) -> Mapping[str, Any]:
        return {"type": "swap", "subType": "linear"}

    def cancel_reason(self, info: Mapping[str, Any]) -> str:
        reject = str(info.get("rejectReason") or "")
        if reject and reject != "EC_NoError":
            return reject
        cancel = str(info.get("cancelType") or "")
        return cancel if cancel not in ("", "UNKNOWN") else ""
