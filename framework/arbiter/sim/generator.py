"""A seeded market: correlated spot and perp mids per symbol on several venues.

Each base coin has one "true" price doing a random walk; every venue quotes it with a small
venue offset, and each perp adds a basis that drifts and mean-reverts (Ornstein-Uhlenbeck) and
now and then jumps, so spot/perp and cross-venue spreads open and close. The model runs in
seconds (`step_seconds` per step, exact OU discretisation), so a faster update rate makes finer
steps of the same market rather than a wilder one.

Books change the way real ones do, a few levels per update: the touch follows the mid tick by
tick, deeper levels sit on a coarser price grid and only appear or vanish as the mid crosses
it, and a few resting sizes change every update. Depth grows away from the touch, with seeded
noise. Floats drive the *model* only; every price and size that reaches a book is an integer
tick or lot count on the instrument's grid.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.catalog import REFERENCE_PRICES
from arbiter.sim.engine import VenueEngine, instrument_key


@dataclass
class MarketParams:
    step_seconds: float = 0.05  # model time one step covers (`start` sets 1 / update rate)
    levels: int = 25  # per side
    price_vol: float = 0.0003  # relative stdev of the true price per sqrt(second)
    basis_mean: float = 0.0005  # the perp's long-run premium over spot
    basis_reversion: float = 1.0  # per second: how fast the basis returns to its mean
    basis_vol: float = 0.0005  # per sqrt(second): how far it drifts meanwhile
    jump_rate: float = 0.04  # basis jumps per second, per venue and coin
    jump_size: float = 0.003
    venue_offset_reversion: float = 2.0  # per second
    venue_offset_vol: float = 0.00025  # per sqrt(second)
    spread_ticks: int = 2
    level_spacing: float = 0.00002  # deeper levels' price grid, relative to the price
    level_notional: float = 20_000.0  # quote value near the touch; grows with depth
    refresh_levels: int = 2  # resting sizes that change every update
    # Depth multipliers per "venue:BASE:kind" (e.g. "okx:DOGE:perp": 0.05 for a thin perp
    # book, as illiquid listings are); books not named keep level_notional.
    depth: dict[str, float] = field(default_factory=dict)


# A market that stands still: no noise, no jumps, no resting sizes changing. Prices and the
# basis move only when told (`MarketGenerator.set_basis`, then a step), so a test or a demo
# opens a window exactly when it means to.
STILL_MARKET = MarketParams(
    price_vol=0.0,
    basis_mean=0.0,
    basis_vol=0.0,
    basis_reversion=0.0,
    jump_rate=0.0,
    venue_offset_vol=0.0,
    refresh_levels=0,
)


@dataclass
class _Side:
    """One generated side of a book: ticks -> lots; the touch, and the first grid level."""

    levels: dict[int, int] = field(default_factory=dict)
    touch: int | None = None
    first: int | None = None


@dataclass
class _Ladder:
    spacing: int
    bids: _Side = field(default_factory=_Side)
    asks: _Side = field(default_factory=_Side)


@dataclass
class MarketGenerator:
    engines: list[VenueEngine]
    seed: int = 0
    params: MarketParams = field(default_factory=MarketParams)
    _rng: random.Random = field(init=False)
    _true: dict[str, float] = field(init=False, default_factory=dict)
    _basis: dict[tuple[str, str], float] = field(init=False, default_factory=dict)
    _offset: dict[tuple[str, str], float] = field(init=False, default_factory=dict)
    _ladders: dict[tuple[str, str], _Ladder] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        p = self.params
        if p.step_seconds <= 0 or p.levels < 1 or p.spread_ticks < 1:
            raise ValueError(
                "expected step_seconds > 0, levels >= 1 and spread_ticks >= 1, was"
                f" {p.step_seconds}, {p.levels}, {p.spread_ticks}"
            )
        self._rng = random.Random(self.seed)
        for engine in self.engines:
            for inst in engine.instruments.values():
                self._true.setdefault(
                    inst.base, float(REFERENCE_PRICES.get(inst.base, Decimal(100)))
                )
                self._basis.setdefault((engine.name, inst.base), p.basis_mean)
                self._offset.setdefault((engine.name, inst.base), 0.0)

    def mid(self, engine: VenueEngine, inst: Instrument) -> float:
        price = self._true[inst.base] * (1 + self._offset[(engine.name, inst.base)])
        if inst.kind is InstrumentKind.PERP:
            price *= 1 + self._basis[(engine.name, inst.base)]
        return price

    def basis(self, venue: str, base: str) -> float:
        return self._basis[(venue, base)]

    def set_basis(self, venue: str, base: str, basis: float) -> None:
        """Put a venue's perp premium over spot at `basis` (a test or demo opening a window);
        the model moves on from there at the next step."""
        if (venue, base) not in self._basis:
            raise KeyError(f"expected a simulated venue and coin, was {venue}:{base}")
        self._basis[(venue, base)] = basis

    def step(self) -> None:
        """Move the model by `step_seconds` and publish one book update per instrument."""
        p, rng, dt = self.params, self._rng, self.params.step_seconds
        price_sd = p.price_vol * math.sqrt(dt)
        for base in self._true:
            self._true[base] *= math.exp(rng.gauss(0, price_sd))
        keep, noise = _ou(p.basis_reversion, p.basis_vol, dt)
        jump = 1 - math.exp(-p.jump_rate * dt)
        for key, old in self._basis.items():
            basis = p.basis_mean + (old - p.basis_mean) * keep + rng.gauss(0, noise)
            if rng.random() < jump:
                basis += rng.choice((-1, 1)) * p.jump_size
            self._basis[key] = basis
        keep, noise = _ou(p.venue_offset_reversion, p.venue_offset_vol, dt)
        for key, off in self._offset.items():
            self._offset[key] = off * keep + rng.gauss(0, noise)
        for engine in self.engines:
            for inst in engine.instruments.values():
                self.quote(engine, inst)

    def quote(self, engine: VenueEngine, inst: Instrument) -> None:
        """Requote one book around its model mid; only what changed reaches the engine."""
        p, rng = self.params, self._rng
        tick = float(inst.tick_size)
        mid_ticks = int(self.mid(engine, inst) / tick)
        key = (engine.name, instrument_key(inst))
        ladder = self._ladders.get(key)
        if ladder is None:
            ladder = _Ladder(spacing=max(1, round(mid_ticks * p.level_spacing)))
            self._ladders[key] = ladder
        lot_value = float(inst.base_qty(inst.lot_size)) * mid_ticks * tick
        lot_value /= p.depth.get(f"{engine.name}:{inst.base}:{inst.kind.value}", 1.0)
        half = max(1, p.spread_ticks // 2)
        spacing = ladder.spacing
        best_bid, best_ask = mid_ticks - half, mid_ticks + half
        first_bid = (best_bid - 1) // spacing * spacing  # the grid level strictly below the bid
        first_ask = -(-(best_ask + 1) // spacing) * spacing  # and strictly above the ask
        bid_changes = _requote(
            ladder.bids, touch=best_bid, first=first_bid, step=-spacing, lot_value=lot_value,
            p=p, rng=rng,
        )  # fmt: skip
        ask_changes = _requote(
            ladder.asks, touch=best_ask, first=first_ask, step=spacing, lot_value=lot_value,
            p=p, rng=rng,
        )  # fmt: skip
        for _ in range(p.refresh_levels):
            side, changes = (
                (ladder.bids, bid_changes) if rng.random() < 0.5 else (ladder.asks, ask_changes)
            )
            ticks = side.first if side.first is not None and rng.random() < 0.5 else side.touch
            if ticks is not None and ticks in side.levels:
                lots = max(1, int(side.levels[ticks] * rng.uniform(0.7, 1.3)))
                side.levels[ticks] = changes[ticks] = lots
        engine.update_market(inst, bid_changes, ask_changes)


def _ou(reversion: float, vol: float, dt: float) -> tuple[float, float]:
    """Exact Ornstein-Uhlenbeck step: what fraction of the gap to the mean is kept, and the
    stdev of the noise added, over `dt` seconds."""
    keep = math.exp(-reversion * dt)
    if reversion <= 0:
        return 1.0, vol * math.sqrt(dt)
    return keep, vol * math.sqrt((1 - keep * keep) / (2 * reversion))


def _requote(
    side: _Side,
    *,
    touch: int,
    first: int,
    step: int,
    lot_value: float,
    p: MarketParams,
    rng: random.Random,
) -> dict[int, int]:
    """Move one side to its new touch and grid, keeping the sizes of levels that stay; returns
    the changed levels (ticks -> lots, 0 for a level that went)."""
    changes: dict[int, int] = {}
    levels = side.levels
    if first != side.first:  # the mid crossed a grid level: the deep ladder moves
        wanted = {first + i * step for i in range(p.levels - 1)}
        for ticks in [t for t in levels if t not in wanted]:
            del levels[ticks]
            changes[ticks] = 0
        for depth, ticks in enumerate(sorted(wanted, reverse=step < 0), start=1):
            if ticks not in levels:
                levels[ticks] = changes[ticks] = _size(depth, lot_value, p, rng)
        side.first, side.touch = first, None
    if touch != side.touch:  # the touch follows the mid tick by tick
        if side.touch is not None:
            levels.pop(side.touch, None)
            changes[side.touch] = 0
        if touch not in levels:  # (a touch on a grid level is that level)
            levels[touch] = changes[touch] = _size(0, lot_value, p, rng)
        side.touch = touch
    return changes


def _size(depth: int, lot_value: float, p: MarketParams, rng: random.Random) -> int:
    # Thin at the touch, thicker further out: roughly what both venues show.
    notional = p.level_notional * (1 + 0.15 * depth) * rng.uniform(0.3, 1.7)
    return max(1, int(notional / lot_value))
