"""One `TradingVenue` over ccxt's async clients; a plugin supplies only its venue's quirks.

What ccxt unifies is done here once: orders (limit/market, GTC/IOC/FOK/post-only, reduce-only)
with client order ids, queries, cancels and amends by client id, open orders, balances,
positions, exact number handling and error translation. A subclass states its venue in class
attributes (ccxt id, the venue's client id parameter, market types, limits, error codes and the
keys of its own error message) and implements these hooks:

- `parse_instruments(rows)`: the venue's raw instrument rows (ccxt keeps them as `info`) to
  `Instrument`s, with the plugin's own parser;
- `fee_table(kinds)`: the account's maker/taker rates for whole product types;
- `fill_rows(market, since_ms)`: recent executions of our orders as ccxt trades, paged the
  venue's way (a venue that lists funding or forced executions among them leaves those out);
- `account_events(since_ms)`: funding settlements and forced executions from the venue's own
  records (none by default: a venue without perps has nothing to read).

Where ccxt's unified call does not fit the venue it may also override `find_by_client_id`,
`fetch_open` (paging), `open_order_scopes`, `position_params` and `cancel_reason`.

Placing and cancelling are the order path's hot half: a plugin that names an `order_entry`
(`arbiter.venues.order_path.entry`) sends those two as its own signed requests on its own
connections, after the same checks, and leaves the rest to ccxt. `begin_order` writes such a
request before it returns whenever it can, so the gateway writes both legs of a pair before it
waits for either answer. Without one, with keys it cannot sign for, or with a proxy configured
on the client, ccxt's `create_order` and `cancel_order` do it (and `begin_order` is a task of
`place_order`).

Symbols are the venue's own ("BTCUSDT", "BTC-USDT-SWAP"); a request's `kind` picks spot or perp
when a venue lists both under one symbol (Bybit). Everything the venue would refuse for our own
fault (a client id outside its rules, a size off the lot grid, an unknown product) is refused
here, before anything is sent, as a `Definitive` error (`rest.requests`).

Rate limits, honouring each venue's published limits through `VenueLimits`:
- every HTTP request passes ccxt's own throttler (`enableRateLimit`), which weighs each endpoint
  as the venue documents it; its base interval is `1000 / limits.requests_per_second` ms;
- orders (place, cancel, amend) also take a token from our bucket of
  `limits.orders_per_second`, the per-account order limit the risk layer plans with. Orders sent
  through the `order_entry` pass only this bucket: the venues count order endpoints apart from
  reads (Bybit per endpoint and UID, OKX per endpoint and instrument).

Only the contract's errors (`contract.errors`) leave this class (see `rest.errors`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar

import ccxt

from arbiter.market.instrument import Instrument
from arbiter.venues.contract.config import VenueConfig
from arbiter.venues.contract.errors import OrderNotFound, OrderRejected, VenueError
from arbiter.venues.contract.limits import Capabilities, VenueLimits
from arbiter.venues.contract.orders import (
    AccountEvent,
    Fill,
    OrderAck,
    OrderRequest,
    OrderUpdate,
    PositionUpdate,
)
from arbiter.venues.contract.trading import Balance, FeeRate
from arbiter.venues.order_path.entry import OrderEntry, SentRequest, on_grid, routed_directly
from arbiter.venues.order_path.ratelimit import TokenBucket
from arbiter.venues.rest import convert
from arbiter.venues.rest.client import build_client
from arbiter.venues.rest.errors import map_ccxt_error, translated
from arbiter.venues.rest.requests import CcxtMarket, choose_market, exact, kind_of, order_params

FeeTable = dict[tuple[str, str], tuple[Decimal, Decimal]]  # (kind, symbol) -> (maker, taker)

# ccxt's balance structure mixes per-asset entries with these summary keys.
_BALANCE_META = frozenset({"info", "free", "used", "total", "debt", "timestamp", "datetime"})
_REMEMBERED_ORDERS = 4096


class CcxtTrading:
    # -- what a plugin states about its venue -------------------------------------------------
    exchange_id: ClassVar[str]  # ccxt's id: "bybit", "okx"
    client_id_param: ClassVar[str]  # the venue's own name for the client order id
    market_types: ClassVar[tuple[str, ...]]  # ccxt `fetchMarkets` types: spot and linear perps
    client_options: ClassVar[Mapping[str, Any]] = {}  # more ccxt options for this venue
    default_limits: ClassVar[VenueLimits]
    capabilities: Capabilities = Capabilities()
    # Venue error codes that decide over ccxt's class, and the JSON keys they are found under.
    error_codes: ClassVar[Mapping[str, type[VenueError]]] = {}
    error_code_keys: ClassVar[tuple[str, ...]] = ()
    # The keys of the venue's own error message: errors then read in the venue's words.
    error_message_keys: ClassVar[tuple[str, ...]] = ()
    # The venue's own place/cancel requests; None leaves them to ccxt.
    order_entry: ClassVar[type[OrderEntry] | None] = None

    def __init__(
        self,
        config: VenueConfig,
        *,
        limits: VenueLimits | None = None,
        timeout_ms: int = 10_000,
    ) -> None:
        self.config = config
        self.name = config.account
        self.limits = limits or self.default_limits
        self.client: Any = build_client(
            self.exchange_id,
            config,
            timeout_ms=timeout_ms,
            rate_limit_ms=1000 / self.limits.requests_per_second,
            options={"fetchMarkets": {"types": list(self.market_types)}, **self.client_options},
        )
        self._orders_bucket = TokenBucket(self.limits.orders_per_second)
        # client id -> (ccxt symbol, side): where an order of ours lives, learned before it is
        # sent, so a later query, cancel or amend need not search every product.
        self._known: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._entry: OrderEntry | None = None
        self._started = False
        # symbol -> its tradable markets, valid while ccxt keeps the same market index
        self._listed_cache: dict[str, tuple[CcxtMarket, ...]] = {}
        self._listed_from: object = None

    # -- lifetime -----------------------------------------------------------------------------

    async def start(self) -> None:
        with self._translated():
            await self.client.load_markets()
        keys = self.config.keys
        entry = self.order_entry
        if entry and keys and entry.signs(keys) and routed_directly(self.client):
            self._entry = entry(self.name, self.client, keys)
        self._started = True

    @property
    def lean_orders(self) -> bool:
        """Whether places and cancels go out as our own signed requests (else through ccxt)."""
        return self._entry is not None

    async def close(self) -> None:
        self._started = False
        if self._entry is not None:
            self._entry.close()
        await self.client.close()

    # -- reference data -----------------------------------------------------------------------

    async def instruments(self) -> list[Instrument]:
        self._require_started()
        with self._translated():
            await self.client.load_markets(True)
        markets = self.tradable_markets()
        listed = self.parse_instruments([m["info"] for m in markets])
        fees = await self.fee_table(sorted({kind_of(m) for m in markets}))
        out = []
        for inst in listed:
            rates = fees.get((inst.kind.value, inst.symbol))
            out.append(replace(inst, maker_fee=rates[0], taker_fee=rates[1]) if rates else inst)
        return out

    async def fee_rates(self, symbols: list[str]) -> list[FeeRate]:
        self._require_started()
        wanted = [(s, m) for s in dict.fromkeys(symbols) for m in self._listed(s)]
        table = await self.fee_table(sorted({kind_of(m) for _, m in wanted}))
        out = []
        for symbol, market in wanted:
            rates = table.get((kind_of(market), symbol))
            if rates is None:
                raise OrderRejected(
                    self.name, f"no fee rate for {kind_of(market)} {symbol}", "fee_rate"
                )
            out.append(FeeRate(symbol, rates[0], rates[1], kind_of(market)))
        return out

    # -- orders -------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> OrderAck:
        market, amount, price = self._checked(request)
        await self._orders_bucket.acquire()
        try:  # `_translated()`, spelled out on the order path
            if self._entry is not None:
                order_id = await self._entry.place(market, request, amount, price)
            else:
                params = order_params(request)
                order = await self.client.create_order(
                    market["symbol"], request.type.value, request.side.value, amount, price, params
                )
                order_id = str(order.get("id") or "")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise self._venue_error(exc) from exc
        return OrderAck(self.name, request.client_id, order_id)

    def _venue_error(self, exc: Exception) -> VenueError:
        """A ccxt error (or any other) as the contract's `VenueError`, in the venue's words."""
        return map_ccxt_error(
            self.name, exc, self.error_codes, self.error_code_keys, self.error_message_keys
        )

    def begin_order(self, request: OrderRequest) -> Awaitable[OrderAck]:
        """`place_order`, with the request written before this returns whenever it can be
        (our own order entry, a free token, an idle connection): a caller placing several
        orders writes them all before it waits for any answer. The awaitable gives what
        `place_order` would, refusals included; it never raises itself."""
        loop = asyncio.get_running_loop()
        if self._entry is None:
            return loop.create_task(self.place_order(request))
        try:
            market, amount, price = self._checked(request)
            if not self._orders_bucket.try_acquire():
                return loop.create_task(self.place_order(request))  # waits for its token
            sent = self._entry.send_place(market, request, amount, price)
        except Exception:  # nothing written: place_order meets (and reports) the same refusal
            return loop.create_task(self.place_order(request))
        answer = loop.create_task(self._placed(self._entry, request, sent))
        answer.add_done_callback(lambda t: sent.wire.abandon() if t.cancelled() else None)
        return answer

    async def _placed(
        self, entry: OrderEntry, request: OrderRequest, sent: SentRequest
    ) -> OrderAck:
        try:
            order_id = await entry.placed(sent)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise self._venue_error(exc) from exc
        return OrderAck(self.name, request.client_id, order_id)

    def _checked(self, request: OrderRequest) -> tuple[CcxtMarket, str, str | None]:
        """The request's market and exact qty and price text, or the refusal; remembers where
        the order lives (after an ambiguous answer the query must know where to look)."""
        self._require_started()
        market = choose_market(
            self.name, self.limits.client_ids, self._listed(request.symbol), request
        )
        amount = self._on_grid(market, request.qty, "qty")
        price = self._on_grid(market, request.price, "price") if request.price else None
        self._remember(request.client_id, market["symbol"], request.side.value)
        return market, amount, price

    async def cancel_order(self, symbol: str, client_id: str) -> None:
        self._require_started()
        market, _ = await self._locate(symbol, client_id)
        await self._orders_bucket.acquire()
        with self._translated():
            if self._entry is not None:
                await self._entry.cancel(market, client_id)
            else:
                await self.client.cancel_order(
                    None, market["symbol"], {self.client_id_param: client_id}
                )

    async def amend_order(
        self, symbol: str, client_id: str, qty: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        self._require_started()
        if qty is None and price is None:
            raise OrderRejected(
                self.name, f"{client_id}: expected a new qty or price to amend", "invalid_request"
            )
        market, order_side = await self._locate(symbol, client_id)
        amount = exact(self.client, self.name, market, qty, "qty") if qty is not None else None
        new_price = (
            exact(self.client, self.name, market, price, "price") if price is not None else None
        )
        await self._orders_bucket.acquire()
        with self._translated():
            await self.client.edit_order(
                None,
                market["symbol"],
                "limit",
                order_side,
                amount,
                new_price,
                {self.client_id_param: client_id},
            )

    async def query_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        self._require_started()
        for market in self._search_order(symbol, client_id):
            with self._translated():
                found = await self.find_by_client_id(market, client_id)
            if found is not None:
                self._remember(client_id, market["symbol"], str(found.get("side")))
                return self._order_update(market, found)
        return None

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        self._require_started()
        scopes: list[tuple[str | None, dict[str, Any]]]
        if symbol is not None:
            scopes = [(m["symbol"], {}) for m in self._listed(symbol)]
        else:
            scopes = [(None, dict(p)) for p in self.open_order_scopes()]
        out = []
        for ccxt_symbol, params in scopes:
            with self._translated():
                rows = await self.fetch_open(ccxt_symbol, params)
                for row in rows:
                    out.append(self._order_update(self.client.market(row["symbol"]), row))
        return out

    # -- account ------------------------------------------------------------------------------

    async def balances(self) -> dict[str, Balance]:
        self._require_started()
        with self._translated():
            raw = await self.client.fetch_balance()
            out = {}
            for asset, entry in raw.items():
                if asset in _BALANCE_META or not isinstance(entry, dict):
                    continue
                what = f"{self.name} balance {asset}"
                total = convert.dec_or_none(entry.get("total"), f"{what} total")
                if total is None:
                    continue
                free = convert.dec_or_none(entry.get("free"), f"{what} free")
                if free is None:
                    used = convert.dec_or_none(entry.get("used"), f"{what} used")
                    free = total - used if used is not None else total
                out[asset] = Balance(asset, free, total)
        return out

    async def positions(self) -> list[PositionUpdate]:
        self._require_started()
        with self._translated():
            rows = await self.client.fetch_positions(None, dict(self.position_params()))
            out = []
            for row in rows:
                # A venue lists flat positions too, of products we may not trade (Bybit: every
                # linear symbol ever held): only a held one needs its market.
                if not convert.dec_or_none(row.get("contracts"), f"{self.name} contracts"):
                    continue
                market = self.client.market(row["symbol"])
                if not (market.get("swap") and market.get("linear")):
                    continue  # a margin position is listed under its spot market: not a perp's
                update = convert.position(self.name, market["id"], row)
                if update.size:
                    out.append(update)
        return out

    async def fills(self, symbol: str | None, since_ms: int) -> list[Fill]:
        self._require_started()
        markets: list[CcxtMarket | None] = list(self._listed(symbol)) if symbol else [None]
        seen: dict[str, Fill] = {}
        for market in markets:
            with self._translated():
                trades = await self.fill_rows(market, since_ms)
                for trade in trades:
                    venue_symbol = self.client.market(trade["symbol"])["id"]
                    cid = str((trade.get("info") or {}).get(self.client_id_param) or "")
                    f = convert.fill(self.name, venue_symbol, trade, cid)
                    if f.ts_venue_ms >= since_ms:
                        seen[f.trade_id] = f
        return sorted(seen.values(), key=lambda f: (f.ts_venue_ms, f.trade_id))

    # -- hooks a plugin implements ------------------------------------------------------------

    def parse_instruments(self, rows: list[dict[str, Any]]) -> list[Instrument]:
        raise NotImplementedError

    async def fee_table(self, kinds: list[str]) -> FeeTable:
        """The account's (maker, taker) per (kind, symbol) for every listed product of `kinds`."""
        raise NotImplementedError

    async def fill_rows(self, market: CcxtMarket | None, since_ms: int) -> list[dict[str, Any]]:
        """ccxt trades of this account's orders since `since_ms`, for one market or all."""
        raise NotImplementedError

    async def account_events(self, since_ms: int) -> list[AccountEvent]:
        """What the venue did to the account by itself since `since_ms`, oldest first."""
        return []

    async def find_by_client_id(self, market: CcxtMarket, client_id: str) -> dict[str, Any] | None:
        """The ccxt order with `client_id` on `market`, or None when the venue has none."""
        try:
            found: dict[str, Any] = await self.client.fetch_order(
                None, market["symbol"], {self.client_id_param: client_id}
            )
        except ccxt.OrderNotFound:
            return None
        return found

    async def fetch_open(self, ccxt_symbol: str | None, params: dict[str, Any]) -> list[Any]:
        """Every open order in one scope, all pages (the venue decides how to page)."""
        rows: list[Any] = await self.client.fetch_open_orders(ccxt_symbol, None, None, params)
        return rows

    def open_order_scopes(self) -> list[Mapping[str, Any]]:
        """ccxt params that together list open orders of every product (no symbol given)."""
        return [{}]

    def position_params(self) -> Mapping[str, Any]:
        return {}

    def cancel_reason(self, info: Mapping[str, Any]) -> str:
        """Why the venue ended an order, from its raw answer ("" when it does not say)."""
        return ""

    # -- internals ----------------------------------------------------------------------------

    @contextmanager
    def _translated(self) -> Iterator[None]:
        with translated(self.name, self.error_codes, self.error_code_keys, self.error_message_keys):
            yield

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError(f"{self.name}: call start() before trading")

    def tradable_markets(self) -> list[CcxtMarket]:
        return [m for m in self.client.markets.values() if _tradable(m)]

    def _listed(self, symbol: str) -> list[CcxtMarket]:
        """Every product the venue lists under `symbol` that we trade (spot, linear perp)."""
        index = self.client.markets_by_id
        if index is not self._listed_from:  # ccxt (re)loaded its markets: forget what we found
            self._listed_cache.clear()
            self._listed_from = index
        found = self._listed_cache.get(symbol)
        if found is None:
            # ccxt's index can hold one market twice (seen with Bybit linear): keyed by symbol.
            by_symbol = {m["symbol"]: m for m in index.get(symbol, []) if _tradable(m)}
            found = tuple(by_symbol.values())
            if not found:
                raise OrderRejected(
                    self.name,
                    f"expected a listed spot or linear perp symbol, was {symbol!r}",
                    "symbol",
                )
            self._listed_cache[symbol] = found
        return list(found)

    def _remember(self, client_id: str, ccxt_symbol: str, order_side: str) -> None:
        self._known[client_id] = (ccxt_symbol, order_side)
        self._known.move_to_end(client_id)
        while len(self._known) > _REMEMBERED_ORDERS:
            self._known.popitem(last=False)

    def _search_order(self, symbol: str, client_id: str) -> list[CcxtMarket]:
        """Markets to search for an order: the one we placed it on first, then the others."""
        markets = self._listed(symbol)
        known = self._known.get(client_id)
        if known is not None:
            markets.sort(key=lambda m: m["symbol"] != known[0])
        return markets

    async def _locate(self, symbol: str, client_id: str) -> tuple[CcxtMarket, str]:
        """(market, side) of an order of ours, asking the venue only when we do not know."""
        known = self._known.get(client_id)
        if known is not None:
            market = self.client.market(known[0])
            if market["id"] == symbol:
                return market, known[1]
        for market in self._search_order(symbol, client_id):
            with self._translated():
                found = await self.find_by_client_id(market, client_id)
            if found is not None:
                self._remember(client_id, market["symbol"], str(found.get("side")))
                return market, str(found.get("side"))
        raise OrderNotFound(self.name, f"no order {client_id!r} on {symbol}", "client_id")

    def _on_grid(self, market: CcxtMarket, value: Decimal, what: str) -> str:
        return on_grid(self.client, self.name, market, value, what)

    def _order_update(self, market: CcxtMarket, order: dict[str, Any]) -> OrderUpdate:
        reason = self.cancel_reason(order.get("info") or {})
        return convert.order_update(self.name, market["id"], order, reason)


def _tradable(market: CcxtMarket) -> bool:
    return bool(market.get("spot") or (market.get("swap") and market.get("linear")))
