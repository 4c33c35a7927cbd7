"""Decimal strings to integer units: exact, strict, bounded cache."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arbiter.market.units import (
    UnitParser,
    UnitsError,
    from_units,
    parse_decimal,
    scale_of,
    to_units,
)


@pytest.mark.parametrize(
    ("text", "scale", "units"),
    [
        ("1.9531", 4, 19531),
        ("1.9531", 8, 195310000),
        ("27450.00", 1, 274500),
        ("6203", 0, 6203),
        ("0", 3, 0),
        ("0.10", 2, 10),
    ],
)
def test_parser_when_text_on_grid_returns_exact_units(text: str, scale: int, units: int) -> None:
    assert UnitParser(scale)(text) == units


@pytest.mark.parametrize("text", ["-1", "1e3", " 1", "1_000", "", ".5", "5.", "nan", "+1"])
def test_parser_when_text_not_plain_decimal_raises(text: str) -> None:
    with pytest.raises(UnitsError, match="expected a non-negative decimal string"):
        UnitParser(4)(text)


def test_parser_when_more_decimals_than_scale_raises_naming_value() -> None:
    with pytest.raises(UnitsError, match=r"expected at most 2 decimals, was '1.001'"):
        UnitParser(2)("1.001")


def test_parser_when_called_twice_returns_cached_value() -> None:
    parser = UnitParser(2)
    assert parser("1.5") == parser("1.5") == 150


def test_to_units_and_back_when_exact_round_trips() -> None:
    assert to_units(Decimal("12.5"), 6) == 12_500_000
    assert from_units(12_500_000, 6) == Decimal("12.5")
    with pytest.raises(UnitsError):
        to_units(Decimal("0.0000001"), 6)


@pytest.mark.parametrize(("step", "scale"), [("0.0001", 4), ("0.5", 1), ("10", 0), ("0.10", 1)])
def test_scale_of_when_step_given_counts_needed_decimals(step: str, scale: int) -> None:
    assert scale_of(Decimal(step)) == scale


def test_parse_decimal_when_negative_rate_accepts_and_nonsense_refuses() -> None:
    assert parse_decimal("-0.000212", "rate") == Decimal("-0.000212")
    with pytest.raises(UnitsError, match="expected rate as a decimal string, was 'x'"):
        parse_decimal("x", "rate")
    with pytest.raises(UnitsError, match="finite"):
        parse_decimal("Infinity", "rate")


def test_parser_when_indexed_with_bad_text_raises_and_remembers_nothing() -> None:
    parser = UnitParser(2)
    with pytest.raises(UnitsError):
        parser["-5"]
    assert "-5" not in parser
    assert parser["5"] == 500
    assert "5" in parser


def test_parser_when_beyond_what_a_book_holds_raises_naming_value() -> None:
    from arbiter.market.book import UNITS_MAX

    assert UnitParser(0)(str(UNITS_MAX)) == UNITS_MAX
    with pytest.raises(UnitsError, match=f"expected at most {UNITS_MAX} units at scale 2"):
        UnitParser(2)("92233720368547758.07")
