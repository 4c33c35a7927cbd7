"""The journal as a restart after a crash would read it, without touching the running file."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from arbiter.store import Journal


def restart_view(path: Path) -> sqlite3.Connection:
    """A connection to a copy of the journal (its WAL included) opened as a restart opens it:
    rows committed to the outbox are in their tables. The caller closes it."""
    folder = Path(tempfile.mkdtemp(prefix="journal-view-"))
    copy = folder / path.name
    for suffix in ("", "-wal"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{copy}{suffix}")
    Journal.open(copy).close()
    return sqlite3.connect(copy)
