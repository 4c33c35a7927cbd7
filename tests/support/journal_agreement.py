"""Does a runtime's journal agree with the simulator's engines? Exactly, in Decimal.

The venue side is `arbiter.sim.control.state(sim)` (in process) or the answer to the
`{"op": "state"}` command of an `arbiter sim --control` process: the engines' own orders,
executions, balances and positions. The journal side is the SQLite file, read with plain SQL.

- every order the venue holds is one the journal has (no orphan), at the same filled quantity;
  every journaled order the venue lacks is `rejected` (never sent, or refused);
- the journal's fills are exactly the venue's executions of our orders: same trade ids, prices,
  quantities and fees;
- replaying the journal's fills onto the funded account gives the venue's balances and
  positions to the last digit (funding the venue charged is taken from the venue).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from arbiter.market.instrument import InstrumentKind
from arbiter.sim.accounts import Position
from arbiter.sim.catalog import funded_account, venue_instruments

ZERO = Decimal(0)
# The venue's order status -> the journal states that agree with it once nothing is in flight.
AGREEING = {
    "filled": {"filled"},
    "cancelled": {"cancelled", "expired"},
    "new": {"acknowledged"},
    "partially_filled": {"partially_filled"},
}


@dataclass(frozen=True)
class JournaledFill:
    venue: str
    kind: str
    symbol: str
    trade_id: str
    client_id: str
    side: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str


def journal_orders(conn: sqlite3.Connection) -> dict[str, tuple[str, str, Decimal, int]]:
    """client id -> (venue, state, filled qty, cycle)."""
    rows = conn.execute(
        "SELECT o.client_id, o.venue, o.state, o.fills_qty, o.reported_qty, i.cycle "
        "FROM orders o JOIN intents i ON i.client_id = o.client_id"
    ).fetchall()
    return {r[0]: (r[1], r[2], max(Decimal(r[3]), Decimal(r[4])), r[5]) for r in rows}


def journal_fills(conn: sqlite3.Connection) -> list[JournaledFill]:
    rows = conn.execute(
        "SELECT f.venue, i.kind, f.symbol, f.trade_id, f.client_id, f.side, f.price, f.qty, "
        "f.fee, f.fee_asset FROM fills f JOIN intents i ON i.client_id = f.client_id "
        "ORDER BY f.ts_local_ns, f.trade_id"
    ).fetchall()
    return [
        JournaledFill(r[0], r[1] or "spot", r[2], r[3], r[4], r[5], *map(Decimal, r[6:9]), r[9])
        for r in rows
    ]


def intents(conn: sqlite3.Connection) -> dict[str, tuple[str, str, int, str, int]]:
    """client id -> (strategy, pair, cycle, leg, attempt)."""
    rows = conn.execute("SELECT client_id, strategy, pair, cycle, leg, attempt FROM intents")
    return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows.fetchall()}


def assert_journal_agrees(
    conn: sqlite3.Connection, venues: dict[str, Any], symbols: tuple[str, ...]
) -> None:
    orders = journal_orders(conn)
    for name, venue in venues.items():
        seen = [o["client_id"] for o in venue["orders"]]
        assert len(seen) == len(set(seen)), f"{name}: a client id twice on the venue: {seen}"
        for order in venue["orders"]:
            cid = order["client_id"]
            assert cid in orders, f"{name}: venue order {order} is not in the journal"
            journaled_venue, state, filled, _ = orders[cid]
            assert journaled_venue == name
            assert state in AGREEING[order["status"]], (cid, order, state)
            assert filled == Decimal(order["filled"]), (cid, order, filled)
        for cid, (journaled_venue, state, filled, _) in orders.items():
            if journaled_venue == name and cid not in seen:
                assert state == "rejected", f"{cid}: journal says {state}, {name} never had it"
                assert filled == 0
    journaled = {(f.venue, f.trade_id): f for f in journal_fills(conn)}
    executed = {
        (name, e["trade_id"]): e
        for name, venue in venues.items()
        for e in venue["executions"]
        if e["client_id"] in orders
    }
    assert sorted(journaled) == sorted(executed), "journal fills and venue executions differ"
    for key, fill in journaled.items():
        e = executed[key]
        assert (fill.client_id, fill.side, fill.price, fill.qty, fill.fee, fill.fee_asset) == (
            e["client_id"],
            e["side"],
            Decimal(e["price"]),
            Decimal(e["qty"]),
            Decimal(e["fee"]),
            e["fee_coin"],
        ), (fill, e)
    for name, venue in venues.items():
        expected_balances, expected_positions = replay_account(
            name, [f for f in journaled.values() if f.venue == name], symbols, venue
        )
        (account,) = venue["accounts"]
        balances = {coin: Decimal(v) for coin, v in account["balances"].items()}
        positions = {s: Decimal(p["qty"]) for s, p in account["positions"].items()}
        assert balances == expected_balances, (name, balances, expected_balances)
        assert {s: q for s, q in positions.items() if q} == expected_positions, (
            name,
            positions,
            expected_positions,
        )


def replay_account(
    venue: str, fills: list[JournaledFill], symbols: tuple[str, ...], state: dict[str, Any]
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """The funded account moved by `fills` alone (and the funding the venue says it charged)."""
    listed = venue_instruments(venue, symbols)
    balances = dict(funded_account(venue, symbols).balances)
    positions: dict[str, Position] = {}
    for fill in sorted(fills, key=lambda f: int(f.trade_id)):  # the venue's execution order
        inst = listed[f"{fill.kind}:{fill.symbol}"]
        base = inst.base_qty(fill.qty)
        value = base * fill.price
        if inst.kind is InstrumentKind.SPOT:
            if fill.side == "buy":
                balances[inst.quote] = balances.get(inst.quote, ZERO) - value
                balances[inst.base] = balances.get(inst.base, ZERO) + base
            else:
                balances[inst.base] = balances.get(inst.base, ZERO) - base
                balances[inst.quote] = balances.get(inst.quote, ZERO) + value
        else:
            pos = positions.setdefault(inst.symbol, Position(inst))
            signed = fill.qty if fill.side == "buy" else -fill.qty
            realized = pos.apply_fill(signed, fill.price)
            balances[inst.quote] = balances.get(inst.quote, ZERO) + realized
        balances[fill.fee_asset] = balances.get(fill.fee_asset, ZERO) - fill.fee
    (account,) = state["accounts"]
    for held in account["positions"].values():
        balances["USDT"] -= Decimal(held["funding_paid"])
    return balances, {s: p.qty for s, p in positions.items() if p.qty}


def net_base(venues: dict[str, Any], symbols: tuple[str, ...], asset: str) -> Decimal:
    """The account's exposure to `asset` that trading added, from the venue's state alone:
    spot held beyond the funded amount plus perp positions, in coins."""
    total = ZERO
    for name, venue in venues.items():
        listed = venue_instruments(name, symbols)
        (account,) = venue["accounts"]
        funded = funded_account(name, symbols).balances.get(asset, ZERO)
        total += Decimal(account["balances"].get(asset, "0")) - funded
        for symbol, held in account["positions"].items():
            inst = listed[f"perp:{symbol}"]
            if inst.base == asset:
                total += inst.base_qty(Decimal(held["qty"]))
    return total
