"""Load a manifest file: YAML with positions -> pydantic model -> cross-section checks.

Every failure is a `ManifestError` holding `SourceError`s rendered as
`FILE:LINE:COL: path.to.field: message`, pointing at the offending value, or at the parent
mapping when a field is missing. Nothing here raises anything else for bad input.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from arbiter.manifest import gates as gates_module
from arbiter.manifest import models as models_module
from arbiter.manifest.models import REMOVED_FIELDS, Manifest
from arbiter.manifest.references import check_references
from arbiter.manifest.yaml_source import (
    MAX_FILE_BYTES,
    Document,
    Path,
    SourceError,
    SourceErrors,
    dotted,
    parse,
)


class ManifestError(Exception):
    """A manifest that cannot be used, with every problem found in it."""

    def __init__(self, filename: str, errors: list[SourceError]) -> None:
        self.filename = filename
        self.errors = errors
        super().__init__("\n".join(e.render(filename) for e in errors))


@dataclass(frozen=True, slots=True)
class LoadedManifest:
    filename: str
    manifest: Manifest
    sha256: str
    document: Document
    text: str = ""  # the file as read (UTF-8), journaled with each applied version

    def error_at(self, path: Path, message: str) -> SourceError:
        """`message` about the value at `path` (its nearest ancestor if it has none), placed
        at its line and column in this file: for problems found after loading."""
        return _at(self.document, path, message)


def load_manifest(path: str | FsPath, plugins: Collection[str] | None = None) -> LoadedManifest:
    filename = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ManifestError(
            filename, [SourceError(f"cannot read file: {exc.strerror or exc}")]
        ) from None
    return load_manifest_bytes(raw, filename, plugins)


def load_manifest_bytes(
    raw: bytes | str, filename: str = "<manifest>", plugins: Collection[str] | None = None
) -> LoadedManifest:
    """Parse and validate; `plugins`, when given, are the venue plugin names that may be used."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    try:
        document = parse(data)
    except SourceErrors as exc:
        raise ManifestError(filename, exc.errors) from None
    try:
        manifest = Manifest.model_validate(document.data)
    except ValidationError as exc:
        raise ManifestError(filename, [_locate(document, err) for err in exc.errors()]) from None
    problems = check_references(manifest, plugins)
    if problems:
        errors = [_at(document, path, message) for path, message in problems]
        raise ManifestError(filename, errors)
    return LoadedManifest(
        filename,
        manifest,
        hashlib.sha256(data).hexdigest(),
        document,
        data.decode("utf-8", errors="replace"),
    )


def _at(document: Document, path: Path, message: str) -> SourceError:
    pos = document.position_of(path)
    return SourceError(message, dotted(path), pos.line, pos.column)


def _locate(document: Document, err: ErrorDetails) -> SourceError:
    path = _document_path(document.data, tuple(err["loc"]), err["type"])
    about_key = "[key]" in err["loc"] or err["type"] == "extra_forbidden"
    message = _removed(path) if err["type"] == "extra_forbidden" else None
    message = message or _message(err)
    key_pos = document.keys.get(path) if about_key else None
    if key_pos is not None:  # an unknown or malformed key: point at the key, not at its value
        return SourceError(message, dotted(path), key_pos.line, key_pos.column)
    return _at(document, path, message)


def _removed(path: Path) -> str | None:
    """What to write instead of a field this format no longer has (`REMOVED_FIELDS`)."""
    names = [p for p in path if isinstance(p, str)]
    return REMOVED_FIELDS.get((names[-2], names[-1])) if len(names) >= 2 else None


_TAG_ERRORS = {"union_tag_invalid", "union_tag_not_found"}


def _document_path(data: Any, loc: tuple[Any, ...], kind: str) -> Path:
    """Map pydantic's `loc` onto the document: drop union tags and `[key]` markers it adds."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            path.append(part)
            node = node[part]
        elif last and kind not in _TAG_ERRORS and part != "[key]":
            path.append(part)  # a missing field: positioned at its parent, named in full
        # else: a union tag or a key marker that the document does not contain
    if kind == "union_tag_invalid":
        path.append("type")
    return tuple(path)


def _field_names() -> list[str]:
    names: set[str] = set()
    for module in (models_module, gates_module):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel):
                names.update(value.model_fields)
    return sorted(names)


_FIELD_NAMES = _field_names()


_DECIMAL_REPR = re.compile(r"Decimal\('([^']*)'\)")
_BOUNDS = {
    "greater_than": ("more than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}


def _message(err: ErrorDetails) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        field = err["loc"][-1] if err["loc"] else "?"
        close = difflib.get_close_matches(str(field), _FIELD_NAMES, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown field {field!r}{hint}"
    if kind == "union_tag_not_found":
        return f"expected a {ctx.get('discriminator', 'type')!s} field naming the kind"
    if kind == "union_tag_invalid":
        return f"unknown type {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if kind in ("literal_error", "enum"):
        return f"expected {ctx.get('expected')}, was {value!r}"
    if kind == "string_pattern_mismatch":
        return f"expected text matching {ctx.get('pattern')}, was {value!r}"
    bound = _BOUNDS.get(kind)
    if bound is not None:
        word, key = bound
        limit = _DECIMAL_REPR.sub(r"\1", str(ctx.get(key)))  # some paths hand ctx over as repr text
        return f"expected {word} {limit}, was {value!s}"
    if kind in ("too_short", "string_too_short"):
        unit = "character" if kind == "string_too_short" else "item"
        return f"expected at least {ctx.get('min_length')} {unit}(s), was {value!r}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']}, was {value!r}" if not isinstance(value, dict | list) else err["msg"]
