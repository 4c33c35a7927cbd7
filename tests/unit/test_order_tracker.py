"""The order tracker: venue events applied idempotently through the order machine, journaled."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.execution import IncidentKind, Intent, OrderTracker
from arbiter.fsm import IllegalTransition
from arbiter.store import Journal
from arbiter.venues import (
    Ambiguous,
    DuplicateClientId,
    OrderNotFound,
    OrderRejected,
    OrderStatus,
    RateLimited,
)
from arbiter.venues.contract.client_ids import IntentId
from arbiter_bybit.limits import BYBIT_CLIENT_IDS
from tests.support.order_events import make_ack, make_fill, make_intent, make_update

D = Decimal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.sqlite") as j:
        yield j


@pytest.fixture
def tracker(journal: Journal) -> OrderTracker:
    return OrderTracker(journal, clock=iter(range(10**9)).__next__)


def sent(tracker: OrderTracker, intent: Intent | None = None) -> Intent:
    intent = intent or make_intent()
    tracker.add(intent)
    tracker.submitted(intent.client_id)
    return intent


def event_count(journal: Journal, client_id: str) -> int:
    row = journal.connection.execute(
        "SELECT COUNT(*) FROM order_events WHERE client_id = ?", (client_id,)
    ).fetchone()
    return int(row[0])


def test_client_id_when_intent_built_is_derived_from_intent_id() -> None:
    intent = make_intent()
    assert intent.client_id == IntentId("basis", "btc", 1, "entry.spot").client_id(BYBIT_CLIENT_IDS)


def test_fills_when_partial_then_rest_end_filled_with_exact_average(
    tracker: OrderTracker,
) -> None:
    intent = sent(tracker)
    tracker.apply(make_ack(intent))
    tracker.apply(make_fill(intent, "t1", "0.3", "100.1"))
    assert tracker.snapshot(intent.client_id).state == "partially_filled"
    tracker.apply(make_fill(intent, "t2", "0.7", "100.2"))
    snap = tracker.snapshot(intent.client_id)
    assert snap.state == "filled"
    assert snap.filled_qty == D("1.0")
    assert snap.fills_notional == D("100.170")
    assert snap.avg_price == D("100.17")


def test_fill_when_duplicate_trade_id_is_counted_once(
    tracker: OrderTracker, journal: Journal
) -> None:
    intent = sent(tracker)
    tracker.apply(make_fill(intent, "t1", "0.4"))
    again = tracker.apply(make_fill(intent, "t1", "0.4"))
    assert again.duplicate
    assert again.change is None
    assert tracker.snapshot(intent.client_id).filled_qty == D("0.4")
    rows = journal.connection.execute("SELECT COUNT(*) FROM fills").fetchone()
    assert rows[0] == 1


def test_ack_when_after_fill_is_absorbed_and_state_stays_filled(tracker: OrderTracker) -> None:
    intent = sent(tracker)
    tracker.apply(make_fill(intent, "t1", "1"))
    applied = tracker.apply(make_ack(intent))
    assert applied.change is not None
    assert applied.change.accepted
    assert (applied.change.source, applied.change.dest) == ("filled", "filled")
    assert applied.incident is None


def test_filled_update_when_received_twice_stays_filled_without_incident(
    tracker: OrderTracker,
) -> None:
    intent = sent(tracker)
    tracker.apply(make_update(intent, OrderStatus.FILLED, "1", "100.1"))
    second = tracker.apply(make_update(intent, OrderStatus.FILLED, "1", "100.1"))
    assert second.state == "filled"
    assert tracker.incidents == []


def test_fill_when_after_cancel_request_wins_the_race(tracker: OrderTracker) -> None:
    intent = sent(tracker)
    tracker.apply(make_ack(intent))
    tracker.cancel_requested(intent.client_id)
    tracker.apply(make_fill(intent, "t1", "0.5"))
    assert tracker.snapshot(intent.client_id).state == "pending_cancel"
    tracker.apply(make_fill(intent, "t2", "0.5"))
    assert tracker.snapshot(intent.client_id).state == "filled"


def test_fill_when_reported_after_cancelled_moves_to_filled(tracker: OrderTracker) -> None:
    intent = sent(tracker)
    tracker.apply(make_ack(intent))
    tracker.apply(make_update(intent, OrderStatus.CANCELLED, "0"))
    tracker.apply(make_fill(intent, "t1", "1"))
    assert tracker.snapshot(intent.client_id).state == "filled"
    assert tracker.history(intent.client_id)[-1] == ("fill", "cancelled", "filled")


def test_partial_fill_when_late_after_cancelled_counts_qty_and_keeps_state(
    tracker: OrderTracker,
) -> None:
    intent = sent(tracker)
    tracker.apply(make_update(intent, OrderStatus.CANCELLED, "0.2"))
    tracker.apply(make_fill(intent, "t1", "0.2"))
    snap = tracker.snapshot(intent.client_id)
    assert snap.state == "cancelled"
    assert snap.filled_qty == D("0.2")
    assert snap.missing_fill_qty == 0


def test_overfill_when_fills_exceed_qty_is_incident_not_exception(
    tracker: OrderTracker, journal: Journal
) -> None:
    intent = sent(tracker)
    tracker.apply(make_fill(intent, "t1", "1"))
    applied = tracker.apply(make_fill(intent, "t2", "0.5"))
    assert applied.incident is not None
    assert applied.incident.kind is IncidentKind.OVERFILL
    assert "expected filled <= ordered 1, was 1.5" in applied.incident.message
    assert tracker.snapshot(intent.client_id).state == "filled"
    kinds = journal.connection.execute("SELECT kind FROM incidents").fetchall()
    assert kinds == [("overfill",)]


def test_send_when_ambiguous_goes_unknown_and_asks_for_query(tracker: OrderTracker) -> None:
    intent = sent(tracker)
    applied = tracker.send_failed(intent.client_id, Ambiguous("bybit", "timeout"))
    assert applied.needs_query
    assert applied.state == "unknown"


def test_query_when_unknown_and_venue_has_nothing_rejects(tracker: OrderTracker) -> None:
    intent = sent(tracker)
    tracker.send_failed(intent.client_id, Ambiguous("bybit", "timeout"))
    applied = tracker.query_result(intent.client_id, None)
    assert applied.state == "rejected"
    assert tracker.history(intent.client_id)[-1] == ("not_found", "unknown", "rejected")


def test_query_when_unknown_and_venue_filled_it_resolves_to_filled(
    tracker: OrderTracker,
) -> None:
    intent = sent(tracker)
    tracker.send_failed(intent.client_id, Ambiguous("bybit", "502"))
    applied = tracker.query_result(
        intent.client_id, make_update(intent, OrderStatus.FILLED, "1", "100.2")
    )
    snap = tracker.snapshot(intent.client_id)
    assert applied.state == "filled"
    assert snap.avg_price == D("100.2")
    assert snap.missing_fill_qty == D("1")


def test_send_when_duplicate_client_id_queries_instead_of_resending(
    tracker: OrderTracker,
) -> None:
    intent = sent(tracker)
    applied = tracker.send_failed(intent.client_id, DuplicateClientId("bybit", "dup", "10014"))
    assert applied.needs_query
    assert applied.state == "unknown"
    tracker.query_result(intent.client_id, make_update(intent, OrderStatus.NEW))
    assert tracker.snapshot(intent.client_id).state == "acknowledged"


def test_send_when_definitive_error_rejects(tracker: OrderTracker) -> None:
    intent = sent(tracker)
    applied = tracker.send_failed(intent.client_id, OrderRejected("bybit", "bad price"))
    assert not applied.needs_query
    assert applied.state == "rejected"


@pytest.mark.parametrize(("fills", "expected"), [(0, "acknowledged"), (1, "partially_filled")])
def test_cancel_when_refused_returns_to_working_state_by_fills(
    tracker: OrderTracker, fills: int, expected: str
) -> None:
    intent = sent(tracker)
    tracker.apply(make_ack(intent))
    if fills:
        tracker.apply(make_fill(intent, "t1", "0.1"))
    tracker.cancel_requested(intent.client_id)
    tracker.cancel_failed(intent.client_id, RateLimited("bybit", "too many requests"))
    assert tracker.snapshot(intent.client_id).state == expected


@pytest.mark.parametrize("fills", [0, 1])
def test_cancel_when_answered_not_found_stays_pending_and_asks_for_query(
    tracker: OrderTracker, fills: int
) -> None:
    """ "Not found" does not say the order is working: it ended (filled, cancelled, expired)
    or never arrived. Only a query can tell, so nothing moves until one answers."""
    intent = sent(tracker)
    tracker.apply(make_ack(intent))
    if fills:
        tracker.apply(make_fill(intent, "t1", "0.1"))
    tracker.cancel_requested(intent.client_id)
    applied = tracker.cancel_failed(intent.client_id, OrderNotFound("bybit", "order not exists"))
    assert applied.needs_query
    assert tracker.snapshot(intent.client_id).state == "pending_cancel"
    tracker.query_result(intent.client_id, make_update(intent, OrderStatus.FILLED, "1"))
    assert tracker.snapshot(intent.client_id).state == "filled"


def test_cancel_when_ambiguous_stays_pending_and_asks_for_query(tracker: OrderTracker) -> None:
    intent = sent(tracker)
    tracker.cancel_requested(intent.client_id)
    applied = tracker.cancel_failed(intent.client_id, Ambiguous("bybit", "timeout"))
    assert applied.needs_query
    assert tracker.snapshot(intent.client_id).state == "pending_cancel"


def test_own_action_when_illegal_raises(tracker: OrderTracker) -> None:
    intent = sent(tracker)
    with pytest.raises(IllegalTransition, match="'submit' is not allowed in state 'submitted'"):
        tracker.submitted(intent.client_id)
    tracker.apply(make_fill(intent, "t1", "1"))
    with pytest.raises(IllegalTransition, match="'cancel_request'"):
        tracker.cancel_requested(intent.client_id)


def test_venue_event_when_table_refuses_it_is_incident_and_state_unchanged(
    tracker: OrderTracker, journal: Journal
) -> None:
    intent = sent(tracker)
    tracker.apply(make_fill(intent, "t1", "1"))
    applied = tracker.apply(make_update(intent, OrderStatus.REJECTED))  # after it filled
    assert applied.incident is not None
    assert applied.incident.kind is IncidentKind.REFUSED_EVENT
    assert applied.change is not None
    assert not applied.change.accepted
    assert tracker.snapshot(intent.client_id).state == "filled"
    assert event_count(journal, intent.client_id) == 3  # submit, fill, refused reject


@pytest.mark.parametrize(
    ("fill", "expected"), [(None, "rejected"), ("0.4", "cancelled")], ids=["no-fill", "partial"]
)
def test_reject_when_order_was_working_ends_it_keeping_its_fills(
    tracker: OrderTracker, fill: str | None, expected: str
) -> None:
    """A venue may reject an order it acknowledged, even after part of it traded (Bybit sends
    Rejected after a partial fill): the order ends, like a cancel, with its fills."""
    intent = sent(tracker)
    tracker.apply(make_ack(intent))
    if fill is not None:
        tracker.apply(make_fill(intent, "t1", fill))
    applied = tracker.apply(make_update(intent, OrderStatus.REJECTED, fill or "0"))
    assert applied.incident is None
    snap = tracker.snapshot(intent.client_id)
    assert (snap.state, snap.filled_qty) == (expected, D(fill or "0"))


def test_fill_when_order_unknown_is_kept_and_flagged(
    tracker: OrderTracker, journal: Journal
) -> None:
    stranger = make_intent(cycle=99)
    applied = tracker.apply(make_fill(stranger, "t9", "0.1"))
    assert applied.incident is not None
    assert applied.incident.kind is IncidentKind.UNKNOWN_ORDER
    assert journal.connection.execute("SELECT trade_id FROM fills").fetchall() == [("t9",)]


def test_update_when_cumulative_qty_is_late_and_smaller_does_not_lower_it(
    tracker: OrderTracker,
) -> None:
    intent = sent(tracker)
    tracker.apply(make_update(intent, OrderStatus.PARTIALLY_FILLED, "0.6", "100.1"))
    tracker.apply(make_update(intent, OrderStatus.PARTIALLY_FILLED, "0.2", "100.0"))
    snap = tracker.snapshot(intent.client_id)
    assert snap.reported_qty == D("0.6")
    assert snap.avg_price == D("100.1")


def test_every_applied_event_when_tracked_is_written_to_journal(
    tracker: OrderTracker, journal: Journal
) -> None:
    intent = sent(tracker)
    tracker.apply(make_ack(intent))
    tracker.apply(make_fill(intent, "t1", "0.5"))
    tracker.apply(make_fill(intent, "t1", "0.5"))  # duplicate: not applied, not written
    tracker.apply(make_fill(intent, "t2", "0.5"))
    rows = journal.connection.execute(
        "SELECT seq, trigger, source, dest FROM order_events WHERE client_id = ? ORDER BY seq",
        (intent.client_id,),
    ).fetchall()
    assert rows == [
        (1, "submit", "new", "submitted"),
        (2, "ack", "submitted", "acknowledged"),
        (3, "partial_fill", "acknowledged", "partially_filled"),
        (4, "fill", "partially_filled", "filled"),
    ]
    state = journal.connection.execute(
        "SELECT state, fills_qty, last_seq FROM orders WHERE client_id = ?", (intent.client_id,)
    ).fetchone()
    assert state == ("filled", "1.0", 4)


def test_send_error_when_ack_overtook_it_changes_nothing(tracker: OrderTracker) -> None:
    intent = sent(tracker)
    tracker.apply(make_ack(intent))  # the venue's answer arrived before our timeout fired
    applied = tracker.send_failed(intent.client_id, Ambiguous("bybit", "timeout"))
    assert applied.change is None
    assert not applied.needs_query
    assert tracker.snapshot(intent.client_id).state == "acknowledged"


def test_query_when_venue_lost_a_live_order_raises_incident(
    tracker: OrderTracker, journal: Journal
) -> None:
    intent = sent(tracker)
    tracker.apply(make_ack(intent))
    applied = tracker.query_result(intent.client_id, None)
    assert applied.incident is not None
    assert applied.incident.kind is IncidentKind.ORDER_MISSING
    assert tracker.snapshot(intent.client_id).state == "acknowledged"
    assert [i.kind for i in journal.load_state().incidents] == [IncidentKind.ORDER_MISSING]


def test_fill_when_order_never_submitted_is_refused_but_quantity_kept(
    tracker: OrderTracker,
) -> None:
    intent = make_intent()
    tracker.add(intent)
    applied = tracker.apply(make_fill(intent, "t1", "0.5"))
    assert applied.incident is not None
    assert applied.incident.kind is IncidentKind.REFUSED_EVENT
    assert tracker.snapshot(intent.client_id).state == "new"
    assert tracker.snapshot(intent.client_id).fills_qty == D("0.5")


def test_query_when_submitted_order_never_arrived_rejects_via_unknown(
    tracker: OrderTracker,
) -> None:
    intent = sent(tracker)  # e.g. journaled as submitted, then the process restarted
    applied = tracker.query_result(intent.client_id, None)
    assert applied.state == "rejected"
    assert tracker.history(intent.client_id)[-2:] == [
        ("send_ambiguous", "submitted", "unknown"),
        ("not_found", "unknown", "rejected"),
    ]


def test_fill_when_quantity_not_positive_is_incident_not_exception(
    tracker: OrderTracker,
) -> None:
    intent = sent(tracker)
    applied = tracker.apply(make_fill(intent, "t1", "0"))
    assert applied.incident is not None
    assert "expected positive fill qty, was 0" in applied.incident.message
    assert tracker.snapshot(intent.client_id).filled_qty == 0
