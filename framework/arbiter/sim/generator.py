"""A seeded market: correlated spot and perp mids per symbol on several venues.

Each base coin has one "true" price doing a random walk; every venue quotes it with a small
venue offset, and each perp adds a basis that mean-reverts (Ornstein-Uhlenbeck), drifts, and now
and then jumps, so spot/perp and cross-venue spreads open and close. Depth grows away from the
mid, with seeded noise. Floats drive the *model* only; every price and size that reaches a book
is snapped to the instrument's integer tick and lot grid.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.catalog import REFERENCE_PRICES
from arbiter.sim.engine import VenueEngine


@dataclass
class MarketParams:
    levels: int = 25  # per side
    vol_per_step: float = 0.0002  # relative stdev of the true price per step
    basis_mean: float = 0.0005
    basis_reversion: float = 0.05
    basis_vol: float = 0.0001
    jump_probability: float = 0.002
    jump_size: float = 0.003
    venue_offset_vol: float = 0.00005
    spread_ticks: int = 2
    level_notional: float = 20_000.0  # quote value near the touch; grows with depth


@dataclass
class MarketGenerator:
    engines: list[VenueEngine]
    seed: int = 0
    params: MarketParams = field(default_factory=MarketParams)
    _rng: random.Random = field(init=False)
    _true: dict[str, float] = field(init=False, default_factory=dict)
    _basis: dict[tuple[str, str], float] = field(init=False, default_factory=dict)
    _offset: dict[tuple[str, str], float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        for engine in self.engines:
            for inst in engine.instruments.values():
                self._true.setdefault(
                    inst.base, float(REFERENCE_PRICES.get(inst.base, Decimal(100)))
                )
                self._basis.setdefault((engine.name, inst.base), self.params.basis_mean)
                self._offset.setdefault((engine.name, inst.base), 0.0)

    def mid(self, engine: VenueEngine, inst: Instrument) -> float:
        price = self._true[inst.base] * (1 + self._offset[(engine.name, inst.base)])
        if inst.kind is InstrumentKind.PERP:
            price *= 1 + self._basis[(engine.name, inst.base)]
        return price

    def step(self) -> None:
        """Move every price once and publish one book update per instrument."""
        p, rng = self.params, self._rng
        for base in self._true:
            self._true[base] *= math.exp(rng.gauss(0, p.vol_per_step))
        for key, old in self._basis.items():
            basis = old + p.basis_reversion * (p.basis_mean - old) + rng.gauss(0, p.basis_vol)
            if rng.random() < p.jump_probability:
                basis += rng.choice((-1, 1)) * p.jump_size
            self._basis[key] = basis
        for key, off in self._offset.items():
            self._offset[key] = 0.9 * off + rng.gauss(0, p.venue_offset_vol)
        for engine in self.engines:
            for inst in engine.instruments.values():
                self.quote(engine, inst)

    def quote(self, engine: VenueEngine, inst: Instrument) -> None:
        p, rng = self.params, self._rng
        tick = float(inst.tick_size)
        mid_ticks = int(self.mid(engine, inst) / tick)
        half = max(1, p.spread_ticks // 2)
        lot_value = float(inst.base_qty(inst.lot_size)) * mid_ticks * tick
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for i in range(p.levels):
            # Thin at the touch, thicker further out: roughly what both venues show.
            notional = p.level_notional * (1 + 0.15 * i) * rng.uniform(0.3, 1.7)
            lots_b = max(1, int(notional / lot_value))
            lots_a = max(1, int(notional * rng.uniform(0.6, 1.4) / lot_value))
            bids[mid_ticks - half - i * max(1, p.spread_ticks // 2)] = lots_b
            asks[mid_ticks + half + i * max(1, p.spread_ticks // 2)] = lots_a
        engine.set_market(inst, bids, asks)
