"""Every venue event and every answer in every order state, including the ones that "can't
happen": a venue sends them anyway. Nothing on the order path may raise for them.

- the tracker: each state is reached by a real path (journaled), then each venue event or
  answer is applied; the tracker never raises, never loses filled quantity, and leaves a final
  state only by the documented fill-after-cancel edge;
- the gateway: in each state, a cancel and `finish` against a venue that answers the cancel
  and the queries in every way (done, "not found", rate limited, lost, a plugin's bug) never
  raise, and `finish` ends once the venue reports the order final;
- the executor (hypothesis): two legs on venues whose placement answers, pushes and queries
  are drawn at random; `execute` returns (never raises), within its budget, and every order ends
  once the venues tell the truth.

The venue here is a model that can say anything (`AnyVenue`): what these tests check is that our
side survives whatever it says, which no well-behaved simulator would produce.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.execution import Intent, OrderTracker
from arbiter.execution.dual_leg import DualLegExecutor, LegOrder
from arbiter.execution.gateway import OrderGateway
from arbiter.fsm import ORDER
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.store import Journal
from arbiter.venues import (
    Ambiguous,
    DuplicateClientId,
    Fill,
    OrderAck,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    RateLimited,
    Side,
)
from tests.support.order_events import make_ack, make_fill, make_intent, make_update

D = Decimal
STATES = [s.name for s in ORDER.states]
TERMINAL = {s.name for s in ORDER.states if s.terminal}


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[OrderTracker]:
    with Journal.open(tmp_path / "journal.sqlite") as journal:
        yield OrderTracker(journal)


def reach(tracker: OrderTracker, state: str) -> Intent:
    """An order brought to `state` by the way it gets there for real (qty 1)."""
    intent = make_intent()
    cid = intent.client_id
    tracker.add(intent)
    if state == "new":
        return intent
    tracker.submitted(cid)
    steps: dict[str, Callable[[], object]] = {
        "submitted": lambda: None,
        "unknown": lambda: tracker.send_failed(cid, Ambiguous("bybit", "timeout")),
        "rejected": lambda: tracker.send_failed(cid, OrderRejected("bybit", "bad price")),
        "acknowledged": lambda: tracker.apply(make_ack(intent)),
        "partially_filled": lambda: (
            tracker.apply(make_ack(intent)),
            tracker.apply(make_fill(intent, "t1", "0.4")),
        ),
        "pending_cancel": lambda: (
            tracker.apply(make_ack(intent)),
            tracker.cancel_requested(cid),
        ),
        "filled": lambda: tracker.apply(make_fill(intent, "t1", "1")),
        "cancelled": lambda: (
            tracker.apply(make_ack(intent)),
            tracker.apply(make_update(intent, OrderStatus.CANCELLED)),
        ),
        "expired": lambda: (
            tracker.apply(make_ack(intent)),
            tracker.apply(make_update(intent, OrderStatus.EXPIRED)),
        ),
    }
    steps[state]()
    assert tracker.snapshot(cid).state == state
    return intent


def _events(intent: Intent) -> dict[str, Callable[[OrderTracker], object]]:
    cid = intent.client_id

    def update(status: OrderStatus, filled: str = "0") -> Callable[[OrderTracker], object]:
        return lambda t: t.apply(make_update(intent, status, filled))

    return {
        "ack": lambda t: t.apply(make_ack(intent)),
        "new": update(OrderStatus.NEW),
        "partial": update(OrderStatus.PARTIALLY_FILLED, "0.6"),
        "filled": update(OrderStatus.FILLED, "1"),
        "cancelled": update(OrderStatus.CANCELLED),
        "cancelled_partly": update(OrderStatus.CANCELLED, "0.6"),
        "rejected": update(OrderStatus.REJECTED),
        "rejected_partly": update(OrderStatus.REJECTED, "0.6"),
        "expired": update(OrderStatus.EXPIRED, "0.6"),
        "fill_part": lambda t: t.apply(make_fill(intent, "t2", "0.5")),
        "fill_rest": lambda t: t.apply(make_fill(intent, "t3", "1")),
        "fill_again": lambda t: t.apply(make_fill(intent, "t1", "0.4")),  # a duplicate
        "fill_over": lambda t: t.apply(make_fill(intent, "t4", "5")),  # more than ordered
        "query_none": lambda t: t.query_result(cid, None),
        "query_none_in_flight": lambda t: t.query_result(cid, None, in_flight=True),
        "query_filled": lambda t: t.query_result(cid, make_update(intent, OrderStatus.FILLED, "1")),
        "send_ambiguous": lambda t: t.send_failed(cid, Ambiguous("bybit", "502")),
        "send_rejected": lambda t: t.send_failed(cid, OrderRejected("bybit", "refused")),
        "send_duplicate": lambda t: t.send_failed(cid, DuplicateClientId("bybit", "dup")),
        "cancel_lost": lambda t: t.cancel_failed(cid, Ambiguous("bybit", "timeout")),
        "cancel_not_found": lambda t: t.cancel_failed(cid, OrderNotFound("bybit", "gone")),
        "cancel_rate_limited": lambda t: t.cancel_failed(cid, RateLimited("bybit", "slow down")),
    }


EVENTS = list(_events(make_intent()))


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("state", STATES)
def test_tracker_when_any_event_arrives_in_any_state_never_raises(
    tracker: OrderTracker, state: str, event: str
) -> None:
    intent = reach(tracker, state)
    before = tracker.snapshot(intent.client_id)

    _events(intent)[event](tracker)

    after = tracker.snapshot(intent.client_id)
    assert after.state in STATES
    assert after.filled_qty >= before.filled_qty
    if before.state in TERMINAL and after.state != before.state:
        # a final order moves only when the venue reports it filled after all
        assert (before.state, after.state) in {("cancelled", "filled"), ("expired", "filled")}


# -- the gateway against a venue that may answer anything ---------------------------------------


HELD = object()  # a scripted answer: the request is held on its way


class Bug(Exception):
    """What a plugin's bug looks like from the order path: not a venue answer at all."""


ERRORS: dict[str, Callable[[], Exception]] = {
    "not_found": lambda: OrderNotFound("any", "order does not exist"),
    "rate_limited": lambda: RateLimited("any", "too many requests"),
    "lost": lambda: Ambiguous("any", "timeout"),
    "refused": lambda: OrderRejected("any", "refused"),
    "bug": lambda: Bug("a plugin raised"),
}


@dataclass
class AnyVenue:
    """A venue that answers each call from its script (an exception, or what it returns), then,
    once the script is spent, with the truth: the order `final` status."""

    name: str = "any"
    place: deque[object] = field(default_factory=deque)
    cancels: deque[object] = field(default_factory=deque)
    queries: deque[object] = field(default_factory=deque)
    final: OrderStatus = OrderStatus.CANCELLED
    intents: dict[str, Intent] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)  # lets HELD answers go

    def truth(self, cid: str) -> OrderUpdate:
        intent = self.intents[cid]
        filled = "1" if self.final is OrderStatus.FILLED else "0"
        return make_update(intent, self.final, filled)

    async def _answer(self, script: deque[object], default: object) -> object:
        await asyncio.sleep(0)
        got = script.popleft() if script else default
        if got is HELD:  # on its way until released: the venue has not seen it yet
            await self.released.wait()
            got = default
        if isinstance(got, Exception):
            raise got
        return got

    async def place_order(self, request: OrderRequest) -> OrderAck:
        self.calls.append("place")
        answer = await self._answer(self.place, OrderAck(self.name, request.client_id, "v1"))
        assert isinstance(answer, OrderAck)
        return answer

    def begin_order(self, request: OrderRequest) -> Awaitable[OrderAck]:
        return asyncio.create_task(self.place_order(request))  # it cannot write early

    async def cancel_order(self, symbol: str, client_id: str) -> None:
        self.calls.append("cancel")
        await self._answer(self.cancels, None)

    async def query_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        self.calls.append("query")
        answer = await self._answer(self.queries, self.truth(client_id))
        return answer if isinstance(answer, OrderUpdate) else None

    async def fills(self, symbol: str | None, since_ms: int) -> list[Fill]:
        return []


def _gateway(journal: Journal, venue: AnyVenue) -> OrderGateway:
    return OrderGateway(
        OrderTracker(journal), {"bybit": venue}, query_backoff_s=0.0001, max_backoff_s=0.001
    )


@pytest.mark.parametrize("cancel", ["done", *ERRORS])
@pytest.mark.parametrize("state", STATES)
def test_gateway_when_cancelling_then_finishing_in_any_state_never_raises_and_ends_it(
    tmp_path: Path, state: str, cancel: str
) -> None:
    async def run() -> None:
        with Journal.open(tmp_path / "journal.sqlite") as journal:
            venue = AnyVenue()
            gateway = _gateway(journal, venue)
            intent = reach(gateway.tracker, state)
            venue.intents[intent.client_id] = intent
            venue.cancels.extend([None if cancel == "done" else ERRORS[cancel]()] * 2)
            venue.queries.extend([ERRORS["lost"](), ERRORS["bug"](), None])  # then the truth

            await gateway.cancel(intent.client_id)
            if state == "new":  # never sent: nothing to finish, nothing was asked
                assert venue.calls == []
                return
            final = await asyncio.wait_for(gateway.finish(intent.client_id), timeout=30)

            assert final.is_final
            assert gateway.tracker.snapshot(intent.client_id).state in STATES
            await gateway.close()

    asyncio.run(run())


# -- the executor, hypothesis ------------------------------------------------------------------

PLACE = ["ack", "refused", "rate_limited", "lost", "duplicate", "bug", "held"]
PUSH = ["none", "filled", "partial_then_expired", "cancelled", "rejected_partly", "garbage"]
QUERY = ["truth", "none", "lost", "rate_limited", "bug"]
FINAL = [OrderStatus.FILLED, OrderStatus.EXPIRED, OrderStatus.CANCELLED]


@dataclass(frozen=True)
class LegScript:
    place: str
    push: str
    queries: tuple[str, ...]
    final: OrderStatus


legs = st.builds(
    LegScript,
    st.sampled_from(PLACE),
    st.sampled_from(PUSH),
    st.lists(st.sampled_from(QUERY), max_size=4).map(tuple),
    st.sampled_from(FINAL),
)


def _instrument(kind: InstrumentKind, symbol: str) -> Instrument:
    return Instrument(
        venue="bybit",
        symbol=symbol,
        kind=kind,
        base="BTC",
        quote="USDT",
        tick_size=D("0.1"),
        lot_size=D("0.1"),
        min_qty=D("0.1"),
    )


def _pushes(intent: Intent, script: LegScript) -> list[OrderUpdate | Fill]:
    update = lambda status, filled="0": make_update(intent, status, filled)  # noqa: E731
    return {
        "none": [],
        "filled": [make_fill(intent, "f1", "1"), update(OrderStatus.FILLED, "1")],
        "partial_then_expired": [
            make_fill(intent, "p1", "0.5"),
            update(OrderStatus.EXPIRED, "0.5"),
        ],
        "cancelled": [update(OrderStatus.CANCELLED)],
        "rejected_partly": [make_fill(intent, "r1", "0.3"), update(OrderStatus.REJECTED, "0.3")],
        "garbage": [
            update(OrderStatus.FILLED, "7"),
            update(OrderStatus.NEW),
            make_fill(intent, "g", "0"),
        ],
    }[script.push]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(legs, legs, st.integers(min_value=0, max_value=3))
def test_execute_when_venues_answer_anything_returns_and_every_order_ends(
    spot: LegScript, perp: LegScript, push_after: int
) -> None:
    async def run(folder: Path) -> None:
        with Journal.open(folder / "journal.sqlite") as journal:
            venue = AnyVenue()
            gateway = _gateway(journal, venue)
            executor = DualLegExecutor(gateway, cancel_grace_s=0.01)
            orders, scripts = [], {}
            for role, kind, side, script in (
                ("spot", InstrumentKind.SPOT, Side.BUY, spot),
                ("perp", InstrumentKind.PERP, Side.SELL, perp),
            ):
                intent = make_intent(leg=f"entry.{role}")
                intent = replace(intent, request=replace(intent.request, side=side))
                inst = _instrument(kind, intent.request.symbol)
                orders.append(LegOrder(role, intent, inst))
                venue.intents[intent.client_id] = intent
                scripts[intent.client_id] = script
            # one venue for both legs: its scripts in the order the legs are placed
            for order in orders:
                script = scripts[order.intent.client_id]
                venue.place.append(_place_answer(script.place, order.intent))
                venue.queries.extend(_query_answer(q, order.intent) for q in script.queries)
            venue.final = perp.final

            async def push() -> None:
                for _ in range(push_after):
                    await asyncio.sleep(0)
                for order in orders:
                    for event in _pushes(order.intent, scripts[order.intent.client_id]):
                        gateway.on_private(event)

            pushing = asyncio.get_running_loop().create_task(push())
            result = await executor.execute(orders, leg_timeout_ms=5, max_unhedged_ms=40)
            await pushing

            assert result.outcome in {
                "both_filled",
                "both_failed",
                "one_leg_filled",
                "unresolved",
            }, result.reason
            assert bool(result.unresolved) == (result.outcome == "unresolved")
            # Once the venue tells the truth, nothing is left in doubt.
            venue.released.set()
            for order in orders:
                cid = order.intent.client_id
                final = await asyncio.wait_for(gateway.finish(cid), timeout=30)
                assert final.is_final, gateway.tracker.history(cid)
            await gateway.close()

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp)))


def _place_answer(name: str, intent: Intent) -> object:
    return {
        "ack": OrderAck("any", intent.client_id, "v1"),
        "refused": OrderRejected("any", "refused"),
        "rate_limited": RateLimited("any", "slow down"),
        "lost": Ambiguous("any", "timeout"),
        "duplicate": DuplicateClientId("any", "exists"),
        "bug": Bug("a plugin raised"),
        "held": HELD,
    }[name]


def _query_answer(name: str, intent: Intent) -> object:
    if name == "truth":
        return make_update(intent, OrderStatus.NEW)
    if name == "none":
        return _NotFound()
    return ERRORS[name]()


class _NotFound:
    """A query answered "no such order" (AnyVenue returns None for anything not an update)."""
