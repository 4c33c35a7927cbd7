"""Read the journal back: what a restart needs before it reconciles with the venues.

`load_state` returns every order that is not final (with its intent, its journaled events and
its fills), every position, every cycle state, the incidents and the trading-state sources
latched (`HoldRecord`). `restore_orders` rebuilds an `OrderTracker` from it by replaying each
order's accepted triggers through the order machine.

What the states mean after a crash, given that the executor journals the intent, then
`submitted`, then sends:
- `new`: never sent. Safe to send (same client id) or to drop.
- `submitted` / `unknown`: may be on the venue. Query by client id before anything else.
- live states: on the venue; fetch its status and fills missed while down.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from arbiter.execution.intent import Intent
from arbiter.execution.order_tracker import OrderTracker
from arbiter.execution.records import (
    ChangeKind,
    Incident,
    IncidentKind,
    JournaledEvent,
    JournaledOrder,
    OrderSnapshot,
)
from arbiter.store import codec
from arbiter.store.codec import to_dec_or_none
from arbiter.store.schema import current_version
from arbiter.venues import (
    Fill,
    ForcedExecution,
    ForcedKind,
    FundingSettlement,
    PositionUpdate,
    Side,
)


@dataclass(frozen=True, slots=True)
class CycleRecord:
    strategy: str
    pair: str
    cycle: int
    state: str
    updated_ns: int
    # The cycle's repair handed its residual to the hedger: what its legs hold beyond a hedged
    # position is the hedger's, not a one-legged cycle.
    handed_over: bool = False


@dataclass(frozen=True, slots=True)
class HoldRecord:
    """A trading-state source latched when the journal was last written (`trading_holds`)."""

    scope: str
    source: str
    state: str
    held_by: str
    reason: str
    since_ns: int


@dataclass(slots=True)
class JournalState:
    schema_version: int
    orders: dict[str, JournaledOrder] = field(default_factory=dict)  # non-final, by client id
    positions: dict[tuple[str, str], PositionUpdate] = field(default_factory=dict)
    cycles: dict[tuple[str, str], CycleRecord] = field(default_factory=dict)
    incidents: list[Incident] = field(default_factory=list)
    holds: list[HoldRecord] = field(default_factory=list)  # oldest first

    def needs_query(self) -> list[str]:
        """Client ids whose send may or may not have reached the venue."""
        return [c for c, o in self.orders.items() if o.snapshot.state in ("submitted", "unknown")]


def load_state(conn: sqlite3.Connection) -> JournalState:
    # One read transaction: a consistent snapshot even if a writer is active elsewhere.
    conn.execute("BEGIN")
    try:
        state = JournalState(current_version(conn))
        _load_orders(conn, state)
        _load_positions(conn, state)
        for row in conn.execute(
            "SELECT c.strategy, c.pair, c.cycle, c.state, c.updated_ns, EXISTS ("
            "SELECT 1 FROM cycle_transitions t WHERE t.strategy = c.strategy "
            "AND t.pair = c.pair AND t.cycle = c.cycle AND t.trigger = 'handed_to_hedger') "
            "FROM cycle_states c"
        ).fetchall():
            strategy, pair, cycle, cycle_state, updated_ns, handed_over = row
            state.cycles[(strategy, pair)] = CycleRecord(
                strategy, pair, cycle, cycle_state, updated_ns, bool(handed_over)
            )
        state.incidents = [
            Incident(IncidentKind(r[0]), *r[1:])
            for r in conn.execute(
                "SELECT kind, venue, symbol, client_id, message, ts_ns FROM incidents ORDER BY id"
            ).fetchall()
        ]
        state.holds = [
            HoldRecord(*row)
            for row in conn.execute(
                "SELECT scope, source, state, held_by, reason, since_ns FROM trading_holds "
                "ORDER BY since_ns, scope, source"
            ).fetchall()
        ]
    finally:
        conn.execute("COMMIT")
    return state


_ORDER_COLUMNS = (
    "client_id, venue, symbol, qty, state, venue_order_id, fills_qty, fills_notional, "
    "reported_qty, reported_avg_price"
)


def _load_orders(conn: sqlite3.Connection, state: JournalState) -> None:
    open_rows = conn.execute(
        f"SELECT {_ORDER_COLUMNS} FROM orders "
        "WHERE state NOT IN ('filled', 'cancelled', 'rejected', 'expired')"
    ).fetchall()
    for row in open_rows:
        state.orders[row[0]] = _order_from_row(conn, row)


def load_order(conn: sqlite3.Connection, client_id: str) -> JournaledOrder | None:
    """One order by client id, final or not; None when the journal never had it."""
    row = conn.execute(
        f"SELECT {_ORDER_COLUMNS} FROM orders WHERE client_id = ?", (client_id,)
    ).fetchone()
    return None if row is None else _order_from_row(conn, row)


def _order_from_row(conn: sqlite3.Connection, row: tuple[Any, ...]) -> JournaledOrder:
    client_id = row[0]
    snapshot = OrderSnapshot(
        client_id=client_id,
        venue=row[1],
        symbol=row[2],
        qty=Decimal(row[3]),
        state=row[4],
        venue_order_id=row[5],
        fills_qty=Decimal(row[6]),
        fills_notional=Decimal(row[7]),
        reported_qty=Decimal(row[8]),
        reported_avg_price=to_dec_or_none(row[9]),
    )
    intent_row = conn.execute(
        f"SELECT {codec.INTENT_COLUMNS} FROM intents WHERE client_id = ?", (client_id,)
    ).fetchone()
    events = tuple(
        JournaledEvent(r[0], ChangeKind(r[1]), r[2], r[3], r[4], bool(r[5]), Decimal(r[6]), *r[7:])
        for r in conn.execute(
            "SELECT seq, kind, trigger, source, dest, accepted, filled_qty, detail, ts_ns "
            "FROM order_events WHERE client_id = ? ORDER BY seq",
            (client_id,),
        ).fetchall()
    )
    fills = tuple(
        codec.fill_from_row(r)
        for r in conn.execute(
            f"SELECT {codec.FILL_COLUMNS} FROM fills WHERE client_id = ? "
            "ORDER BY ts_local_ns, trade_id",
            (client_id,),
        ).fetchall()
    )
    return JournaledOrder(codec.intent_from_row(intent_row), snapshot, events, fills)


def _load_positions(conn: sqlite3.Connection, state: JournalState) -> None:
    for row in conn.execute(
        "SELECT venue, symbol, size, entry_price, unrealized_pnl, ts_venue_ms FROM positions"
    ).fetchall():
        state.positions[(row[0], row[1])] = PositionUpdate(
            venue=row[0],
            symbol=row[1],
            size=Decimal(row[2]),
            entry_price=to_dec_or_none(row[3]),
            unrealized_pnl=Decimal(row[4]),
            ts_venue_ms=row[5],
        )


def restore_orders(state: JournalState, tracker: OrderTracker) -> None:
    """Put every non-final order back into `tracker`, at the state the journal left it."""
    for order in state.orders.values():
        tracker.restore(order)


def load_strategy_fills(conn: sqlite3.Connection, strategy: str) -> list[tuple[Intent, Fill]]:
    """Every fill of every order `strategy` placed, with its intent, oldest first.

    What a restart rebuilds a strategy's inventory, PnL and held positions from."""
    intent_columns = ", ".join(f"i.{c.strip()}" for c in codec.INTENT_COLUMNS.split(","))
    fill_columns = ", ".join(f"f.{c.strip()}" for c in codec.FILL_COLUMNS.split(","))
    rows = conn.execute(
        f"SELECT {intent_columns}, {fill_columns} FROM fills f "
        "JOIN intents i ON f.client_id = i.client_id WHERE i.strategy = ? "
        "ORDER BY f.ts_local_ns, f.trade_id",
        (strategy,),
    ).fetchall()
    width = len(codec.INTENT_COLUMNS.split(","))
    return [(codec.intent_from_row(r[:width]), codec.fill_from_row(r[width:])) for r in rows]


def load_strategy_funding(
    conn: sqlite3.Connection, strategy: str
) -> list[tuple[FundingSettlement, Decimal]]:
    """Every funding settlement `strategy` had a share of, with that share, oldest first."""
    rows = conn.execute(
        "SELECT f.venue, f.symbol, f.amount, f.asset, f.settlement_id, f.ts_venue_ms, s.amount "
        "FROM funding_shares s JOIN funding_settlements f "
        "ON f.venue = s.venue AND f.settlement_id = s.settlement_id "
        "WHERE s.strategy = ? ORDER BY f.ts_venue_ms, f.settlement_id",
        (strategy,),
    ).fetchall()
    return [
        (FundingSettlement(r[0], r[1], Decimal(r[2]), r[3], r[4], r[5]), Decimal(r[6]))
        for r in rows
    ]


def load_strategy_forced(
    conn: sqlite3.Connection, strategy: str
) -> list[tuple[ForcedExecution, Decimal, Decimal]]:
    """Every forced execution `strategy` had a share of, with its (qty, fee), oldest first."""
    rows = conn.execute(
        "SELECT f.venue, f.symbol, f.kind, f.trade_id, f.side, f.price, f.qty, f.fee, "
        "f.fee_asset, f.ts_venue_ms, s.qty, s.fee FROM forced_shares s JOIN forced_executions f "
        "ON f.venue = s.venue AND f.symbol = s.symbol AND f.trade_id = s.trade_id "
        "WHERE s.strategy = ? ORDER BY f.ts_venue_ms, f.trade_id",
        (strategy,),
    ).fetchall()
    return [
        (
            ForcedExecution(
                r[0],
                r[1],
                ForcedKind(r[2]),
                r[3],
                Side(r[4]),
                Decimal(r[5]),
                Decimal(r[6]),
                Decimal(r[7]),
                r[8],
                r[9],
            ),
            Decimal(r[10]),
            Decimal(r[11]),
        )
        for r in rows
    ]


def last_account_record_ms(conn: sqlite3.Connection, venue: str) -> int | None:
    """The venue time of the newest fill, settlement or forced execution kept for account
    `venue`: where a restart reads the account's records from."""
    row = conn.execute(
        "SELECT MAX(ts) FROM (SELECT MAX(ts_venue_ms) AS ts FROM fills WHERE venue = ? "
        "UNION ALL SELECT MAX(ts_venue_ms) FROM funding_settlements WHERE venue = ? "
        "UNION ALL SELECT MAX(ts_venue_ms) FROM forced_executions WHERE venue = ?)",
        (venue, venue, venue),
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])
