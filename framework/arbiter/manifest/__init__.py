"""Strategy manifests: pydantic models, YAML loading with line numbers, JSON Schema export."""

from arbiter.manifest.loader import (
    LoadedManifest,
    ManifestError,
    load_manifest,
    load_manifest_bytes,
)
from arbiter.manifest.models import Manifest
from arbiter.manifest.schema import manifest_schema, schema_text
from arbiter.manifest.yaml_source import SourceError

__all__ = [
    "LoadedManifest",
    "Manifest",
    "ManifestError",
    "SourceError",
    "load_manifest",
    "load_manifest_bytes",
    "manifest_schema",
    "schema_text",
]
