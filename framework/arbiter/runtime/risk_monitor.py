"""Risk limits checked on every runtime tick: each breach latches a `risk:<condition>` source.

Conditions, per strategy:
- `max_net_delta:<asset>`: |net delta| in quote beyond `max_net_delta_notional` for longer than
  `max_unhedged_ms` (a one-legged fill is exposure while its repair runs; the manifest gives the
  repair that long);
- `daily_loss`: realized loss since the UTC day began beyond `daily_loss_limit`;
- `venue:<account>`: a venue the strategy uses not live for longer than the grace period.

A condition that starts to hold latches its source on the strategy, imposing the manifest's
`on_breach` (reducing or halted). The monitor clears only its own sources, never another's (an
operator's halt, a kill): a delta or venue source clears itself once its condition no longer
holds; the daily-loss source stays until an operator resumes, and a resume clears it only once
the loss is within the limit (`daily_loss`).
"""

from __future__ import annotations

from decimal import Decimal

from arbiter.risk.trading import Owner, TradingStates, owner, risk
from arbiter.runtime.host import StrategyHost
from arbiter.runtime.market import MarketState
from arbiter.venues import Side

ZERO = Decimal(0)
BY = "risk"


class RiskMonitor:
    def __init__(self, market: MarketState, states: TradingStates, venue_grace_s: float) -> None:
        self.market, self.states = market, states
        self.venue_grace_s = venue_grace_s
        self.unhealthy_since: dict[str, float] = {}  # account -> not live since (monotonic s)

    def observe_venues(self, now: float) -> None:
        for name, healthy in self.market.healthy.items():
            if healthy:
                self.unhealthy_since.pop(name, None)
            else:
                self.unhealthy_since.setdefault(name, now)

    def check(self, host: StrategyHost, now: float) -> None:
        sources = {risk(c): why for c, why in self._conditions(host, now).items()}
        held = self.states.holds(host.name)
        for source, why in sources.items():
            if source not in held:  # latched once: a breach that persists is one event
                self.states.hold(host.name, source, host.loaded.manifest.risk.on_breach, BY, why)
        for source in held:
            ours = source.startswith(risk("")) and owner(source) is Owner.CONDITION
            if ours and source not in sources:
                self.states.release(host.name, source, BY, f"{source} no longer holds")

    def daily_loss(self, host: StrategyHost) -> str:
        """Why the day's loss is beyond the limit, or "" when it is within."""
        limit = host.loaded.manifest.risk.daily_loss_limit
        loss = -host.ledger.realized_today()
        return f"loss today {loss:.2f} beyond {limit}" if loss > limit else ""

    def _conditions(self, host: StrategyHost, now: float) -> dict[str, str]:
        risk_limits = host.loaded.manifest.risk
        conditions: dict[str, str] = {}
        for asset in host.runner.inventory.assets():
            delta = self._delta_notional(host, asset)
            if delta is None:
                continue
            limit = risk_limits.max_net_delta_notional
            over = host.delta.observe(asset, delta, limit, now)
            if over and over >= risk_limits.max_unhedged_ms / 1000:
                conditions[f"max_net_delta:{asset}"] = (
                    f"{asset} net delta {delta:.2f} beyond {limit} for {over:.1f}s"
                )
        loss = self.daily_loss(host)
        if loss:
            conditions["daily_loss"] = loss
        for acct in host.accounts:
            down = self.unhealthy_since.get(acct)
            if down is not None and now - down > self.venue_grace_s:
                conditions[f"venue:{acct}"] = f"venue {acct} not live for {now - down:.0f}s"
        return conditions

    def _delta_notional(self, host: StrategyHost, asset: str) -> Decimal | None:
        """Net delta of `asset` in quote, at the bid of the first leg trading it."""
        leg = next((r.pair.legs[0] for r in host.runner.runners() if r.pair.asset == asset), None)
        price = self.market.touch(leg, Side.SELL) if leg is not None else None
        return None if price is None else host.runner.inventory.delta(asset).worst_notional(price)
