"""What every pair of every strategy uses from the runtime, as small named collaborators.

- `CycleJournal`: the cycle machines' transitions, journaled as they happen (a pair that broke
  an invariant raises an incident), and the numbers a restart continues from: no cycle number,
  and so no client order id, is ever used twice;
- `EntryChecks`: the pre-trade checks of both legs of an entry (the instruments' rules, funds
  net of what other orders reserved, the pair's position limit), which reserve the funds they
  passed on, and release them when the legs are not sent after all.

What happens to a pair's outcomes (incidents, halts, the hedger) is the runtime's `PairDesk`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal

from arbiter.compiler.plan import PairPlan
from arbiter.control.incidents import IncidentLog
from arbiter.execution.dual_leg import LegOrder
from arbiter.execution.pretrade import PlannedLeg, PositionLimit, PretradeChecker
from arbiter.fsm.cycle import FLAT
from arbiter.fsm.runner import Decision
from arbiter.runtime.market import MarketState
from arbiter.store.journal import Journal


class CycleJournal:
    """Journals a pair's transitions; tells `settled(strategy, pair)` when one ends in a flat
    state (a draining pair may be done)."""

    def __init__(
        self,
        journal: Journal,
        incidents: IncidentLog,
        changed: Callable[[], None],
        settled: Callable[[str, str], None],
    ) -> None:
        self._journal, self._incidents, self._changed = journal, incidents, changed
        self._settled = settled

    def record(self, strategy: str, pair: str, cycle: int, decision: Decision) -> None:
        """One transition of a pair's cycle machine (its state and its history together)."""
        d = decision
        self._journal.record_cycle(
            strategy, pair, cycle, trigger=d.trigger, source=d.source, dest=d.dest
        )
        if d.dest == "error":
            self._incidents.raise_(
                f"error:{strategy}/{pair}",
                "pair_error",
                "runtime",
                f"cycle {cycle} {d.source} -> error on {d.trigger}: the pair trades nothing "
                "until an operator resets it (`arbiter pair reset`)",
            )
        if d.dest in FLAT:
            self._settled(strategy, pair)
        self._changed()

    def last_cycle(self, strategy: str, pair: str) -> int:
        return self._journal.last_cycle(strategy, pair)

    def last_attempt(self, strategy: str, pair: str, cycle: int) -> int:
        return self._journal.last_attempt(strategy, pair, cycle)


class EntryChecks:
    def __init__(self, checker: PretradeChecker, market: MarketState) -> None:
        self._checker, self._market = checker, market

    def check(self, pair: PairPlan, legs: Sequence[LegOrder], held_base: Decimal) -> str:
        """Why the legs may not go out, or "" once their funds are reserved; `held_base` is
        what the pair holds already (its position limit counts it)."""
        planned = [
            PlannedLeg(leg.intent, replace(leg.instrument, venue=leg.intent.venue)) for leg in legs
        ]
        current = held_base * legs[0].intent.decision_price
        limit = PositionLimit(pair.sizing.max_position_notional, current)
        verdict = self._checker.check_and_reserve(planned, self._market.free_balances(), limit)
        return "" if verdict.passed else verdict.reason

    def release(self, legs: Sequence[LegOrder]) -> None:
        """The legs were refused before they left: nothing stays reserved for them."""
        for leg in legs:
            self._checker.reservations.release(leg.intent.client_id)
