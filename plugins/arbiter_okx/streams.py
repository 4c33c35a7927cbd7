"""OKX v5 stream dialect (sans-IO): book subscriptions and the private stream codec.

Books: the `books` channel (400 levels, snapshot on subscribe, then updates chained by
`prevSeqId`/`seqId` with a CRC32 checksum), plus `funding-rate` for swaps; OKX lists spot and swaps on one public URL, and the
session still opens one connection per product so each product's books have their own codec.
Keep-alive: the text `ping` after 20 s without a message (OKX cuts a connection idle for 30 s).

Private (`/ws/v5/private`): `login` with base64(HMAC-SHA256(secret, ts + "GET/users/self/
verify")), then one subscribe to `orders` and `positions` (instType ANY), `account` and
`balance_and_position`; OKX acks each channel separately. Mapping to the normalized events:
- `orders`: `clOrdId` is the client id; `state` live -> new, partially_filled, filled,
  canceled/mmp_canceled -> cancelled, order_failed -> rejected. A push that carries a fill
  (`fillSz` > 0 and a `tradeId`) also yields a `Fill`: fills arrive inside order pushes. OKX
  signs fees negative when charged; `Fill.fee` is positive when paid. The fill's own fee is
  `fillFee`; a push without it (older API versions) gets the change in the order's cumulative
  `fee` since the previous push of that order, exact when pushes arrive in order. An order
  the venue made itself (`category` adl, full_liquidation, partial_liquidation: no clOrdId)
  is not ours: its fill is a `ForcedExecution`, its status pushes are dropped (counted). The
  size and the cancel reason are read as `arbiter_okx.order_rows` says, as the REST rows are
  (a spot market buy sized in quote is as large as what filled).
- `positions`: `pos` is signed in net mode; in long/short mode `posSide` gives the sign. Only
  swaps (`instType` SWAP) the session lists as perps are read; margin, futures, option and
  inverse-swap positions are skipped (counted), as `OkxTrading.positions` leaves them out.
- `account`: one `BalanceUpdate` per currency, read as `arbiter_okx.balances` says (total
  `cashBal`, free `availBal`), exactly as the REST balance is read.
- `balance_and_position`: read only for `eventType` funding_fee, which says a funding fee was
  settled but not how much: `SettlementsDue`, and the amounts come from the account's bills
  (`OkxTrading.account_events`). Its balances and positions repeat `account` and `positions`.
Quantities are the venue's own: contracts for swaps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from arbiter import clock as process_clock
from arbiter.market.instrument import Instrument
from arbiter.venues import (
    FRAME_ERRORS,
    ApiKeys,
    BalanceUpdate,
    Fill,
    ForcedExecution,
    ForcedKind,
    Frame,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    PrivateCodec,
    PrivateStreamEvent,
    SettlementsDue,
    Side,
    as_text,
    field_decimal,
    field_price,
    field_signed,
    field_text,
)
from arbiter_okx.balances import read_balance
from arbiter_okx.codec import OkxCodec, book_arg
from arbiter_okx.order_rows import base_size, cancel_reason

BOOK_CHANNEL = "books"
ARGS_PER_REQUEST = 50
PRIVATE_ARGS = (
    {"channel": "orders", "instType": "ANY"},
    {"channel": "positions", "instType": "ANY"},
    {"channel": "account"},
    {"channel": "balance_and_position"},
)
_FORCED = {
    "adl": ForcedKind.ADL,
    "full_liquidation": ForcedKind.LIQUIDATION,
    "partial_liquidation": ForcedKind.LIQUIDATION,
}
_POSITION_TYPES = frozenset({"SWAP", None})  # None: a push that leaves instType out
_FEE_MEMORY = 10_000  # orders whose cumulative fee is remembered for the fillFee fallback

_STATES = {
    "live": OrderStatus.NEW,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "mmp_canceled": OrderStatus.CANCELLED,
    "order_failed": OrderStatus.REJECTED,
}
_SIDES = {"buy": Side.BUY, "sell": Side.SELL}


def wall_s() -> str:
    return str(process_clock.wall_ms() // 1000)


class OkxBooks:
    """The book subscriptions of one OKX public connection (`BookDialect`).

    With `funding`, each book also subscribes its swap's `funding-rate` channel.
    """

    def __init__(self, codec: OkxCodec, channel: str = BOOK_CHANNEL, funding: bool = False) -> None:
        self.codec = codec
        self.channel = channel
        self.funding = funding

    def subscribe(self, symbols: Sequence[str]) -> list[Frame]:
        return [self.codec.subscribe(chunk) for chunk in self._args(symbols)]

    def unsubscribe(self, symbols: Sequence[str]) -> list[Frame]:
        return [self.codec.unsubscribe(chunk) for chunk in self._args(symbols)]

    def ping(self) -> Frame | None:
        return self.codec.ping()

    def _args(self, symbols: Sequence[str]) -> list[list[dict[str, str]]]:
        args = [book_arg(s, self.channel) for s in symbols]
        if self.funding:
            args += [{"channel": "funding-rate", "instId": s} for s in symbols]
        return [args[i : i + ARGS_PER_REQUEST] for i in range(0, len(args), ARGS_PER_REQUEST)]


class OkxPrivateCodec(PrivateCodec):
    """OKX's private stream: login, orders/positions/account, normalized events out.

    `clock_s` is the wall clock in whole seconds that dates the login (OKX allows 30 s).
    `instruments` (kind, symbol) -> instrument, when given (the session's, filled at start),
    are the perps whose positions are read; another swap's (an inverse swap, which the plugin
    does not list) is skipped like a margin position.
    """

    def __init__(
        self,
        keys: ApiKeys,
        venue: str,
        clock_s: Callable[[], str] = wall_s,
        instruments: Mapping[tuple[str, str], Instrument] | None = None,
    ) -> None:
        super().__init__(venue)
        self._instruments = instruments
        if not keys.passphrase:
            raise ValueError(f"{venue}: expected an OKX passphrase with the API keys, was none")
        self._keys = keys
        self._clock_s = clock_s
        self._requests = OkxCodec(venue=venue)
        self._fees: dict[str, tuple[Decimal, Decimal]] = {}  # ordId -> (accFillSz, -fee)
        self.skipped_forced = 0  # status pushes of orders the venue made itself
        self.skipped_positions = 0  # positions of products we do not trade (margin, futures)

    def login_frames(self) -> list[Frame]:
        keys = self._keys
        frame = self._requests.login(
            keys.api_key, keys.api_secret, keys.passphrase or "", self._clock_s()
        )
        return [as_text(frame)]

    def subscribe_frames(self) -> tuple[list[Frame], int]:
        return [as_text(self._requests.subscribe(PRIVATE_ARGS))], len(PRIVATE_ARGS)

    def ping_frame(self) -> Frame | None:
        return "ping"

    def decode(self, frame: Frame, recv_ns: int) -> list[PrivateStreamEvent]:
        if frame in ("pong", b"pong"):
            return []
        doc = msgspec.json.decode(frame)
        if not isinstance(doc, dict):
            return self.error(f"expected a JSON object, was {type(doc).__name__}")
        event = doc.get("event")
        if event is not None:
            return self._on_event(event, doc)
        arg, data = doc.get("arg"), doc.get("data")
        if not isinstance(arg, dict) or not isinstance(data, list):
            return self.error("expected `arg` and a `data` list")
        channel = arg.get("channel")
        parse = _PARSERS.get(channel)
        if parse is None:
            return self.error(f"unhandled channel {channel!r}")
        events: list[PrivateStreamEvent] = []
        for item in data:
            try:
                events.extend(parse(self, item, recv_ns))
            except FRAME_ERRORS as exc:
                events.extend(self.error(f"{channel}: {type(exc).__name__}: {exc}"))
        return events

    def _on_event(self, event: object, doc: dict[str, Any]) -> list[PrivateStreamEvent]:
        if event == "login":
            if doc.get("code", "0") == "0":
                return self.logged_in()
            return self.rejected(f"login: {doc.get('code')}: {doc.get('msg')}")
        if event == "subscribe":
            return self.subscribed()
        if event == "error":
            detail = f"{doc.get('code')}: {doc.get('msg')}"
            if self.phase in ("login", "subscribing"):
                return self.rejected(detail)
            return self.error(detail)
        return []  # unsubscribe acks, channel-conn-count and notices change nothing here

    # -- channels ----------------------------------------------------------------------------

    def _order(self, item: dict[str, Any], recv_ns: int) -> list[PrivateStreamEvent]:
        state = item["state"]
        status = _STATES.get(state)
        if status is None:
            raise ValueError(f"expected a known order state, was {state!r}")
        side = _side(item["side"])
        symbol = field_text(item, "instId")
        client_id = str(item.get("clOrdId") or "")
        order_id = field_text(item, "ordId")
        filled = field_decimal(item, "accFillSz")
        ts = int(item.get("uTime") or 0)
        reason = cancel_reason(item)
        events: list[PrivateStreamEvent] = []
        fill_qty = field_decimal(item, "fillSz", default="0")
        forced = _FORCED.get(str(item.get("category") or ""))
        if forced is not None:
            if not (fill_qty and item.get("tradeId")):
                self.skipped_forced += 1
                return []
            return [
                ForcedExecution(
                    venue=self.venue,
                    symbol=symbol,
                    kind=forced,
                    trade_id=field_text(item, "tradeId"),
                    side=side,
                    price=field_decimal(item, "fillPx"),
                    qty=fill_qty,
                    fee=self._fill_fee(order_id, item, filled, fill_qty),
                    fee_asset=str(item.get("fillFeeCcy") or item.get("feeCcy") or ""),
                    ts_venue_ms=int(item.get("fillTime") or ts),
                    ts_local_ns=recv_ns,
                )
            ]
        if fill_qty and item.get("tradeId"):
            events.append(
                Fill(
                    venue=self.venue,
                    symbol=symbol,
                    client_id=client_id,
                    venue_order_id=order_id,
                    trade_id=field_text(item, "tradeId"),
                    side=side,
                    price=field_decimal(item, "fillPx"),
                    qty=fill_qty,
                    fee=self._fill_fee(order_id, item, filled, fill_qty),
                    fee_asset=str(item.get("fillFeeCcy") or item.get("feeCcy") or ""),
                    is_maker=item.get("execType") == "M",
                    ts_venue_ms=int(item.get("fillTime") or ts),
                    ts_local_ns=recv_ns,
                )
            )
        if "fee" in item:
            self._remember_fee(order_id, filled, -field_signed(item, "fee", default="0"))
        events.append(
            OrderUpdate(
                venue=self.venue,
                symbol=symbol,
                client_id=client_id,
                venue_order_id=order_id,
                status=status,
                side=side,
                qty=base_size(item),
                filled_qty=filled,
                avg_price=field_price(item.get("avgPx"), "avgPx"),
                price=field_price(item.get("px"), "px"),
                reason=reason if status is OrderStatus.CANCELLED else "",
                ts_venue_ms=ts,
                ts_local_ns=recv_ns,
            )
        )
        return events

    def _fill_fee(
        self, order_id: str, item: Mapping[str, Any], filled: Decimal, fill_qty: Decimal
    ) -> Decimal:
        if item.get("fillFee"):
            return -field_signed(item, "fillFee")
        paid = -field_signed(item, "fee", default="0")  # cumulative over the order
        if filled == fill_qty:
            return paid  # the order's first fill: all of its fee so far is this fill's
        _, paid_before = self._fees.get(order_id, (Decimal(0), Decimal(0)))
        return paid - paid_before

    def _remember_fee(self, order_id: str, filled: Decimal, paid: Decimal) -> None:
        seen = self._fees.get(order_id)
        if seen is not None and seen[0] >= filled:
            return  # a late push: the newer total stays
        if len(self._fees) >= _FEE_MEMORY:
            self._fees.clear()
        self._fees[order_id] = (filled, paid)

    def _position(self, item: dict[str, Any], recv_ns: int) -> list[PrivateStreamEvent]:
        listed = self._instruments
        if item.get("instType") not in _POSITION_TYPES or (
            listed is not None and ("perp", item.get("instId")) not in listed
        ):
            # Margin, futures, options and inverse swaps are not ours to trade: a margin
            # position would otherwise read as a position on the spot instrument of its name.
            self.skipped_positions += 1
            return []
        size = field_signed(item, "pos", default="0")
        pos_side = item.get("posSide", "net")
        if pos_side == "short":
            size = -abs(size)
        elif pos_side == "long":
            size = abs(size)
        elif pos_side not in ("net", ""):
            raise ValueError(f"expected posSide net, long or short, was {pos_side!r}")
        return [
            PositionUpdate(
                venue=self.venue,
                symbol=field_text(item, "instId"),
                size=size,
                entry_price=field_price(item.get("avgPx"), "avgPx") if size else None,
                unrealized_pnl=field_signed(item, "upl", default="0"),
                ts_venue_ms=int(item.get("uTime") or 0),
                ts_local_ns=recv_ns,
            )
        ]

    def _account(self, item: dict[str, Any], recv_ns: int) -> list[PrivateStreamEvent]:
        events: list[PrivateStreamEvent] = []
        for detail in item["details"]:
            balance = read_balance(detail)
            ts = int(detail.get("uTime") or item.get("uTime") or 0)
            events.append(
                BalanceUpdate(self.venue, balance.asset, balance.free, balance.total, ts, recv_ns)
            )
        return events

    def _balance_and_position(self, item: dict[str, Any], recv_ns: int) -> list[PrivateStreamEvent]:
        if item.get("eventType") != "funding_fee":
            return []
        return [SettlementsDue(self.venue, int(item.get("pTime") or 0))]


_Parser = Callable[[OkxPrivateCodec, dict[str, Any], int], list[PrivateStreamEvent]]
_PARSERS: dict[object, _Parser] = {
    "orders": OkxPrivateCodec._order,
    "positions": OkxPrivateCodec._position,
    "account": OkxPrivateCodec._account,
    "balance_and_position": OkxPrivateCodec._balance_and_position,
}


def _side(text: object) -> Side:
    side = _SIDES.get(text) if isinstance(text, str) else None
    if side is None:
        raise ValueError(f"expected side buy or sell, was {text!r}")
    return side
