"""The manifest's JSON Schema, as editors and `arbiter schema` see it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from arbiter.manifest.models import FORMAT_VERSION, Manifest

SCHEMA_ID = "https://arbiter.invalid/schemas/strategy.schema.json"
DEFAULT_PATH = Path("schemas") / "strategy.schema.json"


def manifest_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema(mode="validation")
    schema.pop("title", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"Arbiter strategy manifest (format {FORMAT_VERSION})",
        **schema,
    }


def schema_text() -> str:
    return json.dumps(manifest_schema(), indent=2, ensure_ascii=False) + "\n"
