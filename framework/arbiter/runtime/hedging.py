"""Each strategy's hedger, wired to the live books and to the same order pipeline as its legs.

A hedge slice becomes an intent like any other order (journaled before it is sent, its client id
derived from `(strategy, "hedge", n, "hedge.<asset>")` with `n` continuing across restarts),
passes the pre-trade funds check, goes out as a limit IOC no worse than the manifest's slippage
bound, and reports what filled. Only a global halt (the kill switch, an operator's kill) refuses
hedge orders: a strategy halted or reducing on a risk breach keeps hedging its residual delta.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from typing import Any

from arbiter.compiler.plan import LegPlan
from arbiter.execution.gateway import OrderGateway
from arbiter.execution.intent import Intent
from arbiter.execution.pretrade import PlannedLeg, PretradeChecker
from arbiter.risk.hedge_plan import HedgeSlice
from arbiter.risk.hedger import Hedger, HedgeSettings, HedgeTarget
from arbiter.risk.trading import GLOBAL, TradingStates
from arbiter.runtime.host import StrategyHost
from arbiter.runtime.ledger import HEDGE_PAIR
from arbiter.runtime.market import MarketState
from arbiter.runtime.pair_services import CycleJournal
from arbiter.venues import OrderType, TimeInForce
from arbiter.venues.contract.client_ids import IntentId


class HedgeDesk:
    def __init__(
        self,
        *,
        market: MarketState,
        gateway: OrderGateway,
        checker: PretradeChecker,
        states: TradingStates,
        scheduler: Any,  # apscheduler's AsyncIOScheduler
        cycles: CycleJournal,
        cancel_timeout_s: float,
    ) -> None:
        self.market, self.gateway, self.checker = market, gateway, checker
        self.states, self.scheduler, self._cycles = states, scheduler, cycles
        self._cancel_timeout_s = cancel_timeout_s
        self._seq: dict[str, int] = {}  # strategy -> last hedge intent number used

    def next_seq(self, strategy: str) -> int:
        """The strategy's next hedge intent number, continuing from the journal's last."""
        last = self._seq.get(strategy)
        if last is None:
            last = self._cycles.last_cycle(strategy, HEDGE_PAIR)
        self._seq[strategy] = last + 1
        return last + 1

    def attach(self, host: StrategyHost) -> None:
        """(Re)build the strategy's hedger from its manifest and schedule it; None without a
        `hedge` section."""
        self.detach(host)
        hedge = host.loaded.manifest.hedge
        if hedge is None:
            return
        legs: dict[str, LegPlan] = {}  # asset -> hedge instrument
        targets: dict[str, HedgeTarget] = {}
        for runner in host.runner.runners():
            leg, asset = runner.pair.hedge_leg, runner.pair.asset
            inst = self.market.instrument(leg) if leg is not None else None
            if leg is not None and inst is not None and asset not in targets:
                targets[asset] = HedgeTarget(asset, leg.venue, replace(inst, venue=leg.venue))
                legs[asset] = leg
        settings = HedgeSettings(
            band_notional=hedge.band_notional,
            max_order_notional=hedge.max_order_notional,
            max_slippage_bps=host.runner.plan.execution.max_slippage_bps,
            interval_s=hedge.interval_s,
        )

        def top_of_book(venue: str, symbol: str) -> tuple[Decimal, Decimal] | None:
            leg = next((x for x in legs.values() if (x.venue, x.symbol) == (venue, symbol)), None)
            return None if leg is None else self.market.top(leg)

        async def submit(hedge_slice: HedgeSlice) -> Decimal:
            return await self._submit(host, hedge_slice, legs)

        host.hedger = Hedger(
            host.name,
            settings,
            host.runner.inventory,
            targets=targets,
            top_of_book=top_of_book,
            submit=submit,
        )
        if self.states.state(GLOBAL) == "halted":
            host.hedger.halt()
        host.hedger.attach(self.scheduler)

    def detach(self, host: StrategyHost) -> None:
        job = f"hedger:{host.name}"
        if self.scheduler.get_job(job) is not None:
            self.scheduler.remove_job(job)
        host.hedger = None

    def follow_global_state(self, hosts: list[StrategyHost]) -> None:
        stopped = self.states.state(GLOBAL) == "halted"
        for host in hosts:
            if host.hedger is None:
                continue
            if stopped:
                host.hedger.halt()
            else:
                host.hedger.resume()

    async def _submit(
        self, host: StrategyHost, hedge_slice: HedgeSlice, legs: dict[str, LegPlan]
    ) -> Decimal:
        asset, leg = next((a, x) for a, x in legs.items() if x.symbol == hedge_slice.symbol)
        inst = self.market.instrument(leg)
        touch = self.market.touch(leg, hedge_slice.side)
        if inst is None or touch is None:
            raise RuntimeError(f"no live book for {leg.venue}:{leg.symbol}")
        if self.states.state(GLOBAL) == "halted":
            raise RuntimeError("everything is halted (kill switch or operator): no hedge orders")
        intent = Intent.build(
            IntentId(host.name, HEDGE_PAIR, self.next_seq(host.name), f"hedge.{asset}"),
            leg.venue,
            self.market.rules.get(leg.venue),
            symbol=leg.symbol,
            side=hedge_slice.side,
            order_type=OrderType.LIMIT,
            qty=hedge_slice.qty,
            price=hedge_slice.limit_price,
            decision_price=touch,
            tif=TimeInForce.IOC,
            reduce_only=hedge_slice.reduce_only,
            kind="perp",
        )
        planned = PlannedLeg(intent, replace(inst, venue=leg.venue))
        verdict = self.checker.check_and_reserve([planned], self.market.free_balances())
        if not verdict.passed:
            raise RuntimeError(f"hedge pre-trade: {verdict.reason}")
        self.gateway.send_all([intent])
        timeout = host.runner.plan.execution.leg_timeout_ms / 1000
        snap = await self.gateway.wait_final(intent.client_id, timeout)
        if not snap.is_final:
            # Ended by the gateway, however long that takes; the hedger waits a grace period
            # and goes on with what it knows (later fills are booked when they come).
            finishing = self.gateway.finish(intent.client_id)
            await asyncio.wait({finishing}, timeout=self._cancel_timeout_s)
            snap = self.gateway.tracker.snapshot(intent.client_id)
        return snap.filled_qty
