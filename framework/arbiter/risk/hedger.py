"""The slow lane: measure net delta per asset and hedge it back inside the band.

It runs as an APScheduler 3.x interval job (`attach`) and also at once when execution reports a
residual (`on_residual`), e.g. after a one-legged fill handed over by the repair policy. One
measurement runs at a time; ticks that arrive while it is busy are absorbed by the hedger
machine (internal transitions), not queued.

Orders go out through `submit`, which the runtime wires to the idempotent order pipeline; it
returns the quantity that filled (venue units), so the hedger knows whether to go on. The fills
themselves reach the inventory through the pipeline, as every order's do, each exactly once
whenever it arrives (one that comes after the hedger stopped waiting included).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loguru import logger

from arbiter.fsm.hedger import HEDGER
from arbiter.fsm.runner import MachineRunner
from arbiter.market.instrument import Instrument
from arbiter.risk.hedge_plan import HedgeDecision, HedgeSlice, plan_hedge
from arbiter.risk.inventory import Inventory


@dataclass(frozen=True, slots=True)
class HedgeTarget:
    """Where one asset is hedged: a perp on one venue account."""

    asset: str
    venue: str
    instrument: Instrument


@dataclass(frozen=True, slots=True)
class HedgeSettings:
    band_notional: Decimal
    max_order_notional: Decimal
    max_slippage_bps: Decimal
    interval_s: int


TopOfBook = Callable[[str, str], tuple[Decimal, Decimal] | None]  # (venue, symbol) -> (bid, ask)
Submit = Callable[[HedgeSlice], Awaitable[Decimal]]  # returns filled venue units (unsigned)


class Hedger:
    def __init__(
        self,
        strategy: str,
        settings: HedgeSettings,
        inventory: Inventory,
        *,
        targets: Mapping[str, HedgeTarget],
        top_of_book: TopOfBook,
        submit: Submit,
    ) -> None:
        self.strategy = strategy
        self.settings = settings
        self.inventory = inventory
        self.targets = dict(targets)
        self._top = top_of_book
        self._submit = submit
        self.machine = MachineRunner(HEDGER)
        self.decisions: list[HedgeDecision] = []
        self.max_abs_delta_notional: dict[str, Decimal] = {}
        self._lock = asyncio.Lock()
        self._again = False  # a residual arrived while a measurement ran: measure once more
        self._tasks: set[asyncio.Task[list[HedgeDecision]]] = set()
        self._log = logger.bind(strategy=strategy, component="hedger")

    def attach(self, scheduler: Any) -> None:
        """Register the interval job on an `apscheduler.schedulers.asyncio.AsyncIOScheduler`."""
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.settings.interval_s,
            id=f"hedger:{self.strategy}",
            max_instances=1,
            coalesce=True,
            replace_existing=True,
        )

    async def tick(self) -> list[HedgeDecision]:
        """An interval tick: measure unless busy (the machine absorbs ticks while busy)."""
        if self.machine.state == "halted":
            return []
        decision = self.machine.fire("measure")
        if decision.dest != "measuring" or decision.source == "measuring":
            return []
        return await self._measure_and_hedge()

    async def on_residual(self) -> list[HedgeDecision]:
        """Execution handed over a residual: measure now rather than at the next interval."""
        if not self._residual():
            return []
        return await self._measure_and_hedge()

    def take_residual(self) -> asyncio.Task[list[HedgeDecision]] | None:
        """`on_residual` on a task of its own, the machine moved at once (`measuring`), so the
        caller need not wait for hedge orders and an observer sees the hedger at work."""
        if not self._residual():
            return None
        task = asyncio.get_running_loop().create_task(self._measure_and_hedge())
        self._tasks.add(task)  # held until done: the loop keeps only a weak reference
        task.add_done_callback(self._tasks.discard)
        return task

    def _residual(self) -> bool:
        """Fire `residual`; True when a measurement must start now. While one runs already,
        the residual is remembered and measured again once it settles: it may have arrived
        after that measurement read the books."""
        if self.machine.state == "halted":
            return False
        decision = self.machine.fire("residual")
        if decision.dest != "measuring" or decision.source in ("measuring", "hedging"):
            self._again = True
            return False
        return True

    def halt(self) -> None:
        self.machine.fire("halt")

    def resume(self) -> None:
        if self.machine.state == "halted":
            self.machine.fire("resume")

    async def _measure_and_hedge(self) -> list[HedgeDecision]:
        plans = await self._measure_once()
        while self._again and self.machine.state == "idle":
            self._again = False
            self.machine.fire("residual")
            plans = await self._measure_once()
        return plans

    async def _measure_once(self) -> list[HedgeDecision]:
        async with self._lock:
            plans: list[HedgeDecision] = []
            for asset in self.inventory.assets():
                target = self.targets.get(asset)
                if target is None:
                    continue
                top = self._top(target.venue, target.instrument.symbol)
                if top is None:
                    self._log.warning(
                        "no book for {}:{}; cannot measure {}",
                        target.venue,
                        target.instrument.symbol,
                        asset,
                    )
                    continue
                plan = plan_hedge(
                    self.inventory.delta(asset),
                    target.instrument,
                    venue_account=target.venue,
                    best_bid=top[0],
                    best_ask=top[1],
                    band_notional=self.settings.band_notional,
                    max_order_notional=self.settings.max_order_notional,
                    max_slippage_bps=self.settings.max_slippage_bps,
                )
                worst = self.max_abs_delta_notional.get(asset, Decimal(0))
                self.max_abs_delta_notional[asset] = max(worst, abs(plan.delta_notional))
                plans.append(plan)
            self.decisions.extend(plans)
            work = [(p, s) for p in plans for s in p.slices]
            if self.machine.state != "measuring":  # halted while measuring: send nothing
                return plans
            if not work:
                self.machine.fire("in_band")
                return plans
            self.machine.fire("out_of_band")
            failed = False
            for _, hedge_slice in work:
                if self.machine.state != "hedging":
                    break  # halted meanwhile: no further slices
                try:
                    filled = await self._submit(hedge_slice)
                except Exception as exc:  # the pipeline reports its own incidents; we re-measure
                    self._log.opt(exception=exc).error("hedge slice failed: {}", hedge_slice)
                    failed = True
                    break
                # what filled is in the inventory already: its fills are booked as they come
                if filled < hedge_slice.qty:
                    failed = (
                        True  # not fully filled within the slippage bound: stop, re-measure later
                    )
                    break
            if self.machine.state == "hedging":  # else halted meanwhile: it stays halted
                self.machine.fire("hedge_failed" if failed else "hedged")
                self.machine.fire("settled")
            return plans
