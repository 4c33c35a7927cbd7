"""The tracker's memory stays bounded: spare machines ahead, final orders forgotten and reused.

A forgotten order is still an order: the journal has it, and a reader or a late venue event
brings it back exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields, replace
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.execution import Intent, OrderSnapshot, OrderTracker
from arbiter.execution.order_tracker import _with_state
from arbiter.store import Journal
from arbiter.venues import OrderStatus
from tests.support.order_events import make_fill, make_intent, make_update

D = Decimal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.sqlite") as j:
        yield j


def _cancelled(tracker: OrderTracker, cycle: int) -> Intent:
    intent = make_intent(cycle=cycle)
    tracker.submit_all([intent])
    tracker.apply(make_update(intent, OrderStatus.CANCELLED))
    return intent


def test_prewarm_when_asked_builds_only_what_is_missing(journal: Journal) -> None:
    tracker = OrderTracker(journal)
    assert tracker.prewarm(3) == 3
    assert tracker.prewarm(3) == 0
    tracker.submit_all([make_intent()])
    assert tracker.spare_machines == 2
    assert tracker.prewarm(3) == 1


def test_final_orders_when_more_than_kept_forget_the_oldest_and_reuse_its_machine(
    journal: Journal,
) -> None:
    tracker = OrderTracker(journal, batch=journal.batch, keep_final=2)
    first = _cancelled(tracker, 1)
    _cancelled(tracker, 2)
    spares = tracker.spare_machines

    third = _cancelled(tracker, 3)

    assert first.client_id not in tracker
    assert third.client_id in tracker
    assert tracker.spare_machines == spares + 1  # the forgotten order's machine, reset
    reused = make_intent(cycle=4)
    tracker.submit_all([reused])
    assert tracker.history(reused.client_id) == [("submit", "new", "submitted")]


def test_forgotten_order_when_read_again_is_reloaded_from_the_journal(journal: Journal) -> None:
    tracker = OrderTracker(journal, batch=journal.batch, keep_final=1)
    first = _cancelled(tracker, 1)
    _cancelled(tracker, 2)
    assert first.client_id not in tracker

    snapshot = tracker.snapshot(first.client_id)

    assert snapshot.state == "cancelled"
    assert tracker.history(first.client_id) == [
        ("submit", "new", "submitted"),
        ("cancelled", "submitted", "cancelled"),
    ]


def test_forgotten_order_when_a_late_fill_arrives_moves_as_if_never_forgotten(
    journal: Journal,
) -> None:
    tracker = OrderTracker(journal, batch=journal.batch, keep_final=1)
    first = _cancelled(tracker, 1)
    _cancelled(tracker, 2)

    applied = tracker.apply(make_fill(first, "late1", "1"))

    assert applied.state == "filled"  # the venue's fill wins over its stale cancel
    assert tracker.incidents == []
    assert journal.load_order(first.client_id) is not None
    assert tracker.apply(make_fill(first, "late1", "1")).duplicate


def test_keep_final_when_not_positive_is_refused(journal: Journal) -> None:
    with pytest.raises(ValueError, match="expected keep_final of at least 1, was 0"):
        OrderTracker(journal, keep_final=0)


def test_state_copy_when_every_field_is_set_keeps_all_but_the_state() -> None:
    values: dict[str, object] = {
        f.name: (D(n + 1) if f.type in ("Decimal", "Decimal | None") else f"v{n}")
        for n, f in enumerate(fields(OrderSnapshot))
    }
    snapshot = OrderSnapshot(**values)  # type: ignore[arg-type]

    assert _with_state(snapshot, "filled") == replace(snapshot, state="filled")
