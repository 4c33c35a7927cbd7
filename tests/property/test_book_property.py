"""OrderBook against a naive dict book: any sequence of resets and updates agrees on every query."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.market import OrderBook, Side

levels = st.lists(st.tuples(st.integers(1, 60), st.integers(0, 50)), max_size=8)
operations = st.lists(
    st.tuples(st.sampled_from(["reset", "apply"]), levels, levels), min_size=1, max_size=40
)


def _naive_cost(side: dict[int, int], best_first: list[int], size: int) -> int | None:
    remaining, cost = size, 0
    for price in best_first:
        take = min(remaining, side[price])
        cost += take * price
        remaining -= take
        if remaining == 0:
            return cost
    return None


@settings(derandomize=True, max_examples=300)
@given(operations, st.integers(1, 200))
def test_book_when_fed_any_sequence_matches_naive_book(
    ops: list[tuple[str, list[tuple[int, int]], list[tuple[int, int]]]], take: int
) -> None:
    book = OrderBook("v", "S", 0, 0)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for op, bid_levels, ask_levels in ops:
        if op == "reset":
            bids.clear()
            asks.clear()
            book.reset(bid_levels, ask_levels)
        else:
            book.apply(bid_levels, ask_levels)
        for naive, changes in ((bids, bid_levels), (asks, ask_levels)):
            for price, size in changes:
                if size:
                    naive[price] = size
                else:
                    naive.pop(price, None)

        bid_order = sorted(bids, reverse=True)
        ask_order = sorted(asks)
        assert book.depth(Side.BID) == [(p, bids[p]) for p in bid_order]
        assert book.depth(Side.ASK) == [(p, asks[p]) for p in ask_order]
        assert book.best_bid() == ((bid_order[0], bids[bid_order[0]]) if bids else None)
        assert book.best_ask() == ((ask_order[0], asks[ask_order[0]]) if asks else None)
        assert book.is_crossed() == bool(bids and asks and bid_order[0] >= ask_order[0])
        assert book.cost_to_take(Side.ASK, take) == _naive_cost(asks, ask_order, take)
        assert book.cost_to_take(Side.BID, take) == _naive_cost(bids, bid_order, take)


queries = st.lists(st.tuples(st.sampled_from(["bid", "ask"]), st.integers(1, 120)), max_size=4)


@settings(derandomize=True, max_examples=200)
@given(
    st.lists(st.tuples(st.sampled_from(["reset", "apply"]), levels, levels, queries), max_size=30)
)
def test_cost_when_side_epoch_unchanged_equals_a_fresh_walk(
    ops: list[tuple[str, list[tuple[int, int]], list[tuple[int, int]], list[tuple[str, int]]]],
) -> None:
    # The contract the spread engine relies on: a cost read at some epoch of its side is still
    # exact while that epoch stands, whatever else changed in the book since.
    book = OrderBook("v", "S", 0, 0)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    cached: dict[tuple[str, int], tuple[int, int | None]] = {}
    for op, bid_levels, ask_levels, reads in ops:
        if op == "reset":
            bids.clear()
            asks.clear()
            book.reset(bid_levels, ask_levels)
        else:
            book.apply(bid_levels, ask_levels)
        for naive, changes in ((bids, bid_levels), (asks, ask_levels)):
            for price, size in changes:
                if size:
                    naive[price] = size
                else:
                    naive.pop(price, None)
        fresh = {
            "bid": lambda take: _naive_cost(bids, sorted(bids, reverse=True), take),
            "ask": lambda take: _naive_cost(asks, sorted(asks), take),
        }
        epochs = {"bid": book.bid_epoch, "ask": book.ask_epoch}
        for (side, take), (epoch, cost) in cached.items():
            if epoch == epochs[side]:
                assert cost == fresh[side](take)
        for side, take in reads:
            cost = book.sell_proceeds(take) if side == "bid" else book.buy_cost(take)
            assert cost == fresh[side](take)
            cached[(side, take)] = (epochs[side], cost)
