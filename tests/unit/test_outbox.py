"""The outbox file: records that survive the process, stop at a torn one, and start over once
settled; and the journal's use of it when it is full, torn or flushed."""

from __future__ import annotations

import mmap
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from arbiter.execution.order_tracker import OrderTracker
from arbiter.store import Journal
from arbiter.store.journal import Durability, outbox_path
from arbiter.store.outbox import OutboxFile, OutboxFull, OutboxInUse
from tests.support.journal_view import restart_view
from tests.support.order_events import make_intent

PAGE = mmap.PAGESIZE


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[OutboxFile]:
    box = OutboxFile(tmp_path / "j-outbox", size=PAGE)
    yield box
    box.close()


def test_records_when_appended_read_back_from_a_fresh_mapping(tmp_path: Path) -> None:
    box = OutboxFile(tmp_path / "j-outbox", size=PAGE)
    box.append(7, b"first")
    box.append(8, b"second")
    box.close()

    again = OutboxFile(tmp_path / "j-outbox", size=PAGE)
    assert again.records() == [(7, b"first"), (8, b"second")]
    again.close()


def test_records_when_one_is_torn_stop_before_it(tmp_path: Path, outbox: OutboxFile) -> None:
    outbox.append(1, b"whole")
    outbox.append(2, b"torn by a crash")
    outbox.append(3, b"after it")
    # the crash hit inside the copy of record 2: one byte of its payload never arrived
    with (tmp_path / "j-outbox").open("r+b") as f:
        f.seek(16 + len(b"whole") + 16 + 3)
        f.write(b"\0")

    assert outbox.records() == [(1, b"whole")]


def test_records_when_rewound_ignore_older_ones_behind_the_new(outbox: OutboxFile) -> None:
    outbox.append(1, b"an old record, long")
    outbox.append(2, b"another old one")
    outbox.rewind()
    outbox.append(3, b"new")

    # record 3 ends inside old record 1: what follows is not a record numbered 4
    assert outbox.records() == [(3, b"new")]
    outbox.rewind()
    outbox.append(4, b"an old record, lon")  # ends exactly where old record 2 begins
    assert outbox.records() == [(4, b"an old record, lon")]


def test_append_when_it_does_not_fit_writes_nothing(outbox: OutboxFile) -> None:
    outbox.append(1, b"x" * (PAGE - 2 * 16 - 10))
    assert not outbox.fits(11)

    with pytest.raises(OutboxFull):
        outbox.append(2, b"y" * 11)

    assert [seq for seq, _ in outbox.records()] == [1]
    outbox.append(2, b"y" * 10)  # exactly the room left
    assert [seq for seq, _ in outbox.records()] == [1, 2]


def test_size_when_not_whole_pages_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="whole pages"):
        OutboxFile(tmp_path / "j-outbox", size=PAGE + 1)


# -- the journal's outbox -----------------------------------------------------------------


def _orders(path: Path) -> list[tuple[object, ...]]:
    view = restart_view(path)
    try:
        return sorted(view.execute("SELECT client_id, state FROM orders").fetchall())
    finally:
        view.close()


def test_journal_when_outbox_full_moves_parked_records_first(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path, outbox_size=PAGE) as journal:
        tracker = OrderTracker(journal)
        intents = [make_intent(cycle=n) for n in range(1, 31)]
        for intent in intents:  # no event loop: nothing settles between submissions
            tracker.submit_all([intent])
            assert journal.outbox.used <= PAGE

        assert journal.connection.execute("SELECT COUNT(*) FROM orders").fetchone()[0] > 0
        assert _orders(path) == sorted((i.client_id, "submitted") for i in intents)


def test_journal_when_submission_larger_than_outbox_writes_it_in_its_own_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    with Journal.open(path, outbox_size=PAGE) as journal:
        statements: list[str] = []
        journal.connection.set_trace_callback(statements.append)
        intents = [make_intent(cycle=1, leg=f"entry.leg{n}") for n in range(20)]

        OrderTracker(journal).submit_all(intents)

        assert journal.outbox.used == 0
        assert sum(s.startswith("BEGIN") for s in statements) == 1
        assert sum(s == "COMMIT" for s in statements) == 1
        journal.connection.set_trace_callback(None)
        assert _orders(path) == sorted((i.client_id, "submitted") for i in intents)


def test_journal_when_restarted_after_a_torn_record_keeps_the_whole_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    crashed = Journal.open(path)
    sent, torn = make_intent(cycle=1), make_intent(cycle=2)
    OrderTracker(crashed).submit_all([sent])
    end_of_first = crashed.outbox.used
    OrderTracker(crashed).submit_all([torn])
    crashed.connection.close()  # the process dies inside the copy of the second record
    crashed.outbox.close()
    with outbox_path(path).open("r+b") as f:
        f.seek(end_of_first + 40)
        f.write(b"\xff\xff")

    with Journal.open(path) as restarted:
        assert sorted(restarted.load_state().orders) == [sent.client_id]
        OrderTracker(restarted).submit_all([torn])  # never sent: the retry goes out as new
    assert _orders(path) == sorted([(sent.client_id, "submitted"), (torn.client_id, "submitted")])


def test_journal_when_durability_full_flushes_and_restarts_with_the_record(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    crashed = Journal.open(path, durability=Durability.FULL)
    intent = make_intent()
    OrderTracker(crashed).submit_all([intent])
    crashed.connection.close()  # the process dies: its files close
    crashed.outbox.close()

    with Journal.open(path, durability=Durability.FULL) as restarted:
        assert list(restarted.load_state().orders) == [intent.client_id]


def test_journal_when_outbox_batch_reads_or_writes_other_rows_refuses(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite") as journal:
        intent = make_intent()
        with pytest.raises(RuntimeError, match="outbox batch"), journal.batch(outbox=True):
            journal.load_order(intent.client_id)
        with pytest.raises(RuntimeError, match="outbox batch"), journal.batch(outbox=True):
            journal.record_cycle("basis", "btc", 1, trigger="t", source="a", dest="b")
        assert journal.outbox.used == 0


def test_journal_when_already_open_elsewhere_refuses_a_second_writer(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    expected = r"j\.sqlite-outbox: expected no other open journal"
    with Journal.open(path), pytest.raises(OutboxInUse, match=expected):
        Journal.open(path)
    Journal.open(path).close()  # closed: the file is free again


def test_journal_when_open_fails_releases_the_outbox_file(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"not a database, " * 64)

    with pytest.raises(sqlite3.DatabaseError):
        Journal.open(path)

    path.unlink()
    Journal.open(path).close()  # the failed open holds nothing
