"""The journal's schema as numbered migrations, each applied once, in order.

`schema_version` holds one row per applied migration. A file written by an older build is
brought forward on open; a file from a newer build is refused rather than guessed at.
Migrations are append-only: never edit a shipped one, add the next number.

Money and sizes are TEXT holding `str(Decimal)`: the tables are STRICT and no column that holds
money is declared REAL or NUMERIC, because either affinity would turn "0.10000000" into a float.
"""

from __future__ import annotations

import sqlite3

from arbiter import clock as process_clock

_FINAL = "('filled', 'cancelled', 'rejected', 'expired')"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # v1: the order pipeline, positions, cycle states and manifest versions.
    (
        """CREATE TABLE intents (
            client_id TEXT PRIMARY KEY,
            intent_id TEXT NOT NULL UNIQUE,
            strategy TEXT NOT NULL,
            pair TEXT NOT NULL,
            cycle INTEGER NOT NULL,
            leg TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            venue TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            order_type TEXT NOT NULL,
            qty TEXT NOT NULL,
            price TEXT,
            tif TEXT NOT NULL,
            reduce_only INTEGER NOT NULL,
            decision_price TEXT NOT NULL,
            created_ns INTEGER NOT NULL
        ) STRICT""",
        """CREATE TABLE orders (
            client_id TEXT PRIMARY KEY REFERENCES intents (client_id),
            venue TEXT NOT NULL,
            symbol TEXT NOT NULL,
            qty TEXT NOT NULL,
            state TEXT NOT NULL,
            venue_order_id TEXT,
            fills_qty TEXT NOT NULL,
            fills_notional TEXT NOT NULL,
            reported_qty TEXT NOT NULL,
            reported_avg_price TEXT,
            last_seq INTEGER NOT NULL,
            updated_ns INTEGER NOT NULL
        ) STRICT""",
        # Replay reads only the orders that are not final; keep that index small.
        f"CREATE INDEX orders_open ON orders (state) WHERE state NOT IN {_FINAL}",
        """CREATE TABLE order_events (
            client_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            trigger TEXT NOT NULL,
            source TEXT NOT NULL,
            dest TEXT NOT NULL,
            accepted INTEGER NOT NULL,
            filled_qty TEXT NOT NULL,
            detail TEXT NOT NULL,
            trade_id TEXT,
            ts_ns INTEGER NOT NULL,
            PRIMARY KEY (client_id, seq)
        ) STRICT""",
        """CREATE TABLE fills (
            venue TEXT NOT NULL,
            symbol TEXT NOT NULL,
            trade_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            venue_order_id TEXT NOT NULL,
            side TEXT NOT NULL,
            price TEXT NOT NULL,
            qty TEXT NOT NULL,
            fee TEXT NOT NULL,
            fee_asset TEXT NOT NULL,
            is_maker INTEGER NOT NULL,
            ts_venue_ms INTEGER NOT NULL,
            ts_local_ns INTEGER NOT NULL,
            PRIMARY KEY (venue, symbol, trade_id)
        ) STRICT""",
        "CREATE INDEX fills_by_order ON fills (client_id)",
        """CREATE TABLE positions (
            venue TEXT NOT NULL,
            symbol TEXT NOT NULL,
            size TEXT NOT NULL,
            entry_price TEXT,
            unrealized_pnl TEXT NOT NULL,
            ts_venue_ms INTEGER NOT NULL,
            updated_ns INTEGER NOT NULL,
            PRIMARY KEY (venue, symbol)
        ) STRICT""",
        """CREATE TABLE cycle_states (
            strategy TEXT NOT NULL,
            pair TEXT NOT NULL,
            cycle INTEGER NOT NULL,
            state TEXT NOT NULL,
            updated_ns INTEGER NOT NULL,
            PRIMARY KEY (strategy, pair)
        ) STRICT""",
        """CREATE TABLE manifest_versions (
            id INTEGER PRIMARY KEY,
            strategy TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            text TEXT,
            diff TEXT,
            applied_at_ns INTEGER NOT NULL
        ) STRICT""",
        "CREATE INDEX manifest_versions_by_strategy ON manifest_versions (strategy, id)",
    ),
    # v2: incidents found while applying venue events, and the cycle machine's full history.
    (
        """CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            venue TEXT NOT NULL,
            symbol TEXT NOT NULL,
            client_id TEXT NOT NULL,
            message TEXT NOT NULL,
            ts_ns INTEGER NOT NULL
        ) STRICT""",
        """CREATE TABLE cycle_transitions (
            id INTEGER PRIMARY KEY,
            strategy TEXT NOT NULL,
            pair TEXT NOT NULL,
            cycle INTEGER NOT NULL,
            trigger TEXT NOT NULL,
            source TEXT NOT NULL,
            dest TEXT NOT NULL,
            ts_ns INTEGER NOT NULL
        ) STRICT""",
    ),
    # v3: trading-state changes (who or what, why), the operator-visible incident lifecycle,
    # and each intent's product kind (Bybit lists spot and linear under one symbol, so a query
    # by client id after a restart must know which one it asks).
    (
        "ALTER TABLE intents ADD COLUMN kind TEXT",
        """CREATE TABLE trading_state_changes (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL,
            source TEXT NOT NULL,
            dest TEXT NOT NULL,
            changed_by TEXT NOT NULL,
            reason TEXT NOT NULL,
            ts_ns INTEGER NOT NULL
        ) STRICT""",
        """CREATE TABLE incident_events (
            id INTEGER PRIMARY KEY,
            incident_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            event TEXT NOT NULL,
            source TEXT NOT NULL,
            reason TEXT NOT NULL,
            ts_ns INTEGER NOT NULL
        ) STRICT""",
    ),
    # v4: the outbox: a submission's rows committed as one row of an append-only table (one
    # B-tree page, no index), moved into their tables by the journal's next transaction, or on
    # open after a crash (see `arbiter.store.journal`).
    (
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            rows BLOB NOT NULL
        ) STRICT""",
    ),
    # v5: submissions go to the outbox *file* (`arbiter.store.outbox`); the highest record
    # number whose rows are in their tables, moved in the same transaction as this mark.
    (
        """CREATE TABLE outbox_settled (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL
        ) STRICT""",
        "INSERT INTO outbox_settled (id, seq) VALUES (1, 0)",
    ),
    # v6: the trading-state sources latched now, one row per (scope, source), and each source's
    # history (latched, changed, cleared: who and why); a restart rebuilds every halt from them.
    (
        """CREATE TABLE trading_holds (
            scope TEXT NOT NULL,
            source TEXT NOT NULL,
            state TEXT NOT NULL,
            held_by TEXT NOT NULL,
            reason TEXT NOT NULL,
            since_ns INTEGER NOT NULL,
            PRIMARY KEY (scope, source)
        ) STRICT""",
        """CREATE TABLE trading_hold_events (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL,
            source TEXT NOT NULL,
            event TEXT NOT NULL,
            state TEXT NOT NULL,
            changed_by TEXT NOT NULL,
            reason TEXT NOT NULL,
            ts_ns INTEGER NOT NULL
        ) STRICT""",
    ),
    # v7: the venues' own account records, keyed by the venue's id, each with every strategy's
    # share of it: funding settlements and forced executions (auto-deleveraging, liquidations).
    (
        """CREATE TABLE funding_settlements (
            venue TEXT NOT NULL,
            settlement_id TEXT NOT NULL,
            symbol TEXT NOT NULL,
            amount TEXT NOT NULL,
            asset TEXT NOT NULL,
            ts_venue_ms INTEGER NOT NULL,
            ts_ns INTEGER NOT NULL,
            PRIMARY KEY (venue, settlement_id)
        ) STRICT""",
        """CREATE TABLE funding_shares (
            venue TEXT NOT NULL,
            settlement_id TEXT NOT NULL,
            strategy TEXT NOT NULL,
            amount TEXT NOT NULL,
            PRIMARY KEY (venue, settlement_id, strategy),
            FOREIGN KEY (venue, settlement_id)
                REFERENCES funding_settlements (venue, settlement_id)
        ) STRICT""",
        "CREATE INDEX funding_shares_by_strategy ON funding_shares (strategy)",
        """CREATE TABLE forced_executions (
            venue TEXT NOT NULL,
            symbol TEXT NOT NULL,
            trade_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            side TEXT NOT NULL,
            price TEXT NOT NULL,
            qty TEXT NOT NULL,
            fee TEXT NOT NULL,
            fee_asset TEXT NOT NULL,
            ts_venue_ms INTEGER NOT NULL,
            ts_ns INTEGER NOT NULL,
            PRIMARY KEY (venue, symbol, trade_id)
        ) STRICT""",
        """CREATE TABLE forced_shares (
            venue TEXT NOT NULL,
            symbol TEXT NOT NULL,
            trade_id TEXT NOT NULL,
            strategy TEXT NOT NULL,
            qty TEXT NOT NULL,
            fee TEXT NOT NULL,
            PRIMARY KEY (venue, symbol, trade_id, strategy),
            FOREIGN KEY (venue, symbol, trade_id)
                REFERENCES forced_executions (venue, symbol, trade_id)
        ) STRICT""",
        "CREATE INDEX forced_shares_by_strategy ON forced_shares (strategy)",
    ),
)

LATEST = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    pass


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, applied_at_ns INTEGER NOT NULL) STRICT"
    )
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, target: int = LATEST) -> list[int]:
    """Apply every migration above the file's version up to `target`; returns those applied.

    Each migration runs in its own transaction with its version row, so a crash mid-way leaves
    the file at the previous version, never half-migrated. `conn` must be in autocommit mode
    (isolation_level=None) so these BEGIN/COMMITs are ours.
    """
    if not 0 <= target <= LATEST:
        raise ValueError(f"expected a schema version in 0..{LATEST}, was {target}")
    version = current_version(conn)
    if version > LATEST:
        raise SchemaTooNew(
            f"journal schema is v{version}; this build knows up to v{LATEST}: refusing to guess"
        )
    applied: list[int] = []
    for number in range(version + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number - 1]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at_ns) VALUES (?, ?)",
                (number, process_clock.wall_ns()),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(number)
    return applied
