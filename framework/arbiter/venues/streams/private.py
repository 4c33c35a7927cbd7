"""The private stream of one venue account: its WebSocket, and the REST reconciliation that
makes every (re)connect lossless.

Rules kept here:
- after every (re)connect the codec logs in and subscribes; only then (`StreamReady`) are open
  orders and recent fills read over REST, so nothing can fall between the REST answer and the
  first pushed event;
- the REST results are delivered as private events *before* the stream is declared live (the
  order tracker dedups fills by trade id and absorbs stale statuses, so a replay is safe);
- "recent" means since the last frame of the previous connection (less `slack_ms` for clock
  skew and frames in flight); the first connection looks back `initial_lookback_ms`;
- an order we saw working (or placed through the session, see `streams.watched`) that the
  venue no longer lists is queried by client id: it finished (cancelled, expired) while we
  were away, and no fill would say so; one the venue does not know is forgotten only once its
  request is over (while the request is on its way, "no such order" proves nothing);
- the account's own records (funding settlements, forced executions: `account_events`) are
  read in the same reconciliation, and again whenever the venue says it settled something
  without saying how much (`SettlementsDue`, OKX's funding-fee push); a read that finds no
  settlement as recent as the notice is repeated a few times, since a venue may write the
  record a moment after it pushes;
- everything a reconciliation reads is delivered oldest first by venue time, fills and account
  events interleaved, so a funding payment meets the positions as they stood when it settled;
- a REST failure during reconciliation is retried with backoff for as long as the connection
  stands; a reconciliation for a connection that has since dropped is thrown away;
- a refused login is final (`AuthenticationFailed` from `start`): the same keys will not work
  on the next attempt either.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from loguru import logger

from arbiter import clock as process_clock
from arbiter.venues.contract.errors import AuthenticationFailed
from arbiter.venues.contract.orders import (
    AccountEvent,
    BalanceUpdate,
    Fill,
    ForcedExecution,
    FundingSettlement,
    OrderUpdate,
    PositionUpdate,
    PrivateEvent,
)
from arbiter.venues.streams.codecs import (
    PrivateCodec,
    SettlementsDue,
    StreamError,
    StreamReady,
    StreamRejected,
)
from arbiter.venues.streams.websocket import DEFAULT_KEEPALIVE, Frame, Keepalive, WsSession

PrivateDelivery = Callable[[PrivateEvent], None]


class Reconciler(Protocol):
    """The REST reads a reconciliation needs (a subset of `TradingVenue`)."""

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]: ...

    async def fills(self, symbol: str | None, since_ms: int) -> list[Fill]: ...

    async def query_order(self, symbol: str, client_id: str) -> OrderUpdate | None: ...

    async def account_events(self, since_ms: int) -> list[AccountEvent]: ...


SETTLEMENT_READS = 5  # reads after a settlement notice before its record is given up on


def wall_ms() -> int:
    return process_clock.wall_ns() // 1_000_000


async def stop_task(task: asyncio.Task[None], grace_s: float = 5.0) -> None:
    """Wait for a closed session's task to finish; cancel it if it hangs (a connect attempt
    to a host that never answers)."""
    done, _ = await asyncio.wait({task}, timeout=grace_s)
    if not done:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class PrivateStream:
    """Wraps a venue's `PrivateCodec` for a `WsSession` and reconciles every connection."""

    def __init__(
        self,
        name: str,
        url: str,
        codec: PrivateCodec,
        rest: Reconciler,
        deliver: PrivateDelivery,
        *,
        clock_ms: Callable[[], int] = wall_ms,
        initial_lookback_ms: int = 60_000,
        slack_ms: int = 30_000,
        retry_base_s: float = 0.2,
        retry_max_s: float = 5.0,
        seed: int = 0,
        keepalive: Keepalive = DEFAULT_KEEPALIVE,
    ) -> None:
        self.name = name
        self.codec = codec
        self._rest = rest
        self._deliver = deliver
        self._clock_ms = clock_ms
        self._slack_ms = slack_ms
        self._retry = (retry_base_s, retry_max_s)
        self._rng = random.Random(seed)
        self.ws = WsSession(name, url, self, self._on_events, seed=seed, keepalive=keepalive)
        self._lookback_ms = initial_lookback_ms
        self._gap_start_ms: int | None = None  # set by `start`, then by every disconnect
        self._last_frame_ms = 0
        self._open: dict[str, str] = {}  # client id -> symbol of orders last seen working
        self._sending: set[str] = set()  # client ids whose place request is not over yet
        self._task: asyncio.Task[None] | None = None
        self._reconciling: asyncio.Task[None] | None = None
        self._settling: asyncio.Task[None] | None = None
        self._notices: list[int] = []  # venue times of settlement notices not yet read
        self._rejected: asyncio.Future[Any] | None = None
        self.reconciliations = 0
        self.reconcile_failures = 0
        self.settlement_reads = 0
        self.settlements_missing = 0  # notices whose record never showed up
        self.delivery_errors = 0
        self._log = logger.bind(venue=name)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, timeout_s: float = 30.0) -> None:
        """Connect and return once the stream is live (logged in, subscribed, reconciled)."""
        self._gap_start_ms = self._clock_ms() - self._lookback_ms
        rejected: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._rejected = rejected
        self._task = asyncio.create_task(self.ws.run())
        live: asyncio.Future[Any] = asyncio.ensure_future(self.ws.live.wait())
        try:
            done, _ = await asyncio.wait(
                {live, rejected}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            live.cancel()
        if rejected in done:
            reason = str(rejected.result())
            await self.close()
            raise AuthenticationFailed(self.name, reason)
        if not done:
            await self.close()
            raise TimeoutError(
                f"{self.name}: expected the private stream live within {timeout_s} s, it is"
                f" {self.ws.state.state}"
            )

    async def close(self) -> None:
        if self._reconciling is not None:
            self._reconciling.cancel()
        if self._settling is not None:
            self._settling.cancel()
        await self.ws.close()
        if self._task is not None:
            await stop_task(self._task)
            self._task = None

    # -- SessionCodec, delegated to the venue codec --------------------------------------------

    def connect_frames(self) -> Sequence[Frame]:
        return self.codec.connect_frames()

    def ping_frame(self) -> Frame | None:
        return self.codec.ping_frame()

    def feed(self, frame: Frame, recv_ns: int) -> Sequence[object]:
        self._last_frame_ms = self._clock_ms()
        return self.codec.feed(frame, recv_ns)

    def reset(self) -> None:
        if self._reconciling is not None:
            self._reconciling.cancel()
            self._reconciling = None
        if self._gap_start_ms is None and self._last_frame_ms:
            self._gap_start_ms = self._last_frame_ms  # what came after it may be lost
        self.codec.reset()

    def synced(self) -> bool:
        return self.codec.synced()

    def pending_frames(self) -> Sequence[Frame]:
        return self.codec.pending_frames()

    # -- events ------------------------------------------------------------------------------

    def _on_events(self, events: Sequence[object]) -> None:
        for event in events:
            if isinstance(event, OrderUpdate | Fill):
                self._note(event)
                self._publish(event)
            elif isinstance(event, StreamReady):
                self._reconciling = asyncio.create_task(self._reconcile(self.ws.connection))
            elif isinstance(event, StreamRejected):
                self._log.error("{}: private stream refused: {}", self.name, event.reason)
                if self._rejected is not None and not self._rejected.done():
                    self._rejected.set_result(event.reason)
            elif isinstance(
                event, PositionUpdate | BalanceUpdate | FundingSettlement | ForcedExecution
            ):
                self._publish(event)
            elif isinstance(event, SettlementsDue):
                self._settlement_due(event.ts_venue_ms)
            elif isinstance(event, StreamError):
                self._log.warning("{}: private frame skipped: {}", self.name, event.detail)

    def _publish(self, event: PrivateEvent) -> None:
        try:
            self._deliver(event)
        except Exception:  # one consumer's bug must not cost the others this event
            self.delivery_errors += 1
            self._log.opt(exception=True).error("{}: private event sink failed", self.name)

    def deliver_to(self, deliver: PrivateDelivery) -> None:
        """Hand the private events of the frames read from now on to `deliver`."""
        self._deliver = deliver

    def note_placed(self, client_id: str, symbol: str) -> None:
        """An order is about to be sent: watch it until an event says it ended."""
        self._open[client_id] = symbol
        self._sending.add(client_id)

    def note_refused(self, client_id: str, symbol: str) -> None:
        """The venue certainly did not take the order: nothing to watch."""
        self._open.pop(client_id, None)

    def note_sent(self, client_id: str, symbol: str) -> None:
        """The order's place request is over (answered, refused, or failed ambiguously)."""
        self._sending.discard(client_id)

    def _note(self, event: OrderUpdate | Fill) -> None:
        if isinstance(event, OrderUpdate) and event.client_id:
            if event.status.final:
                self._open.pop(event.client_id, None)
            else:
                self._open[event.client_id] = event.symbol

    # -- reconciliation ----------------------------------------------------------------------

    async def _reconcile(self, connection: int) -> None:
        attempt = 0
        while self.ws.connection == connection and self.ws.connected:
            try:
                orders, finished, fills, accounts = await self._read_rest()
                break
            except Exception as exc:  # any REST failure: retry while the connection stands
                self.reconcile_failures += 1
                self._log.warning("{}: reconciliation failed, retrying: {}", self.name, exc)
                base, cap = self._retry
                await asyncio.sleep(self._rng.uniform(0, min(cap, base * 2**attempt)))
                attempt += 1
        else:
            return
        if self.ws.connection != connection or not self.ws.connected:
            return  # the socket dropped meanwhile: the next connection reconciles again
        for update in (*orders, *finished):
            self._note(update)
            self._publish(update)
        for event in sorted((*fills, *accounts), key=_venue_order):
            self._publish(event)
        self.reconciliations += 1
        self._gap_start_ms = None
        self.codec.reconciled()
        self.ws.refresh()

    async def _read_rest(
        self,
    ) -> tuple[list[OrderUpdate], list[OrderUpdate], list[Fill], list[AccountEvent]]:
        gap_start = self._gap_start_ms if self._gap_start_ms is not None else self._clock_ms()
        since = gap_start - self._slack_ms
        orders = await self._rest.open_orders()
        listed = {o.client_id for o in orders}
        finished: list[OrderUpdate] = []
        for client_id, symbol in sorted(self._open.items()):
            if client_id in listed:
                continue
            update = await self._rest.query_order(symbol, client_id)
            if update is None:
                if client_id not in self._sending:
                    self._open.pop(client_id, None)  # the venue never got it: nothing to report
            else:
                finished.append(update)
        fills = await self._rest.fills(None, since)
        accounts = await self._rest.account_events(since)
        return orders, finished, fills, accounts

    # -- settlement notices ------------------------------------------------------------------

    def _settlement_due(self, ts_venue_ms: int) -> None:
        self._notices.append(ts_venue_ms)
        if self._settling is None or self._settling.done():
            self._settling = asyncio.create_task(self._read_settlements())

    async def _read_settlements(self) -> None:
        """Read the account's records until each notice has met a settlement at least as
        recent as itself (less the slack), or `SETTLEMENT_READS` reads have passed."""
        attempt = 0
        while self._notices and self.ws.connected:
            oldest = min(self._notices)
            try:
                events = await self._rest.account_events(oldest - self._slack_ms)
            except Exception as exc:  # a failed read is retried like any other
                self._log.warning("{}: settlement read failed, retrying: {}", self.name, exc)
                events = []
            self.settlement_reads += 1
            for event in sorted(events, key=_venue_order):
                self._publish(event)
            newest = max(
                (e.ts_venue_ms for e in events if isinstance(e, FundingSettlement)), default=None
            )
            if newest is not None:
                self._notices = [t for t in self._notices if t - self._slack_ms > newest]
            attempt += 1
            if self._notices and attempt >= SETTLEMENT_READS:
                self.settlements_missing += len(self._notices)
                self._log.error(
                    "{}: the venue announced {} settlement(s) its records do not show",
                    self.name,
                    len(self._notices),
                )
                self._notices.clear()
            if self._notices:
                base, cap = self._retry
                await asyncio.sleep(self._rng.uniform(base, min(cap, base * 2**attempt)))


def _venue_order(event: Fill | AccountEvent) -> tuple[int, str]:
    key = event.settlement_id if isinstance(event, FundingSettlement) else event.trade_id
    return event.ts_venue_ms, key
