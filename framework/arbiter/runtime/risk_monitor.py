"""Risk limits checked on every runtime tick: each breach moves the strategy to `on_breach`.

Conditions, per strategy:
- `max_net_delta:<asset>`: |net delta| in quote beyond `max_net_delta_notional` for longer than
  `max_unhedged_ms` (a one-legged fill is exposure while its repair runs; the manifest gives the
  repair that long);
- `daily_loss`: realized loss since the UTC day began beyond `daily_loss_limit`;
- `venue:<account>`: a venue the strategy uses not live for longer than the grace period.

A new condition moves the strategy to its `on_breach` state (reducing or halted), naming it. A
delta or venue condition clears itself when it no longer holds, and the strategy resumes, but
only when the state it is in was set by a risk breach: an operator's halt is never undone here.
The loss condition stays until an operator resumes.
"""

from __future__ import annotations

from decimal import Decimal

from arbiter.risk.trading import TradingStates
from arbiter.runtime.host import StrategyHost
from arbiter.runtime.market import MarketState
from arbiter.venues.orders import Side

ZERO = Decimal(0)
SOURCE = "risk"


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
        conditions = self._conditions(host, now)
        new = {k: v for k, v in conditions.items() if k not in host.breaches}
        cleared = [k for k in host.breaches if k not in conditions and k != "daily_loss"]
        for key in cleared:
            del host.breaches[key]
        host.breaches.update(new)
        risk = host.loaded.manifest.risk
        if new:
            trigger = "halt" if risk.on_breach == "halted" else "reduce"
            first = next(iter(new))
            self.states.set(host.name, trigger, f"{SOURCE}:{first}", "; ".join(new.values()))
        elif (
            cleared
            and not host.breaches
            and host.state_by_risk
            and self.states.state(host.name) != "active"
        ):
            self.states.set(host.name, "resume", SOURCE, f"cleared: {', '.join(cleared)}")

    def _conditions(self, host: StrategyHost, now: float) -> dict[str, str]:
        risk = host.loaded.manifest.risk
        conditions: dict[str, str] = {}
        for asset in host.runner.inventory.assets():
            delta = self._delta_notional(host, asset)
            if delta is None:
                continue
            host.max_abs_delta[asset] = max(host.max_abs_delta.get(asset, ZERO), abs(delta))
            host.last_abs_delta[asset] = abs(delta)
            if abs(delta) <= risk.max_net_delta_notional:
                host.over_since.pop(asset, None)
                continue
            since = host.over_since.setdefault(asset, now)
            if now - since >= risk.max_unhedged_ms / 1000:
                conditions[f"max_net_delta:{asset}"] = (
                    f"{asset} net delta {delta:.2f} beyond {risk.max_net_delta_notional} "
                    f"for {now - since:.1f}s"
                )
        loss = -host.ledger.realized_today()
        if loss > risk.daily_loss_limit:
            conditions["daily_loss"] = f"loss today {loss:.2f} beyond {risk.daily_loss_limit}"
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
