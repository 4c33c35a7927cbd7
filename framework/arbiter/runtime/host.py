"""One strategy inside the runtime: its runner, its ledger and its hedger, and what it streams."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from arbiter.execution.intent import Intent
from arbiter.manifest.loader import LoadedManifest
from arbiter.market.events import BookKey
from arbiter.risk.delta_watch import DeltaWatch
from arbiter.risk.hedger import Hedger
from arbiter.runtime.accounts import AccountSpec
from arbiter.runtime.ledger import HEDGE_PAIR, Ledger
from arbiter.runtime.strategy_runner import StrategyRunner


@dataclass
class StrategyHost:
    path: Path
    loaded: LoadedManifest
    runner: StrategyRunner
    ledger: Ledger
    hedger: Hedger | None = None
    accounts: dict[str, AccountSpec] = field(default_factory=dict)  # account name -> spec
    watched: set[BookKey] = field(default_factory=set)  # the books it streams
    reload_ms: list[float] = field(default_factory=list)  # file seen -> change in effect
    residual_on_start: bool = False  # a restart found a one-legged cycle to hedge
    delta: DeltaWatch = field(default_factory=DeltaWatch)  # what the risk checks saw of it

    @property
    def name(self) -> str:
        return self.runner.name

    def hedge_start_residual(self) -> None:
        """A restart found a one-legged cycle: the hedger takes it as soon as the engine runs
        (its books are live), not at the hedger's next interval."""
        if self.residual_on_start and self.runner.engine is not None and self.hedger is not None:
            self.residual_on_start = False
            self.hedger.take_residual()

    def asset_of(self, intent: Intent) -> str | None:
        """The base asset an order of this strategy trades (for inventory and PnL)."""
        if intent.id.pair == HEDGE_PAIR:
            return intent.id.leg.split(".", 1)[1] if "." in intent.id.leg else None
        for runner in self.runner.runners():
            if runner.pair.id == intent.id.pair:
                return runner.pair.asset
        return None

    def specs_in_use(self) -> dict[str, AccountSpec]:
        """The accounts the strategy's legs and hedge instruments name."""
        used = {venue for venue, _, _ in self.runner.watched()}
        manifest = self.loaded.manifest
        return {name: AccountSpec.of(name, manifest.venues[name]) for name in sorted(used)}
