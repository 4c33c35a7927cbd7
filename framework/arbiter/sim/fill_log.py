"""What the REST dialects need beyond the engine's live state: past executions, funding
settlements and forced trades.

The engine reports an execution or a settlement once, as an event, and keeps no history. A
venue's history endpoints (Bybit `/v5/execution/list`, which lists them all; OKX
`/api/v5/trade/fills` and `/api/v5/account/bills`) answer from a record like this one, newest
first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from arbiter.sim.engine import VenueEngine
from arbiter.sim.events import Event, Filled, ForcedTraded, FundingSettled
from arbiter.sim.orders import Execution


@dataclass
class FillLog:
    """Every execution of every account on one engine, in the order they happened."""

    executions: list[tuple[str, Execution]] = field(default_factory=list)  # (api key, execution)
    fundings: list[tuple[str, FundingSettled]] = field(default_factory=list)  # (api key, payment)
    forced: list[tuple[str, ForcedTraded]] = field(default_factory=list)  # (api key, trade)

    def attach(self, engine: VenueEngine) -> FillLog:
        engine.listeners.append(self._on_event)
        return self

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Filled):
            self.executions.append((event.account.api_key, event.execution))
        elif isinstance(event, FundingSettled):
            self.fundings.append((event.account.api_key, event))
        elif isinstance(event, ForcedTraded):
            self.forced.append((event.account.api_key, event))

    def forced_newest_first(
        self, api_key: str, keep: Callable[[ForcedTraded], bool] = lambda _: True
    ) -> list[ForcedTraded]:
        return [f for key, f in reversed(self.forced) if key == api_key and keep(f)]

    def fundings_newest_first(
        self, api_key: str, keep: Callable[[FundingSettled], bool] = lambda _: True
    ) -> list[FundingSettled]:
        return [f for key, f in reversed(self.fundings) if key == api_key and keep(f)]

    def newest_first(
        self, api_key: str, keep: Callable[[Execution], bool] = lambda _: True
    ) -> list[Execution]:
        return [e for key, e in reversed(self.executions) if key == api_key and keep(e)]
