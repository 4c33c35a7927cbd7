"""Submitting several intents at once: one journal commit, written before anything is sent.

The statements the journal runs are read from SQLite itself (`set_trace_callback`), so "one
commit" is what the database saw, not what the code meant.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from arbiter.execution import OrderTracker
from arbiter.fsm import IllegalTransition
from arbiter.store import Journal
from arbiter.venues import OrderStatus
from tests.support.journal_view import restart_view
from tests.support.order_events import make_ack, make_fill, make_intent, make_update


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.sqlite") as j:
        yield j


@pytest.fixture
def statements(journal: Journal) -> Iterator[list[str]]:
    seen: list[str] = []
    journal.connection.set_trace_callback(seen.append)
    yield seen
    journal.connection.set_trace_callback(None)


def _committed(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    """What a restart after a crash would read: commits only (the outbox's rows included)."""
    other = restart_view(path)
    try:
        return other.execute(sql, args).fetchall()
    finally:
        other.close()


def test_submit_all_when_two_legs_writes_both_intents_and_marks_in_one_commit(
    journal: Journal, statements: list[str]
) -> None:
    tracker = OrderTracker(journal)
    spot, perp = make_intent(leg="entry.spot"), make_intent(leg="entry.perp")

    applied = tracker.submit_all([spot, perp])

    assert [a.state for a in applied] == ["submitted", "submitted"]
    # Nothing of SQLite on the path before the send: everything is one outbox record.
    assert statements == []
    assert [seq for seq, _ in journal.outbox.records()] == [1]
    rows = _committed(
        journal.path,
        "SELECT o.state, COUNT(e.seq) FROM orders o JOIN order_events e USING (client_id) "
        "WHERE e.trigger = 'submit' GROUP BY o.client_id ORDER BY o.client_id",
    )
    assert rows == [("submitted", 1), ("submitted", 1)]
    intents = _committed(journal.path, "SELECT client_id FROM intents ORDER BY client_id")
    assert intents == sorted((i.client_id,) for i in (spot, perp))


def test_submit_all_when_an_intent_was_already_sent_writes_nothing(
    journal: Journal, statements: list[str]
) -> None:
    tracker = OrderTracker(journal)
    spot, perp = make_intent(leg="entry.spot"), make_intent(leg="entry.perp")
    tracker.submit_all([spot])
    statements.clear()

    with pytest.raises(IllegalTransition, match="'submit' is not allowed in state 'submitted'"):
        tracker.submit_all([perp, spot])

    assert statements == []
    assert perp.client_id not in tracker


def test_submit_all_when_same_intent_twice_is_refused_before_writing(
    journal: Journal, statements: list[str]
) -> None:
    tracker = OrderTracker(journal)
    spot = make_intent()

    with pytest.raises(ValueError, match="appears twice"):
        tracker.submit_all([spot, spot])

    assert statements == []


def test_submit_all_when_intent_tracked_but_unsent_submits_it(journal: Journal) -> None:
    tracker = OrderTracker(journal)
    spot = make_intent()
    tracker.add(spot)  # journaled before a restart, never sent

    (applied,) = tracker.submit_all([spot])

    assert applied.state == "submitted"
    assert tracker.history(spot.client_id) == [("submit", "new", "submitted")]


def test_batch_when_one_order_changes_many_times_writes_its_row_once_with_the_latest(
    journal: Journal, statements: list[str]
) -> None:
    tracker = OrderTracker(journal)
    spot = make_intent(qty="1")
    tracker.submit_all([spot])
    journal.settle()  # the submission's outbox row into its tables (the event loop does this)
    statements.clear()

    with journal.batch():  # a burst of private messages
        tracker.apply(make_ack(spot))
        tracker.apply(make_fill(spot, "t1", "0.4"))
        tracker.apply(make_fill(spot, "t2", "0.6"))

    assert sum(s.startswith("INSERT INTO orders") for s in statements) == 1
    assert _committed(
        journal.path,
        "SELECT state, fills_qty, last_seq FROM orders WHERE client_id = ?",
        spot.client_id,
    ) == [("filled", "1.0", 4)]


def test_batch_when_read_inside_sees_its_own_pending_order_rows(journal: Journal) -> None:
    tracker = OrderTracker(journal)
    spot = make_intent()
    with journal.batch():
        tracker.submit_all([spot])
        tracker.apply(make_update(spot, OrderStatus.NEW))
        loaded = journal.load_order(spot.client_id)
    assert loaded is not None
    assert loaded.snapshot.state == "acknowledged"


def test_batch_when_it_fails_leaves_no_order_rows_behind(journal: Journal) -> None:
    tracker = OrderTracker(journal)
    spot = make_intent()

    def fail_inside_batch() -> None:
        with journal.batch():
            tracker.add(spot)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside_batch()
    other = make_intent(cycle=2)
    tracker.add(other)  # the next transaction carries nothing of the failed one
    assert _committed(journal.path, "SELECT client_id FROM orders") == [(other.client_id,)]


def test_submit_all_when_its_commit_fails_leaves_memory_as_the_journal(
    journal: Journal,
) -> None:
    tracker = OrderTracker(journal, batch=journal.batch, keep_final=1)
    old = make_intent(cycle=1)
    tracker.submit_all([old])
    tracker.apply(make_update(old, OrderStatus.CANCELLED))
    tracker.submit_all([make_intent(cycle=2)])
    tracker.apply(make_update(make_intent(cycle=2), OrderStatus.CANCELLED))
    assert old.client_id not in tracker  # forgotten in memory, kept in the journal
    waiting = make_intent(cycle=3)
    tracker.add(waiting)  # tracked in state new, journaled on its own
    fresh = make_intent(cycle=4)

    # The old intent is journaled already: the commit refuses the whole submission.
    with pytest.raises(sqlite3.IntegrityError):
        tracker.submit_all([fresh, waiting, old])

    assert fresh.client_id not in tracker
    assert tracker.snapshot(waiting.client_id).state == "new"
    assert tracker.history(waiting.client_id) == []
    assert (
        _committed(journal.path, "SELECT state FROM orders WHERE client_id = ?", fresh.client_id)
        == []
    )
    applied = tracker.submit_all([fresh, waiting])  # the same legs, without the bad one
    assert [a.state for a in applied] == ["submitted", "submitted"]
    assert [a.change.seq for a in applied if a.change] == [1, 1]
    assert _committed(
        journal.path,
        "SELECT state FROM orders WHERE client_id IN (?, ?)",
        fresh.client_id,
        waiting.client_id,
    ) == [("submitted",), ("submitted",)]


def test_record_fill_when_its_copy_waits_in_the_same_batch_says_already_kept(
    journal: Journal,
) -> None:
    tracker = OrderTracker(journal)
    spot = make_intent()
    tracker.submit_all([spot])
    fill = make_fill(spot, "t1", "0.5")

    with journal.batch():
        tracker.apply(fill)  # its row waits for the commit
        kept_again = journal.record_fill(fill)

    assert kept_again is False
    assert _committed(journal.path, "SELECT trade_id FROM fills") == [("t1",)]


def test_outbox_when_next_write_comes_moves_the_submission_first_in_that_transaction(
    journal: Journal, statements: list[str]
) -> None:
    tracker = OrderTracker(journal)
    spot = make_intent(qty="1")
    tracker.submit_all([spot])
    assert journal.connection.execute("SELECT COUNT(*) FROM intents").fetchone() == (0,)
    statements.clear()

    tracker.apply(make_ack(spot))  # its own transaction: the parked rows go first

    assert sum(s.startswith("BEGIN") for s in statements) == 1
    inserts = [s.split()[2] for s in statements if s.startswith("INSERT INTO")]
    assert inserts == ["intents", "order_events", "orders", "order_events", "orders"]
    conn = journal.connection
    assert conn.execute("SELECT seq FROM outbox_settled").fetchone() == (1,)
    assert journal.outbox.used == 0  # all settled: the next record goes at the start
    assert conn.execute("SELECT state FROM orders").fetchall() == [("acknowledged",)]


def test_outbox_when_crash_left_rows_in_it_open_moves_them_into_their_tables(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    crashed = Journal.open(path)
    spot, perp = make_intent(leg="entry.spot"), make_intent(leg="entry.perp")
    OrderTracker(crashed).submit_all([spot, perp])
    # the process dies here: nothing settles, the connection is simply dropped
    assert len(crashed.outbox.records()) == 1
    assert crashed.connection.execute("SELECT COUNT(*) FROM orders").fetchone() == (0,)
    crashed.connection.close()  # the process dies: its files close
    crashed.outbox.close()

    with Journal.open(path) as restarted:
        conn = restarted.connection
        assert conn.execute("SELECT seq FROM outbox_settled").fetchone() == (1,)
        assert sorted(conn.execute("SELECT client_id, state FROM orders").fetchall()) == sorted(
            [(spot.client_id, "submitted"), (perp.client_id, "submitted")]
        )
        state = restarted.load_state()
        assert set(state.orders) == {spot.client_id, perp.client_id}
        assert sorted(state.needs_query()) == sorted([spot.client_id, perp.client_id])


async def test_outbox_when_submitted_on_an_event_loop_settles_on_its_next_turn(
    journal: Journal,
) -> None:
    tracker = OrderTracker(journal)
    spot = make_intent(qty="1")
    tracker.submit_all([spot])
    assert journal.connection.execute("SELECT COUNT(*) FROM orders").fetchone() == (0,)
    await asyncio.sleep(0)  # one turn of the loop, no time
    assert journal.outbox.used == 0
    assert journal.connection.execute("SELECT state FROM orders").fetchall() == [("submitted",)]
