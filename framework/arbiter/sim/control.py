"""Steer a simulator in another process: `arbiter sim --control` reads commands on stdin.

A test that needs the simulator to outlive the process it trades from (a crash test kills the
trading process with SIGKILL) runs `arbiter sim` as a child and moves its market through the
child's stdin. Nothing listens on a socket for this: only the process that started the
simulator can steer it.

One JSON object per line in, one JSON answer per line out (on stdout, after the endpoint lines):

    {"op": "basis", "venue": "okx", "base": "BTC", "bps": "80"}   a perp's premium over spot
    {"op": "step", "n": 1}                                          move the market n steps now
    {"op": "fault", "kind": "reject", "target": "okx POST ..."}     add a fault rule (FaultRule)
    {"op": "state"}                                                 the engines' own state

Answers are `{"ok": true, ...}` or `{"ok": false, "error": "..."}`; a bad command never stops
the simulator. Money in `state` is Decimal text, exactly as the engine holds it.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from arbiter.sim.faults import FaultRule
from arbiter.sim.rest import REST_RECORDS
from arbiter.sim.server import Simulation


class ControlError(ValueError):
    """A command the simulator cannot carry out; its message says what was expected."""


def apply(sim: Simulation, line: str | bytes) -> dict[str, Any]:
    """Carry out one command line; always returns an answer, never raises for bad input."""
    try:
        command = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"ok": False, "error": f"expected one JSON object per line: {exc}"}
    if not isinstance(command, dict):
        return {"ok": False, "error": f"expected a JSON object, was {type(command).__name__}"}
    try:
        return {"ok": True, **_run(sim, command)}
    except (ControlError, ValueError, TypeError) as exc:
        return {"ok": False, "error": str(exc)}


def _run(sim: Simulation, command: dict[str, Any]) -> dict[str, Any]:
    op = command.get("op")
    if op == "basis":
        bps = _decimal(command, "bps")
        venue, base = _text(command, "venue"), _text(command, "base")
        try:
            sim.generator.set_basis(venue, base, float(bps / 10_000))
        except KeyError as exc:
            raise ControlError(exc.args[0]) from None
        return {}
    if op == "step":
        n = command.get("n", 1)
        if not isinstance(n, int) or n < 1:
            raise ControlError(f"step: expected a positive integer n, was {n!r}")
        sim.step(n)
        return {}
    if op == "fault":
        fields = {k: v for k, v in command.items() if k != "op"}
        sim.faults.rules.append(FaultRule(**fields))
        return {}
    if op == "state":
        return {"state": state(sim)}
    raise ControlError(f"expected op basis, step, fault or state, was {op!r}")


def _text(command: dict[str, Any], key: str) -> str:
    raw = command.get(key)
    if not isinstance(raw, str) or not raw:
        raise ControlError(f"{command.get('op')}: expected {key} as a string, was {raw!r}")
    return raw


def _decimal(command: dict[str, Any], key: str) -> Decimal:
    raw = command.get(key)
    if isinstance(raw, float) or raw is None:
        raise ControlError(f"{key}: expected a decimal string or integer, was {raw!r}")
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        raise ControlError(f"{key}: expected a decimal string or integer, was {raw!r}") from None


def state(sim: Simulation) -> dict[str, Any]:
    """Per venue: every order, every execution, every funding settlement and forced trade, and
    each account's balances and positions."""
    out: dict[str, Any] = {}
    for name, venue in sim.venues.items():
        engine = venue.engine
        records = venue.runner.app[REST_RECORDS].fills
        executions = records.executions
        out[name] = {
            "orders": [
                {
                    "order_id": o.order_id,
                    "client_id": o.client_id,
                    "kind": o.instrument.kind.value,
                    "symbol": o.instrument.symbol,
                    "side": o.side.value,
                    "qty": str(o.qty),
                    "filled": str(o.filled),
                    "status": o.status.value,
                }
                for o in engine.orders.values()
            ],
            "executions": [
                {
                    "trade_id": e.exec_id,
                    "client_id": e.order.client_id,
                    "kind": e.order.instrument.kind.value,
                    "symbol": e.order.instrument.symbol,
                    "side": e.order.side.value,
                    "price": str(e.price),
                    "qty": str(e.qty),
                    "fee": str(e.fee),
                    "fee_coin": e.fee_coin,
                }
                for _, e in executions
            ],
            "funding": [
                {
                    "settlement_id": f.settlement_id,
                    "api_key": key,
                    "symbol": f.position.instrument.symbol,
                    "amount": str(f.amount),
                    "coin": f.coin,
                    "ts_ms": f.ts_ms,
                }
                for key, f in records.fundings
            ],
            "forced": [
                {
                    "trade_id": f.exec_id,
                    "api_key": key,
                    "kind": f.kind,
                    "symbol": f.instrument.symbol,
                    "side": f.side.value,
                    "price": str(f.price),
                    "qty": str(f.qty),
                    "fee": str(f.fee),
                    "ts_ms": f.ts_ms,
                }
                for key, f in records.forced
            ],
            "accounts": [
                {
                    "api_key": acct.api_key,
                    "balances": {coin: str(v) for coin, v in sorted(acct.balances.items())},
                    "positions": {
                        symbol: {"qty": str(p.qty), "funding_paid": str(p.funding_paid)}
                        for symbol, p in sorted(acct.positions.items())
                    },
                }
                for acct in engine.accounts.values()
            ],
        }
    return out
