"""Logs through loguru: readable on a terminal, JSON lines for machines, secrets never printed.

Every line carries what it is about (`logger.bind(strategy=..., pair=..., cycle=...)`); the JSON
sink puts those bound fields at the top level so a log shipper can index them. Every registered
secret (`arbiter.venues.registry.secrets`) is replaced by `***` in the message and in bound fields
before any sink sees it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger

from arbiter.venues.registry.secrets import redact

if TYPE_CHECKING:
    from loguru import Message, Record


def _patch(record: Record) -> None:
    record["message"] = redact(record["message"])
    for key, value in list(record["extra"].items()):
        if isinstance(value, str):
            record["extra"][key] = redact(value)


def _json_sink(stream: TextIO) -> Callable[[Message], None]:
    def sink(message: Message) -> None:
        record = message.record
        line: dict[str, Any] = {
            "ts": record["time"].isoformat(),
            "level": record["level"].name,
            "message": record["message"],
            "module": record["name"],
        }
        line.update(
            {
                k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
                for k, v in record["extra"].items()
            }
        )
        if record["exception"] is not None:
            line["exception"] = redact("".join(_format_exception(record)))
        stream.write(json.dumps(line) + "\n")
        stream.flush()

    return sink


def _format_exception(record: Record) -> list[str]:
    import traceback

    exc = record["exception"]
    assert exc is not None
    return traceback.format_exception(exc.type, exc.value, exc.traceback)


def configure_logging(
    fmt: str = "human", level: str = "INFO", stream: TextIO | None = None
) -> None:
    out = stream if stream is not None else sys.stderr
    logger.remove()
    logger.configure(patcher=_patch)
    if fmt == "json":
        logger.add(_json_sink(out), level=level, backtrace=False, diagnose=False)
    elif fmt == "human":

        def human(message: Message) -> None:
            out.write(redact(str(message)))  # the formatted line, traceback included
            out.flush()

        logger.add(
            human,
            level=level,
            colorize=out.isatty(),
            backtrace=False,
            diagnose=False,  # diagnose would print local variables, secrets included
            format="<green>{time:HH:mm:ss.SSS}</green> <level>{level:<7}</level> {extra} {message}",
        )
    else:
        raise ValueError(f"expected log format human or json, was {fmt!r}")
