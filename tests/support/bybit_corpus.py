"""Bybit's own messages, as captured in `tests/fixtures/venues/real/bybit/` (see its SOURCES.md).

One folder per channel or endpoint; `frames(channel)` reads every file of one, `rows(doc)` the
items a push or an answer lists, `key_paths(doc)` the JSON key paths and value types of a
message (the shape a simulator must speak).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REAL = Path(__file__).parents[1] / "fixtures" / "venues" / "real" / "bybit"


def corpus_files() -> list[Path]:
    return sorted(REAL.glob("*/*.json"))


def channel_files(channel: str) -> list[Path]:
    files = sorted((REAL / channel).glob("*.json"))
    assert files, f"expected captured messages in {REAL / channel}, found none"
    return files


def load(relative: str) -> Any:
    return json.loads((REAL / relative).read_text())


def raw(relative: str) -> bytes:
    return (REAL / relative).read_bytes()


def rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of a private push (`data`) or of a REST answer (`result.list`)."""
    if "data" in doc:
        data = doc["data"]
        return data if isinstance(data, list) else [data]
    listed: list[dict[str, Any]] = doc["result"]["list"]
    return listed


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def key_paths(node: Any, prefix: str = "") -> dict[str, set[str]]:
    """Every key path of a JSON document ("data[].coin[].walletBalance") with the JSON types
    its values take; list items share their list's path plus "[]"."""
    found: dict[str, set[str]] = {}

    def walk(value: Any, path: str) -> None:
        if path:
            found.setdefault(path, set()).add(json_type(value))
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for child in value:
                walk(child, f"{path}[]")

    walk(node, prefix)
    return found


def merged(docs: list[Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for doc in docs:
        for path, types in key_paths(doc).items():
            out.setdefault(path, set()).update(types)
    return out
