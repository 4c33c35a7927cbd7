"""The journal as a restart after a crash would read it, without touching the running file."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from arbiter.store import Journal


def restart_view(path: Path) -> sqlite3.Connection:
    """A connection to a copy of the journal (its WAL and outbox file included) opened as a
    restart opens it: rows in the outbox are in their tables. The caller closes it before
    asking for another view of the same journal (each replaces the last)."""
    # beside the journal (the test's own folder), replacing the previous view
    copy = path.parent / f"{path.stem}-restart-view{path.suffix}"
    for suffix in ("", "-wal", "-shm", "-outbox"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    for suffix in ("", "-wal", "-outbox"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{copy}{suffix}")
    Journal.open(copy).close()
    return sqlite3.connect(copy)
