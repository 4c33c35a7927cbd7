"""The spread engine's C pair core against the same rules in Python integers.

`PairCore.refresh` compares products of book costs and threshold constants in 128 bits when they
fit and in Python integers when they do not; either way its crossings must be exactly the ones
the rules in `arbiter.market.spread` give.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.market import OrderBook, Side
from arbiter.market._book import (
    ENTRY_OFF,
    ENTRY_ON,
    ENTRY_THIN,
    EXIT_OFF,
    EXIT_ON,
    EXIT_THIN,
    NEED_BOOKS,
    STALE,
    PairCore,
)
from arbiter.market.book import UNITS_MAX

levels = st.lists(
    st.tuples(st.integers(1, 60) | st.integers(UNITS_MAX - 60, UNITS_MAX), st.integers(0, 9)),
    max_size=5,
)
# small constants, ones whose products need more than 128 bits, and negative ones
rule = st.integers(-(10**6), 10**6) | st.integers(-(2**200), 2**200)
# the hysteresis: how far the hold bar lies behind the on bar (never ahead, as the engine builds
# them), so a figure whose costs did not change cannot cross
gap = st.integers(0, 10**6) | st.integers(0, 2**200)


def _cost(best_first: list[tuple[int, int]], qty: int) -> int | None:
    remaining, cost = qty, 0
    for price, size in best_first:
        take = min(size, remaining)
        cost += price * take
        remaining -= take
        if remaining == 0:
            return cost or None  # a zero cost is no spread
    return None


@settings(derandomize=True, max_examples=400)
@given(
    st.lists(st.tuples(levels, levels, levels, levels), min_size=1, max_size=6),
    st.tuples(rule, rule, gap, rule, rule, gap),
    st.integers(1, 12),
    st.integers(1, 12),
)
def test_refresh_when_any_books_and_rules_matches_python_integers(
    updates: list[tuple[list[tuple[int, int]], ...]],
    rules: tuple[int, int, int, int, int, int],
    spot_qty: int,
    perp_qty: int,
) -> None:
    entry_a, entry_on, entry_gap, exit_a, exit_on, exit_gap = rules
    entry_hold, exit_hold = entry_on - entry_gap, exit_on + exit_gap
    spot = OrderBook("s", "X", 0, 0)
    perp = OrderBook("p", "X", 0, 0)
    pair = PairCore()
    assert pair.refresh() == NEED_BOOKS
    pair.set_rules(spot_qty, perp_qty, entry_a, entry_on, entry_hold, exit_a, exit_on, exit_hold)
    pair.bind(spot, perp)
    assert pair.refresh() == STALE  # books start stale
    spot.reset([], [])
    perp.reset([], [])
    spot.stale = perp.stale = False
    entry_active = exit_active = False
    for spot_bids, spot_asks, perp_bids, perp_asks in updates:
        spot.apply(spot_bids, spot_asks)
        perp.apply(perp_bids, perp_asks)
        flags = pair.refresh()

        spot_ask = _cost(spot.depth(Side.ASK), spot_qty)
        perp_bid = _cost(perp.depth(Side.BID), perp_qty)
        spot_bid = _cost(spot.depth(Side.BID), spot_qty)
        perp_ask = _cost(perp.depth(Side.ASK), perp_qty)
        assert (pair.spot_ask, pair.perp_bid, pair.spot_bid, pair.perp_ask) == (
            spot_ask,
            perp_bid,
            spot_bid,
            perp_ask,
        )
        expected = 0
        if spot_ask and perp_bid:
            gain = perp_bid * entry_a
            if entry_active and gain < spot_ask * entry_hold:
                entry_active, expected = False, expected | ENTRY_OFF
            elif not entry_active and gain >= spot_ask * entry_on:
                entry_active, expected = True, expected | ENTRY_ON
        elif entry_active:
            entry_active, expected = False, expected | ENTRY_THIN
        if spot_bid and perp_ask:
            cost = perp_ask * exit_a
            if exit_active and cost >= spot_bid * exit_hold:
                exit_active, expected = False, expected | EXIT_OFF
            elif not exit_active and cost < spot_bid * exit_on:
                exit_active, expected = True, expected | EXIT_ON
        elif exit_active:
            exit_active, expected = False, expected | EXIT_THIN
        # The core recomputes only figures whose sides' epochs moved; with the hold bar behind
        # the on bar an unchanged figure cannot cross, so the flags agree with the rules above.
        assert flags == expected
        assert (pair.entry_active, pair.exit_active) == (entry_active, exit_active)
