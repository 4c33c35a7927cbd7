"""SpreadEngine: exact fee- and VWAP-aware spreads, threshold crossings with hysteresis, dirty set."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

import pytest

from arbiter.market import (
    Instrument,
    InstrumentKind,
    LegRef,
    OrderBook,
    PairSpec,
    SignalKind,
    SpreadEngine,
)

SPOT = Instrument(
    "bybit", "BTCUSDT", InstrumentKind.SPOT, "BTC", "USDT", Decimal("0.1"), Decimal("0.001"),
    taker_fee=Decimal("0.001"),
)  # fmt: skip
PERP = Instrument(
    "okx", "BTC-USDT-SWAP", InstrumentKind.PERP, "BTC", "USDT", Decimal("0.1"), Decimal("0.01"),
    contract_value=Decimal("0.01"), taker_fee=Decimal("0.0005"),
)  # fmt: skip


def _pair(pair_id: str = "btc", **overrides: Decimal) -> PairSpec:
    fields = {
        "size": Decimal("0.2"),
        "entry_bps": Decimal("10"),
        "exit_bps": Decimal("2"),
        "hysteresis_bps": Decimal("3"),
    }
    fields.update(overrides)
    return PairSpec(
        pair_id,
        LegRef("bybit", "BTCUSDT"),
        LegRef("okx", "BTC-USDT-SWAP"),
        fields["size"],
        fields["entry_bps"],
        fields["exit_bps"],
        fields["hysteresis_bps"],
    )


class World:
    """Two books the test moves by hand, and an engine watching them."""

    def __init__(self, *pairs: PairSpec) -> None:
        self.spot = OrderBook("bybit", "BTCUSDT", price_scale=1, size_scale=3)
        self.perp = OrderBook("okx", "BTC-USDT-SWAP", price_scale=1, size_scale=2)
        self.books = {"bybit": {"BTCUSDT": self.spot}, "okx": {"BTC-USDT-SWAP": self.perp}}
        self.engine = SpreadEngine(pairs or (_pair(),), [SPOT, PERP], self.books)

    def quote(self, spot_bid: str, spot_ask: str, perp_bid: str, perp_ask: str) -> None:
        """Deep single levels (100 BTC each side) at the given prices, then mark both dirty."""
        self.spot.reset([(_p(spot_bid), 100_000)], [(_p(spot_ask), 100_000)])
        self.perp.reset([(_p(perp_bid), 10_000_00)], [(_p(perp_ask), 10_000_00)])
        self.engine.mark_dirty("bybit", "BTCUSDT")
        self.engine.mark_dirty("okx", "BTC-USDT-SWAP")


def _p(price: str) -> int:
    return int(Decimal(price) * 10)


def _expected_bps(
    sell: Decimal, sell_fee: Decimal, buy: Decimal, buy_fee: Decimal, base: Decimal
) -> Decimal:
    raw = (sell * (1 - sell_fee) - buy * (1 + buy_fee)) / base * 10_000
    return raw.quantize(Decimal("0.000001"), rounding=ROUND_FLOOR)


def test_entry_spread_when_size_spans_levels_uses_vwap_after_fees() -> None:
    world = World()
    # spot asks: 0.1 BTC @ 50000, 0.1 @ 50010 -> VWAP 50005 for 0.2 BTC
    world.spot.reset([(_p("49990"), 1_000)], [(_p("50000"), 100), (_p("50010"), 100)])
    # perp bids (size units of 0.01 contract): 10 contracts @ 50100, 10 @ 50090; 0.2 BTC = 20
    world.perp.reset([(_p("50100"), 1000), (_p("50090"), 1000)], [(_p("50110"), 5000)])
    perp_vwap = Decimal("50095")  # 10 contracts at each level
    world.engine.mark_dirty("bybit", "BTCUSDT")

    world.engine.recompute()

    entry, exit_ = world.engine.spreads("btc")
    spot_vwap = Decimal("50005")
    assert entry == _expected_bps(perp_vwap, PERP.taker_fee, spot_vwap, SPOT.taker_fee, spot_vwap)
    # exit: buy perp at 50110 (+fee), sell spot at 49990 (-fee), over the spot bid
    expected_exit = -_expected_bps(
        Decimal("49990"), SPOT.taker_fee, Decimal("50110"), PERP.taker_fee, Decimal("49990")
    )
    assert exit_ is not None
    assert abs(exit_ - expected_exit) <= Decimal("0.000001")


def test_recompute_when_entry_crosses_threshold_signals_once() -> None:
    world = World()
    world.quote("49990", "50000", "50140", "50150")  # entry about 13 bp after fees
    entry, _ = world.engine.spreads("btc")
    assert entry is None  # nothing computed before recompute
    signals = world.engine.recompute()
    entry, _ = world.engine.spreads("btc")
    assert entry is not None
    assert entry >= Decimal("10")
    assert [(s.kind, s.active) for s in signals] == [(SignalKind.ENTRY, True)]
    assert signals[0].spread_bps == entry

    world.quote("49990", "50000", "50145", "50150")  # still above: no new signal
    assert world.engine.recompute() == []


def test_recompute_when_entry_dips_inside_hysteresis_band_stays_active() -> None:
    world = World()
    world.quote("49990", "50000", "50140", "50150")
    world.engine.recompute()
    world.quote("49990", "50000", "50120", "50150")  # about 9 bp: below 10 but above 10 - 3
    assert world.engine.recompute() == []
    world.quote("49990", "50000", "50100", "50150")  # about 5 bp: below 7
    signals = world.engine.recompute()
    assert [(s.kind, s.active) for s in signals] == [(SignalKind.ENTRY, False)]


def test_recompute_when_basis_converges_signals_exit() -> None:
    world = World()
    world.quote("50000", "50001", "50002", "50003")  # exit cost ~ 15 bp of fees: above 2
    assert [s.kind for s in world.engine.recompute()] == []
    world.quote("50080", "50090", "49990", "50000")  # perp below spot: exit spread negative
    signals = world.engine.recompute()
    assert [(s.kind, s.active) for s in signals] == [(SignalKind.EXIT, True)]
    assert signals[0].spread_bps is not None
    assert signals[0].spread_bps <= Decimal("2")


def test_recompute_when_leg_goes_stale_deactivates_with_unknown_spread() -> None:
    world = World()
    world.quote("49990", "50000", "50140", "50150")
    world.engine.recompute()
    world.perp.mark_stale("gap")
    world.engine.mark_dirty("okx", "BTC-USDT-SWAP")
    (signal,) = world.engine.recompute()
    assert (signal.kind, signal.active, signal.spread_bps) == (SignalKind.ENTRY, False, None)
    assert signal.reason == "book stale"


def test_recompute_when_book_too_thin_for_size_leaves_spread_unknown() -> None:
    world = World()
    world.spot.reset([(_p("49990"), 100)], [(_p("50000"), 100)])  # 0.1 BTC < size 0.2
    world.perp.reset([(_p("50100"), 1000)], [(_p("50110"), 1000)])
    world.engine.mark_dirty("bybit", "BTCUSDT")
    assert world.engine.recompute() == []
    assert world.engine.spreads("btc") == (None, None)


def test_recompute_when_only_one_pairs_book_dirty_recomputes_only_that_pair() -> None:
    other = PairSpec(
        "eth",
        LegRef("bybit", "ETHUSDT"),
        LegRef("okx", "ETH-USDT-SWAP"),
        Decimal(1),
        Decimal(10),
        Decimal(2),
    )
    eth_spot = Instrument(
        "bybit", "ETHUSDT", InstrumentKind.SPOT, "ETH", "USDT", Decimal("0.01"), Decimal("0.001")
    )
    eth_perp = Instrument(
        "okx",
        "ETH-USDT-SWAP",
        InstrumentKind.PERP,
        "ETH",
        "USDT",
        Decimal("0.01"),
        Decimal("0.01"),
        contract_value=Decimal("0.1"),
    )
    world = World()
    eth_books = {
        "ETHUSDT": OrderBook("bybit", "ETHUSDT", 2, 3),
        "ETH-USDT-SWAP": OrderBook("okx", "ETH-USDT-SWAP", 2, 2),
    }
    for book in eth_books.values():
        book.reset([(300_000, 10**6)], [(300_100, 10**6)])
    books = {
        "bybit": {**world.books["bybit"], "ETHUSDT": eth_books["ETHUSDT"]},
        "okx": {**world.books["okx"], "ETH-USDT-SWAP": eth_books["ETH-USDT-SWAP"]},
    }
    engine = SpreadEngine([_pair(), other], [SPOT, PERP, eth_spot, eth_perp], books)
    world.spot.reset([(_p("49990"), 10**6)], [(_p("50000"), 10**6)])
    world.perp.reset([(_p("50100"), 10**6)], [(_p("50110"), 10**6)])

    engine.mark_dirty("okx", "BTC-USDT-SWAP")
    engine.recompute()

    assert engine.spreads("btc")[0] is not None
    assert engine.spreads("eth") == (None, None)  # its books never marked dirty
    assert engine.recompute() == []  # dirty set consumed


def test_engine_when_leg_instrument_missing_refuses_pair() -> None:
    with pytest.raises(ValueError, match="expected an instrument for okx:BTC-USDT-SWAP"):
        SpreadEngine([_pair()], [SPOT], {})


def test_engine_when_pair_id_repeated_refuses() -> None:
    with pytest.raises(ValueError, match="expected unique pair ids, was 'btc' twice"):
        SpreadEngine([_pair(), _pair()], [SPOT, PERP], {})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("size", Decimal(0), "expected positive size, was 0"),
        ("hysteresis_bps", Decimal(-1), "expected hysteresis_bps >= 0, was -1"),
    ],
)
def test_pair_spec_when_value_invalid_names_what_was_expected(
    field: str, value: Decimal, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _pair(**{field: value})
