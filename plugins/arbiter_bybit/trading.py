"""Bybit v5 trading over ccxt: only what sets Bybit apart from `CcxtTrading`.

- Spot and linear perps share symbols ("BTCUSDT"), so requests carry `kind`, and queries by
  client id look in both categories when we did not place the order in this process.
- Fee rates: `GET /v5/account/fee-rate?category=...` lists every symbol of a category at once.
- Recent fills: `GET /v5/execution/list` per category, paged by `nextPageCursor`; only its
  Trade rows are fills, each read against its category's market, its fee in Bybit's own
  `feeCurrency` whenever Bybit names one. Its Funding, AdlTrade and BustTrade rows (linear) are the account's
  own events (`account_events`), read by the same rule as the private stream's
  (`arbiter_bybit.executions`); a row that cannot be read is logged and skipped, so one bad
  row never stalls a reconciliation.
- Balances: `GET /v5/account/wallet-balance`, free by the stream's rule (`arbiter_bybit.wallet`),
  never `availableToWithdraw`.
- An order by client id: `/v5/order/realtime` (open and recent), then `/v5/order/history`.
- A duplicate `orderLinkId` is retCode 110072, which ccxt files as a plain `InvalidOrder`.
- Placing and cancelling are signed here, not by ccxt (`order_entry`); the rest is ccxt's.
- Limits: Bybit's published ones (`arbiter_bybit.limits`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import ccxt
from loguru import logger

from arbiter import clock as process_clock
from arbiter.market.instrument import Instrument
from arbiter.venues import (
    AccountEvent,
    Balance,
    Capabilities,
    CcxtMarket,
    CcxtTrading,
    DuplicateClientId,
    FeeTable,
    MalformedAnswer,
    VenueError,
    dec,
    kind_of,
)
from arbiter_bybit.executions import TRADE, account_event, exec_type
from arbiter_bybit.instruments import parse_instruments
from arbiter_bybit.limits import BYBIT_LIMITS
from arbiter_bybit.order_entry import BybitOrderEntry
from arbiter_bybit.streams import order_reason
from arbiter_bybit.wallet import coin_balance

_CATEGORY = {"spot": "spot", "perp": "linear"}
_PAGE = 100  # the largest page /v5/execution/list serves


class BybitTrading(CcxtTrading):
    exchange_id = "bybit"
    client_id_param = "orderLinkId"
    market_types = ("spot", "linear")
    default_limits = BYBIT_LIMITS
    capabilities = Capabilities(
        extra={"symbols": "spot and linear share symbols: orders must name their kind"}
    )
    error_codes: ClassVar[Mapping[str, type[VenueError]]] = {"110072": DuplicateClientId}
    error_code_keys = ("retCode",)
    error_message_keys = ("retMsg",)
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

    async def fill_rows(self, market: CcxtMarket | None, since_ms: int) -> list[dict[str, Any]]:
        categories = [_CATEGORY[kind_of(market)]] if market else list(_CATEGORY.values())
        trades: list[dict[str, Any]] = []
        for category in categories:
            params: dict[str, Any] = {"category": category, "startTime": since_ms, "limit": _PAGE}
            if market is not None:
                params["symbol"] = market["id"]
            for row in await self._execution_rows(params):
                if exec_type(row) != TRADE:
                    continue
                row_market = market or self._market_in(category, row)
                if row_market is None:
                    # A trade on a product we do not trade (a USDC perp, an unlisted symbol):
                    # none of our orders is behind it, and no market to read it against.
                    logger.bind(venue=self.name).info(
                        "execution of an untraded product skipped: {} {}",
                        category,
                        row.get("symbol"),
                    )
                    continue
                trades.append(self._trade(row, row_market))
        return trades

    def _trade(self, row: dict[str, Any], market: CcxtMarket | None) -> dict[str, Any]:
        """One Trade row as ccxt's trade. ccxt must be given the row's market: a REST row has
        no `category`, and ccxt takes one with `createType` for a perp's, so a spot fill would
        be read against the linear market (its fee in USDT, whatever the coin). Bybit's own
        `feeCurrency` wins over ccxt's guess whenever Bybit sends one."""
        trade: dict[str, Any] = self.client.parse_trade(row, market)
        fee_coin = row.get("feeCurrency")
        if isinstance(fee_coin, str) and fee_coin and trade.get("fee"):
            trade["fee"] = {**trade["fee"], "currency": fee_coin}
        return trade

    def _market_in(self, category: str, row: dict[str, Any]) -> CcxtMarket | None:
        """The market of `category` ("spot", "linear") listed under the row's symbol."""
        listed: list[CcxtMarket] = self.client.markets_by_id.get(row.get("symbol"), [])
        spot = category == "spot"
        return next((m for m in listed if _tradable_as(m, spot)), None)

    async def account_events(self, since_ms: int) -> list[AccountEvent]:
        self._require_started()
        params: dict[str, Any] = {"category": "linear", "startTime": since_ms, "limit": _PAGE}
        events: list[AccountEvent] = []
        with self._translated():
            rows = await self._execution_rows(params)
        for row in rows:
            try:
                if exec_type(row) == TRADE:
                    continue
                event = account_event(
                    self.name,
                    row,
                    self._settle_coin(row.get("symbol")),
                    0,
                    process_clock.monotonic_ns(),
                )
            except ValueError as exc:
                logger.bind(venue=self.name).error("execution row skipped: {}: {}", exc, row)
                continue
            if event is not None and event.ts_venue_ms >= since_ms:
                events.append(event)
        return sorted(events, key=lambda e: e.ts_venue_ms)

    async def _execution_rows(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every page of `/v5/execution/list` for `params`, as Bybit's raw rows."""
        rows: list[dict[str, Any]] = []
        params = dict(params)
        cursors: set[str] = set()
        while True:
            result = (await self.client.privateGetV5ExecutionList(params))["result"]
            rows += result["list"]
            cursor = result.get("nextPageCursor") or ""
            if not cursor:
                return rows
            if cursor in cursors:
                raise MalformedAnswer(f"{self.name}: execution list repeats cursor {cursor!r}")
            cursors.add(cursor)
            params["cursor"] = cursor

    def _settle_coin(self, symbol: object) -> str:
        markets = self.client.markets_by_id.get(symbol, []) if isinstance(symbol, str) else []
        return next((str(m.get("settle") or "") for m in markets if m.get("swap")), "")

    async def find_by_client_id(self, market: CcxtMarket, client_id: str) -> dict[str, Any] | None:
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

    async def balances(self) -> dict[str, Balance]:
        """Every coin of the wallet, free by `arbiter_bybit.wallet`'s rule (ccxt's own reading
        takes `availableToWithdraw`, which Bybit sends as "0" on a funded unified account)."""
        self._require_started()
        with self._translated():
            answer = await self.client.fetch_balance()
        out: dict[str, Balance] = {}
        for account in answer.get("info", {}).get("result", {}).get("list", []):
            for coin in account.get("coin") or []:
                try:
                    asset, free, total = coin_balance(coin)
                except ValueError as exc:
                    raise MalformedAnswer(f"{self.name} wallet-balance: {exc}") from exc
                out[asset] = Balance(asset, free, total)
        return out

    def position_params(self) -> Mapping[str, Any]:
        return {"type": "swap", "subType": "linear"}

    def cancel_reason(self, info: Mapping[str, Any]) -> str:
        return order_reason(info)


def _tradable_as(market: CcxtMarket, spot: bool) -> bool:
    return bool(market.get("spot")) if spot else bool(market.get("swap") and market.get("linear"))
