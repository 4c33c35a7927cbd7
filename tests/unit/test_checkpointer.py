"""The checkpoint thread's rounds: catch up with the writer, and never let the WAL grow unbounded.

A reader holding an old snapshot stops a checkpoint from copying frames past it, which is the
deterministic stand-in for a writer that commits during every pass.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from arbiter.execution.order_tracker import OrderTracker
from arbiter.store import Journal
from arbiter.store.checkpointer import Checkpointer
from tests.support.order_events import make_intent


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    # An hour-long interval: the thread never fires here; rounds are driven by the test.
    with Journal.open(tmp_path / "j.sqlite", checkpoint_interval_s=3600) as j:
        yield j


def _write(journal: Journal, first: int, count: int) -> None:
    tracker = OrderTracker(journal)
    for cycle in range(first, first + count):
        tracker.submit_all([make_intent(cycle)])
        journal.settle()  # into the WAL, as the event loop's next turn does it


def _wal_frames(journal: Journal) -> int:
    frames: int = journal.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    return frames


def test_round_when_nothing_holds_the_wal_copies_it_all_in_one_pass(journal: Journal) -> None:
    _write(journal, 1, 10)
    checkpointer = Checkpointer(journal.path, 3600)

    result = checkpointer.run_round()

    assert (result.passes, result.restarted, result.last.complete) == (1, False, True)


def test_round_when_frames_stay_out_of_reach_stops_after_its_passes(journal: Journal) -> None:
    _write(journal, 1, 5)
    reader = sqlite3.connect(journal.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM intents").fetchone()  # holds this snapshot
    _write(journal, 6, 5)
    checkpointer = Checkpointer(journal.path, 3600, catch_up_passes=3)
    try:
        held = checkpointer.run_round()
    finally:
        reader.execute("COMMIT")
        reader.close()

    released = checkpointer.run_round()

    assert (held.passes, held.last.complete) == (3, False)
    assert (released.passes, released.last.complete) == (1, True)


def test_round_when_wal_is_past_its_cap_restarts_it_for_the_next_commit(
    journal: Journal,
) -> None:
    _write(journal, 1, 20)
    before = _wal_frames(journal)
    checkpointer = Checkpointer(journal.path, 3600, max_wal_bytes=4096)

    result = checkpointer.run_round()
    _write(journal, 21, 1)

    assert result.restarted
    assert result.last.complete
    assert 0 < _wal_frames(journal) < before  # the next commit wrote from the WAL's start


def test_checkpointer_when_limits_make_no_sense_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected catch_up_passes >= 1"):
        Checkpointer(tmp_path / "j.sqlite", 1, catch_up_passes=0)
