"""Constrained field types shared by the manifest models.

Money and ratios are `Decimal`: YAML numbers reach these fields as `Decimal` built from their
text (see `yaml_source`), strings are parsed exactly, and floats are refused, so a manifest can
never smuggle binary rounding into a price, size or threshold.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ENV_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class Strict(BaseModel):
    """Base of every manifest model: unknown fields are errors, values are not coerced."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, validate_default=True
    )


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(
            f"expected an exact decimal (write it as text, e.g. '{value!r}'), was a float"
        )
    if isinstance(value, bool):
        raise ValueError(f"expected a number, was {value}")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"expected a positive number, was {value}")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError(f"expected zero or more, was {value}")
    return value


_Dec = Annotated[Decimal, BeforeValidator(_no_float), Field(allow_inf_nan=False)]
Dec = _Dec
PositiveDec = Annotated[_Dec, AfterValidator(_positive)]
NonNegativeDec = Annotated[_Dec, AfterValidator(_non_negative)]
Bps = Annotated[
    _Dec, AfterValidator(_non_negative), Field(le=Decimal(10_000), description="basis points")
]
SignedBps = Annotated[
    _Dec, Field(ge=Decimal(-10_000), le=Decimal(10_000), description="basis points")
]
Ratio = Annotated[_Dec, AfterValidator(_positive), Field(le=Decimal(10))]
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case id: a-z, 0-9, _ . -")]
EnvName = Annotated[
    str,
    Field(
        pattern=ENV_NAME_PATTERN,
        description="name of an environment variable (A-Z, 0-9, _), never the secret itself",
    ),
]
PositiveInt = Annotated[int, Field(gt=0)]
Millis = Annotated[int, Field(gt=0, le=86_400_000, description="milliseconds")]
Seconds = Annotated[int, Field(ge=0, le=86_400, description="seconds")]


class UnsetVariable(ValueError):
    pass


def interpolate(text: str, environ: dict[str, str] | None = None) -> str:
    """Expand `${VAR}` and `${VAR:-default}`; an unset variable without a default is an error."""
    env = os.environ if environ is None else environ

    def _sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise UnsetVariable(
            f"environment variable {name} is not set (write ${{{name}:-default}} for a fallback)"
        )

    return _ENV_REF.sub(_sub, text)


def _interpolated(value: Any) -> Any:
    return interpolate(value) if isinstance(value, str) else value


Interpolated = Annotated[str, BeforeValidator(_interpolated)]
"""A string where `${VAR}` is expanded from the environment at load time (endpoints, paths)."""
