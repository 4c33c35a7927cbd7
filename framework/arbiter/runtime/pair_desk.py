"""What the runtime does with a pair's outcomes, and what an operator does to a pair.

A pair runner reports every step's result here (`on_fills`); this is where a one-legged
outcome becomes an incident and a hold on its strategy, where an exit that traded nothing is
reported (and resolved once a later exit trades), and where the hedger is handed a residual
(at once, on its own task: a pair never waits for hedge orders). An operator's `reset` (a pair
out of `error`) and `resume` (a halted pair back on what the journal's fills say it holds) are
journaled with who did them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from loguru import logger

from arbiter.compiler.plan import PairPlan
from arbiter.control.incidents import IncidentLog
from arbiter.execution.dual_leg import DualResult, RepairResult
from arbiter.risk.trading import TradingStates, legging
from arbiter.runtime.host import StrategyHost
from arbiter.runtime.market import MarketState
from arbiter.runtime.pair_runner import PairRunner
from arbiter.runtime.restore import restore_cycle
from arbiter.store.journal import Journal


class PairDesk:
    """Implements `PairEvents` for every pair of the runtime's strategies."""

    def __init__(
        self,
        strategies: Mapping[str, StrategyHost],
        incidents: IncidentLog,
        states: TradingStates,
        journal: Journal,
        market: MarketState,
    ) -> None:
        self._strategies = strategies
        self._incidents, self._states = incidents, states
        self._journal, self._market = journal, market

    def trading_state(self, strategy: str) -> str:
        return self._states.state(strategy)

    def on_fills(
        self, strategy: str, pair: PairPlan, result: DualResult | RepairResult, step: str
    ) -> None:
        pair_log = logger.bind(strategy=strategy, pair=pair.id)
        where = f"{strategy}/{pair.id}"
        if step == "exit" and result.outcome == "both_failed":
            # The position stays, hedged, and the pair tries again at the next signal; an
            # operator should know an exit went out and traded nothing.
            self._incidents.raise_(
                f"exit:{where}", "exit_failed", "execution", f"exit traded nothing: {result.reason}"
            )
        elif step == "exit" and result.outcome == "both_filled":
            self._resolve_incident(f"exit:{where}", "a later exit traded")
        if result.outcome == "unresolved":
            self._incidents.raise_(
                f"unresolved:{where}",
                "order_unresolved",
                "execution",
                f"{step}: {result.reason}; the pair is halted, the order is being finished",
            )
        if isinstance(result, RepairResult) and result.outcome in (
            "repair_budget_exceeded",
            "refused",
        ):
            self._incidents.raise_(
                f"legging:{strategy}/{pair.id}",
                "legging",
                "execution",
                f"residual {result.residual_base} {pair.asset} left after repair: {result.reason}",
            )
            on_breach = self._strategies[strategy].loaded.manifest.risk.on_breach
            self._states.hold(strategy, legging(pair.id), on_breach, "execution", result.reason)
            host = self._strategies[strategy]
            if host.hedger is not None:
                host.hedger.take_residual()
        pair_log.info("{}: {} ({})", step, result.outcome, result.reason)

    async def hand_to_hedger(self, strategy: str, asset: str, residual: Decimal) -> None:
        """The hedger takes the residual now, on its own task: the pair does not wait for the
        hedge orders (their answers may be slow; the pair's budget is not theirs)."""
        host = self._strategies[strategy]
        if host.hedger is None:
            raise RuntimeError(f"{strategy}: repair policy hedge but no hedge section")
        logger.bind(strategy=strategy).info("residual {} {} handed to the hedger", residual, asset)
        host.hedger.take_residual()

    def _resolve_incident(self, key: str, detail: str) -> None:
        incident = self._incidents.get(key)
        if incident is not None and incident.state != "resolved":
            self._incidents.resolve(key, detail)

    # -- the operator's pair commands ----------------------------------------------------------

    def _pair_runner(self, strategy: str, pair: str) -> PairRunner:
        host = self._strategies.get(strategy)
        if host is None:
            raise KeyError(
                f"no strategy {strategy!r}; running: {', '.join(self._strategies) or 'none'}"
            )
        runner = host.runner.pairs.get(pair) or host.runner.draining.get(pair)
        if runner is None:
            known = ", ".join(r.pair.id for r in host.runner.runners())
            raise KeyError(f"{strategy}: no pair {pair!r}; pairs: {known}")
        return runner

    def reset_pair(self, strategy: str, pair: str, by: str) -> str:
        """An operator has looked at a pair in `error`: it moves to `halted` (journaled)."""
        runner = self._pair_runner(strategy, pair)
        decision = runner.reset()
        self._journal_operator(strategy, pair, "reset", by, f"{decision.source} -> {decision.dest}")
        self._resolve_incident(f"error:{strategy}/{pair}", f"pair reset by {by}")
        return decision.dest

    def resume_pair(self, strategy: str, pair: str, by: str) -> str:
        """An operator resumes a halted pair on what the journal's fills say it holds: both
        legs' common base (`open`), or nothing (`idle`); a residual beyond it is the hedger's,
        who measures at once. The pair's open incidents are resolved, and the strategy's
        `legging:<pair>` hold released (journaled)."""
        dest = self.resume_halted(strategy, pair, by)
        if legging(pair) in self._states.holds(strategy):
            self._states.release(strategy, legging(pair), by, f"pair {pair} resumed")
        return dest

    def resume_halted(self, strategy: str, pair: str, by: str) -> str:
        runner = self._pair_runner(strategy, pair)
        if runner.machine.state != "halted":
            raise ValueError(
                f"{strategy}/{pair}: resume moves a halted pair; it is {runner.machine.state}"
            )
        fills = self._journal.strategy_fills(strategy)
        held = restore_cycle(
            runner.pair,
            runner.cycle,
            "halted",
            fills,
            self._market.instrument,
            handed_over=True,  # the operator hands any residual to the hedger
        )
        decision = runner.resume(held.direction, held.held_base)
        detail = f"{decision.source} -> {decision.dest}; holds {held.held_base} {runner.pair.asset}"
        self._journal_operator(strategy, pair, "resume", by, detail)
        for prefix in ("legging", "unresolved", "exit"):
            self._resolve_incident(f"{prefix}:{strategy}/{pair}", f"pair resumed by {by}")
        host = self._strategies[strategy]
        if host.hedger is not None:
            host.hedger.take_residual()
        return decision.dest

    def _journal_operator(
        self, strategy: str, pair: str, action: str, by: str, detail: str
    ) -> None:
        self._journal.record_incident_event(
            f"pair:{strategy}/{pair}", kind="operator", event=action, source=by, reason=detail
        )
        logger.bind(strategy=strategy, pair=pair).warning("pair {} by {}: {}", action, by, detail)
