"""What a Bybit execution row is: one rule for the private `execution` topic and for REST
`GET /v5/execution/list`, which list the same rows in the same words.

- `execType` Trade (or absent, as in older messages): a fill of one of our orders, built by the
  caller (`Fill`), the only kind that ever reaches the order pipeline.
- `Funding`: a funding settlement on the account's perp position (`FundingSettlement`).
  `execFee` is the funding fee, positive when the account paid (Bybit's transaction log signs the
  same payment the other way round; we keep the execution's sign and turn it into ours:
  `amount = -execFee`). `execId` identifies the settlement, `execTime` is when it settled, the
  coin is `feeCurrency`, or the perp's settle coin when Bybit leaves that empty (it does for
  linear funding). `execPrice` (the mark price), `execQty` (the position) and `side` describe
  the position and are not read.
- `AdlTrade`, `BustTrade`: the venue closed part of the position by itself (auto-deleveraging,
  a liquidation taken over): `ForcedExecution`, for an operator to see, never a fill of an order.
- anything else (`Settle`, `Delivery`, `BlockTrade`, `MovePosition`, ...): nothing of ours to
  book; the caller counts it as skipped.

Fields are read exactly (`arbiter.venues.field_text` and its siblings); a row that lacks one
raises `ValueError` naming it, which the WebSocket codec counts as a stream error and the REST
reader logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arbiter.venues import (
    AccountEvent,
    ForcedExecution,
    ForcedKind,
    FundingSettlement,
    Side,
    field_decimal,
    field_int,
    field_signed,
    field_text,
)

TRADE = "Trade"
FUNDING = "Funding"
_FORCED = {"AdlTrade": ForcedKind.ADL, "BustTrade": ForcedKind.LIQUIDATION}
_SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}


def exec_type(row: Mapping[str, Any]) -> str:
    kind = row.get("execType")
    if kind is None or kind == "":
        return TRADE
    if not isinstance(kind, str):
        raise ValueError(f"expected execType as a string, was {kind!r}")
    return kind


def account_event(
    venue: str, row: Mapping[str, Any], settle_coin: str, ts_ms: int = 0, recv_ns: int = 0
) -> AccountEvent | None:
    """The event a row that is not a Trade stands for, or None when it is nothing of ours.

    `settle_coin`: the symbol's settle coin, for a row whose `feeCurrency` is empty; `ts_ms`:
    the message's own time, for a row without `execTime`.
    """
    kind = exec_type(row)
    if kind == FUNDING:
        return FundingSettlement(
            venue=venue,
            symbol=field_text(row, "symbol"),
            amount=-field_signed(row, "execFee"),
            asset=_fee_coin(row, settle_coin),
            settlement_id=field_text(row, "execId"),
            ts_venue_ms=field_int(row.get("execTime") or ts_ms),
            ts_local_ns=recv_ns,
        )
    forced = _FORCED.get(kind)
    if forced is None:
        return None
    side = _SIDES.get(str(row.get("side")))
    if side is None:
        raise ValueError(f"expected side Buy or Sell, was {row.get('side')!r}")
    return ForcedExecution(
        venue=venue,
        symbol=field_text(row, "symbol"),
        kind=forced,
        trade_id=field_text(row, "execId"),
        side=side,
        price=field_decimal(row, "execPrice"),
        qty=field_decimal(row, "execQty"),
        fee=field_signed(row, "execFee", default="0"),
        fee_asset=_fee_coin(row, settle_coin),
        ts_venue_ms=field_int(row.get("execTime") or ts_ms),
        ts_local_ns=recv_ns,
    )


def _fee_coin(row: Mapping[str, Any], settle_coin: str) -> str:
    coin = row.get("feeCurrency") or settle_coin
    if not isinstance(coin, str) or not coin:
        raise ValueError(
            f"expected feeCurrency or a known settle coin for {row.get('symbol')!r}, was neither"
        )
    return coin
