"""The journal: WAL file, versioned migrations, exact money, replay, and crash safety."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.execution import Intent, OrderTracker
from arbiter.store import LATEST, Journal, SchemaTooNew, migrate, restore_orders
from arbiter.store.codec import dec, intent_row
from arbiter.venues import OrderStatus, PositionUpdate
from tests.support.order_events import make_ack, make_fill, make_intent, make_update

D = Decimal


def test_open_when_new_file_is_wal_at_latest_version(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite") as journal:
        conn = journal.connection
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        versions = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert versions == [(v,) for v in range(1, LATEST + 1)]


def test_migrate_when_v1_file_opened_applies_later_versions_once_and_keeps_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v1.sqlite"
    intent = make_intent()
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == [1]
    conn.execute(
        "INSERT INTO intents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        intent_row(intent, 7)[:17],  # v1 had no kind column
    )
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'incidents'").fetchall() == []
    conn.close()

    with Journal.open(path) as journal:
        conn = journal.connection
        assert conn.execute("SELECT client_id FROM intents").fetchall() == [(intent.client_id,)]
        assert conn.execute("SELECT COUNT(*) FROM incidents").fetchone() == (0,)
        assert conn.execute("SELECT kind FROM intents").fetchall() == [(None,)]
        assert conn.execute("SELECT COUNT(*) FROM trading_state_changes").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM trading_holds").fetchone() == (0,)
    with Journal.open(path) as journal:  # a second open applies nothing again
        rows = journal.connection.execute("SELECT version FROM schema_version").fetchall()
        assert rows == [(1,), (2,), (3,), (4,), (5,), (6,), (7,)]


def test_open_when_file_schema_is_newer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    Journal.open(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO schema_version VALUES (?, 0)", (LATEST + 1,))
    conn.close()
    with pytest.raises(SchemaTooNew, match=rf"v{LATEST + 1}; this build knows up to v{LATEST}"):
        Journal.open(path)


def test_money_when_written_is_text_and_reads_back_exactly(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite") as journal:
        tracker = OrderTracker(journal)
        intent = make_intent(qty="0.10000000")
        tracker.add(intent)
        tracker.submitted(intent.client_id)
        tracker.apply(make_fill(intent, "t1", "0.03000000", "65000.10"))
        types = journal.connection.execute(
            "SELECT typeof(qty), typeof(price), qty FROM fills"
        ).fetchone()
        assert types == ("text", "text", "0.03000000")
        state = journal.load_state()
    snap = state.orders[intent.client_id].snapshot
    assert snap.qty == D("0.10000000")
    assert str(snap.qty) == "0.10000000"
    assert snap.fills_notional == D("1950.0030000000")


def test_dec_when_given_float_is_refused() -> None:
    with pytest.raises(TypeError, match=r"expected Decimal for a money column, was float 0\.1"):
        dec(0.1)  # type: ignore[arg-type]


def test_fill_when_inserted_twice_is_noop(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite") as journal:
        fill = make_fill(make_intent(), "t1", "0.5")
        assert journal.record_fill(fill) is True
        assert journal.record_fill(fill) is False
        assert journal.connection.execute("SELECT COUNT(*) FROM fills").fetchone() == (1,)


def test_load_state_when_orders_mixed_returns_only_non_final_with_filled_qty(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    done, working, unsent = make_intent(1), make_intent(2), make_intent(3)
    with Journal.open(path) as journal:
        tracker = OrderTracker(journal)
        for intent in (done, working, unsent):
            tracker.add(intent)
        for intent in (done, working):
            tracker.submitted(intent.client_id)
            tracker.apply(make_ack(intent))
        tracker.apply(make_fill(done, "d1", "1"))
        tracker.apply(make_fill(working, "w1", "0.25", "100.4"))
        journal.record_position(PositionUpdate("bybit", "BTCUSDT", D("1.25"), D("100.3")))
        journal.record_cycle("basis", "btc", 3, trigger="enter", source="armed", dest="entering")
    with Journal.open(path) as journal:
        state = journal.load_state()
    assert set(state.orders) == {working.client_id, unsent.client_id}
    open_order = state.orders[working.client_id]
    assert open_order.snapshot.state == "partially_filled"
    assert open_order.snapshot.filled_qty == D("0.25")
    assert [f.trade_id for f in open_order.fills] == ["w1"]
    assert open_order.intent == working
    assert state.orders[unsent.client_id].snapshot.state == "new"
    assert state.positions[("bybit", "BTCUSDT")].size == D("1.25")
    assert state.cycles[("basis", "btc")].state == "entering"
    assert state.needs_query() == []


def test_restore_when_replayed_continues_and_still_dedupes_fills(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    intent = make_intent()
    with Journal.open(path) as journal:
        tracker = OrderTracker(journal)
        tracker.add(intent)
        tracker.submitted(intent.client_id)
        tracker.apply(make_ack(intent))
        tracker.apply(make_fill(intent, "t1", "0.4"))
        tracker.cancel_requested(intent.client_id)
    with Journal.open(path) as journal:
        restarted = OrderTracker(journal)
        restore_orders(journal.load_state(), restarted)
        assert restarted.snapshot(intent.client_id).state == "pending_cancel"
        assert restarted.apply(make_fill(intent, "t1", "0.4")).duplicate
        applied = restarted.apply(make_update(intent, OrderStatus.CANCELLED, "0.4"))
        assert applied.change is not None
        assert applied.change.seq == 5  # continues the journaled sequence
        assert restarted.snapshot(intent.client_id).filled_qty == D("0.4")


def test_restore_when_journal_state_disagrees_with_its_events_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    intent = make_intent()
    with Journal.open(path) as journal:
        tracker = OrderTracker(journal)
        tracker.add(intent)
        tracker.submitted(intent.client_id)
        journal.connection.execute("UPDATE orders SET state = 'acknowledged'")
        with pytest.raises(ValueError, match=r"journal says 'acknowledged'.* gives 'submitted'"):
            restore_orders(journal.load_state(), OrderTracker(journal))


def test_submitted_order_when_reloaded_is_listed_for_query(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    intent = make_intent()
    with Journal.open(path) as journal:
        tracker = OrderTracker(journal)
        tracker.add(intent)
        tracker.submitted(intent.client_id)
    with Journal.open(path) as journal:
        assert journal.load_state().needs_query() == [intent.client_id]


def test_batch_when_body_raises_rolls_back_every_write(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite") as journal:
        tracker = OrderTracker(journal)

        def add_both_then_fail() -> None:
            with journal.batch():
                tracker.add(make_intent(1))
                tracker.add(make_intent(2))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            add_both_then_fail()
        assert journal.connection.execute("SELECT COUNT(*) FROM intents").fetchone() == (0,)
        assert journal.connection.execute("SELECT COUNT(*) FROM orders").fetchone() == (0,)


def test_manifest_when_same_text_recorded_twice_keeps_one_version(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite") as journal:
        first = journal.record_manifest("basis", "strategy: {name: basis}\n")
        again = journal.record_manifest("basis", "strategy: {name: basis}\n")
        second = journal.record_manifest("basis", None, sha256="ab" * 32, diff="-a\n+b\n")
        versions = journal.manifest_versions("basis")
    assert again == first
    assert [v.id for v in versions] == [first.id, second.id]
    assert versions[1].diff == "-a\n+b\n"
    assert len(first.sha256) == 64


def test_cycle_when_recorded_keeps_current_state_and_full_history(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite") as journal:
        journal.record_cycle(
            "basis", "btc", 1, trigger="spread_entered", source="idle", dest="armed"
        )
        journal.record_cycle("basis", "btc", 1, trigger="enter", source="armed", dest="entering")
        history = journal.connection.execute(
            "SELECT trigger FROM cycle_transitions ORDER BY id"
        ).fetchall()
        state = journal.load_state()
    assert history == [("spread_entered",), ("enter",)]
    assert state.cycles[("basis", "btc")].state == "entering"


def test_hold_when_latched_changed_and_released_keeps_what_holds_and_its_history(
    tmp_path: Path,
) -> None:
    with Journal.open(tmp_path / "j.sqlite") as journal:
        journal.record_hold(
            "*",
            "kill",
            event="hold",
            state="halted",
            held_by="admin:ada",
            by="admin:ada",
            reason="kill",
        )
        journal.record_hold(
            "s",
            "operator",
            event="hold",
            state="halted",
            held_by="operator:otto",
            by="operator:otto",
            reason="halt",
        )
        journal.record_hold(
            "s",
            "operator",
            event="hold",
            state="reducing",
            held_by="operator:eve",
            by="operator:eve",
            reason="reduce only",
        )
        journal.record_hold(
            "*",
            "kill",
            event="release",
            state="halted",
            held_by="admin:ada",
            by="admin:bob",
            reason="resume",
        )
        history = journal.connection.execute(
            "SELECT scope, source, event, state, changed_by FROM trading_hold_events ORDER BY id"
        ).fetchall()
        state = journal.load_state()
        with pytest.raises(ValueError, match="expected a hold event hold or release, was 'drop'"):
            journal.record_hold(
                "s", "operator", event="drop", state="halted", held_by="x", by="x", reason="x"
            )
    assert [(h.scope, h.source, h.state, h.held_by, h.reason) for h in state.holds] == [
        ("s", "operator", "reducing", "operator:eve", "reduce only")
    ]
    assert history == [
        ("*", "kill", "hold", "halted", "admin:ada"),
        ("s", "operator", "hold", "halted", "operator:otto"),
        ("s", "operator", "hold", "reducing", "operator:eve"),
        ("*", "kill", "release", "halted", "admin:bob"),
    ]


_CRASH_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from arbiter.execution import OrderTracker
    from arbiter.store import Journal
    from tests.support.order_events import make_ack, make_fill, make_intent

    path, step = sys.argv[1], sys.argv[2]
    journal = Journal.open(path)
    tracker = OrderTracker(journal)
    spot, perp = make_intent(leg="entry.spot"), make_intent(leg="entry.perp")

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    with journal.batch():  # both intents in one commit, written before anything is sent
        tracker.add(spot)
        tracker.add(perp)
    if step == "after_intents":
        die()
    with journal.batch():
        tracker.submitted(spot.client_id)
        tracker.submitted(perp.client_id)
    if step == "after_send":
        die()
    tracker.apply(make_ack(spot))
    if step == "between_acks":
        die()
    tracker.apply(make_ack(perp))
    tracker.apply(make_fill(spot, "s1", "1"))
    tracker.apply(make_fill(perp, "p1", "0.4"))
    if step == "after_fill":
        die()
    batch = journal.batch()
    batch.__enter__()  # a burst of events, mid-transaction ...
    tracker.apply(make_fill(perp, "p2", "0.3"))
    tracker.apply(make_fill(perp, "p3", "0.3"))
    die()  # ... and the process dies before COMMIT
    """
)

_SPOT, _PERP = make_intent(leg="entry.spot"), make_intent(leg="entry.perp")


@pytest.mark.parametrize(
    ("step", "open_states", "to_query", "perp_filled"),
    [
        ("after_intents", {_SPOT: "new", _PERP: "new"}, [], "0"),
        ("after_send", {_SPOT: "submitted", _PERP: "submitted"}, [_SPOT, _PERP], "0"),
        ("between_acks", {_SPOT: "acknowledged", _PERP: "submitted"}, [_PERP], "0"),
        ("after_fill", {_PERP: "partially_filled"}, [], "0.4"),
        ("mid_batch", {_PERP: "partially_filled"}, [], "0.4"),
    ],
)
def test_crash_when_killed_at_step_journal_replays_to_last_commit(
    tmp_path: Path,
    step: str,
    open_states: dict[Intent, str],
    to_query: list[Intent],
    perp_filled: str,
) -> None:
    path = tmp_path / "crash.sqlite"
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", _CRASH_CHILD, str(path), step],
        cwd=root,
        capture_output=True,
        check=False,
    )
    assert child.returncode == -9, child.stderr.decode()
    with Journal.open(path) as journal:
        state = journal.load_state()
        fills = journal.connection.execute("SELECT trade_id FROM fills ORDER BY trade_id")
        trade_ids = [row[0] for row in fills.fetchall()]
        restarted = OrderTracker(journal)
        restore_orders(state, restarted)  # replaying every event reproduces every state
    assert {c: o.snapshot.state for c, o in state.orders.items()} == {
        i.client_id: s for i, s in open_states.items()
    }
    assert sorted(state.needs_query()) == sorted(i.client_id for i in to_query)
    assert all(state.orders[i.client_id].intent == i for i in open_states)
    if _PERP.client_id in state.orders:
        assert state.orders[_PERP.client_id].snapshot.filled_qty == D(perp_filled)
    # Nothing of the uncommitted burst is visible: no p2/p3 fills, no events for them.
    assert "p2" not in trade_ids
    assert "p3" not in trade_ids


def test_late_fill_when_order_went_final_before_restart_is_applied_from_journal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    intent = make_intent()
    with Journal.open(path) as journal:
        tracker = OrderTracker(journal)
        tracker.add(intent)
        tracker.submitted(intent.client_id)
        tracker.apply(make_fill(intent, "t1", "0.5"))
        tracker.apply(make_update(intent, OrderStatus.CANCELLED, "0.5"))
    with Journal.open(path) as journal:
        restarted = OrderTracker(journal)
        restore_orders(journal.load_state(), restarted)
        assert intent.client_id not in restarted  # final orders are not loaded up front
        assert restarted.apply(make_fill(intent, "t1", "0.5")).duplicate
        applied = restarted.apply(make_fill(intent, "t2", "0.5"))
        assert applied.state == "filled"  # the venue's late fill wins over its stale cancel
        assert restarted.incidents == []


def test_checkpointer_when_enabled_owns_checkpoints_and_stops_on_close(tmp_path: Path) -> None:
    # An hour-long interval: the thread never fires during the test; run_once is driven here.
    journal = Journal.open(tmp_path / "j.sqlite", checkpoint_interval_s=3600)
    checkpointer = journal.checkpointer
    assert checkpointer is not None
    assert checkpointer.running
    assert journal.connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    tracker = OrderTracker(journal)
    for cycle in range(20):
        tracker.add(make_intent(cycle))
    result = checkpointer.run_once()
    assert result.wal_frames > 0
    assert result.checkpointed_frames == result.wal_frames
    journal.close()
    assert not checkpointer.running


def test_checkpointer_when_interval_not_positive_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected a positive checkpoint interval, was 0"):
        Journal.open(tmp_path / "j.sqlite", checkpoint_interval_s=0)


def test_load_state_when_called_inside_batch_is_refused(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite") as journal, journal.batch():
        OrderTracker(journal).add(make_intent())
        with pytest.raises(RuntimeError, match="inside an open batch"):
            journal.load_state()
