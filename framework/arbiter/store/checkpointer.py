"""Checkpoint the WAL from a thread of its own, so no order-path commit pays for it.

By default SQLite checkpoints inside whichever commit pushes the WAL past 1000 pages, and that
commit then copies pages and fsyncs the database: it is what sets the p99 of a two-leg intent
commit. With a `Checkpointer`, the writer's automatic checkpoint is off and a PASSIVE
checkpoint runs every `interval_s` on a second connection. PASSIVE never blocks the writer or
readers (WAL allows a checkpoint beside a commit), and sqlite3 releases the GIL while it works.

It is a trade, so it is opt-in: `benchmarks/journal_write.py` on the development box, two-leg
commit, default vs `--checkpoint-thread 0.05`: p99 2.8 ms -> 0.5 ms, but p50 0.12 ms -> 0.18 to
0.27 ms (the GIL is shared with the thread, and the WAL runs longer between resets).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class CheckpointResult:
    busy: bool
    wal_frames: int
    checkpointed_frames: int


class Checkpointer:
    def __init__(self, path: Path, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError(f"expected a positive checkpoint interval, was {interval_s}")
        self.path = path
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, conn: sqlite3.Connection | None = None) -> CheckpointResult:
        own = conn is None
        conn = conn or sqlite3.connect(self.path, isolation_level=None)
        try:
            busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            if own:
                conn.close()
        return CheckpointResult(bool(busy), log, done)

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

    def _loop(self) -> None:
        # check_same_thread: this connection is created and used only on this thread.
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            while not self._stop.wait(self.interval_s):
                self.run_once(conn)
        finally:
            conn.close()
