"""OKX v5 trading over ccxt: only what sets OKX apart from `CcxtTrading`.

- Symbols are unique per product ("BTC-USDT", "BTC-USDT-SWAP"); swap sizes are contracts.
- Fee rates: `GET /api/v5/account/trade-fee?instType=...` gives the account's rate for a whole
  instrument type; USDT-margined swaps read `makerU`/`takerU` (ccxt reads the crypto-margined
  `maker`/`taker` first). OKX prints commissions as negative rates; ours are positive.
- Recent fills: `GET /api/v5/trade/fills` (the last 3 days), paged backwards by `billId`;
  older windows go to `/api/v5/trade/fills-history` (3 months), one instrument type at a time.
  A fill is dated by `fillTime` (as the private stream dates it) and keeps its fee coin
  (`feeCcy`) when OKX prints no fee amount ("").
- Balances: `GET /api/v5/account/balance` read by `arbiter_okx.balances`, as the private
  `account` channel is (total `cashBal`, free `availBal`; not ccxt's `eq`).
- Positions: swaps only (`instType` SWAP).
- Funding settlements: `GET /api/v5/account/bills` (the last 7 days; older windows
  `/api/v5/account/bills-archive`, 3 months) of type 8, newest first, paged backwards by
  `billId` (`arbiter_okx.bills`); a bill that cannot be read is logged and skipped, so one bad
  row never stalls a reconciliation.
- Orders go to `POST /api/v5/trade/order` (ccxt's default is batch-orders), placed and
  cancelled by our own signed requests (`order_entry`); the rest is ccxt's.
- A duplicate `clOrdId` is sCode 51016, which ccxt files as a plain `InvalidOrder`.
- Limits: OKX's published ones (`arbiter_okx.limits`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

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
    FundingSettlement,
    MalformedAnswer,
    VenueError,
    dec,
    kind_of,
)
from arbiter_okx.balances import read_balance
from arbiter_okx.bills import FUNDING_FEE, funding_from_bill
from arbiter_okx.instruments import parse_instruments
from arbiter_okx.limits import OKX_LIMITS
from arbiter_okx.order_entry import OkxOrderEntry
from arbiter_okx.order_rows import cancel_reason

_INST_TYPE = {"spot": "SPOT", "perp": "SWAP"}
_PAGE = 100  # the largest page /api/v5/trade/fills serves
_RECENT_FILLS_MS = 3 * 24 * 3600 * 1000 - 60_000  # /trade/fills' window, less a minute of skew
_RECENT_BILLS_MS = 7 * 24 * 3600 * 1000 - 60_000  # /account/bills' window, likewise


class OkxTrading(CcxtTrading):
    exchange_id = "okx"
    client_id_param = "clOrdId"
    market_types = ("spot", "swap")
    # ccxt places a single order through batch-orders by default; the single-order endpoint
    # answers for exactly the order we sent, under its own (per-instrument) rate limit.
    client_options: ClassVar[Mapping[str, Any]] = {"createOrder": "privatePostTradeOrder"}
    default_limits = OKX_LIMITS
    capabilities = Capabilities(extra={"perp_units": "contracts (Instrument.contract_value)"})
    error_codes: ClassVar[Mapping[str, type[VenueError]]] = {"51016": DuplicateClientId}
    error_code_keys = ("code", "sCode")
    order_entry = OkxOrderEntry

    def parse_instruments(self, rows: list[dict[str, Any]]) -> list[Instrument]:
        return parse_instruments({"code": "0", "data": rows}, venue=self.name)

    async def fee_table(self, kinds: list[str]) -> FeeTable:
        table: FeeTable = {}
        markets = self.tradable_markets()
        for kind in kinds:
            answer = await self.client.privateGetAccountTradeFee({"instType": _INST_TYPE[kind]})
            rows = answer.get("data") or []
            if not rows:
                raise MalformedAnswer(f"{self.name}: trade-fee for {_INST_TYPE[kind]} is empty")
            maker, taker = self._rates(rows[0], kind)
            for market in markets:
                if kind_of(market) == kind:
                    table[(kind, market["id"])] = (maker, taker)
        return table

    def _rates(self, row: Mapping[str, Any], kind: str) -> tuple[Decimal, Decimal]:
        what = f"{self.name} trade-fee {_INST_TYPE[kind]}"
        maker_key, taker_key = "maker", "taker"
        if kind == "perp" and row.get("makerU") and row.get("takerU"):
            maker_key, taker_key = "makerU", "takerU"
        return (
            -dec(row.get(maker_key), f"{what} {maker_key}"),
            -dec(row.get(taker_key), f"{what} {taker_key}"),
        )

    async def fill_rows(self, market: CcxtMarket | None, since_ms: int) -> list[dict[str, Any]]:
        base: dict[str, Any] = {"begin": since_ms, "limit": _PAGE}
        if market is not None:
            base["instId"] = market["id"]
        if process_clock.wall_ms() - since_ms < _RECENT_FILLS_MS:
            return await self._pages(self.client.privateGetTradeFills, base, market)
        # fills-history wants an instrument type.
        types = [_INST_TYPE[kind_of(market)]] if market else list(_INST_TYPE.values())
        trades: list[dict[str, Any]] = []
        for inst_type in types:
            params = base | {"instType": inst_type}
            trades += await self._pages(self.client.privateGetTradeFillsHistory, params, market)
        return trades

    async def _pages(
        self, endpoint: Any, params: dict[str, Any], market: CcxtMarket | None
    ) -> list[dict[str, Any]]:
        return [self._trade(row, market) for row in await self._rows(endpoint, params)]

    def _trade(self, row: Mapping[str, Any], market: CcxtMarket | None) -> dict[str, Any]:
        """ccxt's trade of one fills row, with what ccxt loses put back: the fee's coin when
        OKX prints no amount (`fee` "", `feeCcy` kept), and the fill's own time."""
        trade: dict[str, Any] = self.client.parse_trade(row, market)
        fee = trade.get("fee") or {}
        coin = str(row.get("feeCcy") or "")
        if coin and not fee.get("currency"):
            trade["fee"] = {
                "cost": fee.get("cost") or "0",
                "currency": self.client.safe_currency_code(coin),
            }
        if row.get("fillTime"):
            # ccxt dates a fill by `ts`, when OKX wrote the row; the private stream dates it by
            # `fillTime`, when it traded: one fill must have one time on both paths.
            trade["timestamp"] = int(row["fillTime"])
        return trade

    async def _rows(self, endpoint: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every page's raw rows, newest first, each page older than the last `billId` seen."""
        rows: list[dict[str, Any]] = []
        params = dict(params)
        while True:
            page = (await endpoint(params)).get("data") or []
            rows += page
            if len(page) < _PAGE:
                return rows
            last = str(page[-1].get("billId") or "")
            if not last or last == params.get("after"):
                raise MalformedAnswer(f"{self.name}: page ends without a new billId")
            params["after"] = last

    async def account_events(self, since_ms: int) -> list[AccountEvent]:
        self._require_started()
        params = {"instType": "SWAP", "type": FUNDING_FEE, "begin": since_ms, "limit": _PAGE}
        recent = process_clock.wall_ms() - since_ms < _RECENT_BILLS_MS
        endpoint = (
            self.client.privateGetAccountBills
            if recent
            else self.client.privateGetAccountBillsArchive
        )
        with self._translated():
            rows = await self._rows(endpoint, params)
        settled: list[FundingSettlement] = []
        for row in rows:
            try:
                event = funding_from_bill(self.name, row, process_clock.monotonic_ns())
            except ValueError as exc:
                logger.bind(venue=self.name).error("bill skipped: {}: {}", exc, row)
                continue
            if event.ts_venue_ms >= since_ms:
                settled.append(event)
        settled.sort(key=lambda e: (e.ts_venue_ms, e.settlement_id))
        return list(settled)

    async def fetch_open(self, ccxt_symbol: str | None, params: dict[str, Any]) -> list[Any]:
        """orders-pending pages hold 100 orders, newest first; `after` asks for older ones."""
        rows: list[Any] = []
        params = dict(params)
        while True:
            page = await self.client.fetch_open_orders(ccxt_symbol, None, _PAGE, params)
            rows += page
            if len(page) < _PAGE:
                return rows
            last = str(page[-1].get("id") or "")
            if not last or last == params.get("after"):
                raise MalformedAnswer(f"{self.name}: open orders page ends without a new ordId")
            params["after"] = last

    async def balances(self) -> dict[str, Balance]:
        """Read as the `account` channel is (`arbiter_okx.balances`); ccxt's own reading takes
        equity (`eq`) for the total, which includes unrealized PnL."""
        self._require_started()
        out: dict[str, Balance] = {}
        with self._translated():
            answer = await self.client.privateGetAccountBalance()
            for account in answer.get("data") or []:
                for detail in account.get("details") or []:
                    try:
                        balance = read_balance(detail)
                    except ValueError as exc:
                        raise MalformedAnswer(f"{self.name} balance: {exc}") from exc
                    out[balance.asset] = balance
        return out

    def position_params(self) -> Mapping[str, Any]:
        # Swaps only: OKX also lists margin positions, under the spot instrument's name.
        return {"instType": "SWAP"}

    def cancel_reason(self, info: Mapping[str, Any]) -> str:
        return cancel_reason(info)
