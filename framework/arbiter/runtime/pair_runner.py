"""One pair of one strategy: spread signals in, cycle-machine transitions and orders out.

The fast lane hands this runner threshold crossings only (`on_signal`, never per tick). The
runner fires the pair's cycle machine, whose guards are the manifest's gates; when the machine
accepts `enter` or `exit`, both legs go out at once through the dual-leg executor, and the
outcome fires the next event (`both_filled`, `both_failed`, `one_leg_filled`, ...). A one-legged
result is repaired per the manifest's policy before anything else happens on the pair.

Every transition is journaled. Per-tick arithmetic never reaches here.

Scope of this version: one cycle at a time per pair (the manifest's `max_open_cycles` is
enforced by its gate); the `both` direction enters in whichever direction crossed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Protocol

from loguru import logger

from arbiter.compiler.plan import PairPlan, Plan, buy_role
from arbiter.execution.dual_leg import (
    DualLegExecutor,
    DualResult,
    LegOrder,
    LegResult,
    RepairResult,
    RetryPolicy,
)
from arbiter.execution.fees import is_dust
from arbiter.execution.intent import Intent
from arbiter.fsm.cycle import ACTING, FLAT, IN_FLIGHT, NEEDS_OPERATOR, position_guard
from arbiter.fsm.runner import Decision as FsmDecision
from arbiter.fsm.runner import GuardResult, MachineRunner
from arbiter.market.instrument import Instrument
from arbiter.market.spread import SignalKind, SpreadSignal
from arbiter.risk.gates import Decision, GateStats, PairGates
from arbiter.risk.snapshot import RiskSnapshot
from arbiter.runtime.market import MarketState
from arbiter.runtime.pair_services import CycleJournal, EntryChecks
from arbiter.venues import OrderType, Side, TimeInForce
from arbiter.venues.contract.client_ids import IntentId

BPS = Decimal(10_000)
ZERO = Decimal(0)


class PairEvents(Protocol):
    """What the runtime does with a pair's outcomes (`arbiter.runtime.pair_desk.PairDesk`),
    and the strategy's trading state: active, reducing (exits pass), or halted (nothing new;
    a repair always goes on)."""

    def trading_state(self, strategy: str) -> str:
        """active, reducing (exits pass), or halted (nothing new; a repair always goes on)."""

    def on_fills(
        self, strategy: str, pair: PairPlan, result: DualResult | RepairResult, step: str
    ) -> None: ...

    async def hand_to_hedger(self, strategy: str, asset: str, residual: Decimal) -> None: ...


class RiskView(Protocol):
    """The books and balances a pair's gates read (`StrategyRunner.snapshot`)."""

    def snapshot(self, pair: PairPlan) -> RiskSnapshot: ...


@dataclass(frozen=True, slots=True)
class PairServices:
    """What a pair runner uses from the strategy and the runtime around it."""

    strategy: str
    market: MarketState  # instruments, live books, client id rules
    executor: DualLegExecutor
    cycles: CycleJournal
    checks: EntryChecks
    events: PairEvents
    risk: RiskView


@dataclass
class PairStats:
    cycles_completed: int = 0
    entries: int = 0
    entries_refused: int = 0
    one_legged: int = 0
    exits_failed: int = 0  # exits that went out and traded nothing (the pair stays open)
    unresolved: int = 0  # steps that ended with an order still in doubt (the pair halts)
    repairs: dict[str, int] = field(default_factory=dict)
    decision_to_sent_ns: list[int] = field(default_factory=list)


class PairRunner:
    def __init__(
        self, plan: Plan, pair: PairPlan, services: PairServices, stats: GateStats
    ) -> None:
        self.plan, self.pair, self.services = plan, pair, services
        self.gates = PairGates(pair, stats, other=self._position_guard)
        self.machine = MachineRunner(pair.cycle, self.gates.resolve)
        self.cycle = services.cycles.last_cycle(services.strategy, pair.id)
        # the cycle's last attempt number used (a restart continues from the journal's)
        self.attempt = services.cycles.last_attempt(services.strategy, pair.id, self.cycle)
        self.direction: str | None = None
        self.open_base = ZERO  # base quantity held by the current cycle (long spot / buy leg)
        self.stats = PairStats()
        self.last_refusal = ""
        self._busy: asyncio.Task[bool] | None = None
        self._entry_active: str | None = None  # the direction whose entry spread is active
        self._exit_active = False
        self._pending_params: tuple[Plan, PairPlan] | None = None
        self.draining = False  # removed by a reload: no new entries, exits as usual
        self._log = logger.bind(strategy=services.strategy, pair=pair.id)

    # -- the fast lane's hand-off ----------------------------------------------------------

    def on_signal(self, signal: SpreadSignal, direction: str) -> None:
        """A threshold crossing for this pair in `direction`. Never blocks."""
        if signal.kind is SignalKind.ENTRY:
            self._entry_active = (
                direction
                if signal.active
                else (None if self._entry_active == direction else self._entry_active)
            )
        elif direction == self.direction:
            self._exit_active = signal.active
        self.step()

    def step(self) -> None:
        """Advance the machine as far as the current signals allow, without waiting."""
        if self._busy is not None and not self._busy.done():
            return  # legs in flight: the outcome will call step() again
        mode = self.services.events.trading_state(self.services.strategy)
        if mode == "halted":
            return
        state = self.machine.state
        if state == "idle" and self._entry_active:
            self._fire("spread_entered")
            state = self.machine.state
        if state == "armed":
            if not self._entry_active:
                self._fire("spread_retreated")
            elif mode == "active" and not self.draining:
                self._try(self._enter(self._entry_active))
            else:
                self.last_refusal = (
                    "draining: no new entries"
                    if self.draining
                    else (f"strategy is {mode}: no new entries")
                )
        elif state == "open" and self._exit_active:
            self._try(self._exit())

    def retry_gates(self) -> None:
        """Called on a timer while armed: gates may pass now (depth came back, window opened)."""
        if self.machine.state in ACTING:
            self.step()

    # -- reload ----------------------------------------------------------------------------

    def retune(self, plan: Plan, pair: PairPlan) -> bool:
        """New thresholds/sizing/gates/execution for the same pair: applied now if at a safe
        point, else when the legs in flight have settled (never mid-entry)."""
        if self.machine.state in IN_FLIGHT:
            self._pending_params = (plan, pair)
            return False
        self._apply_params(plan, pair)
        return True

    def resume_from(self, state: str, direction: str | None, held_base: Decimal) -> None:
        """After a restart: the state, direction and position the journal's fills show."""
        self.machine.restore(state)
        self.direction, self.open_base = direction, held_base

    # -- the operator ----------------------------------------------------------------------

    def reset(self) -> FsmDecision:
        """An operator looked at a pair in `error`: it moves to `halted` (resume is separate)."""
        if self.machine.state != "error":
            raise ValueError(
                f"{self.pair.id}: reset moves a pair out of error; it is {self.machine.state}"
            )
        return self._fire("reset")

    def resume(self, direction: str | None, held_base: Decimal) -> FsmDecision:
        """An operator resumes a halted pair, holding what the journal's fills say both legs
        hold alike (any residual beyond it is the hedger's): `open` on it, or `idle` if flat."""
        if self.machine.state != "halted":
            raise ValueError(
                f"{self.pair.id}: resume moves a halted pair; it is {self.machine.state}"
            )
        if self._busy is not None and not self._busy.done():
            raise ValueError(f"{self.pair.id}: a step is still in flight; try again once it ends")
        self.direction, self.open_base = direction, held_base
        decision = self._fire("resume")
        self.step()
        return decision

    @property
    def busy(self) -> asyncio.Task[bool] | None:
        """The entry, exit or repair in flight, if any."""
        return self._busy

    def reset_signals(self) -> None:
        """The spread engine was rebuilt: forget crossings until it reports them again."""
        self._entry_active, self._exit_active = None, False

    @property
    def flat(self) -> bool:
        """No position and nothing in flight: safe to remove."""
        return self.open_base == 0 and self.machine.state in FLAT

    def _apply_params(self, plan: Plan, pair: PairPlan) -> None:
        self.plan, self.pair = plan, pair
        self.gates = PairGates(pair, self.gates.stats, other=self._position_guard)
        state = self.machine.state
        self.machine = MachineRunner(pair.cycle, self.gates.resolve)
        self.machine.restore(state)
        self._pending_params = None

    # -- entering and exiting --------------------------------------------------------------

    def _try(self, work: Coroutine[Any, Any, bool]) -> None:
        self._busy = asyncio.get_running_loop().create_task(work)
        self._busy.add_done_callback(self._after)

    def _after(self, task: asyncio.Task[bool]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.opt(exception=task.exception()).error("pair step failed; halting the pair")
            if self.machine.state not in NEEDS_OPERATOR:
                self._fire("fail")
        if self._pending_params is not None and self.machine.state not in IN_FLIGHT:
            self._apply_params(*self._pending_params)
        if self.machine.state == "cooling_down":
            cooldown = self.pair.thresholds.cooldown_s
            asyncio.get_running_loop().call_later(cooldown, self._cooled)
        elif self.machine.state in ACTING and _acted(task):
            # Legs went out and came back: act on the signals as they stand now. A refusal
            # is not retried here (that would spin): the next crossing or `retry_gates` is.
            self.step()

    def _cooled(self) -> None:
        if self.machine.state == "cooling_down":
            self._fire("cooldown_elapsed")
            self.step()

    def _next_attempt(self) -> int:
        """The next attempt number of the current cycle: one per order, never reused."""
        self.attempt += 1
        return self.attempt

    async def _enter(self, direction: str) -> bool:
        """Try to enter; False when nothing was sent (no book, a gate, pre-trade)."""
        next_cycle = self.cycle + 1
        legs = self._legs(direction, "entry", cycle=next_cycle, attempt=0)
        if legs is None:
            return False
        base, orders = legs
        decision = Decision("enter", direction, base, base * self._price(orders[0]))
        started = time.perf_counter_ns()
        # `enter` and every transition after it are journaled under the cycle being entered:
        # a restart classifies the journal's last cycle by that cycle's fills, so a crash
        # mid-entry must leave the new number there, not the previous cycle's.
        self.cycle, attempt = next_cycle, self.attempt
        self.attempt = 0  # the entry's legs are the new cycle's attempt 0
        verdict = self._fire(
            "enter", decision=decision, snapshot=self.services.risk.snapshot(self.pair)
        )
        if not verdict.accepted:
            # refused by a gate: nothing journaled, nothing used
            self.cycle, self.attempt = next_cycle - 1, attempt
            self.stats.entries_refused += 1
            self.last_refusal = "; ".join(f"{name}: {r.reason}" for name, r in verdict.failures)
            return False
        refused = self.services.checks.check(self.pair, orders, self.open_base)
        if refused:  # nothing was sent: leave through the machine's no-exposure edge
            self.stats.entries_refused += 1
            self.last_refusal = f"pre-trade: {refused}"
            self._fire("both_failed")
            return False
        self.direction = direction
        self.stats.entries += 1
        result = await self._execute(orders)
        if result.outcome == "refused":  # nothing was sent: leave through the no-exposure edge
            self.services.checks.release(orders)
            self.stats.entries_refused += 1
            self.last_refusal = result.reason
            self._fire("both_failed")
            return False
        self.stats.decision_to_sent_ns.append(time.perf_counter_ns() - started)
        self._report(result, "entry")
        if result.outcome == "both_filled":
            # what both legs hold alike: the buy's coins net of its fee, down to dust
            self.open_base = held_after(buy_role(direction), ZERO, result.legs)
            self._fire("both_filled")
        elif result.outcome == "both_failed":
            self._fire("both_failed")
        elif result.outcome == "unresolved":
            self._unresolved(result, before=ZERO)
        else:
            self.stats.one_legged += 1
            self._fire("one_leg_filled")
            await self._repair(result, orders, entering=True)
        return True

    async def _execute(self, orders: list[LegOrder]) -> DualResult:
        execution = self.plan.execution
        return await self.services.executor.execute(
            orders,
            execution.leg_timeout_ms,
            max_unhedged_ms=self.plan.risk.max_unhedged_ms,
            retry=RetryPolicy(execution.retry.max_attempts, execution.retry.backoff_ms),
            next_attempt=self._next_attempt,
        )

    def _unresolved(self, result: DualResult | RepairResult, *, before: Decimal) -> None:
        """An order of the step still in doubt past the unhedged budget: the pair holds what
        both legs are known to hold alike and halts; the order is finished in the background
        and its fills reach the books (and the hedger) when they come."""
        assert self.direction is not None
        self.stats.unresolved += 1
        self.open_base = held_after(buy_role(self.direction), before, result.legs)
        self._fire("unresolved")

    async def _exit(self) -> bool:
        """Try to exit; False when nothing was sent (no book, a gate) or nothing traded."""
        assert self.direction is not None
        attempt = self.attempt
        legs = self._legs(
            self.direction, "exit", cycle=self.cycle, qty=self.open_base, attempt=attempt + 1
        )
        if legs is None:
            return False
        base, orders = legs
        decision = Decision("exit", self.direction, base, base * self._price(orders[0]))
        verdict = self._fire(
            "exit", decision=decision, snapshot=self.services.risk.snapshot(self.pair)
        )
        if not verdict.accepted:
            self.last_refusal = "; ".join(f"{name}: {r.reason}" for name, r in verdict.failures)
            return False
        self.attempt = attempt + 1  # both exit legs carry it
        result = await self._execute(orders)
        if result.outcome == "refused":  # nothing was sent: still hedged
            self.services.checks.release(orders)
            self.last_refusal = result.reason
            self._fire("exit_failed")
            return False
        self._report(result, "exit")
        before = self.open_base
        if result.outcome == "both_filled":
            # what both legs still hold alike; below one lot of every leg, nothing
            held = held_after(buy_role(self.direction), before, result.legs)
            self.open_base = ZERO if is_dust(held, [o.instrument for o in orders]) else held
            if self.open_base > 0:
                self._fire("exit_failed")  # partly exited but still hedged: exit the rest later
            else:
                self._finish_cycle()
                self._fire("exit_filled")
        elif result.outcome == "both_failed":
            self.stats.exits_failed += 1
            self.last_refusal = f"exit: {result.reason}"
            self._fire("exit_failed")
            return False  # nothing traded: the next exit at the gate-retry pace, not at once
        elif result.outcome == "unresolved":
            self._unresolved(result, before=before)
        else:
            self.stats.one_legged += 1
            self._fire("one_leg_filled")
            await self._repair(result, orders, entering=False)
        return True

    async def _repair(self, result: DualResult, orders: list[LegOrder], *, entering: bool) -> None:
        policy = self.plan.execution.repair
        repaired = await self.services.executor.repair(
            result,
            orders,
            policy=policy.policy.value,
            touch=self._touch,
            max_chase_steps=policy.max_chase_steps,
            chase_step_bps=policy.chase_step_bps,
            max_slippage_bps=self.plan.execution.max_slippage_bps,
            max_unhedged_ms=self.plan.risk.max_unhedged_ms,
            leg_timeout_ms=self.plan.execution.leg_timeout_ms,
            next_attempt=self._next_attempt,
            hand_to_hedger=self._hand_over,
        )
        self._report(repaired, "repair")
        self.stats.repairs[repaired.outcome] = self.stats.repairs.get(repaired.outcome, 0) + 1
        # Whatever the policy did, the pair now holds what both its legs hold alike: a partial
        # fill repaired leaves a smaller hedged position, never nothing. Any residual beyond
        # it is the hedger's (handed over, or raised as an incident when the budget ran out).
        self.open_base = self._hedged_after(result, repaired, entering=entering)
        if repaired.outcome == "unresolved":
            self.stats.unresolved += 1
            self._fire("unresolved")
            return
        if repaired.outcome in ("repair_budget_exceeded", "refused"):
            self._fire("repair_budget_exceeded")
            return
        if self.open_base <= 0:
            self._finish_cycle()
        trigger = "handed_to_hedger" if repaired.outcome == "handed_to_hedger" else "flattened"
        if self.open_base > 0 and trigger == "flattened":
            trigger = "repaired"  # both legs still hold the same base: a hedged position
        self._fire(trigger)

    def _hedged_after(
        self, result: DualResult, repaired: RepairResult, *, entering: bool
    ) -> Decimal:
        assert self.direction is not None
        before = ZERO if entering else self.open_base
        return held_after(buy_role(self.direction), before, (*result.legs, *repaired.legs))

    def _report(self, result: DualResult | RepairResult, step: str) -> None:
        self.services.events.on_fills(self.services.strategy, self.pair, result, step)

    def _touch(self, role: str, side: Side) -> Decimal | None:
        """The price an order on `side` of the `role` leg would cross now."""
        return self.services.market.touch(self.pair.leg(role), side)

    async def _hand_over(self, residual: Decimal) -> None:
        await self.services.events.hand_to_hedger(self.services.strategy, self.pair.asset, residual)

    def _finish_cycle(self) -> None:
        self.open_base = ZERO
        self.stats.cycles_completed += 1

    # -- building the legs -----------------------------------------------------------------

    def _legs(
        self, direction: str, step: str, *, cycle: int, attempt: int, qty: Decimal | None = None
    ) -> tuple[Decimal, list[LegOrder]] | None:
        """Both legs of an entry or exit in `direction`, sized on both lot grids, or None."""
        buyer = buy_role(direction)
        roles = [leg.role for leg in self.pair.legs]
        market = self.services.market
        instruments = {role: market.instrument(self.pair.leg(role)) for role in roles}
        if any(i is None for i in instruments.values()):
            return None
        sides = {role: (Side.BUY if role == buyer else Side.SELL) for role in roles}
        if step == "exit":
            sides = {role: side.opposite for role, side in sides.items()}
        touches = {role: market.touch(self.pair.leg(role), sides[role]) for role in roles}
        if any(t is None for t in touches.values()):
            return None
        buy_touch = touches[buyer]
        assert buy_touch is not None
        base = qty if qty is not None else self._order_base(buy_touch)
        base = _on_both_grids(base, [i for i in instruments.values() if i is not None])
        if base <= 0:
            return None
        slip = self.plan.execution.max_slippage_bps
        orders = []
        for role in roles:
            inst, side, touch = instruments[role], sides[role], touches[role]
            assert inst is not None
            assert touch is not None
            limit = (
                inst.round_price_up(touch * (1 + slip / BPS))
                if side is Side.BUY
                else inst.round_price_down(touch * (1 - slip / BPS))
            )
            at_market = self.plan.execution.order_type.value == "market"
            intent = Intent.build(
                IntentId(self.services.strategy, self.pair.id, cycle, f"{step}.{role}", attempt),
                self.pair.leg(role).venue,
                market.rules.get(self.pair.leg(role).venue),
                symbol=inst.symbol,
                side=side,
                order_type=OrderType.MARKET if at_market else OrderType.LIMIT,
                # a spot buy pays its fee in the coins bought: buy that much more, so the
                # account holds `base` and the pair stays hedged
                qty=inst.gross_buy_qty(base) if side is Side.BUY else base / inst.contract_value,
                price=None if at_market else limit,
                decision_price=touch,
                tif=TimeInForce.IOC,
                reduce_only=step == "exit" and inst.kind.value == "perp",
                kind=inst.kind.value,
            )
            orders.append(LegOrder(role, intent, inst))
        return base, orders

    def _order_base(self, buy_touch: Decimal) -> Decimal:
        sizing = self.pair.sizing
        if sizing.order_qty is not None:
            return sizing.order_qty
        assert sizing.order_notional is not None
        return sizing.order_notional / buy_touch

    def _price(self, leg: LegOrder) -> Decimal:
        return leg.intent.decision_price

    # -- the machine -----------------------------------------------------------------------

    def _fire(self, trigger: str, **context: Any) -> FsmDecision:
        decision = self.machine.fire(trigger, **context)
        if decision.dest != decision.source:
            self.services.cycles.record(self.services.strategy, self.pair.id, self.cycle, decision)
            self._log.bind(cycle=self.cycle).info(
                "{} -> {} on {}", decision.source, decision.dest, trigger
            )
        return decision

    def _position_guard(self, name: str, context: Mapping[str, Any]) -> GuardResult:
        return position_guard(name, self.open_base, self.pair.asset)


def held_after(long_role: str, before: Decimal, legs: Iterable[LegResult]) -> Decimal:
    """The base both legs of a pair hold after a step's `legs` (entry or exit legs, and the
    repair's orders): the smaller of what the long leg holds and what the short leg is short.
    `long_role` is the role the entry bought; `before` what each held before the step."""
    held = {"long": before, "short": before}
    for leg in legs:
        if leg.role == long_role:
            held["long"] += leg.signed_base
        else:
            held["short"] -= leg.signed_base
    return max(ZERO, min(held["long"], held["short"]))


def _acted(task: asyncio.Task[bool]) -> bool:
    return not task.cancelled() and task.exception() is None and task.result()


def _on_both_grids(base: Decimal, instruments: list[Instrument]) -> Decimal:
    """The largest quantity <= base that is a whole number of lots on every leg."""
    for _ in range(8):
        before = base
        for inst in instruments:
            step = inst.lot_size * inst.contract_value
            base = (base / step).to_integral_value(rounding=ROUND_FLOOR) * step
        if base == before:
            return base
    return ZERO
