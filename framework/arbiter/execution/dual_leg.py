"""Both legs at once, and a repair when only one of them fills.

`DualLegExecutor.execute` journals both legs of a cycle step in one commit, sends them at once
through the gateway, and waits for both to end (IOC legs end at once; anything still working at the leg timeout is
cancelled). The outcome is classified by *exposure*, not by order states:

    residual (base) = signed filled base of leg A + signed filled base of leg B

where a leg's signed base is net of fees paid in the base asset (a spot buy receives its fill
less the fee; see `arbiter.execution.fees`), which is why spot buys are sized up by the fee.

- nothing filled: `both_failed`;
- filled and residual zero, or dust (below one lot of every leg): `both_filled` (possibly
  smaller than asked, but hedged);
- otherwise: `one_leg_filled`, and `repair` must bring the residual to zero.

Repair policies (manifest `execution.repair.policy`):
- `chase`: re-send the short leg's missing quantity as new intents (attempt + 1, so a new
  client id: it is a different order at a different price), each step `chase_step_bps` further
  through the touch, at most `max_chase_steps` times;
- `unwind`: trade the long leg's excess back out;
- `hedge`: hand the residual to the slow-lane hedger (which reacts at once).
All of it within `max_unhedged_ms` from the first fill; past that the result is
`repair_budget_exceeded` and the caller halts the pair and raises an incident.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from arbiter.execution.fees import base_fee, is_dust
from arbiter.execution.gateway import OrderGateway, OrderRefused
from arbiter.execution.intent import Intent
from arbiter.execution.records import OrderSnapshot
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.venues.orders import OrderRequest, OrderType, Side, TimeInForce

BPS = Decimal(10_000)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class LegOrder:
    role: str
    intent: Intent
    instrument: Instrument

    @property
    def side(self) -> Side:
        return self.intent.request.side


@dataclass(frozen=True, slots=True)
class LegResult:
    role: str
    side: Side
    snapshot: OrderSnapshot
    instrument: Instrument
    fee_base: Decimal = ZERO  # fees its fills paid in the base asset (spot buys)

    @property
    def filled_base(self) -> Decimal:
        """Base coins the order traded (gross of fees)."""
        return self.instrument.base_qty(self.snapshot.filled_qty)

    @property
    def signed_base(self) -> Decimal:
        """Base coins the account gained (+) or gave (-), net of fees paid in them."""
        gross = self.filled_base if self.side is Side.BUY else -self.filled_base
        return gross - self.fee_base


@dataclass(frozen=True, slots=True)
class DualResult:
    outcome: str  # both_filled, both_failed, one_leg_filled, refused
    legs: tuple[LegResult, ...]
    reason: str = ""
    first_fill_ns: int | None = None

    @property
    def residual_base(self) -> Decimal:
        return sum((leg.signed_base for leg in self.legs), ZERO)


@dataclass(frozen=True, slots=True)
class RepairResult:
    outcome: str  # repaired (chase completed), flattened (unwound), handed_to_hedger, repair_budget_exceeded, refused (a kill holds)
    residual_base: Decimal
    legs: tuple[LegResult, ...]  # the repair's own orders, each on the leg (role) it traded
    reason: str

    @property
    def orders(self) -> tuple[OrderSnapshot, ...]:
        return tuple(leg.snapshot for leg in self.legs)


TouchPrice = Callable[[str, Side], Decimal | None]  # (role, side we trade) -> touch we would cross


class DualLegExecutor:
    def __init__(
        self,
        gateway: OrderGateway,
        *,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        cancel_grace_s: float = 1.0,
    ) -> None:
        self.gateway = gateway
        self._clock = clock_ns
        self._grace = cancel_grace_s

    async def execute(self, legs: Sequence[LegOrder], leg_timeout_ms: int) -> DualResult:
        if len(legs) != 2:
            raise ValueError(f"expected two legs, was {len(legs)}")
        try:  # both intents journaled in one commit, then both sent at once
            await self.gateway.place_all([leg.intent for leg in legs])
        except OrderRefused as refused:  # a kill holds: nothing was journaled or sent
            return DualResult("refused", (), str(refused))
        except Exception as exc:  # a bug, not a venue answer (those are order states): loud
            ids = ", ".join(f"{leg.role} {leg.intent.client_id}" for leg in legs)
            raise RuntimeError(f"placing {ids} failed") from exc
        finals = await self._settle([leg.intent.client_id for leg in legs], leg_timeout_ms / 1000)
        results = tuple(
            self._result(leg.role, leg.side, snap, leg.instrument)
            for leg, snap in zip(legs, finals, strict=True)
        )
        return _classify(results, self._first_fill_ns([leg.intent.client_id for leg in legs]))

    def _result(
        self, role: str, side: Side, snap: OrderSnapshot, instrument: Instrument
    ) -> LegResult:
        fee = base_fee(self.gateway.tracker.fills(snap.client_id), instrument)
        return LegResult(role, side, snap, instrument, fee)

    def _first_fill_ns(self, client_ids: list[str]) -> int:
        """When the first of these orders' fills reached us (its local receive time), so the
        unhedged budget counts from the moment exposure began, not from when both legs ended;
        now, when the fills are known only from a status report."""
        tracker = self.gateway.tracker
        received = [
            f.ts_local_ns for cid in client_ids for f in tracker.fills(cid) if f.ts_local_ns
        ]
        return min(received, default=self._clock())

    async def _settle(self, client_ids: list[str], timeout_s: float) -> list[OrderSnapshot]:
        snaps = await asyncio.gather(
            *(self.gateway.wait_final(cid, timeout_s) for cid in client_ids)
        )
        late = [s.client_id for s in snaps if not s.is_final]
        if late:
            await asyncio.gather(*(self.gateway.cancel(cid) for cid in late))
            await asyncio.gather(*(self.gateway.wait_final(cid, self._grace) for cid in late))
        return [self.gateway.tracker.snapshot(cid) for cid in client_ids]

    async def repair(
        self,
        result: DualResult,
        legs: Sequence[LegOrder],
        *,
        policy: str,
        touch: TouchPrice,
        max_chase_steps: int,
        chase_step_bps: Decimal,
        max_slippage_bps: Decimal,
        max_unhedged_ms: int,
        leg_timeout_ms: int,
        hand_to_hedger: Callable[[Decimal], Awaitable[None]] | None = None,
    ) -> RepairResult:
        started = result.first_fill_ns or self._clock()
        deadline = started + max_unhedged_ms * 1_000_000
        residual = result.residual_base
        orders: list[LegResult] = []
        if residual == 0:
            return RepairResult("repaired", ZERO, (), "no residual")
        if policy == "hedge":
            if hand_to_hedger is None:
                raise ValueError("repair policy hedge needs a hedger")
            await hand_to_hedger(residual)
            return RepairResult(
                "handed_to_hedger", residual, (), f"residual {residual} handed to the hedger"
            )

        by_role = {leg.role: leg for leg in legs}
        short_leg, long_leg = _short_and_long(result, residual)
        target = by_role[short_leg.role] if policy == "chase" else by_role[long_leg.role]
        # chase: the short leg trades the residual away; unwind: the long leg trades it back.
        side = Side.SELL if residual > 0 else Side.BUY
        steps = max_chase_steps if policy == "chase" else 1 + max_chase_steps
        for step in range(1, steps + 1):
            if self._clock() >= deadline:
                break
            inst = target.instrument
            if side is Side.BUY and inst.buy_fee_in_base:
                units = inst.gross_buy_qty(abs(residual))  # receives it net of the fee
            else:
                units = inst.round_qty_down(abs(residual) / inst.contract_value)
            if units <= 0:
                return RepairResult(
                    "flattened" if policy == "unwind" else "repaired",
                    residual,
                    tuple(orders),
                    f"residual {residual} is below one lot of {target.instrument.symbol}: left as dust",
                )
            price = touch(target.role, side)
            if price is None:
                await asyncio.sleep(0)
                continue
            through = max_slippage_bps + chase_step_bps * (step - 1)
            limit = _limit(target.instrument, side, price, through)
            reduce_only = (
                target.instrument.kind is InstrumentKind.PERP
                if policy == "unwind"
                else target.intent.request.reduce_only  # chasing an exit leg stays reduce-only
            )
            intent = _next_intent(
                target.intent,
                side=side,
                units=units,
                limit=limit,
                decision=price,
                step=step,
                policy=policy,
                reduce_only=reduce_only,
            )
            try:
                await self.gateway.place(intent)
            except OrderRefused as refused:  # a kill holds: the residual stays, loudly
                return RepairResult("refused", residual, tuple(orders), str(refused))
            budget_left_ms = max(1, (deadline - self._clock()) // 1_000_000)
            (snap,) = await self._settle(
                [intent.client_id], min(leg_timeout_ms, budget_left_ms) / 1000
            )
            traded = self._result(target.role, side, snap, target.instrument)
            orders.append(traded)
            residual += traded.signed_base
            if residual == 0 or is_dust(residual, [leg.instrument for leg in legs]):
                outcome = "repaired" if policy == "chase" else "flattened"
                return RepairResult(
                    outcome, ZERO, tuple(orders), f"{policy} closed the residual in {step} step(s)"
                )
        return RepairResult(
            "repair_budget_exceeded",
            residual,
            tuple(orders),
            f"{policy}: residual {residual} left after {len(orders)} order(s) and {max_unhedged_ms} ms budget",
        )


def _classify(legs: tuple[LegResult, ...], first_fill_ns: int) -> DualResult:
    filled = [leg for leg in legs if leg.snapshot.filled_qty > 0]
    if not filled:
        reasons = "; ".join(f"{leg.role} {leg.snapshot.state}" for leg in legs)
        return DualResult("both_failed", legs, f"nothing filled ({reasons})")
    residual = sum((leg.signed_base for leg in legs), ZERO)
    if residual == 0 or is_dust(residual, [leg.instrument for leg in legs]):
        return DualResult("both_filled", legs, "hedged", first_fill_ns=first_fill_ns)
    detail = ", ".join(f"{leg.role} {leg.snapshot.state} {leg.filled_base}" for leg in legs)
    return DualResult(
        "one_leg_filled", legs, f"residual {residual} base ({detail})", first_fill_ns=first_fill_ns
    )


def _short_and_long(result: DualResult, residual: Decimal) -> tuple[LegResult, LegResult]:
    """(the leg that must trade more to hedge, the leg that traded too much)."""
    a, b = result.legs
    # Positive residual: too long. The long leg is the one that bought more than the other sold.
    if residual > 0:
        return (a, b) if a.side is Side.SELL else (b, a)
    return (a, b) if a.side is Side.BUY else (b, a)


def _limit(instrument: Instrument, side: Side, touch: Decimal, through_bps: Decimal) -> Decimal:
    if side is Side.BUY:
        return instrument.round_price_up(touch * (1 + through_bps / BPS))
    return instrument.round_price_down(touch * (1 - through_bps / BPS))


def _next_intent(
    base: Intent,
    *,
    side: Side,
    units: Decimal,
    limit: Decimal,
    decision: Decimal,
    step: int,
    policy: str,
    reduce_only: bool,
) -> Intent:
    """A new order of the repair: same cycle and leg, its own attempt number and client id."""
    intent_id = replace(base.id, leg=f"{base.id.leg}.{policy}", attempt=step)
    request = OrderRequest(
        client_id=intent_id.client_id(),  # a-prefixed hex: within every venue's rules
        symbol=base.request.symbol,
        side=side,
        type=OrderType.LIMIT,
        qty=units,
        price=limit,
        tif=TimeInForce.IOC,
        reduce_only=reduce_only,
        kind=base.request.kind,
    )
    return Intent(intent_id, base.venue, request, decision)
