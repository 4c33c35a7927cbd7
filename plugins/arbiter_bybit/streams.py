"""Bybit v5 stream dialect (sans-IO): book subscriptions and the private stream codec.

Books: `orderbook.{depth}.{symbol}` on the category's own connection (`/v5/public/spot`,
`/v5/public/linear`), plus `tickers.{symbol}` for perps (the funding rate), at most 10 topics
per subscribe request (Bybit's spot limit, kept for both), `{"op":"ping"}` every 20 s.

Private (`/v5/private`): `auth` with `[api_key, expires_ms, hex(HMAC-SHA256(secret,
"GET/realtime" + expires))]`, then one subscribe to `order`, `execution`, `position`, `wallet`.
Mapping to the normalized events:
- `order`: `orderLinkId` is the client id; `orderStatus` New/Created/Untriggered/Triggered/
  Active -> new, PartiallyFilled -> partially_filled, Filled -> filled, Cancelled/
  PartiallyFilledCanceled/Deactivated -> cancelled, Rejected -> rejected (also after a partial
  fill: `cumExecQty` says how much traded, and the order machine ends it like a cancel);
  `avgPrice` "" or "0" means none yet; `updatedTime` is the venue time; the reason is
  `order_reason` (REST reads it by the same rule).
- `execution`: `execType` Trade is a fill of ours; Funding is a `FundingSettlement`, AdlTrade
  and BustTrade a `ForcedExecution`, the rest is counted as skipped (one rule with the REST
  path: `arbiter_bybit.executions`). `execFee` is positive when paid, as in `Fill`. Without
  `feeCurrency`, linear fees are in the settle (quote) coin and spot fees in the coin
  received (base on a buy, quote on a sell).
- `position`: `size` is unsigned; `side` Buy is long, Sell short, "" flat; the entry price is
  `entryPrice` (REST names the same field `avgPrice`).
- `wallet`: one `BalanceUpdate` per coin; free is the wallet balance less locked, position and
  order margin, never `availableToWithdraw` (one rule with REST: `arbiter_bybit.wallet`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from arbiter import clock as process_clock
from arbiter.market.instrument import Instrument
from arbiter.venues import (
    FRAME_ERRORS,
    ApiKeys,
    BalanceUpdate,
    Fill,
    Frame,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    PrivateCodec,
    PrivateStreamEvent,
    Side,
    as_text,
    field_decimal,
    field_int,
    field_price,
    field_signed,
    field_text,
)
from arbiter_bybit.codec import BybitCodec, orderbook_topic, tickers_topic
from arbiter_bybit.executions import TRADE, account_event, exec_type
from arbiter_bybit.wallet import coin_balance

BOOK_DEPTH = 50
TOPICS_PER_REQUEST = 10
PRIVATE_TOPICS = ("order", "execution", "position", "wallet")
AUTH_EXPIRY_MS = 10_000

_STATUS = {
    "New": OrderStatus.NEW,
    "Created": OrderStatus.NEW,
    "Untriggered": OrderStatus.NEW,
    "Triggered": OrderStatus.NEW,
    "Active": OrderStatus.NEW,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "PartiallyFilledCanceled": OrderStatus.CANCELLED,
    "Deactivated": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
}
_SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}
_NO_REASON = ("", "EC_NoError", "UNKNOWN")


def wall_ms() -> int:
    return process_clock.wall_ns() // 1_000_000


class BybitBooks:
    """The book subscriptions of one Bybit public connection (`BookDialect`).

    With `funding`, each book also subscribes its symbol's `tickers` topic: on a linear
    connection that is where Bybit publishes the funding rate (and mark and index prices).
    """

    def __init__(self, codec: BybitCodec, depth: int = BOOK_DEPTH, funding: bool = False) -> None:
        self.codec = codec
        self.depth = depth
        self.funding = funding

    def subscribe(self, symbols: Sequence[str]) -> list[Frame]:
        return [self.codec.subscribe(chunk) for chunk in self._topics(symbols)]

    def unsubscribe(self, symbols: Sequence[str]) -> list[Frame]:
        return [self.codec.unsubscribe(chunk) for chunk in self._topics(symbols)]

    def ping(self) -> Frame | None:
        return self.codec.ping()

    def _topics(self, symbols: Sequence[str]) -> list[list[str]]:
        topics = [orderbook_topic(s, self.depth) for s in symbols]
        if self.funding:
            topics += [tickers_topic(s) for s in symbols]
        return [
            topics[i : i + TOPICS_PER_REQUEST] for i in range(0, len(topics), TOPICS_PER_REQUEST)
        ]


class BybitPrivateCodec(PrivateCodec):
    """Bybit's private stream: auth, the four account topics, normalized events out.

    `instruments` maps (kind, symbol) to instruments; it only decides a fee coin Bybit left
    out. `clock_ms` is the wall clock that dates the auth request's expiry.
    """

    def __init__(
        self,
        keys: ApiKeys,
        venue: str,
        instruments: Mapping[tuple[str, str], Instrument] | None = None,
        clock_ms: Callable[[], int] = wall_ms,
    ) -> None:
        super().__init__(venue)
        self._keys = keys
        # The session fills this very mapping once it has loaded the venue's instruments.
        self._instruments = instruments if instruments is not None else {}
        self._clock_ms = clock_ms
        self._requests = BybitCodec(venue=venue)
        self.skipped_executions = 0

    def login_frames(self) -> list[Frame]:
        expires = self._clock_ms() + AUTH_EXPIRY_MS
        return [as_text(self._requests.auth(self._keys.api_key, self._keys.api_secret, expires))]

    def subscribe_frames(self) -> tuple[list[Frame], int]:
        return [as_text(self._requests.subscribe(PRIVATE_TOPICS))], 1

    def ping_frame(self) -> Frame | None:
        return as_text(self._requests.ping())

    def decode(self, frame: Frame, recv_ns: int) -> list[PrivateStreamEvent]:
        doc = msgspec.json.decode(frame)
        if not isinstance(doc, dict):
            return self.error(f"expected a JSON object, was {type(doc).__name__}")
        topic = doc.get("topic")
        if topic is None:
            return self._on_op(doc)
        data = doc.get("data")
        if not isinstance(data, list):
            return self.error(f"{topic}: expected `data` as a list, was {type(data).__name__}")
        parse = _PARSERS.get(topic)
        if parse is None:
            return self.error(f"unhandled topic {topic!r}")
        events: list[PrivateStreamEvent] = []
        ts = field_int(doc.get("creationTime", 0))
        for item in data:
            try:
                events.extend(parse(self, item, ts, recv_ns))
            except FRAME_ERRORS as exc:
                events.extend(self.error(f"{topic}: {type(exc).__name__}: {exc}"))
        return events

    def _on_op(self, doc: dict[str, Any]) -> list[PrivateStreamEvent]:
        op = doc.get("op")
        if op in ("ping", "pong"):
            return []
        ok = doc.get("success") is not False
        if op == "auth":
            return self.logged_in() if ok else self.rejected(f"auth: {_venue_message(doc)}")
        if op == "subscribe":
            return self.subscribed() if ok else self.rejected(f"subscribe: {_venue_message(doc)}")
        if not ok:
            return self.error(f"{op}: {_venue_message(doc)}")
        return self.error(f"expected `topic` or a known `op`, was op {op!r}")

    # -- topics ------------------------------------------------------------------------------

    def _order(self, item: dict[str, Any], ts: int, recv_ns: int) -> list[PrivateStreamEvent]:
        raw_status = item["orderStatus"]
        status = _STATUS.get(raw_status)
        if status is None:
            raise ValueError(f"expected a known orderStatus, was {raw_status!r}")
        return [
            OrderUpdate(
                venue=self.venue,
                symbol=field_text(item, "symbol"),
                client_id=str(item.get("orderLinkId") or ""),
                venue_order_id=field_text(item, "orderId"),
                status=status,
                side=_side(item["side"]),
                qty=field_decimal(item, "qty"),
                filled_qty=field_decimal(item, "cumExecQty"),
                avg_price=field_price(item.get("avgPrice"), "avgPrice"),
                price=field_price(item.get("price"), "price"),
                reason=order_reason(item),
                ts_venue_ms=field_int(item.get("updatedTime") or ts),
                ts_local_ns=recv_ns,
            )
        ]

    def _execution(self, item: dict[str, Any], ts: int, recv_ns: int) -> list[PrivateStreamEvent]:
        symbol = field_text(item, "symbol")
        if exec_type(item) != TRADE:
            perp = self._instruments.get(("perp", symbol))
            event = account_event(self.venue, item, perp.quote if perp else "", ts, recv_ns)
            if event is None:
                self.skipped_executions += 1
                return []
            return [event]
        side = _side(item["side"])
        return [
            Fill(
                venue=self.venue,
                symbol=symbol,
                client_id=str(item.get("orderLinkId") or ""),
                venue_order_id=field_text(item, "orderId"),
                trade_id=field_text(item, "execId"),
                side=side,
                price=field_decimal(item, "execPrice"),
                qty=field_decimal(item, "execQty"),
                fee=field_signed(item, "execFee"),
                fee_asset=str(item.get("feeCurrency") or "")
                or self._fee_asset(item.get("category"), symbol, side),
                is_maker=item.get("isMaker") is True,
                ts_venue_ms=field_int(item.get("execTime") or ts),
                ts_local_ns=recv_ns,
            )
        ]

    def _fee_asset(self, category: object, symbol: str, side: Side) -> str:
        if category == "spot":
            spot = self._instruments.get(("spot", symbol))
            if spot is None:
                return ""
            return spot.base if side is Side.BUY else spot.quote
        perp = self._instruments.get(("perp", symbol))
        return perp.quote if perp is not None else ""

    def _position(self, item: dict[str, Any], ts: int, recv_ns: int) -> list[PrivateStreamEvent]:
        size = field_decimal(item, "size")
        side = item.get("side", "")
        if side == "Sell":
            size = -size
        elif side not in ("Buy", "", "None"):
            raise ValueError(f"expected position side Buy, Sell or empty, was {side!r}")
        return [
            PositionUpdate(
                venue=self.venue,
                symbol=field_text(item, "symbol"),
                size=size,
                # The push names it entryPrice; REST /v5/position/list calls it avgPrice.
                entry_price=field_price(item.get("entryPrice"), "entryPrice") if size else None,
                unrealized_pnl=field_signed(item, "unrealisedPnl", default="0"),
                ts_venue_ms=field_int(item.get("updatedTime") or ts),
                ts_local_ns=recv_ns,
            )
        ]

    def _wallet(self, item: dict[str, Any], ts: int, recv_ns: int) -> list[PrivateStreamEvent]:
        events: list[PrivateStreamEvent] = []
        for coin in item["coin"]:
            asset, free, total = coin_balance(coin)
            events.append(BalanceUpdate(self.venue, asset, free, total, ts, recv_ns))
        return events


_Parser = Callable[[BybitPrivateCodec, dict[str, Any], int, int], list[PrivateStreamEvent]]
_PARSERS: dict[str, _Parser] = {
    "order": BybitPrivateCodec._order,
    "execution": BybitPrivateCodec._execution,
    "position": BybitPrivateCodec._position,
    "wallet": BybitPrivateCodec._wallet,
}


def order_reason(item: Mapping[str, Any]) -> str:
    """Why Bybit ended an order, in its words, from a pushed or listed order ("" when it does
    not say). A `Rejected` order keeps its `rejectReason` whatever it is ("UNKNOWN" included:
    that is all the venue said), or "Rejected" when it sent none; a cancelled one its
    `rejectReason` (EC_PostOnlyWillTakeLiquidity, ...) or else its `cancelType`."""
    status = item.get("orderStatus")
    reject = str(item.get("rejectReason") or "")
    if status == "Rejected":
        return reject if reject not in ("", "EC_NoError") else "Rejected"
    if reject not in _NO_REASON:
        return reject
    cancel = str(item.get("cancelType") or "")
    if _STATUS.get(str(status)) is OrderStatus.CANCELLED and cancel not in _NO_REASON:
        return cancel
    return ""


def _venue_message(doc: dict[str, Any]) -> str:
    """Why Bybit refused an op, in its words: the private stream answers `ret_msg`, the
    order-entry stream (and some auth answers) `retMsg` with a `retCode`."""
    message = doc.get("ret_msg") or doc.get("retMsg") or "no reason given"
    code = doc.get("retCode")
    return f"{message} (code {code})" if code not in (None, "", 0, "0") else str(message)


def _side(text: object) -> Side:
    side = _SIDES.get(text) if isinstance(text, str) else None
    if side is None:
        raise ValueError(f"expected side Buy or Sell, was {text!r}")
    return side
