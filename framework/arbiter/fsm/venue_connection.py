"""The venue-connection machine: one WebSocket session to one venue and product type.

`syncing` means connected but not yet trustworthy: books wait for snapshots (or a REST merge)
and private streams wait for a REST reconciliation. Only `live` feeds strategies.
"""

from __future__ import annotations

from arbiter.fsm.table import MachineDef, State, Transition

_CONNECTED = ("syncing", "live", "stale")

VENUE_CONNECTION = MachineDef(
    name="venue_connection",
    description="disconnected -> connecting -> syncing -> live -> stale -> reconnecting.",
    states=(
        State("disconnected", "no socket; not trying"),
        State("connecting", "opening the socket and authenticating"),
        State("syncing", "subscribed; waiting for snapshots and reconciliation"),
        State("live", "every book synced and the private stream reconciled"),
        State("stale", "no message within the heartbeat window, or a book lost sync"),
        State("reconnecting", "waiting out the backoff before the next attempt"),
    ),
    initial="disconnected",
    transitions=(
        Transition("connect", ("disconnected",), "connecting"),
        Transition("opened", ("connecting",), "syncing"),
        Transition("connect_failed", ("connecting",), "reconnecting"),
        Transition("synced", ("syncing", "stale"), "live"),
        Transition("synced", ("live",), None, note="a second book finished resyncing"),
        Transition(
            "gap",
            ("live", "stale"),
            "syncing",
            note="a sequence gap or bad checksum: resync that book",
        ),
        Transition("gap", ("syncing",), None, note="already resyncing"),
        Transition("silence", ("live",), "stale", note="heartbeat window passed without a message"),
        Transition("message", ("stale",), "live", note="traffic resumed and books are intact"),
        Transition("lost", ("connecting", *_CONNECTED), "reconnecting"),
        Transition(
            "retry", ("reconnecting",), "connecting", note="after exponential backoff with jitter"
        ),
        Transition("close", ("connecting", "reconnecting", *_CONNECTED), "disconnected"),
    ),
)
