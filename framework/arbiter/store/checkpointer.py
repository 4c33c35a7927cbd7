"""Checkpoint the WAL from a thread of its own, so no order-path commit pays for it.

By default SQLite checkpoints inside whichever commit pushes the WAL past 1000 pages, and that
commit then copies pages and fsyncs the database: it is what sets the p99 of a two-leg intent
commit. With a `Checkpointer`, the writer's automatic checkpoint is off and a PASSIVE
checkpoint runs every `interval_s` on a second connection. PASSIVE never blocks the writer or
readers (WAL allows a checkpoint beside a commit), and sqlite3 releases the GIL while it works.

The WAL only starts over (and stops growing) once a checkpoint has copied *every* frame in it,
and frames committed while a pass runs are not in that pass. So a round is up to
`catch_up_passes` PASSIVE passes, each copying only what arrived during the last one, until
one finds no commit in between; at trading rates the first or second does. Under a write rate
no pass can catch up with, the WAL would grow without end: past `max_wal_bytes` the round ends
with a RESTART checkpoint, which makes the writer wait while it finishes -- a stall in the
order path, but a bounded file instead of a full disk.

It is a trade, so it is opt-in: in `benchmarks/journal_write.py`'s tight loop it cuts the p99
of a two-leg commit but raises its p50 (the WAL runs longer between resets; at trading rates it
is reused in place). The figures are in benchmarks/README.md.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_WAL_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CheckpointResult:
    busy: bool
    wal_frames: int
    checkpointed_frames: int

    @property
    def complete(self) -> bool:
        """Every frame is in the database: the next commit starts the WAL over."""
        return self.checkpointed_frames >= self.wal_frames


@dataclass(frozen=True, slots=True)
class RoundResult:
    passes: int  # PASSIVE passes run
    restarted: bool  # the WAL was past its cap and a RESTART checkpoint ran
    last: CheckpointResult


class Checkpointer:
    def __init__(
        self,
        path: Path,
        interval_s: float,
        *,
        catch_up_passes: int = 4,
        max_wal_bytes: int = DEFAULT_MAX_WAL_BYTES,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"expected a positive checkpoint interval, was {interval_s}")
        if catch_up_passes < 1 or max_wal_bytes <= 0:
            raise ValueError(
                f"expected catch_up_passes >= 1 and a positive max_wal_bytes, "
                f"was {catch_up_passes}, {max_wal_bytes}"
            )
        self.path = path
        self.interval_s = interval_s
        self.catch_up_passes = catch_up_passes
        self.max_wal_bytes = max_wal_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, conn: sqlite3.Connection | None = None) -> CheckpointResult:
        return self._checkpoint("PASSIVE", conn)

    def run_round(self, conn: sqlite3.Connection | None = None) -> RoundResult:
        """PASSIVE passes until one is complete (at most `catch_up_passes`); then RESTART if
        the WAL is still past `max_wal_bytes`."""
        own = conn is None
        conn = conn or self._connect()
        try:
            result = self._checkpoint("PASSIVE", conn)
            passes = 1
            while not result.complete and passes < self.catch_up_passes:
                result = self._checkpoint("PASSIVE", conn)
                passes += 1
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            restarted = result.wal_frames * page_size > self.max_wal_bytes
            if restarted:
                result = self._checkpoint("RESTART", conn)
            return RoundResult(passes, restarted, result)
        finally:
            if own:
                conn.close()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.path}: checkpointer already started")
        self._thread = threading.Thread(
            target=self._loop, name=f"journal-checkpoint:{self.path.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=5000")  # a RESTART waits for the writer's commit
        return conn

    def _checkpoint(self, mode: str, conn: sqlite3.Connection | None) -> CheckpointResult:
        own = conn is None
        conn = conn or self._connect()
        try:
            busy, log, done = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        finally:
            if own:
                conn.close()
        return CheckpointResult(bool(busy), log, done)

    def _loop(self) -> None:
        # check_same_thread: this connection is created and used only on this thread.
        conn = self._connect()
        try:
            while not self._stop.wait(self.interval_s):
                self.run_round(conn)
        finally:
            conn.close()
