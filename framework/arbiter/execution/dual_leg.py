"""Both legs at once, and a repair when only one of them fills.

`DualLegExecutor.execute` journals both legs of a cycle step in one commit, sends them at once
through the gateway, and waits for both to end (IOC legs end at once; anything still working at
the leg timeout is cancelled). The outcome is classified by *exposure*, not by order states:

    residual (base) = signed filled base of leg A + signed filled base of leg B

where a leg's signed base is net of fees paid in the base asset (a spot buy receives its fill
less the fee; see `arbiter.execution.fees`), which is why spot buys are sized up by the fee.

- nothing filled: `both_failed`;
- filled and residual zero, or dust (below one lot of every leg): `both_filled` (possibly
  smaller than asked, but hedged);
- a leg whose outcome is still unknown when the unhedged budget runs out: `unresolved` (the
  gateway goes on finishing it in the background; its fills reach the books when they come);
- otherwise: `one_leg_filled`, and `repair` must bring the residual to zero;
- the gateway's admission refused the step (a kill holds): `refused`, nothing was sent.

The unhedged budget (`max_unhedged_ms`) counts from the first fill of either leg (from the
send while none is known) and bounds every phase: the wait for the venue's answers, the queries
of an ambiguous send, the cancels of late legs, every repair order. The executor never waits
past it for a slow answer: it stops waiting and reports what it knows.

A leg refused with a retryable answer (a rate limit: the venue did not take it) is sent again
as a new attempt (a new client id: the first order is final, `rejected`) after `backoff_ms`, at
most `max_attempts` placements per leg, while its leg timeout lasts (`RetryPolicy`, from the
manifest's `execution.retry`).

Repair, within the budget, escalates while a residual is left:
- `chase` (policy chase): re-send the short leg's missing quantity as new intents, each step
  `chase_step_bps` further through the touch, at most `max_chase_steps` times;
- `unwind` (policy unwind, and after an exhausted chase): trade the long leg's excess back out;
- past that, or past the budget, `repair_budget_exceeded`: the caller hands the residual to the
  hedger, halts the pair and raises an incident.
Policy `hedge` hands the residual to the slow-lane hedger at once.

Every order of a step or a repair takes the cycle's next attempt number (`next_attempt`), so no
two orders of a cycle ever share an intent id, and so a client id, across restarts too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from arbiter import clock as process_clock
from arbiter.execution.fees import base_fee, is_dust
from arbiter.execution.gateway import OrderGateway, OrderRefused, Sent
from arbiter.execution.intent import Intent
from arbiter.execution.records import OrderSnapshot
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.venues import OrderRequest, OrderType, Side, TimeInForce

BPS = Decimal(10_000)
ZERO = Decimal(0)
NextAttempt = Callable[[], int]


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
    outcome: str  # both_filled, both_failed, one_leg_filled, unresolved, refused
    legs: tuple[LegResult, ...]  # every order of the step (both legs, and their retries)
    reason: str = ""
    first_fill_ns: int | None = None
    unresolved: tuple[str, ...] = ()  # client ids still not final when the executor stopped

    @property
    def residual_base(self) -> Decimal:
        return sum((leg.signed_base for leg in self.legs), ZERO)


@dataclass(frozen=True, slots=True)
class RepairResult:
    # repaired (chase closed it), flattened (unwind closed it), handed_to_hedger,
    # repair_budget_exceeded, unresolved (a repair order still unknown), refused (a kill holds)
    outcome: str
    residual_base: Decimal
    legs: tuple[LegResult, ...]  # the repair's own orders, each on the leg (role) it traded
    reason: str
    unresolved: tuple[str, ...] = ()

    @property
    def orders(self) -> tuple[OrderSnapshot, ...]:
        return tuple(leg.snapshot for leg in self.legs)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Placements per leg when the venue refuses one with a retryable answer, and the pause
    before each new one (the manifest's `execution.retry`)."""

    max_attempts: int = 1
    backoff_ms: int = 0


TouchPrice = Callable[[str, Side], Decimal | None]  # (role, side we trade) -> touch we would cross


@dataclass
class _Order:
    leg: LegOrder
    send: asyncio.Task[Sent]
    retried: bool = False


@dataclass
class _Step:
    """The orders of one step while they settle: both legs (and their retries), or one
    repair order."""

    orders: list[_Order]
    started_ns: int
    leg_deadline_ns: int
    budget_ns: int | None  # the unhedged budget; None: wait for the legs (and a grace period)
    hard_deadline_ns: int | None = None  # never wait past this (a repair's share of the budget)
    first_fill_ns: int | None = None  # when a fill of the step was first known
    retries_due: list[tuple[int, _Order]] = field(default_factory=list)  # (when, to resend)

    @property
    def ids(self) -> list[str]:
        return [o.leg.intent.client_id for o in self.orders]


class DualLegExecutor:
    def __init__(
        self,
        gateway: OrderGateway,
        *,
        clock_ns: Callable[[], int] = process_clock.monotonic_ns,
        cancel_grace_s: float = 1.0,
    ) -> None:
        self.gateway = gateway
        self._clock = clock_ns
        self._grace_ns = int(cancel_grace_s * 1e9)

    async def execute(
        self,
        legs: Sequence[LegOrder],
        leg_timeout_ms: int,
        *,
        max_unhedged_ms: int | None = None,
        retry: RetryPolicy = RetryPolicy(),
        next_attempt: NextAttempt | None = None,
    ) -> DualResult:
        """Both legs at once; their outcome by exposure. `max_unhedged_ms`: the unhedged
        budget (None: wait for late legs' cancels for a grace period instead)."""
        if len(legs) != 2:
            raise ValueError(f"expected two legs, was {len(legs)}")
        started = self._clock()
        try:  # both intents journaled in one commit, then both sent at once
            sends = self.gateway.send_all([leg.intent for leg in legs])
        except OrderRefused as refused:  # a kill holds: nothing was journaled or sent
            return DualResult("refused", (), str(refused))
        except Exception as exc:  # a bug, not a venue answer (those are order states): loud
            ids = ", ".join(f"{leg.role} {leg.intent.client_id}" for leg in legs)
            raise RuntimeError(f"placing {ids} failed") from exc
        step = _Step(
            [_Order(leg, send) for leg, send in zip(legs, sends, strict=True)],
            started,
            started + leg_timeout_ms * 1_000_000,
            None if max_unhedged_ms is None else max_unhedged_ms * 1_000_000,
        )
        await self._settle(step, retry, next_attempt)
        results = tuple(self._result(o.leg, self._snapshot(o)) for o in step.orders)
        unresolved = tuple(o.leg.intent.client_id for o in step.orders if not self._final(o))
        return _classify(results, self._first_fill(step), unresolved)

    # -- settling a step -------------------------------------------------------------------

    async def _settle(
        self, step: _Step, retry: RetryPolicy, next_attempt: NextAttempt | None
    ) -> None:
        """Wait until every order of the step is final, retrying refused legs, cancelling
        late ones at the leg deadline, and never past the unhedged budget."""
        finishing = False
        while True:
            now = self._clock()
            if next_attempt is not None and not finishing:
                self._schedule_retries(step, retry, now)
                self._send_due_retries(step, now, next_attempt)
            waiting = [o for o in step.orders if not self._final(o)]
            if not waiting and not step.retries_due:
                return
            end = self._end_ns(step)
            if now >= end:
                return  # past the budget (or the grace): stop waiting, report what is known
            if not finishing and now >= step.leg_deadline_ns:
                finishing = True
                step.retries_due.clear()
                for order in waiting:  # cancel what may work, query what is in doubt
                    self.gateway.finish(order.leg.intent.client_id)
            wake = [end]
            if not finishing:
                wake.append(step.leg_deadline_ns)
            wake.extend(due for due, _ in step.retries_due)
            ids = [o.leg.intent.client_id for o in waiting]
            await self.gateway.wait_change(ids, max(0, min(wake) - now) / 1e9)

    def _end_ns(self, step: _Step) -> int:
        """When the executor stops waiting: the unhedged budget from the first fill (from the
        start while none is known), or the leg deadline plus the cancel grace without one."""
        if step.budget_ns is None:
            end = step.leg_deadline_ns + self._grace_ns
        else:
            first = self._first_fill(step)
            end = (step.started_ns if first is None else first) + step.budget_ns
        if step.hard_deadline_ns is not None:
            end = min(end, step.hard_deadline_ns)
        return end

    def _schedule_retries(self, step: _Step, retry: RetryPolicy, now: int) -> None:
        for order in list(step.orders):
            if order.retried or not order.send.done() or order.send.cancelled():
                continue
            if order.send.exception() is not None or not order.send.result().retryable:
                continue
            order.retried = True
            placed = sum(1 for o in step.orders if o.leg.role == order.leg.role)
            due = now + retry.backoff_ms * 1_000_000
            if placed < retry.max_attempts and due < step.leg_deadline_ns:
                step.retries_due.append((due, order))

    def _send_due_retries(self, step: _Step, now: int, next_attempt: NextAttempt) -> None:
        due = [(when, order) for when, order in step.retries_due if when <= now]
        for item in due:
            step.retries_due.remove(item)
            leg = item[1].leg
            intent = _retry_intent(leg.intent, next_attempt())
            try:
                (send,) = self.gateway.send_all([intent])
            except OrderRefused:  # a kill holds: no more tries
                step.retries_due.clear()
                return
            step.orders.append(_Order(LegOrder(leg.role, intent, leg.instrument), send))

    def _snapshot(self, order: _Order) -> OrderSnapshot:
        return self.gateway.tracker.snapshot(order.leg.intent.client_id)

    def _final(self, order: _Order) -> bool:
        return self._snapshot(order).is_final

    def _result(self, leg: LegOrder, snap: OrderSnapshot) -> LegResult:
        fee = base_fee(self.gateway.tracker.fills(snap.client_id), leg.instrument)
        return LegResult(leg.role, leg.side, snap, leg.instrument, fee)

    def _first_fill(self, step: _Step) -> int | None:
        """The step's first fill time, fixed once known (a fill known only from a status
        report is dated when it was first seen, not again at every look)."""
        if step.first_fill_ns is None:
            step.first_fill_ns = self._first_fill_ns(step.ids)
        return step.first_fill_ns

    def _first_fill_ns(self, client_ids: list[str]) -> int | None:
        """When the first of these orders' fills reached us (its local receive time), so the
        unhedged budget counts from the moment exposure began, not from when both legs ended;
        now, when fills are known only from a status report; None while nothing filled."""
        tracker = self.gateway.tracker
        received = [
            f.ts_local_ns for cid in client_ids for f in tracker.fills(cid) if f.ts_local_ns
        ]
        if received:
            return min(received)
        if any(tracker.snapshot(cid).filled_qty > 0 for cid in client_ids):
            return self._clock()
        return None

    # -- repair ----------------------------------------------------------------------------

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
        next_attempt: NextAttempt,
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
        instruments = [leg.instrument for leg in legs]
        rungs = ("chase", "unwind") if policy == "chase" else ("unwind",)
        for rung in rungs:
            steps = max_chase_steps if rung == "chase" else 1 + max_chase_steps
            for step in range(1, steps + 1):
                if self._clock() >= deadline:
                    break
                # too long (residual > 0): sell; too short: buy. Chase trades on the leg that
                # did too little, unwind on the one that did too much.
                side = Side.SELL if residual > 0 else Side.BUY
                target = by_role[_role_to_trade(legs, side, chase=rung == "chase")]
                inst = target.instrument
                if side is Side.BUY and inst.buy_fee_in_base:
                    units = inst.gross_buy_qty(abs(residual))  # receives it net of the fee
                else:
                    units = inst.round_qty_down(abs(residual) / inst.contract_value)
                if units <= 0:
                    return RepairResult(
                        "flattened" if rung == "unwind" else "repaired",
                        residual,
                        tuple(orders),
                        f"residual {residual} is below one lot of {inst.symbol}: left as dust",
                    )
                price = touch(target.role, side)
                if price is None:
                    await asyncio.sleep(0)
                    continue
                through = max_slippage_bps + chase_step_bps * (step - 1)
                reduce_only = (
                    inst.kind is InstrumentKind.PERP
                    if rung == "unwind"
                    else target.intent.request.reduce_only  # chasing an exit leg stays so
                )
                intent = _next_intent(
                    target.intent,
                    side=side,
                    units=units,
                    limit=_limit(inst, side, price, through),
                    decision=price,
                    attempt=next_attempt(),
                    rung=rung,
                    reduce_only=reduce_only,
                )
                try:
                    (send,) = self.gateway.send_all([intent])
                except OrderRefused as refused:  # a kill holds: the residual stays, loudly
                    return RepairResult("refused", residual, tuple(orders), str(refused))
                now = self._clock()
                order = _Order(LegOrder(target.role, intent, inst), send)
                repair_step = _Step(
                    [order],
                    now,
                    min(now + leg_timeout_ms * 1_000_000, deadline),
                    None,
                    hard_deadline_ns=deadline,
                )
                await self._settle(repair_step, RetryPolicy(), None)
                traded = self._result(order.leg, self._snapshot(order))
                orders.append(traded)
                residual += traded.signed_base
                if not self._final(order):
                    return RepairResult(
                        "unresolved",
                        residual,
                        tuple(orders),
                        f"{rung} order {intent.client_id} still {traded.snapshot.state} at the "
                        f"{max_unhedged_ms} ms budget",
                        (intent.client_id,),
                    )
                if residual == 0 or is_dust(residual, instruments):
                    outcome = "repaired" if rung == "chase" else "flattened"
                    return RepairResult(
                        outcome,
                        ZERO,
                        tuple(orders),
                        f"{rung} closed the residual in {step} step(s)",
                    )
        return RepairResult(
            "repair_budget_exceeded",
            residual,
            tuple(orders),
            f"{policy}: residual {residual} left after {len(orders)} order(s) and {max_unhedged_ms} ms budget",
        )


def _classify(
    legs: tuple[LegResult, ...], first_fill_ns: int | None, unresolved: tuple[str, ...]
) -> DualResult:
    residual = sum((leg.signed_base for leg in legs), ZERO)
    if unresolved:
        states = ", ".join(
            f"{leg.role} {leg.snapshot.state}"
            for leg in legs
            if leg.snapshot.client_id in unresolved
        )
        return DualResult(
            "unresolved",
            legs,
            f"still not final when the executor stopped waiting ({states}); known residual {residual}",
            first_fill_ns,
            unresolved,
        )
    filled = [leg for leg in legs if leg.snapshot.filled_qty > 0]
    if not filled:
        reasons = "; ".join(f"{leg.role} {leg.snapshot.state}" for leg in legs)
        return DualResult("both_failed", legs, f"nothing filled ({reasons})")
    if residual == 0 or is_dust(residual, [leg.instrument for leg in legs]):
        return DualResult("both_filled", legs, "hedged", first_fill_ns=first_fill_ns)
    detail = ", ".join(f"{leg.role} {leg.snapshot.state} {leg.filled_base}" for leg in legs)
    return DualResult(
        "one_leg_filled", legs, f"residual {residual} base ({detail})", first_fill_ns=first_fill_ns
    )


def _role_to_trade(legs: Sequence[LegOrder], side: Side, *, chase: bool) -> str:
    """The leg a repair order trades: chasing, the one whose step traded on `side` (it did too
    little of it); unwinding, the other one (it did too much of the opposite)."""
    for leg in legs:
        if (leg.side is side) == chase:
            return leg.role
    raise ValueError(f"expected one leg on each side, was {[leg.side for leg in legs]}")


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
    attempt: int,
    rung: str,
    reduce_only: bool,
) -> Intent:
    """A new order of the repair: same cycle and leg, its own attempt number and client id."""
    intent_id = replace(base.id, leg=f"{base.id.leg}.{rung}", attempt=attempt)
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


def _retry_intent(base: Intent, attempt: int) -> Intent:
    """The same order once more under a new attempt (and so a new client id): the venue
    refused the first without taking it."""
    intent_id = replace(base.id, attempt=attempt)
    return Intent(
        intent_id,
        base.venue,
        replace(base.request, client_id=intent_id.client_id()),
        base.decision_price,
    )
