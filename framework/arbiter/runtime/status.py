"""A running runtime as `arbiter status` shows it: per strategy its trading state and what
holds it, manifest, pairs (machine states, attempt numbers, spreads, whether they need an
operator), net delta (the worst case the venues may hold, and what the books expect), PnL by
line, gates blocking, risk conditions, hedger; the venues' connections, what holds everything,
the orders being finished in the background, and the open incidents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arbiter.control.incidents import IncidentLog
from arbiter.execution.gateway import OrderGateway
from arbiter.risk.trading import GLOBAL, TradingStates
from arbiter.runtime.accounts import VenueAccounts
from arbiter.runtime.host import StrategyHost
from arbiter.runtime.reload import ReloadManager
from arbiter.runtime.summary import fast_lane_percentiles


def runtime_status(
    *,
    strategies: Mapping[str, StrategyHost],
    states: TradingStates,
    reloads: ReloadManager,
    accounts: VenueAccounts,
    gateway: OrderGateway,
    incidents: IncidentLog,
) -> dict[str, Any]:
    bodies: list[dict[str, Any]] = []
    by_path_error = dict(reloads.last_error)
    for name, host in strategies.items():
        body = host.runner.status(states.state(name))
        body["last_reload_error"] = by_path_error.get(host.path)
        body["file"] = str(host.path)
        inventory = host.runner.inventory
        # what the venues may hold, orders in doubt counted at their worst (see Inventory)
        body["net_delta"] = {a: str(inventory.delta(a).worst_base) for a in inventory.assets()}
        body["net_delta_expected"] = {a: str(inventory.delta(a).base) for a in inventory.assets()}
        body["realized_pnl"] = str(host.ledger.realized)
        body["pnl"] = host.ledger.lines().as_text()
        body["gates_failed"] = dict(host.runner.gate_stats.failed)
        holding = states.holding(name)
        body["holds"] = [hold.describe() for hold in holding]
        body["breaches"] = {  # the risk monitor's conditions holding now
            h.source.removeprefix("risk:"): h.reason
            for h in holding
            if h.scope == name and h.source.startswith("risk:")
        }
        body["hedger"] = host.hedger.machine.state if host.hedger else None
        body["fast_lane_us"] = fast_lane_percentiles(host.runner.stats.decide_ns)
        bodies.append(body)
    return {
        "strategies": bodies,
        "rejected_files": {
            str(p): e
            for p, e in by_path_error.items()
            if not any(h.path == p for h in strategies.values())
        },
        "venues": accounts.connection_states(),
        "global_state": states.state(GLOBAL),
        "orders_being_finished": gateway.finishing(),
        "global_holds": [hold.describe() for hold in states.holding(GLOBAL)],
        "incidents": [
            {"key": i.key, "kind": i.kind, "state": i.state, "reason": i.reason}
            for i in incidents.open()
        ],
    }
