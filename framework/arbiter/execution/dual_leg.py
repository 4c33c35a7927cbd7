"""The dual-leg executor's contract: how the pieces in this package are meant to be driven.

Not implemented yet: it needs the venue plugins (`arbiter.venues.contract.TradingVenue`) and
the simulator to be tested against. What is here is the API it will have and the order of
operations it must keep; the tracker and the journal are built so it slots in.

One cycle step (enter or exit) for a pair, on the event loop:

1. Plan: build both legs as `Intent`s with `Intent.build(IntentId(strategy, pair, cycle,
   leg, attempt), venue, venue.limits.client_ids, ...)`; the client order id is derived, so a
   retry of the same intent carries the same id.
2. Check: `PretradeChecker.check_and_reserve([spot_leg, perp_leg], balances, limit)`. If it
   fails, nothing is journaled or sent; the cycle machine fires `both_failed` with the
   result's `reason`.
3. Write before send, both legs in one commit:
       with journal.batch():
           for leg in legs: tracker.add(leg.intent); tracker.submitted(leg.client_id)
   A crash before this commit leaves nothing; after it, both orders are `submitted` and a
   restart queries them by client id (`JournalState.needs_query`).
4. Send concurrently: one `asyncio.TaskGroup`, `venue.place_order(intent.request)` per leg.
   An `OrderAck` goes to `tracker.on_ack`; an exception to `tracker.send_failed`, which says
   `needs_query` for `Ambiguous` and `DuplicateClientId`: the executor then calls
   `venue.query_order(symbol, client_id)` (with backoff) and feeds `tracker.query_result`;
   it never re-places an order whose outcome is unknown.
5. Private events (`venue.on_private`) go to `tracker.apply` for every order; each result's
   snapshot also goes to `Reservations.update` so reserved funds shrink with fills.
6. Wait for both legs to be final, within the manifest's `leg_timeout_ms`; on timeout cancel
   the working leg (`tracker.cancel_requested`, then `venue.cancel_order`; failures to
   `tracker.cancel_failed`).
7. Decide the cycle event from the two snapshots: both filled -> `both_filled`; nothing
   filled -> `both_failed`; otherwise `one_leg_filled` and legging repair per the manifest
   (chase with `IntentId.next_attempt()` at a stepped price, unwind, or hand to the hedger),
   bounded by `max_unhedged_ms`, each transition journaled with `Journal.record_cycle`.
8. Account: `leg_slippage` per leg from the tracker's fills and the intents' decision prices,
   `cycle_slippage` and `CyclePnL` per cycle.

The shape below is what step 1-7 will expose to the cycle machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from arbiter.execution.intent import Intent
from arbiter.execution.pretrade import PlannedLeg, PretradeResult
from arbiter.execution.records import OrderSnapshot


@dataclass(frozen=True, slots=True)
class LegsOutcome:
    """Both legs after a step: what the cycle machine fires next is read from this."""

    pretrade: PretradeResult
    legs: tuple[OrderSnapshot, ...]  # final (or timed out and cancelled) snapshots


class DualLegExecutor(Protocol):
    async def execute(self, legs: Sequence[PlannedLeg], leg_timeout_ms: int) -> LegsOutcome:
        """Check, journal and send both legs at once; return when both are final or timed out."""
        ...

    async def resolve_unknown(self, intent: Intent) -> OrderSnapshot:
        """Query the venue by client id until the order's outcome is known; never resend."""
        ...
