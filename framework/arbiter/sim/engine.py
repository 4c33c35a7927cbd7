"""One simulated venue: instruments, books, accounts and orders, matched exactly.

The engine is synchronous and knows nothing of sockets or dialects: REST handlers call it, it
mutates state, and it tells listeners what happened (events.py) in the order a venue would.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from arbiter.market.instrument import Instrument, InstrumentKind, OffGridError
from arbiter.sim.accounts import ZERO, Account
from arbiter.sim.book import MatchingBook, Side
from arbiter.sim.clock import Clock, WallClock
from arbiter.sim.events import (
    BookChanged,
    Event,
    Filled,
    ForcedTraded,
    FundingSettled,
    OrderChanged,
    PositionChanged,
    PublicTrade,
    WalletChanged,
)
from arbiter.sim.faults import FaultKind, FaultPlan
from arbiter.sim.orders import (
    CancelReason,
    Execution,
    Order,
    OrderStatus,
    OrderType,
    Rejected,
    RejectReason,
    TimeInForce,
)

FUNDING_INTERVAL_MS = 8 * 3600 * 1000


def instrument_key(instrument: Instrument) -> str:
    # Bybit names spot and perp alike ("BTCUSDT"), so the kind is part of the key.
    return f"{instrument.kind.value}:{instrument.symbol}"


@dataclass
class FundingState:
    rate: Decimal = Decimal("0.0001")
    next_ms: int = 0


@dataclass
class VenueEngine:
    name: str
    instruments: dict[str, Instrument]
    clock: Clock = field(default_factory=WallClock)
    books: dict[str, MatchingBook] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    funding: dict[str, FundingState] = field(default_factory=dict)
    listeners: list[Callable[[Event], None]] = field(default_factory=list)
    faults: FaultPlan | None = None  # the fill-after-cancel race acts here, at the matcher
    _by_client: dict[tuple[str, str], Order] = field(default_factory=dict)
    # Open orders per instrument key, so matching and fund checks never walk the history.
    _open: dict[str, dict[str, Order]] = field(default_factory=dict)
    _owners: dict[str, str] = field(default_factory=dict)  # order id -> api key
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1_000_001))
    _exec_seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        for key, inst in self.instruments.items():
            self.books.setdefault(key, MatchingBook(inst.symbol))
            if inst.kind is InstrumentKind.PERP:
                first = (self.clock.now_ms() // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
                self.funding.setdefault(key, FundingState(next_ms=first))

    # -- lookup -------------------------------------------------------------------------------

    def instrument(self, kind: InstrumentKind, symbol: str) -> Instrument:
        inst = self.instruments.get(f"{kind.value}:{symbol}")
        if inst is None:
            raise Rejected(
                RejectReason.UNKNOWN_SYMBOL, f"expected a listed {kind} symbol, was {symbol!r}"
            )
        return inst

    def book(self, instrument: Instrument) -> MatchingBook:
        return self.books[instrument_key(instrument)]

    def mark(self, instrument: Instrument) -> Decimal:
        book = self.book(instrument)
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            return ZERO
        return instrument.ticks_to_price(bid + ask) / 2

    def account(self, api_key: str) -> Account:
        acct = self.accounts.get(api_key)
        if acct is None:
            raise KeyError(f"{self.name}: no account with api key {api_key!r}")
        return acct

    def find_order(self, account: Account, order_id: str | None, client_id: str | None) -> Order:
        order: Order | None = None
        if order_id:
            order = self.orders.get(order_id)
        elif client_id:
            order = self._by_client.get((account.api_key, client_id))
        if order is None:
            raise Rejected(
                RejectReason.ORDER_NOT_FOUND,
                f"expected an order with id {order_id!r} or client id {client_id!r}",
            )
        return order

    def orders_of(
        self, account: Account, keep: Callable[[Order], bool] = lambda _: True
    ) -> list[Order]:
        """The account's orders, open and closed, that `keep` accepts, newest first (ties,
        orders placed in the same millisecond, by id)."""
        mine = [o for o in self.orders.values() if self._owner(o) == account.api_key and keep(o)]
        mine.sort(key=lambda o: (-o.created_ms, -int(o.order_id)))
        return mine

    def open_orders(self, account: Account, instrument: Instrument | None = None) -> list[Order]:
        if instrument is None:
            pools = list(self._open.values())
        else:
            pools = [self._open.get(instrument_key(instrument), {})]
        return [o for pool in pools for o in pool.values() if self._owner(o) == account.api_key]

    # -- market side --------------------------------------------------------------------------

    def set_market(
        self, instrument: Instrument, bids: dict[int, int], asks: dict[int, int]
    ) -> None:
        """Replace the market's liquidity (ticks -> lots) and publish the difference as one delta."""
        book = self.book(instrument)
        for levels, side, new in ((book.bids, Side.BUY, bids), (book.asks, Side.SELL, asks)):
            for ticks in [t for t in levels if t not in new]:
                book.set_level(side, ticks, 0)
            for ticks, lots in new.items():
                book.set_level(side, ticks, lots)
        self._match_resting(instrument)
        self._publish_book(instrument)

    def update_market(
        self, instrument: Instrument, bids: dict[int, int], asks: dict[int, int]
    ) -> None:
        """Change some of the market's levels (ticks -> lots, 0 removes) as one delta."""
        key = instrument_key(instrument)
        book = self.books[key]
        for ticks, lots in bids.items():
            book.set_level(Side.BUY, ticks, lots)
        for ticks, lots in asks.items():
            book.set_level(Side.SELL, ticks, lots)
        if self._open.get(key):
            self._match_resting(instrument)
        delta = book.flush()
        if delta is not None:
            self._emit(BookChanged(instrument, delta))

    def publish_trade(
        self, instrument: Instrument, price: Decimal, qty: Decimal, side: Side
    ) -> None:
        self._emit(
            PublicTrade(instrument, str(next(self._ids)), price, qty, side, self.clock.now_ms())
        )

    # -- orders -------------------------------------------------------------------------------

    def place(
        self,
        account: Account,
        instrument: Instrument,
        *,
        side: Side,
        order_type: OrderType,
        qty: Decimal,
        price: Decimal | None = None,
        tif: TimeInForce = TimeInForce.GTC,
        client_id: str = "",
        reduce_only: bool = False,
        quote_amount: Decimal | None = None,
    ) -> Order:
        now = self.clock.now_ms()
        order_id = str(next(self._ids))
        client_id = client_id or f"sim-{order_id}"
        if (account.api_key, client_id) in self._by_client:
            raise Rejected(
                RejectReason.DUPLICATE_CLIENT_ID,
                f"expected a new client order id, {client_id!r} is taken",
            )
        if order_type is OrderType.MARKET:
            price = None
            tif = TimeInForce.IOC
        elif price is None or price <= 0:
            raise Rejected(
                RejectReason.INVALID_PARAM, f"expected a positive limit price, was {price}"
            )
        if quote_amount is not None:
            qty = self._qty_for_quote(instrument, quote_amount)
        self._check_grid(instrument, qty, price)
        if reduce_only:
            qty = self._check_reduce_only(account, instrument, side, qty)
        order = Order(
            order_id=order_id,
            client_id=client_id,
            instrument=instrument,
            side=side,
            order_type=order_type,
            tif=tif,
            qty=qty,
            price=price,
            reduce_only=reduce_only,
            created_ms=now,
            updated_ms=now,
            quote_amount=quote_amount,
        )
        if not reduce_only:
            self._check_funds(account, order)
        self.orders[order_id] = order
        self._by_client[(account.api_key, client_id)] = order
        self._owners[order_id] = account.api_key
        self._emit(OrderChanged(account, order))
        self._execute(account, order)
        if order.status.is_open:
            self._open.setdefault(instrument_key(instrument), {})[order_id] = order
        return order

    def cancel(self, account: Account, order: Order) -> Order:
        """Cancel an open order. Under the fill-after-cancel fault the cancel is still acked
        (both venues ack a cancel on receipt and report the outcome on the order stream), but
        a fill reached the matcher first: the order fills in full at its price, and the
        cancel's outcome then reports the order's final state, Filled, a second time."""
        if not order.status.is_open:
            raise Rejected(
                RejectReason.ORDER_NOT_FOUND,
                f"expected an open order, {order.order_id} is {order.status.value}",
            )
        race = f"{self.name} {order.instrument.symbol}"
        if self.faults is not None and self.faults.take(FaultKind.FILL_AFTER_CANCEL, race):
            assert order.price is not None  # only limit orders rest
            self._fill(account, order, order.price, order.leaves, True)
            self._emit(OrderChanged(account, order))
            return order
        self._end(account, order, CancelReason.USER)
        return order

    def reject_rest(self, account: Account, order: Order) -> Order:
        """The venue refuses the rest of a working order that has partly traded, as Bybit does
        (status Rejected with `cumExecQty` above 0): the order leaves the book, its fills
        stand. Only the Bybit dialect reports such an order."""
        if not order.status.is_open:
            raise Rejected(
                RejectReason.ORDER_NOT_FOUND,
                f"expected an open order, {order.order_id} is {order.status.value}",
            )
        self._close(order)
        order.status = OrderStatus.REJECTED
        order.cancel_reason = CancelReason.VENUE_REJECTED
        order.updated_ms = self.clock.now_ms()
        self._emit(OrderChanged(account, order))
        self._emit(WalletChanged(account))
        return order

    def holds(self, account: Account) -> dict[str, tuple[Decimal, Decimal]]:
        """What the account's open orders hold, per coin: (locked, order margin). A spot buy
        locks the quote it would pay, a spot sell the base it would sell; a perp order holds
        its initial margin in the quote coin (what `_check_funds` counts as committed)."""
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for o in self.open_orders(account):
            inst = o.instrument
            assert o.price is not None  # only limit orders rest
            value = inst.base_qty(o.leaves) * o.price
            if inst.kind is InstrumentKind.PERP:
                coin, locked, margin = inst.quote, ZERO, value / account.position(inst).leverage
            elif o.side is Side.BUY:
                coin, locked, margin = inst.quote, value, ZERO
            else:
                coin, locked, margin = inst.base, o.leaves, ZERO
            held = out.get(coin, (ZERO, ZERO))
            out[coin] = (held[0] + locked, held[1] + margin)
        return out

    def amend(
        self, account: Account, order: Order, qty: Decimal | None, price: Decimal | None
    ) -> Order:
        if not order.status.is_open:
            raise Rejected(
                RejectReason.ORDER_NOT_FOUND,
                f"expected an open order, {order.order_id} is {order.status.value}",
            )
        self._check_grid(order.instrument, qty or order.qty, price or order.price)
        if qty is not None:
            if qty <= order.filled:
                raise Rejected(
                    RejectReason.INVALID_PARAM,
                    f"expected qty above filled {order.filled}, was {qty}",
                )
            order.qty = qty
        if price is not None:
            order.price = price
        order.updated_ms = self.clock.now_ms()
        self._emit(OrderChanged(account, order))
        self._match_resting(order.instrument)
        self._publish_book(order.instrument)
        return order

    # -- funding ------------------------------------------------------------------------------

    def settle_funding(self) -> int:
        """Pay funding on every perp whose funding time has passed; returns how many settled."""
        now = self.clock.now_ms()
        settled = 0
        for key, state in self.funding.items():
            inst = self.instruments[key]
            while now >= state.next_ms:
                mark = self.mark(inst)
                for account in self.accounts.values():
                    pos = account.positions.get(inst.symbol)
                    if pos is None or pos.qty == 0:
                        continue
                    # Longs pay shorts when the rate is positive.
                    payment = pos.base_qty * mark * state.rate
                    pos.funding_paid += payment
                    account.credit(inst.quote, -payment)
                    self._emit(
                        FundingSettled(
                            account,
                            pos,
                            -payment,
                            inst.quote,
                            account.balance(inst.quote),
                            state.rate,
                            mark,
                            str(next(self._ids)),
                            next(self._exec_seq),
                            state.next_ms,
                        )
                    )
                    self._emit(PositionChanged(account, pos))
                    self._emit(WalletChanged(account))
                state.next_ms += FUNDING_INTERVAL_MS
                settled += 1
        return settled

    # -- forced trades ------------------------------------------------------------------------

    def force_trade(
        self, account: Account, instrument: Instrument, kind: str, qty: Decimal, price: Decimal
    ) -> ForcedTraded:
        """Close `qty` of the account's perp position at `price` as the venue does by itself
        (`kind` adl: against another trader, no fee; liquidation: taken over at the taker
        fee). No order of the account's is behind it."""
        if kind not in ("adl", "liquidation"):
            raise ValueError(f"expected kind adl or liquidation, was {kind!r}")
        pos = account.positions.get(instrument.symbol)
        if instrument.kind is not InstrumentKind.PERP or pos is None or pos.qty == 0:
            raise ValueError(f"expected an open perp position in {instrument.symbol}")
        if not 0 < qty <= abs(pos.qty):
            raise ValueError(f"expected 0 < qty <= {abs(pos.qty)}, was {qty}")
        side = Side.BUY if pos.qty < 0 else Side.SELL
        now = self.clock.now_ms()
        value = instrument.base_qty(qty) * price
        fee = value * instrument.taker_fee if kind == "liquidation" else ZERO
        realized = pos.apply_fill(qty if side is Side.BUY else -qty, price)
        pos.updated_ms = now
        account.credit(instrument.quote, realized - fee)
        event = ForcedTraded(
            account,
            instrument,
            kind,
            side,
            qty,
            price,
            fee,
            str(next(self._ids)),
            str(next(self._ids)),
            next(self._exec_seq),
            now,
        )
        self._emit(event)
        self._emit(PositionChanged(account, pos))
        self._emit(WalletChanged(account))
        return event

    # -- internals ----------------------------------------------------------------------------

    def _owner(self, order: Order) -> str:
        return self._owners.get(order.order_id, "")

    def _emit(self, event: Event) -> None:
        for listener in list(self.listeners):
            listener(event)

    def _publish_book(self, instrument: Instrument) -> None:
        delta = self.book(instrument).flush()
        if delta is not None:
            self._emit(BookChanged(instrument, delta))

    def _check_grid(self, instrument: Instrument, qty: Decimal, price: Decimal | None) -> None:
        try:
            lots = instrument.qty_to_lots(qty)
            if price is not None:
                instrument.price_to_ticks(price)
        except OffGridError as exc:
            raise Rejected(RejectReason.OFF_GRID, str(exc)) from exc
        if lots <= 0 or qty < instrument.min_qty:
            raise Rejected(
                RejectReason.QTY_TOO_SMALL, f"expected qty >= {instrument.min_qty}, was {qty}"
            )
        if price is not None and instrument.base_qty(qty) * price < instrument.min_notional:
            raise Rejected(
                RejectReason.NOTIONAL_TOO_SMALL,
                f"expected notional >= {instrument.min_notional}, was {instrument.base_qty(qty) * price}",
            )

    def _qty_for_quote(self, instrument: Instrument, amount: Decimal) -> Decimal:
        """Venue qty a market buy of `amount` quote coins would take from the book now."""
        lots = 0
        left = amount
        for ticks, size in self.book(instrument).depth(Side.SELL, 10_000):
            lot_cost = instrument.base_qty(instrument.lots_to_qty(1)) * instrument.ticks_to_price(
                ticks
            )
            take = min(size, int(left // lot_cost))
            lots += take
            left -= take * lot_cost
            if take < size:
                break
        return instrument.lots_to_qty(lots)

    def _check_reduce_only(
        self, account: Account, instrument: Instrument, side: Side, qty: Decimal
    ) -> Decimal:
        pos = account.positions.get(instrument.symbol)
        if instrument.kind is not InstrumentKind.PERP or pos is None or pos.qty == 0:
            raise Rejected(
                RejectReason.REDUCE_ONLY_WOULD_INCREASE, "expected an open position to reduce"
            )
        if (pos.qty > 0) == (side is Side.BUY):
            raise Rejected(
                RejectReason.REDUCE_ONLY_WOULD_INCREASE,
                f"expected a {'sell' if pos.qty > 0 else 'buy'} to reduce position {pos.qty}",
            )
        return min(qty, abs(pos.qty))

    def _estimate_price(self, order: Order) -> Decimal:
        if order.price is not None:
            return order.price
        book = self.book(order.instrument)
        levels = book.depth(order.side.opposite, 10_000)
        lots = order.instrument.qty_to_lots(order.qty)
        worst = levels[-1][0] if levels else 0
        for ticks, size in levels:
            lots -= size
            if lots <= 0:
                worst = ticks
                break
        return order.instrument.ticks_to_price(worst)

    def _committed_quote(self, account: Account) -> Decimal:
        """Quote coin promised to open orders and perp margin."""
        total = account.used_margin()
        for o in self.open_orders(account):
            inst = o.instrument
            assert o.price is not None  # only limit orders rest
            value = inst.base_qty(o.leaves) * o.price
            if inst.kind is InstrumentKind.PERP:
                total += value / account.position(inst).leverage
            elif o.side is Side.BUY:
                total += value
        return total

    def _check_funds(self, account: Account, order: Order) -> None:
        inst = order.instrument
        if inst.kind is InstrumentKind.SPOT and order.side is Side.SELL:
            committed = sum(
                (o.leaves for o in self.open_orders(account, inst) if o.side is Side.SELL), ZERO
            )
            have = account.balance(inst.base) - committed
            if order.qty > have:
                raise Rejected(
                    RejectReason.INSUFFICIENT_BALANCE,
                    f"expected at most {have} {inst.base} available to sell, order needs {order.qty}",
                )
            return
        value = inst.base_qty(order.qty) * self._estimate_price(order)
        if inst.kind is InstrumentKind.PERP:
            pos = account.position(inst)
            if pos.qty and (pos.qty > 0) != (order.side is Side.BUY) and order.qty <= abs(pos.qty):
                return  # closing only: frees margin rather than using it
            need = value / pos.leverage
        else:
            need = value
        have = account.balance(inst.quote) - self._committed_quote(account)
        if need > have:
            raise Rejected(
                RejectReason.INSUFFICIENT_BALANCE,
                f"expected at most {have} {inst.quote} available, order needs {need}",
            )

    def _would_take(self, order: Order) -> bool:
        book = self.book(order.instrument)
        assert order.price is not None
        ticks = order.instrument.price_to_ticks(order.price)
        if order.side is Side.BUY:
            best = book.best_ask()
            return best is not None and best <= ticks
        best = book.best_bid()
        return best is not None and best >= ticks

    def _execute(self, account: Account, order: Order) -> None:
        inst = order.instrument
        book = self.book(inst)
        limit = None if order.price is None else inst.price_to_ticks(order.price)
        lots = inst.qty_to_lots(order.qty)
        if order.tif is TimeInForce.POST_ONLY and self._would_take(order):
            self._end(account, order, CancelReason.POST_ONLY_WOULD_TAKE)
            return
        if order.tif is TimeInForce.FOK and book.available(order.side, limit) < lots:
            self._end(account, order, CancelReason.FOK_NOT_FILLED)
            return
        if order.tif is not TimeInForce.POST_ONLY:
            for ticks, filled in book.take(order.side, lots, limit):
                self._fill(
                    account, order, inst.ticks_to_price(ticks), inst.lots_to_qty(filled), False
                )
        if order.status.is_open and order.tif in (TimeInForce.IOC, TimeInForce.FOK):
            reason = (
                CancelReason.NO_LIQUIDITY
                if order.order_type is OrderType.MARKET
                else CancelReason.IOC_REMAINDER
            )
            self._end(account, order, reason)
        self._publish_book(inst)

    def _match_resting(self, instrument: Instrument) -> None:
        """Fill our resting orders the market has just traded through, at our price (maker)."""
        pool = self._open.get(instrument_key(instrument))
        if not pool:
            return
        book = self.book(instrument)
        for order in list(pool.values()):
            assert order.price is not None
            limit = instrument.price_to_ticks(order.price)
            lots = instrument.qty_to_lots(order.leaves)
            taken = sum(q for _, q in book.take(order.side, lots, limit))
            if taken:
                account = self.accounts[self._owner(order)]
                self._fill(account, order, order.price, instrument.lots_to_qty(taken), True)

    def _fill(
        self, account: Account, order: Order, price: Decimal, qty: Decimal, is_maker: bool
    ) -> None:
        inst = order.instrument
        now = self.clock.now_ms()
        base = inst.base_qty(qty)
        value = base * price
        rate = inst.maker_fee if is_maker else inst.taker_fee
        if inst.kind is InstrumentKind.SPOT:
            if order.side is Side.BUY:
                # Spot buys pay their fee in the coin received, as on both venues.
                fee, fee_coin = base * rate, inst.base
                account.credit(inst.quote, -value)
                account.credit(inst.base, base - fee)
            else:
                fee, fee_coin = value * rate, inst.quote
                account.credit(inst.base, -base)
                account.credit(inst.quote, value - fee)
        else:
            fee, fee_coin = value * rate, inst.quote
            pos = account.position(inst)
            signed = qty if order.side is Side.BUY else -qty
            realized = pos.apply_fill(signed, price)
            pos.updated_ms = now
            account.credit(inst.quote, realized - fee)
        order.filled += qty
        order.filled_value += value
        order.fee += fee
        order.fee_coin = fee_coin
        order.updated_ms = now
        if order.filled == order.qty:
            order.status = OrderStatus.FILLED
            self._close(order)
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
        execution = Execution(
            exec_id=str(next(self._ids)),
            order=order,
            price=price,
            qty=qty,
            fee=fee,
            fee_coin=fee_coin,
            fee_rate=rate,
            is_maker=is_maker,
            ts_ms=now,
            seq=next(self._exec_seq),
        )
        self._emit(Filled(account, execution))
        self._emit(OrderChanged(account, order))
        if inst.kind is InstrumentKind.PERP:
            self._emit(PositionChanged(account, account.position(inst)))
        self._emit(WalletChanged(account))
        self._emit(
            PublicTrade(
                inst,
                execution.exec_id,
                price,
                qty,
                order.side if not is_maker else order.side.opposite,
                now,
            )
        )

    def _close(self, order: Order) -> None:
        pool = self._open.get(instrument_key(order.instrument))
        if pool is not None:
            pool.pop(order.order_id, None)

    def _end(self, account: Account, order: Order, reason: CancelReason) -> None:
        self._close(order)
        order.status = OrderStatus.CANCELLED
        order.cancel_reason = reason
        order.updated_ms = self.clock.now_ms()
        self._emit(OrderChanged(account, order))
