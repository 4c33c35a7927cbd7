"""The order machine: one venue order from intent to a terminal state.

Venue events arrive duplicated, late and out of order. The table absorbs what the real world
does (internal transitions, `dest=None`) and refuses only what would be our own bug (sending an
order twice, cancelling a finished one). Quantities are tracked beside the machine; the machine
only says what the order is doing.
"""

from __future__ import annotations

from arbiter.fsm.table import MachineDef, State, Transition

# The venue may hold the order working: a cancel request makes sense in these states (not in
# `unknown`: a query must first say whether the order exists).
LIVE = ("submitted", "acknowledged", "partially_filled", "pending_cancel")

ORDER = MachineDef(
    name="order",
    description="One order: new -> submitted -> acknowledged -> partially filled -> filled / cancelled / rejected / expired.",
    states=(
        State("new", "intent journaled, not yet sent"),
        State("submitted", "sent; no answer yet"),
        State(
            "unknown",
            "ambiguous send (timeout, disconnect, 5xx): only a query by client id resolves it",
        ),
        State("acknowledged", "resting or working on the venue"),
        State("partially_filled", "some quantity filled, the rest working"),
        State("pending_cancel", "cancel requested; fills may still arrive"),
        State("filled", "fully filled", terminal=True),
        State("cancelled", "cancelled, possibly after partial fills", terminal=True),
        State("rejected", "refused by the venue (or never arrived)", terminal=True),
        State("expired", "IOC/FOK remainder or time-in-force lapsed", terminal=True),
    ),
    initial="new",
    transitions=(
        Transition("submit", ("new",), "submitted"),
        Transition(
            "send_ambiguous", ("submitted",), "unknown", note="do not resend: query by client id"
        ),
        Transition("ack", ("submitted", "unknown"), "acknowledged"),
        Transition(
            "ack",
            (
                "acknowledged",
                "partially_filled",
                "pending_cancel",
                "filled",
                "cancelled",
                "expired",
            ),
            None,
            note="late or duplicate ack: fills can overtake acks",
        ),
        Transition(
            "partial_fill",
            ("submitted", "unknown", "acknowledged", "partially_filled"),
            "partially_filled",
        ),
        Transition(
            "partial_fill",
            ("pending_cancel", "filled", "cancelled", "expired"),
            None,
            note="fill after cancel request, or a late fill report: quantity is tracked, state stays",
        ),
        Transition(
            "fill", (*LIVE, "unknown"), "filled", note="from pending_cancel: the fill won the race"
        ),
        Transition(
            "fill",
            ("cancelled", "expired"),
            "filled",
            note="venue reports the full fill after its cancel: fills are facts, the cancel was stale",
        ),
        Transition("fill", ("filled",), None, note="duplicate Filled message"),
        Transition(
            "cancel_request", ("submitted", "acknowledged", "partially_filled"), "pending_cancel"
        ),
        Transition(
            "cancel_request", ("pending_cancel",), None, note="a retried cancel of the same order"
        ),
        Transition("cancelled", (*LIVE, "unknown"), "cancelled"),
        Transition(
            "cancelled",
            ("cancelled", "filled"),
            None,
            note="duplicate, or a cancel ack after the fill",
        ),
        Transition(
            "cancel_rejected", ("pending_cancel",), "partially_filled", guards=("has_fills",)
        ),
        Transition("cancel_rejected", ("pending_cancel",), "acknowledged", guards=("no_fills",)),
        Transition(
            "cancel_rejected",
            ("filled", "cancelled", "expired"),
            None,
            note="too late to cancel: already final",
        ),
        Transition("reject", ("new", "submitted", "unknown"), "rejected"),
        Transition(
            "reject",
            ("acknowledged", "partially_filled", "pending_cancel"),
            "cancelled",
            guards=("has_fills",),
            note="rejected after it traded (Bybit: Rejected after a partial fill): ends like a cancel, fills kept",
        ),
        Transition(
            "reject",
            ("acknowledged", "pending_cancel"),
            "rejected",
            guards=("no_fills",),
            note="refused after it was acknowledged, nothing filled",
        ),
        Transition("reject", ("rejected",), None, note="duplicate rejection"),
        Transition(
            "not_found",
            ("unknown",),
            "rejected",
            note="the venue never got it; retry keeps the client id",
        ),
        Transition("expire", (*LIVE, "unknown"), "expired"),
        Transition("expire", ("expired",), None, note="duplicate expiry"),
    ),
    guard_descriptions={"has_fills": "some quantity has filled", "no_fills": "nothing has filled"},
)
