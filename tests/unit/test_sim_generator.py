"""The market generator: a basis that drifts, mean-reverts and jumps, correlated mids, and
books that change a few levels per update on the instruments' grids."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest

from arbiter.market.instrument import InstrumentKind
from arbiter.sim.book import Side
from arbiter.sim.catalog import venue_instruments
from arbiter.sim.clock import FakeClock
from arbiter.sim.engine import VenueEngine
from arbiter.sim.events import BookChanged, Event
from arbiter.sim.generator import MarketGenerator, MarketParams


def _engines(symbols: tuple[str, ...] = ("BTC/USDT",)) -> list[VenueEngine]:
    return [
        VenueEngine(name, venue_instruments(name, symbols), clock=FakeClock())
        for name in ("bybit", "okx")
    ]


def _quiet(**changes: float) -> MarketParams:
    """A model with every random part off unless switched on."""
    base = {"basis_vol": 0.0, "jump_rate": 0.0, "price_vol": 0.0, "venue_offset_vol": 0.0}
    return MarketParams(**(base | changes))


def test_basis_when_jumped_mean_reverts_at_its_rate() -> None:
    params = _quiet(basis_reversion=2.0, jump_rate=1e9, step_seconds=0.05)
    gen = MarketGenerator(_engines(), seed=1, params=params)
    gen.step()  # a jump is all but certain at this rate
    gap = gen.basis("okx", "BTC") - params.basis_mean
    assert abs(gap) == pytest.approx(params.jump_size)

    params.jump_rate = 0.0
    for _ in range(10):
        gen.step()

    expected = gap * math.exp(-params.basis_reversion * 10 * params.step_seconds)
    assert gen.basis("okx", "BTC") - params.basis_mean == pytest.approx(expected)


def test_basis_when_only_noise_drifts_with_its_volatility() -> None:
    params = _quiet(basis_reversion=0.0, basis_vol=0.001, step_seconds=0.05)
    gen = MarketGenerator(_engines(), seed=2, params=params)
    path = []
    for _ in range(400):
        gen.step()
        path.append(gen.basis("bybit", "BTC"))

    moves = [b - a for a, b in itertools.pairwise(path)]
    assert statistics.stdev(moves) == pytest.approx(0.001 * math.sqrt(0.05), rel=0.15)
    assert path[-1] != params.basis_mean


def test_basis_when_left_to_run_settles_around_mean_with_ou_spread() -> None:
    params = _quiet(basis_reversion=2.0, basis_vol=0.001, step_seconds=0.05)
    gen = MarketGenerator(_engines(), seed=3, params=params)
    path = []
    for _ in range(4000):
        gen.step()
        path.append(gen.basis("bybit", "BTC"))

    # Ornstein-Uhlenbeck: stationary stdev vol / sqrt(2 * reversion), centred on the mean.
    assert statistics.fmean(path) == pytest.approx(params.basis_mean, abs=0.0001)
    assert statistics.stdev(path) == pytest.approx(0.001 / math.sqrt(4.0), rel=0.2)
    crossings = sum(
        1
        for a, b in itertools.pairwise(path)
        if (a - params.basis_mean) * (b - params.basis_mean) < 0
    )
    assert crossings > 20  # the window opens and closes again and again


def test_mids_when_running_stay_correlated_and_perp_carries_the_basis() -> None:
    engines = _engines()
    gen = MarketGenerator(engines, seed=4)
    for _ in range(500):
        gen.step()

    mids = {(e.name, i.kind): gen.mid(e, i) for e in engines for i in e.instruments.values()}
    spot_b, spot_o = mids[("bybit", InstrumentKind.SPOT)], mids[("okx", InstrumentKind.SPOT)]
    assert abs(spot_b / spot_o - 1) < 0.002  # one true price, small venue offsets
    for engine in engines:
        perp_over_spot = (
            mids[(engine.name, InstrumentKind.PERP)] / mids[(engine.name, InstrumentKind.SPOT)]
        )
        assert perp_over_spot - 1 == pytest.approx(gen.basis(engine.name, "BTC"))


def test_books_when_stepping_at_a_fast_rate_change_a_few_levels_per_update() -> None:
    engines = _engines()
    deltas: list[int] = []

    def count(event: Event) -> None:
        if isinstance(event, BookChanged):
            deltas.append(len(event.delta.bids) + len(event.delta.asks))

    for engine in engines:
        engine.listeners.append(count)
    params = MarketParams(step_seconds=1 / 600)
    gen = MarketGenerator(engines, seed=5, params=params)
    gen.step()  # the first quote fills the books
    deltas.clear()
    for _ in range(600):
        gen.step()

    assert len(deltas) == 600 * 4  # every step updates every book once
    assert statistics.fmean(deltas) < 8
    for engine in engines:
        for inst in engine.instruments.values():
            book = engine.book(inst)
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None
            assert ask is not None
            assert bid < ask
            assert len(book.bids) == len(book.asks) == params.levels


def test_generator_when_same_seed_builds_same_books() -> None:
    def books(seed: int) -> list[list[tuple[int, int]]]:
        engines = _engines()
        gen = MarketGenerator(engines, seed=seed)
        for _ in range(50):
            gen.step()
        return [
            e.book(i).depth(side, 100)
            for e in engines
            for i in e.instruments.values()
            for side in (Side.BUY, Side.SELL)
        ]

    assert books(6) == books(6)
    assert books(6) != books(7)


def test_params_when_step_not_positive_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="step_seconds > 0"):
        MarketGenerator(_engines(), params=MarketParams(step_seconds=0))


def test_depth_when_a_book_is_named_thin_holds_that_share_of_the_liquidity() -> None:
    def resting_base(depth: dict[str, float]) -> dict[str, float]:
        engines = _engines()
        gen = MarketGenerator(engines, seed=4, params=MarketParams(depth=depth))
        gen.step()
        out = {}
        for engine in engines:
            for inst in engine.instruments.values():
                lots = sum(q for _, q in engine.book(inst).depth(Side.BUY, 100))
                out[f"{engine.name}:{inst.kind.value}"] = float(inst.base_qty(lots * inst.lot_size))
        return out

    normal = resting_base({})
    thin = resting_base({"okx:BTC:perp": 0.05})
    assert thin["okx:perp"] < normal["okx:perp"] * 0.1
    assert thin["bybit:perp"] == normal["bybit:perp"]  # only the named book is thinned
