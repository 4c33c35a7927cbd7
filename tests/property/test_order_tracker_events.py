"""Random orders, duplications and interleavings of venue events fed to the order tracker.

A venue history is generated first (what really happened: fills split at random, then filled,
cancelled, expired, rejected, lost, cancelled-then-filled, or filled and reported Filled twice
as when a fill beats our cancel), then delivered shuffled with random duplicates, around our
own steps: an optional cancel request and the venue's answer to it (accepted, refused as too
late, or lost), and an optional ambiguous send whose error may come back after the venue's
events (a timeout that outlived the fill), resolved by a query. Whatever the delivery, the
tracker must end where the history says, with every fill counted once, and the journal must
agree with it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.execution import Applied, Intent, OrderTracker
from arbiter.fsm import ORDER, GuardResult, MachineRunner
from arbiter.store import Journal, restore_orders
from arbiter.venues import Ambiguous, Fill, OrderAck, OrderRejected, OrderStatus, OrderUpdate
from tests.support.order_events import make_ack, make_fill, make_intent, make_update

LOT = Decimal("0.1")
TERMINAL = {s.name for s in ORDER.states if s.terminal}
EXPECTED_STATE = {
    "filled": "filled",
    "cancelled": "cancelled",
    "expired": "expired",
    "rejected": "rejected",
    "lost": "rejected",
    "filled_after_cancel": "filled",
    "filled_twice": "filled",
}
# Our own steps, delivered among the venue's events: the answer to our send when it failed
# ambiguously, a query by client id, a cancel request, and the venue's answer to the cancel.
SEND_ERROR, QUERY, CANCEL = "send_error", "query", "cancel"
CANCEL_REFUSED, CANCEL_LOST, CANCEL_QUERY = "cancel_refused", "cancel_lost", "cancel_query"

Event = OrderAck | OrderUpdate | Fill | str


@dataclass(frozen=True)
class History:
    outcome: str
    lots: int
    fill_lots: tuple[int, ...]
    events: tuple[OrderAck | OrderUpdate | Fill, ...]
    final: OrderUpdate | None  # what a query by client id returns at the end


def _history(intent: Intent, outcome: str, lots: int, split: list[int]) -> History:
    filled_lots = {"filled": lots, "filled_after_cancel": lots, "filled_twice": lots}.get(
        outcome, sum(split)
    )
    if outcome in ("rejected", "lost"):
        filled_lots = 0
    fill_lots: list[int] = []
    remaining = filled_lots
    for part in split:
        if remaining <= 0:
            break
        take = min(part, remaining)
        fill_lots.append(take)
        remaining -= take
    if remaining:
        fill_lots.append(remaining)

    events: list[OrderAck | OrderUpdate | Fill] = []
    final: OrderUpdate | None = None
    if outcome == "rejected":
        final = make_update(intent, OrderStatus.REJECTED)
        events.append(final)
    elif outcome != "lost":
        events += [make_ack(intent), make_update(intent, OrderStatus.NEW)]
        cumulative = 0
        for n, part in enumerate(fill_lots):
            cumulative += part
            events.append(make_fill(intent, f"t{n}", str(part * LOT), f"100.{n}"))
            status = OrderStatus.FILLED if cumulative == lots else OrderStatus.PARTIALLY_FILLED
            final = make_update(intent, status, str(cumulative * LOT))
            events.append(final)
        if outcome in ("cancelled", "expired", "filled_after_cancel"):
            status = OrderStatus.EXPIRED if outcome == "expired" else OrderStatus.CANCELLED
            stale = 0 if outcome == "filled_after_cancel" else cumulative
            terminal = make_update(intent, status, str(stale * LOT))
            events.append(terminal)
            if outcome != "filled_after_cancel":
                final = terminal
        if outcome == "filled_twice":  # the cancel's outcome reports the fill that beat it
            events.append(make_update(intent, OrderStatus.FILLED, str(lots * LOT)))
    return History(outcome, lots, tuple(fill_lots), tuple(events), final)


@st.composite
def scenarios(draw: st.DrawFn, cancel: bool | None = None) -> tuple[History, list[Event]]:
    """A venue history and one delivery of it; `cancel`: whether we cancel (None: drawn)."""
    lots = draw(st.integers(min_value=1, max_value=6))
    intent = make_intent(qty=str(lots * LOT))
    outcomes = sorted(EXPECTED_STATE)
    if cancel:
        outcomes = [o for o in outcomes if o not in ("rejected", "lost")]  # never working
    outcome = draw(st.sampled_from(outcomes))
    split = draw(st.lists(st.integers(min_value=1, max_value=lots), min_size=1, max_size=4))
    if outcome in ("cancelled", "expired"):
        split = [min(p, lots - 1) for p in split if lots > 1]  # a partial at most
        split = split[: max(0, lots - 1)]
        while sum(split) >= lots:
            split.pop()
    history = _history(intent, outcome, lots, split)
    venue: list[Event] = list(history.events)
    if history.events:
        venue += draw(st.lists(st.sampled_from(history.events), max_size=6))  # duplicates
    venue = list(draw(st.permutations(venue)))
    n = len(venue)
    ours: list[tuple[int, int, str]] = []  # (delivered before venue[position], rank, step)
    after = 0
    if outcome == "lost" or draw(st.booleans()):  # the send failed ambiguously
        after = draw(st.integers(0, n))
        ours += [(after, 0, SEND_ERROR), (draw(st.integers(after, n)), 1, QUERY)]
    if cancel is None:
        cancel = outcome not in ("rejected", "lost") and draw(st.booleans())
    if cancel:
        # Early, while the order is likely still working: that is when we cancel, and when
        # fills and acks race the request.
        at = draw(st.integers(after, min(n, after + 2)))
        ours.append((at, 2, CANCEL))
        answers = [None, CANCEL_LOST]  # accepted (nothing to say), or the answer was lost
        if outcome in ("filled", "filled_twice", "filled_after_cancel"):
            answers.append(CANCEL_REFUSED)  # too late: the venue had filled it
        answer = draw(st.sampled_from(answers))
        if answer is not None:
            at = draw(st.integers(at, n))
            ours.append((at, 3, answer))
            if answer == CANCEL_LOST:
                ours.append((draw(st.integers(at, n)), 4, CANCEL_QUERY))
    delivery: list[Event] = []
    for position in range(n + 1):  # ties keep our own order (rank): a request before its answer
        delivery += [step for p, _, step in sorted(ours) if p == position]
        delivery += venue[position : position + 1]
    return history, delivery


def _replayed_state(journal: Journal, client_id: str) -> str:
    runner = MachineRunner(
        ORDER, lambda name, ctx: GuardResult((ctx["filled_qty"] > 0) == (name == "has_fills"))
    )
    for trigger, accepted, filled in journal.connection.execute(
        "SELECT trigger, accepted, filled_qty FROM order_events WHERE client_id = ? ORDER BY seq",
        (client_id,),
    ).fetchall():
        if accepted:
            runner.fire(trigger, filled_qty=Decimal(filled))
    return runner.state


@dataclass
class Calls:
    """Our calls in flight: an answer comes back only to the process that made the call."""

    send_open: bool = True  # the send started before the first delivery
    cancel_open: bool = False


def _deliver(
    tracker: OrderTracker, history: History, event: Event, client_id: str, calls: Calls
) -> Applied | None:
    if event in (QUERY, CANCEL_QUERY):
        return tracker.query_result(client_id, history.final)
    if event == SEND_ERROR:
        return (
            tracker.send_failed(client_id, Ambiguous("bybit", "timeout"))
            if calls.send_open
            else None
        )
    if event == CANCEL:
        state = tracker.snapshot(client_id).state
        if state in ("submitted", "acknowledged", "partially_filled"):
            calls.cancel_open = True
            return tracker.cancel_requested(client_id)
        return None  # our executor never cancels a final or unsent order
    if event in (CANCEL_REFUSED, CANCEL_LOST):
        if not calls.cancel_open:
            return None  # the cancel was never sent, or its caller died in a restart
        calls.cancel_open = False
        error = (
            OrderRejected("bybit", "too late to cancel: filled")
            if event == CANCEL_REFUSED
            else Ambiguous("bybit", "cancel timed out")
        )
        return tracker.cancel_failed(client_id, error)
    assert not isinstance(event, str)
    return tracker.apply(event)


def _run(history: History, delivery: list[Event], restart_at: int | None) -> None:
    intent = make_intent(qty=str(history.lots * LOT))
    client_id = intent.client_id
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "j.sqlite"
        journal = Journal.open(path)
        tracker = OrderTracker(journal)
        tracker.add(intent)
        results: list[Applied | None] = [tracker.submitted(client_id)]
        calls = Calls()
        incidents = []
        last_filled = Decimal(0)
        for n, event in enumerate(delivery):
            if n == restart_at:
                # Crash and restart: a new tracker rebuilt from the journal alone.
                incidents += tracker.incidents
                journal.close()
                journal = Journal.open(path)
                tracker = OrderTracker(journal)
                restore_orders(journal.load_state(), tracker)
                calls = Calls(send_open=False)  # answers to the dead process's calls are lost
            results.append(_deliver(tracker, history, event, client_id, calls))
            filled = tracker.snapshot(client_id).filled_qty
            assert filled >= last_filled, "filled quantity went backwards"
            last_filled = filled
        incidents += tracker.incidents

        snap = tracker.snapshot(client_id)
        expected_fills = sum(history.fill_lots) * LOT
        # The final state is the venue's truth, consistent with the total filled quantity.
        assert snap.state == EXPECTED_STATE[history.outcome], tracker.history(client_id)
        assert snap.filled_qty == expected_fills
        assert (snap.state == "filled") == (expected_fills == intent.request.qty)
        # Fills are never double-counted, in memory or in the journal.
        assert snap.fills_qty == expected_fills
        journal_fills = journal.connection.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
        assert journal_fills == len(history.fill_lots)
        # Every table-allowed event is absorbed: no incident, nothing raised.
        assert incidents == []
        # A final state is left only by the documented fill-after-cancel edge.
        for trigger, source, dest in tracker.history(client_id):
            if source in TERMINAL and dest != source:
                assert (trigger, dest) == ("fill", "filled"), (trigger, source, dest)
                assert source in ("cancelled", "expired")
        # The journal agrees: current row, and a replay of its events through the table.
        row = journal.connection.execute(
            "SELECT state, fills_qty, last_seq FROM orders WHERE client_id = ?", (client_id,)
        ).fetchone()
        changes = {r.change.seq for r in results if r is not None and r.change is not None}
        seqs = [
            seq
            for (seq,) in journal.connection.execute(
                "SELECT seq FROM order_events WHERE client_id = ? ORDER BY seq", (client_id,)
            ).fetchall()
        ]
        # Every change is journaled, in order, none missing (a query of an order journaled as
        # sent but never answered makes two: the send was ambiguous, the venue has nothing).
        assert seqs == list(range(1, len(seqs) + 1))
        assert changes <= set(seqs)
        assert row == (snap.state, str(snap.fills_qty), len(seqs))
        assert _replayed_state(journal, client_id) == snap.state
        journal.close()


@settings(max_examples=400, deadline=None, derandomize=True)
@given(scenarios())
def test_tracker_when_events_shuffled_and_duplicated_ends_consistent(
    scenario: tuple[History, list[Event]],
) -> None:
    _run(*scenario, restart_at=None)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(scenarios(), st.integers(min_value=0, max_value=20))
def test_tracker_when_restarted_mid_stream_ends_as_without_restart(
    scenario: tuple[History, list[Event]], restart_at: int
) -> None:
    _run(*scenario, restart_at=restart_at)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(scenarios(cancel=True), st.one_of(st.none(), st.integers(min_value=0, max_value=20)))
def test_tracker_when_cancel_races_fills_and_answers_ends_consistent(
    scenario: tuple[History, list[Event]], restart_at: int | None
) -> None:
    """Our cancel among the venue's acks and fills, answered or refused or lost, sometimes
    across a restart: a fill after the request wins, a refusal as too late changes nothing."""
    _run(*scenario, restart_at=restart_at)
