"""What the REST dialects need beyond the engine's live state: past executions and funding
settlements, and a tally.

The engine reports an execution or a settlement once, as an event, and keeps no history. A
venue's history endpoints (Bybit `/v5/execution/list`, which lists both; OKX
`/api/v5/trade/fills` and `/api/v5/account/bills`) answer from a record like this one, newest
first. The tally counts the requests that reached a dialect, so a test can prove that nothing
was sent (a request the client refused locally never shows up here).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

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


@dataclass
class RequestTally:
    """(method, path) -> how many requests reached the dialect, counted before any fault."""

    seen: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, request: web.Request) -> None:
        self.seen[(request.method, request.path)] += 1


def limit_param(params: dict[str, Any], default: int, maximum: int) -> int:
    """A venue's `limit` query parameter; both venues refuse anything outside 1..maximum."""
    raw = params.get("limit")
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise ValueError(f"expected limit in 1..{maximum}, was {raw!r}")
    return value


@dataclass
class RestRecords:
    fills: FillLog = field(default_factory=FillLog)
    requests: RequestTally = field(default_factory=RequestTally)


# Where a dialect leaves its records on the aiohttp app: `sim.venues[v].runner.app[REST_RECORDS]`.
REST_RECORDS = web.AppKey("rest_records", RestRecords)
