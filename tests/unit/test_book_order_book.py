"""OrderBook: exact levels, best prices, depth, cost-to-take (VWAP), staleness and age."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arbiter.market import OrderBook, Side
from arbiter.market.book import UNITS_MAX


def _book() -> OrderBook:
    book = OrderBook("bybit", "BTCUSDT", price_scale=1, size_scale=3)
    # bids 100.0 x 1.000, 99.5 x 2.000 ; asks 100.5 x 0.500, 101.0 x 4.000
    book.reset([(1000, 1000), (995, 2000)], [(1005, 500), (1010, 4000)], ts_ms=1_000)
    return book


def test_new_book_when_no_snapshot_is_stale_and_empty() -> None:
    book = OrderBook("okx", "X", 2, 2)
    assert book.stale
    assert book.best_bid() is None
    assert book.best_ask() is None


def test_reset_when_given_levels_orders_sides_and_clears_stale() -> None:
    book = _book()
    assert not book.stale
    assert book.best_bid() == (1000, 1000)
    assert book.best_ask() == (1005, 500)
    assert book.depth(Side.BID) == [(1000, 1000), (995, 2000)]
    assert book.depth(Side.ASK, 1) == [(1005, 500)]


def test_apply_when_better_bid_inserted_becomes_best() -> None:
    book = _book()
    book.apply([(1002, 7)], [], ts_ms=2_000)
    assert book.best_bid() == (1002, 7)
    assert book.level_count(Side.BID) == 3
    assert book.updated_ms == 2_000


def test_apply_when_best_ask_deleted_next_level_is_best() -> None:
    book = _book()
    book.apply([], [(1005, 0)])
    assert book.best_ask() == (1010, 4000)
    assert book.level_count(Side.ASK) == 1


def test_apply_when_deleting_unknown_level_changes_nothing() -> None:
    book = _book()
    book.apply([(1, 0)], [(2_000, 0)])
    assert book.level_count(Side.BID) == 2
    assert book.level_count(Side.ASK) == 2


def test_apply_when_existing_level_resized_keeps_order() -> None:
    book = _book()
    book.apply([(995, 5)], [])
    assert book.depth(Side.BID) == [(1000, 1000), (995, 5)]
    assert book.size_at(Side.BID, 995) == 5
    assert book.size_at(Side.ASK, 995) == 0


def test_is_crossed_when_bid_reaches_ask_is_true() -> None:
    book = _book()
    assert not book.is_crossed()
    book.apply([(1005, 1)], [])
    assert book.is_crossed()


def test_cost_to_take_when_size_spans_levels_sums_each_level() -> None:
    book = _book()
    # buy 1.5: 0.5 @ 100.5 + 1.0 @ 101.0, in price units x size units
    assert book.cost_to_take(Side.ASK, 1500) == 1005 * 500 + 1010 * 1000
    assert book.cost_to_take(Side.BID, 1000) == 1000 * 1000


def test_cost_to_take_when_side_too_thin_is_none() -> None:
    assert _book().cost_to_take(Side.ASK, 4501) is None


def test_cost_to_take_when_size_not_positive_raises_naming_value() -> None:
    with pytest.raises(ValueError, match="expected positive size, was -1"):
        _book().cost_to_take(Side.ASK, -1)


def test_vwap_when_size_spans_levels_is_exact_decimal() -> None:
    book = _book()
    expected = (Decimal("100.5") * Decimal("0.5") + Decimal("101.0") * Decimal("1.0")) / Decimal(
        "1.5"
    )
    assert book.vwap(Side.ASK, Decimal("1.5")) == expected
    assert book.vwap(Side.ASK, Decimal("100")) is None


def test_age_when_asked_counts_from_last_update() -> None:
    assert _book().age_ms(1_250) == 250


def test_mark_stale_when_called_keeps_levels_and_reason() -> None:
    book = _book()
    book.mark_stale("gap")
    assert book.stale
    assert book.stale_reason == "gap"
    assert book.best_bid() == (1000, 1000)


def test_price_and_size_when_converted_are_exact_decimals() -> None:
    book = _book()
    assert book.price(1005) == Decimal("100.5")
    assert book.size(500) == Decimal("0.5")


def test_apply_when_a_level_is_beyond_the_bound_refuses_all_levels_naming_value() -> None:
    book = _book()
    before = (book.depth(Side.BID), book.depth(Side.ASK))
    with pytest.raises(OverflowError, match=f"expected a price of at most {UNITS_MAX} units"):
        book.apply([(999, 1), (UNITS_MAX + 1, 1)], [])
    assert (book.depth(Side.BID), book.depth(Side.ASK)) == before


def test_apply_when_a_size_is_negative_refuses_naming_value() -> None:
    book = _book()
    with pytest.raises(ValueError, match="expected a non-negative size, was -5"):
        book.apply([], [(1006, -5)])
    assert book.size_at(Side.ASK, 1006) == 0


def test_apply_when_level_is_not_a_pair_refuses() -> None:
    with pytest.raises(ValueError, match=r"expected a \(price, size\) level"):
        _book().apply([(1, 2, 3)], [])


def test_cost_when_prices_and_size_at_the_bound_is_exact() -> None:
    book = OrderBook("v", "S", 0, 0)
    book.reset([(UNITS_MAX, 1)], [(UNITS_MAX - 1, 1), (UNITS_MAX, UNITS_MAX)])
    assert book.buy_cost(UNITS_MAX) == (UNITS_MAX - 1) + UNITS_MAX * (UNITS_MAX - 1)
    assert book.sell_proceeds(1) == UNITS_MAX
    assert book.sell_proceeds(2) is None  # more than the side holds
    with pytest.raises(OverflowError, match=f"expected a size of at most {UNITS_MAX} units"):
        book.buy_cost(UNITS_MAX + 1)


def test_apply_when_many_levels_inserted_keeps_order() -> None:
    # More levels than the C core keeps on its stack, in the worst order for insertion.
    book = OrderBook("v", "S", 0, 0)
    book.reset([], [])
    book.apply([(p, p) for p in range(1, 301)], [(p, 1) for p in range(1000, 700, -1)])
    assert book.depth(Side.BID, 3) == [(300, 300), (299, 299), (298, 298)]
    assert book.depth(Side.ASK, 2) == [(701, 1), (702, 1)]
    assert book.level_count(Side.BID) == 300
    assert book.level_count(Side.ASK) == 300
    assert book.size_at(Side.BID, 150) == 150


def test_apply_next_json_when_update_follows_applies_and_advances_update_id() -> None:
    book = _book()
    book.update_id = 41
    assert book.apply_next_json(42, b'[["100.1","0.250"]]', b"[]", 3_000) == (
        [(1001, 250)],
        [],
        False,
    )
    assert book.update_id == 42
    assert book.best_bid() == (1001, 250)
    assert book.updated_ms == 3_000


@pytest.mark.parametrize(
    ("stale", "update_id", "bids"),
    [
        (False, 44, b'[["100.1","0.250"]]'),  # a gap: not the last one + 1
        (False, 41, b'[["100.1","0.250"]]'),  # a repeat
        (True, 42, b'[["100.1","0.250"]]'),  # the book waits for a snapshot
        (False, 42, b'[["100.15","0.250"]]'),  # off the price grid
        (False, 42, b'[["100.1","-1"]]'),  # not a plain decimal
    ],
)
def test_apply_next_json_when_not_the_next_live_update_declines_untouched(
    stale: bool, update_id: int, bids: bytes
) -> None:
    book = _book()
    book.update_id = 41
    book.stale = stale
    before = (book.depth(Side.BID), book.depth(Side.ASK), book.bid_epoch, book.updated_ms)
    assert book.apply_next_json(update_id, bids, b"[]", 3_000) is None
    assert (book.depth(Side.BID), book.depth(Side.ASK), book.bid_epoch, book.updated_ms) == before
    assert book.update_id == 41
