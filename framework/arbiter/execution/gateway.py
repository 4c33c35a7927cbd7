"""The order gateway: the only way an intent reaches a venue.

For each intent: journal it (`new`), mark it `submitted` (journaled), then send. `send_all`
does that for both legs of a pair together: one journal commit holds both intents and both
`submitted` marks, and only then do both requests leave, at once: a venue that can write its
request straight away (`begin_order`: our own order entry on an idle connection) does so before
the gateway first waits, so the second leg does not wait a turn of the event loop behind the
first. Each request's answer is applied by a task of its own (`Sent`):
- an ack: `acknowledged`; fills and final states arrive on the private stream (`on_private`);
- a definitive error: `rejected`, nothing more to do;
- an ambiguous error (timeout, disconnect, 5xx, or anything unexpected from the transport) or
  a duplicate client id: `unknown`, and the gateway queries the order by client id until the
  venue answers. It never sends again: a retry of the same intent would carry the same client
  id anyway, and the venue would refuse it as a duplicate.

A venue that does not know an order proves it was never placed only once its request can no
longer arrive: a request may be held anywhere on its way, and a venue takes it as long as it is
within the venue's receive window (Bybit refuses a request older than its recv window, 5 s by
default). So "not found" is conclusive only `request_window_s` after the send; before that, the
order stays in doubt and is asked about again.

No order is ever abandoned. `finish` ends one: it cancels it while it may be working, queries it
while its state is in doubt (`unknown`, a cancel answered "not found" or not at all), and goes
on, with a backoff that grows to `max_backoff_s`, until the venue reports a final state; every
failure of a query or a cancel (ambiguous, rate limited, refused, a bug in a plugin) is logged
and retried, never raised. A caller that cannot wait that long (the dual-leg executor, bound by
the unhedged budget) stops waiting; the order goes on being finished in the background, and
its fills still reach the books when they come.

Admission (`admit`): one check every placement passes before anything is journaled or sent,
whatever path it comes from (an entry, an exit, a repair, a hedge). The runtime wires it to
the kill switch, so a kill holds every order path at this one point; a refused placement
raises `OrderRefused` and leaves no trace in the journal or on the venue.

Waiters (`wait_final`, `wait_change`) are woken by every change to their orders, so a dual-leg
executor can wait for both legs without polling.

The hot path builds nothing it can build earlier: the tracker's spare order machines are
topped up (`spare_machines`) when the gateway starts and again once a placement's requests are
written, never between a decision and its bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from loguru import logger

from arbiter import clock as process_clock
from arbiter.execution.intent import Intent
from arbiter.execution.order_tracker import Applied, OrderTracker
from arbiter.execution.records import OrderSnapshot
from arbiter.venues import (
    Ambiguous,
    Definitive,
    Fill,
    OrderAck,
    OrderUpdate,
    PrivateEvent,
    RateLimited,
    TradingVenue,
    VenueError,
)

_T = TypeVar("_T")
FILL_FETCHES = 10  # reads of an order's fills before its missing fills are reported
# An order's fills are read from CLOCK_SLACK_MS before it was sent (the venue's clock may run
# behind ours); for an order sent before this process started, from FILLS_LOOKBACK_MS ago.
FILLS_LOOKBACK_MS = 24 * 3600 * 1000
CLOCK_SLACK_MS = 60_000


class OrderRefused(Exception):
    """A placement refused by the gateway's admission check: nothing was journaled or sent."""


Admission = Callable[[Intent], str]  # "" admits the order; anything else is why not


@dataclass(frozen=True, slots=True)
class Sent:
    """One placement's outcome: the order as known once its request was answered (and, for an
    ambiguous answer, once a query resolved it or gave up waiting), and the venue's error."""

    snapshot: OrderSnapshot
    error: VenueError | None = None

    @property
    def retryable(self) -> bool:
        """The venue refused the order without taking it, for a reason that passes (a rate
        limit): the same order may go out again, as a new attempt."""
        return isinstance(self.error, RateLimited) and self.snapshot.state == "rejected"


@dataclass
class GatewayStats:
    placed: int = 0
    rejected: int = 0
    ambiguous: int = 0
    queries: int = 0
    query_errors: int = 0  # queries that failed themselves (ambiguous, rate limited, ...)
    cancels: int = 0
    cancel_errors: int = 0
    unresolved: int = 0  # waits for an answer that ran out (the query goes on)
    refused: int = 0  # placements the admission check stopped


class OrderGateway:
    def __init__(
        self,
        tracker: OrderTracker,
        venues: Mapping[str, TradingVenue],
        *,
        query_attempts: int = 8,
        query_backoff_s: float = 0.05,
        max_backoff_s: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        spare_machines: int = 8,
        request_window_s: float = 10.0,
        clock_ns: Callable[[], int] = process_clock.monotonic_ns,
        wall_ms: Callable[[], int] = process_clock.wall_ms,
    ) -> None:
        """`query_attempts` and `query_backoff_s`: how long `resolve` waits for the venue to
        answer a query (the backoffs of that many failed queries), before it returns the order
        as it stands; the query goes on. `max_backoff_s`: the longest pause between two tries
        while an order is being finished or resolved. `request_window_s`: how long after its
        send a request may still reach the venue (see the module doc)."""
        self.tracker = tracker
        self.venues = venues
        self._backoff, self._max_backoff = query_backoff_s, max(query_backoff_s, max_backoff_s)
        self._resolve_wait_s = sum(
            min(self._max_backoff, query_backoff_s * 2**n) for n in range(query_attempts)
        )
        self._sleep = sleep
        self._waiters: dict[str, list[asyncio.Event]] = {}  # client id -> waiters on it
        self._in_flight: set[str] = set()  # placed, request not answered yet
        self._window_ns = int(request_window_s * 1e9)
        self._clock = clock_ns
        self._sent_ns: dict[str, int] = {}  # ambiguous sends: when their request left
        self._wall_ms = wall_ms
        self._sent_ms: dict[str, int] = {}  # wall time of each send, until its fills are in
        self._fetching: dict[str, asyncio.Task[None]] = {}  # client id -> reading its fills
        self._sends: set[asyncio.Task[Sent]] = set()  # answers still being applied
        self._resolving: dict[str, asyncio.Task[None]] = {}  # client id -> query until answered
        self._finishing: dict[str, asyncio.Task[OrderSnapshot]] = {}  # client id -> until final
        self.stats = GatewayStats()
        self.on_applied: list[Callable[[Applied], None]] = []
        self.spare_machines = spare_machines
        self.admit: Admission = _admit_all
        self._closed = False
        tracker.prewarm(spare_machines)

    def _notify(self, applied: Applied) -> None:
        change = applied.change
        if change is not None and change.snapshot.is_final:
            self._sent_ns.pop(applied.client_id, None)
            if change.snapshot.missing_fill_qty <= 0:
                self._sent_ms.pop(applied.client_id, None)
            elif not self._closed:  # it ended, but some of its fills never reached us
                self._start_fetching(applied.client_id)
        for callback in self.on_applied:
            callback(applied)
        for woken in self._waiters.get(applied.client_id, ()):
            woken.set()

    def on_private(self, event: PrivateEvent) -> None:
        """Apply an order update or fill from a private stream (never raises for venue data)."""
        if not isinstance(event, OrderUpdate | Fill):
            return
        applied = self.tracker.apply(event)
        self._notify(applied)
        if applied.needs_query and not self._closed:
            self._start_resolving(applied.client_id)

    # -- placing ---------------------------------------------------------------------------

    async def place(self, intent: Intent) -> OrderSnapshot:
        """Journal, send once, and return the order as known after the venue's answer."""
        (snapshot,) = await self.place_all([intent])
        return snapshot

    async def place_all(self, intents: Sequence[Intent]) -> list[OrderSnapshot]:
        """`send_all`, then each order as known after its venue's answer, in the order given."""
        sends = self.send_all(intents)
        if len(sends) == 1:
            return [(await sends[0]).snapshot]
        return [sent.snapshot for sent in await asyncio.gather(*sends)]

    def send_all(self, intents: Sequence[Intent]) -> list[asyncio.Task[Sent]]:
        """Journal every intent and its `submitted` mark in one commit, then write them all at
        once; one task per intent applies its venue's answer (in the order given).

        Nothing is journaled or sent if any intent names a venue we do not have, or one that is
        already past `new` (sending twice is a bug, not a retry), or if the admission check
        refuses any of them (`OrderRefused`).
        """
        venues = []
        for intent in intents:
            why = self.admit(intent)
            if why:
                self.stats.refused += 1
                raise OrderRefused(f"{intent.client_id} ({intent.id}) refused: {why}")
            venue = self.venues.get(intent.venue)
            if venue is None:
                raise KeyError(
                    f"{intent.client_id}: expected a venue of {sorted(self.venues)}, was {intent.venue!r}"
                )
            venues.append(venue)
        submitted = self.tracker.submit_all(intents)
        # Every request is written here, before the first wait, where its venue can
        # (`begin_order`); the answers are applied by their own tasks. No answer can be read
        # before this returns, so the bookkeeping below waits until the bytes are out.
        answers = [_begin_safely(v, i) for v, i in zip(venues, intents, strict=True)]
        loop = asyncio.get_running_loop()
        now, wall = self._clock(), self._wall_ms()
        for intent in intents:
            self._in_flight.add(intent.client_id)
            self._sent_ns[intent.client_id] = now
            self._sent_ms[intent.client_id] = wall
        sends = [
            loop.create_task(self._settle(i, a)) for i, a in zip(intents, answers, strict=True)
        ]
        for send in sends:  # held until done, whether or not the caller waits for it
            self._sends.add(send)
            send.add_done_callback(self._sends.discard)
        for applied in submitted:  # observers (the books' pending orders) learn of them now
            self._notify(applied)
        # Every request is written: the next decision's machines are built now, not in its path.
        loop.call_soon(self.tracker.prewarm, self.spare_machines)
        return sends

    async def _settle(self, intent: Intent, answer: Awaitable[OrderAck]) -> Sent:
        """Apply the venue's answer to one sent order."""
        cid = intent.client_id
        try:
            ack = await answer
        except Definitive as exc:
            self._in_flight.discard(cid)
            self._sent_ns.pop(cid, None)
            self.stats.rejected += 1
            self._notify(self.tracker.send_failed(cid, exc))
            return Sent(self.tracker.snapshot(cid), exc)
        except asyncio.CancelledError:
            self._in_flight.discard(cid)
            self._sent_ns.pop(cid, None)
            raise
        except Exception as exc:  # ambiguous, a duplicate id, or a plugin's bug: may exist
            self._in_flight.discard(cid)
            error = exc if isinstance(exc, VenueError) else _unexpected(intent.venue, exc)
            self.stats.ambiguous += 1
            self._notify(self.tracker.send_failed(cid, error))
            if not self._closed:  # else the next start's reconciliation queries it
                await self.resolve(cid)
            return Sent(self.tracker.snapshot(cid), error)
        self._in_flight.discard(cid)
        self._sent_ns.pop(cid, None)
        self.stats.placed += 1
        self._notify(self.tracker.on_ack(ack))
        return Sent(self.tracker.snapshot(cid))

    # -- resolving and finishing -----------------------------------------------------------

    async def resolve(self, client_id: str) -> OrderSnapshot:
        """Ask the venue for the order by client id until it answers; never resend. Returns
        once it answered, or the order as it stands when the wait runs out (the query goes on
        in the background until the venue answers)."""
        task = self._start_resolving(client_id)
        done, _ = await asyncio.wait({task}, timeout=self._resolve_wait_s)
        if not done:
            self.stats.unresolved += 1
            logger.bind(client_id=client_id).error(
                "order still {} after {:.1f}s of queries; still asking",
                self.tracker.snapshot(client_id).state,
                self._resolve_wait_s,
            )
        return self.tracker.snapshot(client_id)

    def _start_resolving(self, client_id: str) -> asyncio.Task[None]:
        task = self._resolving.get(client_id)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._resolve(client_id))
            self._resolving[client_id] = task
            task.add_done_callback(lambda _: _forget(self._resolving, client_id, task))
        return task

    async def _resolve(self, client_id: str) -> None:
        delay = self._backoff
        while not await self._query(client_id):
            await self._sleep(delay)
            delay = min(self._max_backoff, delay * 2)

    def _start_fetching(self, client_id: str) -> None:
        task = self._fetching.get(client_id)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._fetch_fills(client_id))
            self._fetching[client_id] = task
            task.add_done_callback(lambda _: _forget(self._fetching, client_id, task))

    async def _fetch_fills(self, client_id: str) -> None:
        """An order the venue reported filled further than the fills we hold (their pushes
        were lost): read its fills from the venue's list, as a reconnect would, until they
        are all in; given up (loudly) after `FILL_FETCHES` reads that did not complete it."""
        delay = self._backoff
        for _ in range(FILL_FETCHES):
            snap = self.tracker.snapshot(client_id)
            if snap.missing_fill_qty <= 0:
                break
            venue = self.venues.get(snap.venue)
            since = self._sent_ms.get(client_id, self._wall_ms() - FILLS_LOOKBACK_MS)
            if venue is not None:
                try:
                    listed = await venue.fills(snap.symbol, since - CLOCK_SLACK_MS)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    _log_failure(client_id, "reading fills", exc)
                else:
                    for fill in listed:
                        if fill.client_id == client_id:
                            self.on_private(fill)
                    if self.tracker.snapshot(client_id).missing_fill_qty <= 0:
                        break
            await self._sleep(delay)
            delay = min(self._max_backoff, delay * 2)
        else:
            logger.bind(client_id=client_id).error(
                "fills of {} still missing after {} reads",
                self.tracker.snapshot(client_id).missing_fill_qty,
                FILL_FETCHES,
            )
        self._sent_ms.pop(client_id, None)

    def finish(self, client_id: str) -> asyncio.Task[OrderSnapshot]:
        """End the order: cancel it while it may be working, query it while in doubt, until
        the venue reports a final state. One task per order, however often asked; the caller
        may stop waiting for it, the task goes on."""
        task = self._finishing.get(client_id)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._finish(client_id))
            self._finishing[client_id] = task
            task.add_done_callback(lambda _: _forget(self._finishing, client_id, task))
        return task

    def finishing(self) -> list[str]:
        """Orders being ended in the background (their callers stopped waiting)."""
        return [cid for cid, task in self._finishing.items() if not task.done()]

    async def _finish(self, client_id: str) -> OrderSnapshot:
        delay = self._backoff
        while True:
            snap = self.tracker.snapshot(client_id)
            if snap.is_final:
                return snap
            if client_id in self._in_flight:
                pass  # its own answer (and its resolution) is coming: wait for it
            elif snap.state != "pending_cancel" and self.tracker.can_cancel(client_id):
                await self._cancel(client_id)
            else:  # unknown, or a cancel in doubt: only the venue can say
                await self._query(client_id)
            if self.tracker.snapshot(client_id).is_final:
                return self.tracker.snapshot(client_id)
            await self.wait_change([client_id], delay)
            delay = min(self._max_backoff, delay * 2)

    def _may_still_arrive(self, client_id: str) -> bool:
        """The order's request is unanswered, or was sent so recently that the venue may yet
        take it: a venue that does not know the order proves nothing then."""
        if client_id in self._in_flight:
            return True
        sent = self._sent_ns.get(client_id)
        if sent is None:
            return False
        if self._clock() - sent < self._window_ns:
            return True
        del self._sent_ns[client_id]
        return False

    async def _query(self, client_id: str) -> bool:
        """Query the order once and apply the answer; False when the query itself failed, or
        when the venue does not know the order yet while its request may still arrive."""
        snap = self.tracker.snapshot(client_id)
        venue = self.venues.get(snap.venue)
        if venue is None:
            logger.bind(client_id=client_id).error("no open venue {} to query", snap.venue)
            return False
        self.stats.queries += 1
        try:
            update = await venue.query_order(snap.symbol, client_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # ambiguous, rate limited, refused, a plugin's bug: retried
            self.stats.query_errors += 1
            _log_failure(client_id, "query", exc)
            return False
        in_flight = self._may_still_arrive(client_id)
        self._notify(self.tracker.query_result(client_id, update, in_flight=in_flight))
        if update is not None or not in_flight:
            self._sent_ns.pop(client_id, None)
            return True
        return False

    async def _cancel(self, client_id: str) -> None:
        """One cancel request; a refusal or a lost answer is applied (and, where the order's
        state is in doubt, queried), never raised."""
        snap = self.tracker.snapshot(client_id)
        venue = self.venues.get(snap.venue)
        if venue is None:
            logger.bind(client_id=client_id).error("no open venue {} to cancel on", snap.venue)
            return
        self.stats.cancels += 1
        self._notify(self.tracker.cancel_requested(client_id))
        try:
            await venue.cancel_order(snap.symbol, client_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.stats.cancel_errors += 1
            _log_failure(client_id, "cancel", exc)
            error = exc if isinstance(exc, VenueError) else _unexpected(snap.venue, exc)
            applied = self.tracker.cancel_failed(client_id, error)
            self._notify(applied)
            if not applied.needs_query:
                return
            # Lost, or "not found": did it end, or is it still working? The venue says.
            answered = await self._query(client_id)
            if answered and self.tracker.snapshot(client_id).state == "pending_cancel":
                # Still working after all (the cancel did not take): cancel it again.
                refused = Definitive(snap.venue, f"cancel did not take ({error.message})")
                self._notify(self.tracker.cancel_failed(client_id, refused))

    async def cancel(self, client_id: str) -> OrderSnapshot:
        """Ask the venue once to cancel the order (if it may be working); the order as known
        after the answer. `finish` is what insists until the order ends."""
        if self.tracker.can_cancel(client_id) and client_id not in self._in_flight:
            await self._cancel(client_id)
        return self.tracker.snapshot(client_id)

    # -- waiting ---------------------------------------------------------------------------

    async def wait_final(self, client_id: str, timeout_s: float) -> OrderSnapshot:
        """The order once final, or as it stands when `timeout_s` runs out."""
        woken = asyncio.Event()
        self._watch((client_id,), woken)
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    woken.clear()
                    if self.tracker.snapshot(client_id).is_final:
                        break
                    await woken.wait()
        except TimeoutError:
            pass
        finally:
            self._unwatch((client_id,), woken)
        return self.tracker.snapshot(client_id)

    async def wait_change(self, client_ids: Iterable[str], timeout_s: float | None) -> None:
        """Until any of these orders changes (or is answered), or `timeout_s` runs out."""
        ids = tuple(client_ids)
        woken = asyncio.Event()
        self._watch(ids, woken)
        try:
            async with asyncio.timeout(timeout_s):
                await woken.wait()
        except TimeoutError:
            pass
        finally:
            self._unwatch(ids, woken)

    def _watch(self, client_ids: Iterable[str], woken: asyncio.Event) -> None:
        for cid in client_ids:
            self._waiters.setdefault(cid, []).append(woken)

    def _unwatch(self, client_ids: Iterable[str], woken: asyncio.Event) -> None:
        for cid in client_ids:
            waiters = self._waiters.get(cid)
            if waiters is None:
                continue
            waiters.remove(woken)
            if not waiters:  # nothing is kept per order once nobody waits for it
                del self._waiters[cid]

    async def close(self) -> None:
        """Stop the background work (queries, cancels) before the journal closes; orders it
        was finishing are queried again by the next start's reconciliation."""
        self._closed = True
        tasks = [*self._resolving.values(), *self._finishing.values(), *self._fetching.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _begin_safely(venue: TradingVenue, intent: Intent) -> Awaitable[OrderAck]:
    """The venue's answer to the order, its request written now where the venue can
    (`begin_order`); a failure of the call itself becomes the answer (the order is journaled
    as sent: what became of its request is for the answer's handling, and a query, to find
    out)."""
    try:
        return venue.begin_order(intent.request)
    except Exception as exc:
        failed: asyncio.Future[OrderAck] = asyncio.get_running_loop().create_future()
        failed.set_exception(exc)
        return failed


def _unexpected(venue: str, exc: Exception) -> Ambiguous:
    """An exception that is not a venue's answer: nothing says the request did not arrive."""
    logger.opt(exception=exc).error("{}: unexpected error on the order path", venue)
    return Ambiguous(venue, f"unexpected {type(exc).__name__}: {exc}")


def _log_failure(client_id: str, what: str, exc: Exception) -> None:
    if isinstance(exc, VenueError):
        logger.bind(client_id=client_id).warning("{} failed: {}", what, exc)
    else:
        logger.bind(client_id=client_id).opt(exception=exc).error("{} failed unexpectedly", what)


def _forget(tasks: dict[str, _T], client_id: str, task: _T) -> None:
    """Drop a finished task from its table, unless a newer one took its place."""
    if tasks.get(client_id) is task:
        del tasks[client_id]


def _admit_all(intent: Intent) -> str:
    return ""
