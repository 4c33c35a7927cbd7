"""The journal: one SQLite file per runtime, in WAL mode, written before and as orders move.

How it is called from asyncio: directly, on the event loop's thread, synchronously. A commit in
WAL mode with `synchronous=NORMAL` appends to the WAL file without an fsync, which costs less
than a hop to a writer thread and back (see `benchmarks/journal_write.py`); and an intent must
be durable *before* its order is sent, so the caller would await that hop on the hot path
anyway. One connection, owned by the loop's thread (sqlite3's `check_same_thread` enforces it),
means one writer and no lock contention. Readers in other processes (an operator CLI) read
concurrently: WAL never blocks them.

Durability (`Durability`):
- NORMAL (default): every commit is atomic and survives a crash of this process, SIGKILL
  included: the committed pages are in the WAL file (in the OS page cache), and the next open
  replays them. A power loss or kernel crash may lose the last commits before the next
  checkpoint's fsync, never corrupt the file. Restart reconciliation by client order id
  covers that window: an order the venue has and the journal lacks is adopted or flagged.
- FULL: the WAL is fsynced on every commit, so a commit also survives power loss, at the
  cost of one fsync (milliseconds on most disks) per write. If that is chosen for production,
  move the writes to a single writer thread and batch them.

Checkpoints (copying the WAL back into the database, with an fsync) are the tail of the write
latency; `checkpoint_interval_s` moves them to a background thread (`Checkpointer`).

Writes are cheap by construction: the SQL strings are constants, so sqlite3's statement cache
prepares each once per connection; each applied event is one transaction (event row, order
row, fill, incident together, so nothing half-applied is ever visible); `batch()` groups
several events (both legs' intents and submit marks, a burst of private messages) into one
commit. Inside a transaction the rows wait in memory and go out just before COMMIT, one
`executemany` per table (intents, events, fills, incidents, orders: the order the foreign keys
need), so both legs of a pair cost five statements (BEGIN, three inserts, COMMIT), not one per
row. An order's row is the latest of its snapshots, so it is written once however many of its
events the transaction holds. Anything that reads or must know a write's outcome inside a
transaction (`load_order`, `record_fill`) first sends what is waiting.

The outbox (`batch(outbox=True)`, what `submit_all` uses on the order path): the batch's rows
are not a SQLite transaction at all but one record (msgpack of the same rows) appended to the
memory-mapped outbox file beside the journal (`arbiter.store.outbox`: a copy into the page
cache, no system call, as durable against a killed process as a WAL commit). The rows are moved
into their tables, with the `outbox_settled` mark, at the start of the journal's next
transaction (in that same transaction: everything written later follows them), or by
`settle()`, which a submission schedules for the event loop's next turn; on open, records a
crash left unsettled are moved first. Either way every reader of the tables sees intents before
anything that refers to them, and a crash after the append loses nothing. One process writes a
journal (and its outbox file) at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Self

import msgspec

from arbiter import clock as process_clock
from arbiter.execution.intent import Intent
from arbiter.execution.records import Incident, JournaledOrder, OrderChange, OrderSnapshot
from arbiter.store import codec
from arbiter.store.checkpointer import Checkpointer
from arbiter.store.codec import dec, dec_or_none
from arbiter.store.outbox import DEFAULT_SIZE, OutboxFile, OutboxFull
from arbiter.store.replay import (
    JournalState,
    last_account_record_ms,
    load_order,
    load_state,
    load_strategy_fills,
    load_strategy_forced,
    load_strategy_funding,
)
from arbiter.store.schema import migrate
from arbiter.venues import Fill, ForcedExecution, FundingSettlement, PositionUpdate


class Durability(StrEnum):
    NORMAL = "NORMAL"
    FULL = "FULL"


@dataclass(frozen=True, slots=True)
class ManifestVersion:
    id: int
    strategy: str
    sha256: str
    text: str | None
    diff: str | None
    applied_at_ns: int


_INSERT_INTENT = f"INSERT INTO intents ({codec.INTENT_COLUMNS}) VALUES ({', '.join('?' * 18)})"
_UPSERT_ORDER = (
    "INSERT INTO orders (client_id, venue, symbol, qty, state, venue_order_id, fills_qty, "
    "fills_notional, reported_qty, reported_avg_price, last_seq, updated_ns) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (client_id) DO UPDATE SET state = excluded.state, "
    "venue_order_id = excluded.venue_order_id, fills_qty = excluded.fills_qty, "
    "fills_notional = excluded.fills_notional, reported_qty = excluded.reported_qty, "
    "reported_avg_price = excluded.reported_avg_price, last_seq = excluded.last_seq, "
    "updated_ns = excluded.updated_ns"
)
_INSERT_EVENT = (
    "INSERT INTO order_events (client_id, seq, kind, trigger, source, dest, accepted, "
    "filled_qty, detail, trade_id, ts_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Fills are facts keyed by the venue's trade id: the second copy of one is a no-op.
_INSERT_FILL = f"INSERT OR IGNORE INTO fills ({codec.FILL_COLUMNS}) VALUES ({', '.join('?' * 13)})"
_INSERT_INCIDENT = (
    "INSERT INTO incidents (kind, venue, symbol, client_id, message, ts_ns) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_UPSERT_POSITION = (
    "INSERT INTO positions (venue, symbol, size, entry_price, unrealized_pnl, ts_venue_ms, "
    "updated_ns) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (venue, symbol) DO UPDATE SET "
    "size = excluded.size, entry_price = excluded.entry_price, "
    "unrealized_pnl = excluded.unrealized_pnl, ts_venue_ms = excluded.ts_venue_ms, "
    "updated_ns = excluded.updated_ns"
)
_UPSERT_CYCLE = (
    "INSERT INTO cycle_states (strategy, pair, cycle, state, updated_ns) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (strategy, pair) DO UPDATE SET cycle = excluded.cycle, state = excluded.state, "
    "updated_ns = excluded.updated_ns"
)
# Settlements and forced executions are facts keyed by the venue's id, like fills.
_INSERT_FUNDING = (
    "INSERT OR IGNORE INTO funding_settlements (venue, settlement_id, symbol, amount, asset, "
    "ts_venue_ms, ts_ns) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_FUNDING_SHARE = (
    "INSERT INTO funding_shares (venue, settlement_id, strategy, amount) VALUES (?, ?, ?, ?)"
)
_INSERT_FORCED = (
    "INSERT OR IGNORE INTO forced_executions (venue, symbol, trade_id, kind, side, price, qty, "
    "fee, fee_asset, ts_venue_ms, ts_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_FORCED_SHARE = (
    "INSERT INTO forced_shares (venue, symbol, trade_id, strategy, qty, fee) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_CYCLE_TRANSITION = (
    "INSERT INTO cycle_transitions (strategy, pair, cycle, trigger, source, dest, ts_ns) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


_IN_BATCH = nullcontext()


def _snapshot_row(s: OrderSnapshot, seq: int, ts_ns: int) -> tuple[object, ...]:
    return (
        s.client_id,
        s.venue,
        s.symbol,
        dec(s.qty),
        s.state,
        s.venue_order_id,
        dec(s.fills_qty),
        dec(s.fills_notional),
        dec(s.reported_qty),
        dec_or_none(s.reported_avg_price),
        seq,
        ts_ns,
    )


class Journal:
    """The runtime's journal. Open with `Journal.open(path)`; satisfies `OrderJournal`."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        outbox: OutboxFile,
        clock: Callable[[], int] = process_clock.wall_ns,
        checkpointer: Checkpointer | None = None,
    ) -> None:
        self._conn = conn
        self.path = path
        self.outbox = outbox
        self._clock = clock
        self._depth = 0
        # Rows written in the open transaction, sent just before COMMIT (`_flush`).
        self._intent_rows: list[tuple[object, ...]] = []
        self._event_rows: list[tuple[object, ...]] = []
        self._fill_rows: list[tuple[object, ...]] = []
        self._incident_rows: list[tuple[object, ...]] = []
        # client id -> (snapshot, seq, ts) of its latest change in the open transaction
        self._order_rows: dict[str, tuple[OrderSnapshot, int, int]] = {}
        self._outbox = False  # the open batch appends its rows to the outbox file
        # outbox records not yet moved into their tables: (record number, rows per table)
        self._parked: list[tuple[int, _Rows]] = []
        self._moved = 0  # how many of them the open transaction has moved
        self._seq = _settled(conn)  # the last record number used
        self._closed = False
        self.checkpointer = checkpointer

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        durability: Durability = Durability.NORMAL,
        clock: Callable[[], int] = process_clock.wall_ns,
        checkpoint_interval_s: float | None = None,
        outbox_size: int = DEFAULT_SIZE,
    ) -> Journal:
        """Open (creating and migrating as needed) the journal at `path`.

        `checkpoint_interval_s`: checkpoint the WAL from a background thread at this interval
        instead of inside commits (see `arbiter.store.checkpointer`); None keeps SQLite's own.
        `outbox_size`: bytes of the outbox file (whole pages); a submission that finds it full
        moves the records parked in it first.
        """
        path = Path(path)
        # The outbox file first: its lock keeps a second writer away from the SQLite file too.
        outbox = OutboxFile(
            outbox_path(path), size=outbox_size, flush=Durability(durability) is Durability.FULL
        )
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly one
        # applied event (or one batch), never whatever the module decided to group.
        conn = sqlite3.connect(path, isolation_level=None, cached_statements=64)
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise RuntimeError(f"{path}: expected journal_mode wal, was {mode}")
            conn.execute(f"PRAGMA synchronous={Durability(durability).value}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=2000")
            migrate(conn)
            _unpark(conn)  # a crash may have left committed rows in the outbox table (v4)
            journal = cls(conn, path, outbox, clock)
            journal._recover()  # a crash may have left records in the outbox file
            if checkpoint_interval_s is not None:
                conn.execute("PRAGMA wal_autocheckpoint=0")
                journal.checkpointer = Checkpointer(path, checkpoint_interval_s)
                journal.checkpointer.start()
        except BaseException:
            conn.close()
            outbox.close()
            raise
        return journal

    def close(self) -> None:
        if self._depth:
            raise RuntimeError(f"{self.path}: close() inside an open batch")
        self.settle()
        self._closed = True
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self._conn.close()
        self.outbox.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submission(self) -> AbstractContextManager[None]:
        """A submission's rows as one outbox record (`OrderJournal.submission`)."""
        return self.batch(outbox=True)

    @property
    def connection(self) -> sqlite3.Connection:
        """For replay and read-only inspection; writes go through the methods below."""
        return self._conn

    @contextmanager
    def batch(self, *, outbox: bool = False) -> Iterator[None]:
        """Group every write inside into one transaction (one commit, all or nothing).

        `outbox`: append the rows as one outbox record instead (see the module doc); for the
        outermost batch only, and only for order rows (intents, changes, incidents): a write of
        anything else, or a read, inside it is refused.
        """
        if self._depth == 0:
            self._outbox = outbox
            if not outbox:
                self._conn.execute("BEGIN IMMEDIATE")
        elif self._outbox:
            raise RuntimeError(f"{self.path}: an outbox batch holds order rows only")
        self._depth += 1
        try:
            yield
            if self._depth == 1:
                if self._outbox:
                    self._park()
                else:
                    self._flush()
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._discard()
                if not self._outbox:
                    self._moved = 0  # rolled back: still parked
                    self._conn.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0 and not self._outbox:
            self._conn.execute("COMMIT")
            if self._moved:
                del self._parked[: self._moved]
                self._moved = 0
                if not self._parked:
                    self.outbox.rewind()

    def settle(self) -> None:
        """Move parked outbox rows into their tables now (otherwise the next write does); a
        submission schedules this for the event loop's next turn, after its requests left."""
        if self._parked and not self._depth and not self._closed:
            with self.batch():
                pass

    def _park(self) -> None:
        """Append the waiting rows to the outbox file as one record; parked there until moved
        into their tables. Without room behind the parked records, those are moved first; a
        record larger than the whole file goes straight into its tables instead."""
        rows = self._take_rows()
        payload = _pack(rows)
        seq = self._seq + 1
        if self._parked and not self.outbox.fits(len(payload)):
            self._move_parked()
        try:
            self.outbox.append(seq, payload)
        except OutboxFull:
            self._move_parked(rows)
            return
        self._seq = seq
        self._parked.append((seq, rows))
        _soon(self.settle)

    def _move_parked(self, rows: _Rows | None = None) -> None:
        """Move the parked records (then `rows`) into their tables in a transaction of their
        own, whatever batch is open: for an outbox batch that does not fit its file."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            _write_records(conn, self._parked)
            if rows is not None:
                _write_rows(conn, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._parked.clear()
        self.outbox.rewind()

    def _flush(self) -> None:
        """Send the rows waiting in the open transaction, one statement per table, parents
        (intents) before the rows that reference them (orders); parked outbox records first,
        with their settled mark (they leave memory at COMMIT)."""
        if self._outbox:
            raise RuntimeError(f"{self.path}: an outbox batch cannot read or write other rows")
        conn = self._conn
        _write_records(conn, self._parked[self._moved :])
        self._moved = len(self._parked)
        _write_rows(conn, self._take_rows())

    def _recover(self) -> None:
        """Move the records the outbox file holds beyond the settled mark into their tables
        (a crash left them), in one transaction; then the file starts over."""
        settled = self._seq
        records: list[tuple[int, _Rows]] = [
            (seq, _unpack(blob))  # type: ignore[misc]
            for seq, blob in self.outbox.records()
            if seq > settled
        ]
        if records:
            with self.batch():
                _write_records(self._conn, records)
            self._seq = records[-1][0]
        self.outbox.rewind()

    def _take_rows(self) -> _Rows:
        """The rows waiting in the open transaction, per table (an order's latest snapshot as
        its row); none wait after this."""
        rows: _Rows = (
            self._intent_rows,
            self._event_rows,
            self._fill_rows,
            self._incident_rows,
            [_snapshot_row(*latest) for latest in self._order_rows.values()],
        )
        self._intent_rows, self._event_rows, self._fill_rows, self._incident_rows = [], [], [], []
        self._order_rows.clear()
        return rows

    def _discard(self) -> None:
        self._intent_rows.clear()
        self._event_rows.clear()
        self._fill_rows.clear()
        self._incident_rows.clear()
        self._order_rows.clear()

    def _writing(self) -> AbstractContextManager[None]:
        """A new transaction, or the open batch's (without a second round of bookkeeping)."""
        return _IN_BATCH if self._depth else self.batch()

    # -- the order pipeline (OrderJournal) -------------------------------------------------

    def record_intent(self, intent: Intent, snapshot: OrderSnapshot, ts_ns: int) -> None:
        with self._writing():
            self._intent_rows.append(codec.intent_row(intent, ts_ns))
            self._order_rows[snapshot.client_id] = (snapshot, 0, ts_ns)

    def record_change(self, change: OrderChange) -> None:
        s = change.snapshot
        with self._writing():
            self._event_rows.append(
                (
                    s.client_id,
                    change.seq,
                    change.kind.value,
                    change.trigger,
                    change.source,
                    change.dest,
                    int(change.accepted),
                    dec(s.filled_qty),
                    change.detail,
                    change.fill.trade_id if change.fill else None,
                    change.ts_ns,
                )
            )
            self._order_rows[s.client_id] = (s, change.seq, change.ts_ns)
            if change.fill is not None:
                self._fill_rows.append(codec.fill_row(change.fill))
            if change.incident is not None:
                self._add_incident(change.incident)

    def record_incident(self, incident: Incident) -> None:
        with self._writing():
            self._add_incident(incident)

    def record_fill(self, fill: Fill) -> bool:
        """Keep a fill (e.g. for an order the journal lacks); False when already kept."""
        with self.batch():
            self._flush()  # a copy of it may be waiting in this transaction
            return self._conn.execute(_INSERT_FILL, codec.fill_row(fill)).rowcount == 1

    def _add_incident(self, i: Incident) -> None:
        self._incident_rows.append(
            (i.kind.value, i.venue, i.symbol, i.client_id, i.message, i.ts_ns)
        )

    # -- the account's own records -----------------------------------------------------------

    def record_funding(self, settlement: FundingSettlement, shares: Mapping[str, Decimal]) -> bool:
        """Keep a funding settlement and each strategy's share of it, together; False (and
        nothing written) when the venue's id was kept before."""
        s = settlement
        with self.batch():
            self._flush()
            cursor = self._conn.execute(
                _INSERT_FUNDING,
                (
                    s.venue,
                    s.settlement_id,
                    s.symbol,
                    dec(s.amount),
                    s.asset,
                    s.ts_venue_ms,
                    self._clock(),
                ),
            )
            if cursor.rowcount != 1:
                return False
            self._conn.executemany(
                _INSERT_FUNDING_SHARE,
                [(s.venue, s.settlement_id, name, dec(a)) for name, a in sorted(shares.items())],
            )
        return True

    def record_forced(
        self, forced: ForcedExecution, shares: Mapping[str, tuple[Decimal, Decimal]]
    ) -> bool:
        """Keep a forced execution and each strategy's (qty, fee) share of it, together; False
        (and nothing written) when the venue's trade id was kept before."""
        f = forced
        row = (
            f.venue,
            f.symbol,
            f.trade_id,
            f.kind.value,
            f.side.value,
            dec(f.price),
            dec(f.qty),
            dec(f.fee),
            f.fee_asset,
            f.ts_venue_ms,
            self._clock(),
        )
        with self.batch():
            self._flush()
            if self._conn.execute(_INSERT_FORCED, row).rowcount != 1:
                return False
            self._conn.executemany(
                _INSERT_FORCED_SHARE,
                [
                    (f.venue, f.symbol, f.trade_id, name, dec(qty), dec(fee))
                    for name, (qty, fee) in sorted(shares.items())
                ],
            )
        return True

    # -- positions, cycles, manifests ------------------------------------------------------

    def record_position(self, p: PositionUpdate) -> None:
        row = (
            p.venue,
            p.symbol,
            dec(p.size),
            dec_or_none(p.entry_price),
            dec(p.unrealized_pnl),
            p.ts_venue_ms,
            self._clock(),
        )
        with self.batch():
            self._conn.execute(_UPSERT_POSITION, row)

    def record_cycle(
        self, strategy: str, pair: str, cycle: int, *, trigger: str, source: str, dest: str
    ) -> None:
        """One cycle-machine transition: the current state and its history, together."""
        ts = self._clock()
        with self.batch():
            self._conn.execute(_UPSERT_CYCLE, (strategy, pair, cycle, dest, ts))
            self._conn.execute(
                _INSERT_CYCLE_TRANSITION, (strategy, pair, cycle, trigger, source, dest, ts)
            )

    def record_trading_state(
        self, scope: str, *, source: str, dest: str, by: str, reason: str
    ) -> None:
        with self.batch():
            self._conn.execute(
                "INSERT INTO trading_state_changes (scope, source, dest, changed_by, reason, ts_ns) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (scope, source, dest, by, reason, self._clock()),
            )

    def record_hold(
        self,
        scope: str,
        source: str,
        *,
        event: str,
        state: str,
        held_by: str,
        by: str,
        reason: str,
    ) -> None:
        """A trading-state source latched (`hold`: `state`, set by `held_by`) or cleared
        (`release`), by `by`, and why: what it holds now and its history, together."""
        ts = self._clock()
        with self.batch():
            if event == "hold":
                self._conn.execute(
                    "INSERT INTO trading_holds (scope, source, state, held_by, reason, since_ns) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, source) DO UPDATE SET "
                    "state = excluded.state, held_by = excluded.held_by, "
                    "reason = excluded.reason, since_ns = excluded.since_ns",
                    (scope, source, state, held_by, reason, ts),
                )
            elif event == "release":
                self._conn.execute(
                    "DELETE FROM trading_holds WHERE scope = ? AND source = ?", (scope, source)
                )
            else:
                raise ValueError(f"expected a hold event hold or release, was {event!r}")
            self._conn.execute(
                "INSERT INTO trading_hold_events "
                "(scope, source, event, state, changed_by, reason, ts_ns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (scope, source, event, state, by, reason, ts),
            )

    def record_incident_event(
        self, key: str, *, kind: str, event: str, source: str, reason: str
    ) -> None:
        """One step of an operator-visible incident's life (open, recur, acknowledge, resolve)."""
        with self.batch():
            self._conn.execute(
                "INSERT INTO incident_events (incident_key, kind, event, source, reason, ts_ns) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, kind, event, source, reason, self._clock()),
            )

    def record_manifest(
        self, strategy: str, text: str | None, *, sha256: str | None = None, diff: str | None = None
    ) -> ManifestVersion:
        """Journal a manifest version; a repeat of the latest one (same hash) is a no-op.

        Store the full `text`, or only a `diff` against the previous version with its `sha256`.
        """
        if text is None and (diff is None or sha256 is None):
            raise ValueError(f"{strategy}: expected the manifest text, or a diff and its sha256")
        digest = sha256 or hashlib.sha256((text or "").encode("utf-8")).hexdigest()
        latest = self.latest_manifest(strategy)
        if latest is not None and latest.sha256 == digest:
            return latest
        ts = self._clock()
        with self.batch():
            cursor = self._conn.execute(
                "INSERT INTO manifest_versions (strategy, sha256, text, diff, applied_at_ns) "
                "VALUES (?, ?, ?, ?, ?)",
                (strategy, digest, text, diff, ts),
            )
        return ManifestVersion(int(cursor.lastrowid or 0), strategy, digest, text, diff, ts)

    def manifest_versions(self, strategy: str) -> list[ManifestVersion]:
        rows = self._conn.execute(
            "SELECT id, strategy, sha256, text, diff, applied_at_ns FROM manifest_versions "
            "WHERE strategy = ? ORDER BY id",
            (strategy,),
        ).fetchall()
        return [ManifestVersion(*row) for row in rows]

    def latest_manifest(self, strategy: str) -> ManifestVersion | None:
        row = self._conn.execute(
            "SELECT id, strategy, sha256, text, diff, applied_at_ns FROM manifest_versions "
            "WHERE strategy = ? ORDER BY id DESC LIMIT 1",
            (strategy,),
        ).fetchone()
        return None if row is None else ManifestVersion(*row)

    # -- what the runtime reads ------------------------------------------------------------

    def last_cycle(self, strategy: str, pair: str) -> int:
        """The highest cycle number the journal knows for a pair, from its intents and its
        cycle machine (0 for none): a restart never reuses a cycle number."""
        self.settle()  # the latest submission may still be in the outbox
        row = self._conn.execute(
            "SELECT MAX(n) FROM (SELECT MAX(cycle) AS n FROM intents WHERE strategy = ? AND "
            "pair = ? UNION ALL SELECT MAX(cycle) FROM cycle_states WHERE strategy = ? AND "
            "pair = ?)",
            (strategy, pair, strategy, pair),
        ).fetchone()
        return int(row[0] or 0)

    def strategy_fills(self, strategy: str) -> list[tuple[Intent, Fill]]:
        """Every fill of every order `strategy` placed, with its intent, oldest first."""
        self.settle()
        return load_strategy_fills(self._conn, strategy)

    def strategy_funding(self, strategy: str) -> list[tuple[FundingSettlement, Decimal]]:
        """Every funding settlement `strategy` had a share of, with that share, oldest first."""
        return load_strategy_funding(self._conn, strategy)

    def strategy_forced(self, strategy: str) -> list[tuple[ForcedExecution, Decimal, Decimal]]:
        """Every forced execution `strategy` had a share of, with its (qty, fee), oldest first."""
        return load_strategy_forced(self._conn, strategy)

    def last_account_record_ms(self, venue: str) -> int | None:
        """The venue time of the newest record (fill, settlement, forced trade) of an account:
        where a restart reads the account's records from."""
        self.settle()
        return last_account_record_ms(self._conn, venue)

    def last_attempt(self, strategy: str, pair: str, cycle: int) -> int:
        """The highest attempt number of the cycle's intents, -1 for none: the next order of
        the cycle takes the one after, so no client id is ever used twice."""
        self.settle()
        row = self._conn.execute(
            "SELECT MAX(attempt) FROM intents WHERE strategy = ? AND pair = ? AND cycle = ?",
            (strategy, pair, cycle),
        ).fetchone()
        return -1 if row[0] is None else int(row[0])

    # -- replay ----------------------------------------------------------------------------

    def load_state(self) -> JournalState:
        if self._depth:
            raise RuntimeError(f"{self.path}: load_state() inside an open batch would see it half")
        self.settle()
        return load_state(self._conn)

    def load_order(self, client_id: str) -> JournaledOrder | None:
        if self._depth:
            self._flush()  # inside a batch: what it wrote so far is part of the answer
        else:
            self.settle()
        return load_order(self._conn, client_id)


# -- the outbox ------------------------------------------------------------------------------

# rows per table, in the order they are written: intents, events, fills, incidents, orders
_Rows = tuple[
    list[tuple[object, ...]],
    list[tuple[object, ...]],
    list[tuple[object, ...]],
    list[tuple[object, ...]],
    list[tuple[object, ...]],
]
_DELETE_OUTBOX = "DELETE FROM outbox WHERE id <= ?"
_SETTLE_OUTBOX = "UPDATE outbox_settled SET seq = ? WHERE id = 1"
_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder(
    tuple[
        list[tuple[str | int | None, ...]],
        list[tuple[str | int | None, ...]],
        list[tuple[str | int | None, ...]],
        list[tuple[str | int | None, ...]],
        list[tuple[str | int | None, ...]],
    ]
).decode


def _soon(settle: Callable[[], None]) -> None:
    """Run `settle` on the running event loop's next turn; without a loop, the next write or
    read of the journal settles instead."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.call_soon(settle)


def outbox_path(journal: Path) -> Path:
    """The outbox file of the journal at `journal` (see `arbiter.store.outbox`)."""
    return journal.with_name(journal.name + "-outbox")


def _settled(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT seq FROM outbox_settled WHERE id = 1").fetchone()[0])


def _write_records(conn: sqlite3.Connection, records: list[tuple[int, _Rows]]) -> None:
    """Write outbox records' rows into their tables, oldest first, and mark the last settled
    (the caller's transaction holds both)."""
    for _, rows in records:
        _write_rows(conn, rows)
    if records:
        conn.execute(_SETTLE_OUTBOX, (records[-1][0],))


def _write_rows(conn: sqlite3.Connection, rows: _Rows) -> None:
    intents, events, fills, incidents, orders = rows
    for statement, table in (
        (_INSERT_INTENT, intents),
        (_INSERT_EVENT, events),
        (_INSERT_FILL, fills),
        (_INSERT_INCIDENT, incidents),
        (_UPSERT_ORDER, orders),
    ):
        if table:
            conn.executemany(statement, table)


def _unpark(conn: sqlite3.Connection) -> None:
    """Move what a crash left in the outbox table (before the outbox file, schema v4) into
    its tables, oldest first, in one transaction."""
    parked = conn.execute("SELECT id, rows FROM outbox ORDER BY id").fetchall()
    if not parked:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for _, blob in parked:
            _write_rows(conn, _unpack(blob))  # type: ignore[arg-type]
        conn.execute(_DELETE_OUTBOX, (parked[-1][0],))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
