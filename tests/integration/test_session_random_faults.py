"""100 random faults in one run, on both venues at once, while the market moves and orders are
placed and cancelled; afterwards every book and every order must equal the simulator's.

The faults are seeded `FaultPlan` rules with probabilities, so a run is reproducible; the test
stops injecting once 100 have fired, lets the streams settle, and compares.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

from arbiter.sim import FaultKind, FaultPlan, FaultRule, start
from arbiter.testing.session_harness import (
    KINDS,
    Orders,
    Recorder,
    SessionHarness,
    book_matches,
)
from arbiter.venues import BookRef, Side, TimeInForce
from tests.support.session_harness import SimSessionObserver, make_session
from tests.support.trading_harness import SIZES, SYMBOLS

VENUES = ("bybit", "okx")
WANTED = 100
MAX_STEPS = 4_000
SETTLE_S = 60.0


def _rules() -> list[FaultRule]:
    # Private frames are few: scripted disconnects, spread over the run, make sure the private
    # streams go down (and reconcile) several times whatever the draws.
    scripted = [FaultRule(FaultKind.WS_DISCONNECT, "private:", skip=skip) for skip in (5, 25, 50)]
    return [
        *scripted,
        FaultRule(FaultKind.WS_DROP_DELTA, probability=0.02),
        FaultRule(FaultKind.WS_DUPLICATE, probability=0.01),
        FaultRule(FaultKind.WS_RESET, probability=0.01),
        FaultRule(FaultKind.WS_DELAY, probability=0.01, delay_ms=20),
        FaultRule(FaultKind.WS_DISCONNECT, probability=0.004),
        FaultRule(FaultKind.PRIVATE_REORDER, probability=0.1),
        FaultRule(FaultKind.FILL_AFTER_CANCEL, probability=0.5),
    ]


async def test_sessions_when_100_random_faults_fire_books_and_orders_end_as_the_simulator(
    tmp_path: Path,
) -> None:
    plan = FaultPlan(seed=2024)
    sim = await start(seed=5, faults=plan)
    sessions = {venue: make_session(sim, venue) for venue in VENUES}
    harness: dict[str, SessionHarness] = {}
    orders: dict[str, Orders] = {}
    recorder = Recorder()
    try:
        for venue, session in sessions.items():
            session.on_market(recorder.on_market)
            await session.start()
            spot, perp = SYMBOLS[venue]
            harness[venue] = SessionHarness(
                session, SimSessionObserver(sim, venue), spot, perp, *SIZES[venue], tmp_path
            )
            orders[venue] = Orders.open(harness[venue], recorder, venue)
        books = [
            (venue, kind, symbol)
            for venue, (spot, perp) in SYMBOLS.items()
            for kind, symbol in (
                ("spot", spot),
                ("perp", perp),
                ("spot", "ETH" + spot[3:]),
                ("perp", "ETH" + perp[3:]),
            )
        ]
        for venue, kind, symbol in books:
            sessions[venue].watch_books([BookRef(kind, symbol)])

        def books_agree() -> bool:
            return all(book_matches(harness[v], k, s) for v, k, s in books)

        sim.step()
        await recorder.until(books_agree, "every book synced before the faults")

        plan.rules.extend(_rules())
        rng = random.Random(7)
        resting: list[tuple[str, str, int]] = []  # (venue, client id, step to cancel at)
        steps = 0
        while len(plan.fired) < WANTED and steps < MAX_STEPS:
            sim.step()
            steps += 1
            if steps % 4 == 0:
                venue = rng.choice(VENUES)
                kind = rng.choice(KINDS)
                side = rng.choice((Side.BUY, Side.SELL))
                book = orders[venue]
                if rng.random() < 0.5:
                    price = book.crossing(kind, side)
                    await book.place(book.request(kind, side, price, TimeInForce.IOC))
                else:
                    price = book.far(kind, side)
                    cid = await book.place(book.request(kind, side, price, TimeInForce.GTC))
                    resting.append((venue, cid, steps + rng.randint(1, 12)))
            for venue, cid, due in [r for r in resting if r[2] <= steps]:
                resting.remove((venue, cid, due))
                await orders[venue].cancel(cid)
            await asyncio.sleep(0.002)  # pacing only: let the sockets carry this step's frames
        fired = Counter(kind for kind, _ in plan.fired)
        plan.rules.clear()
        for venue, cid, _ in resting:
            await orders[venue].cancel(cid)
        sim.step()

        def orders_agree() -> bool:
            return all(o.agrees(cid) for o in orders.values() for cid in o.placed)

        await recorder.until(books_agree, "every book equal to the simulator's", SETTLE_S)
        await recorder.until(orders_agree, "every order equal to the simulator's", SETTLE_S)
        await recorder.until(
            lambda: all(set(s.connection_states().values()) == {"live"} for s in sessions.values()),
            "every stream live again",
            SETTLE_S,
        )

        assert sum(fired.values()) >= WANTED, fired
        assert len(fired) >= 5, fired  # the faults were varied, not one kind a hundred times
        private_drops = [
            t for k, t in plan.fired if k is FaultKind.WS_DISCONNECT and "private" in t
        ]
        assert len(private_drops) >= 3, plan.fired
        assert sum(len(o.placed) for o in orders.values()) >= 20
        assert all(o.refused() == [] for o in orders.values())
    finally:
        for session in sessions.values():
            await session.close()
        await sim.stop()
