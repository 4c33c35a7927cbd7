"""Exact decimal strings to integer units and back: the only number format of the fast lane.

A book stores a price as an integer count of `10**-scale` (its *price units*) and a size the same
way with its own scale. Venues send numbers as decimal strings, so the conversion is textual and
exact: no float ever touches a price. Strings repeat a lot on a live book (the same price levels
change size over and over), so the validated conversion is cached per scale.
"""

from __future__ import annotations

import re
from decimal import Decimal

from arbiter.market._book import UNITS_MAX, parse_units

# The venues send plain non-negative decimals; anything else (sign, exponent, spaces, underscores
# that `int()` would accept) is refused rather than guessed at.
_DECIMAL_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_POW10: tuple[int, ...] = tuple(10**n for n in range(40))
_CACHE_LIMIT = 65_536

DEFAULT_SCALE = 8  # enough for every Bybit/OKX tick and lot seen so far


class UnitsError(ValueError):
    """A number that is not a non-negative decimal on the expected grid."""


class UnitParser:
    """Decimal text -> integer units at one fixed scale, with a bounded cache of known texts.

    On the hot path index `known` directly (`parser.known[text]`, one specialised lookup on an
    exact dict) and fall back to `parser[text]` on `KeyError`: that validates, converts and
    remembers. Invalid text is never remembered, so a miss is the only way it can appear.
    """

    __slots__ = ("known", "scale")

    def __init__(self, scale: int) -> None:
        if not 0 <= scale < len(_POW10):
            raise ValueError(f"expected scale in [0, {len(_POW10) - 1}], was {scale}")
        self.scale = scale
        self.known: dict[str, int] = {}

    def __getitem__(self, text: str) -> int:
        known = self.known
        value = known.get(text)
        if value is None:
            value = _parse(text, self.scale)
            if len(known) >= _CACHE_LIMIT:
                known.clear()  # memory stays bounded; a cold cache only costs a few parses
            known[text] = value
        return value

    __call__ = __getitem__

    def __contains__(self, text: object) -> bool:
        return text in self.known

    def __len__(self) -> int:
        return len(self.known)


_PARSERS: dict[int, UnitParser] = {}


def parser_for(scale: int) -> UnitParser:
    """The shared parser of one scale, so every book at that scale warms the same cache."""
    found = _PARSERS.get(scale)
    if found is None:
        found = _PARSERS[scale] = UnitParser(scale)
    return found


def _parse(text: str, scale: int) -> int:
    units = parse_units(text, scale)  # the book's own C parser: the same rules, answered fast
    if units is not None:
        return units
    # Refused: find out why, to say so.
    if not isinstance(text, str) or _DECIMAL_TEXT.fullmatch(text) is None:
        raise UnitsError(f"expected a non-negative decimal string, was {text!r}")
    whole, _, frac = text.partition(".")
    if len(frac) > scale:
        if frac[scale:].strip("0"):
            raise UnitsError(f"expected at most {scale} decimals, was {text!r}")
        frac = frac[:scale]
    units = int(whole + frac) * _POW10[scale - len(frac)]
    if units > UNITS_MAX:
        raise UnitsError(f"expected at most {UNITS_MAX} units at scale {scale}, was {text!r}")
    return units


def to_units(value: Decimal, scale: int) -> int:
    """A Decimal at the edge (config, instrument) in units of `10**-scale`, refusing rounding."""
    scaled = value.scaleb(scale)
    if scaled != scaled.to_integral_value():
        raise UnitsError(f"expected at most {scale} decimals, was {value}")
    return int(scaled)


def from_units(units: int, scale: int) -> Decimal:
    return Decimal(units).scaleb(-scale)


def scale_of(step: Decimal) -> int:
    """Decimals needed to write `step` exactly, e.g. 0.0001 -> 4, 0.5 -> 1, 10 -> 0."""
    exponent = step.normalize().as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"expected a finite step, was {step}")
    return max(0, -exponent)


def parse_decimal(text: object, what: str) -> Decimal:
    """A signed finite decimal from a venue string (rates may be negative), else UnitsError."""
    if not isinstance(text, str):
        raise UnitsError(f"expected {what} as a decimal string, was {text!r}")
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise UnitsError(f"expected {what} as a decimal string, was {text!r}") from None
    if not value.is_finite():
        raise UnitsError(f"expected {what} to be finite, was {text!r}")
    return value
