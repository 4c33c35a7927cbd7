"""Reading fields of a venue's JSON messages, exactly, with errors that name the field.

Every venue sends numbers as decimal strings; these helpers turn them into `Decimal` without a
float in between and raise `ValueError`/`TypeError` naming the field and what was found, which
a private codec turns into a counted stream error (a bad message never kills a reader).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from arbiter.market.units import parse_decimal


def field_text(item: Mapping[str, Any], key: str) -> str:
    value = item[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected {key} as a non-empty string, was {value!r}")
    return value


def field_signed(item: Mapping[str, Any], key: str, default: str | None = None) -> Decimal:
    """A decimal of either sign; an absent or empty field takes `default` if one is given."""
    text = item.get(key)
    if (text is None or text == "") and default is not None:
        text = default
    return parse_decimal(text, key)


def field_decimal(item: Mapping[str, Any], key: str, default: str | None = None) -> Decimal:
    """A decimal that may not be negative (sizes, prices, cumulative quantities)."""
    value = field_signed(item, key, default)
    if value < 0:
        raise ValueError(f"expected {key} >= 0, was {value}")
    return value


def field_price(text: object, key: str) -> Decimal | None:
    """A price the venue leaves empty or zero when there is none (market orders, no fills)."""
    if text is None or text == "":
        return None
    value = parse_decimal(text, key)
    if value < 0:
        raise ValueError(f"expected {key} >= 0, was {value}")
    return value or None


def field_int(value: object) -> int:
    """A timestamp or counter sent as a JSON integer or a decimal string."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer, was {value!r}")
    return int(value)
