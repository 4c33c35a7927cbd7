"""YAML with positions: `yaml.safe_load` semantics, plus the line and column of every value.

Rules kept here, so every loader error is one of ours and never a traceback:
- only the safe tags; numbers with a fraction become `Decimal` built from the text as written
  (never through float), and `.inf`/`.nan` are refused;
- `HH:MM` stays a string (YAML 1.1 would read `09:30` as the base-60 integer 570);
- duplicate keys, tabs in indentation, non-mapping roots, oversized files and alias expansion
  past a budget are errors that name the line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_FILE_BYTES = 1 << 20
MAX_VALUES = 20_000  # values after alias expansion; a manifest has a few hundred
MAX_DEPTH = 64
# What the YAML 1.1 reader refuses (it allows tab, LF, CR, NEL and printable Unicode).
_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_PLAIN_CONTAINER_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True, slots=True)
class SourceError:
    """One problem in a source file, located at a line and column when it has one."""

    message: str
    path: str = ""
    line: int | None = None
    column: int | None = None

    def render(self, filename: str) -> str:
        where = filename if self.line is None else f"{filename}:{self.line}:{self.column}"
        what = f"{self.path}: " if self.path else ""
        return f"{where}: {what}{self.message}"


class SourceErrors(Exception):
    def __init__(self, errors: list[SourceError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


@dataclass(slots=True)
class Document:
    """The plain data of a YAML document and where each value stood in the text."""

    data: dict[str, Any]
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(
        default_factory=dict
    )  # where the key of a mapping entry stands

    def position_of(self, path: Path) -> Position:
        """Where `path` is, or its nearest ancestor that exists (a missing field's parent)."""
        for cut in range(len(path), -1, -1):
            pos = self.values.get(path[:cut])
            if pos is not None:
                return pos
        return Position(1, 1)


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Loader(yaml.SafeLoader):
    """SafeLoader whose implicit resolvers leave `12:30` as a string (no sexagesimal ints)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_INT_PATTERN = (
    r"""^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"""
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(_INT_PATTERN), list("-+0123456789")
)


def parse(text: str | bytes) -> Document:
    """Parse one YAML document into plain data with positions, or raise `SourceErrors`."""
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise SourceErrors(
                [SourceError(f"file is {len(text)} bytes; the limit is {MAX_FILE_BYTES}")]
            )
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceErrors(
                [SourceError(f"expected UTF-8 text: {exc.reason} at byte {exc.start}")]
            ) from None
    elif len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise SourceErrors(
            [SourceError(f"file is larger than the limit of {MAX_FILE_BYTES} bytes")]
        )
    _check_tabs(text)
    bad_char = _UNPRINTABLE.search(text)
    if bad_char is not None:  # the YAML reader refuses these too, but without a line number
        line = text.count("\n", 0, bad_char.start()) + 1
        column = bad_char.start() - (text.rfind("\n", 0, bad_char.start()) + 1) + 1
        code = f"#x{ord(bad_char.group()):04x}"
        raise SourceErrors(
            [
                SourceError(
                    f"control character {code} is not allowed in YAML", line=line, column=column
                )
            ]
        )
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise SourceErrors([_from_marked(exc)]) from None
    except yaml.YAMLError as exc:
        raise SourceErrors([SourceError(f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if root is None:
        raise SourceErrors(
            [
                SourceError(
                    "expected a mapping at the document root, found an empty document",
                    line=1,
                    column=1,
                )
            ]
        )
    if not isinstance(root, MappingNode):
        raise SourceErrors(
            [_error(f"expected a mapping at the document root, found {_kind(root)}", root)]
        )
    builder = _Builder()
    data = builder.build(root, (), 0)
    if builder.errors:
        raise SourceErrors(builder.errors)
    assert isinstance(data, dict)
    return Document(data=data, values=builder.values, keys=builder.keys)


def _check_tabs(text: str) -> None:
    errors = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            errors.append(
                SourceError(
                    "tab character in indentation; YAML indents with spaces only",
                    line=number,
                    column=indent.index("\t") + 1,
                )
            )
    if errors:
        raise SourceErrors(errors)


def _from_marked(exc: yaml.MarkedYAMLError) -> SourceError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    context = f" ({exc.context})" if exc.context else ""
    message = f"invalid YAML: {problem}{context}"
    if mark is None:  # pragma: no cover - the scanner and parser always mark their errors
        return SourceError(message)
    return SourceError(message, line=mark.line + 1, column=mark.column + 1)


def _at(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _error(message: str, node: Node, path: Path = ()) -> SourceError:
    pos = _at(node)
    return SourceError(message, dotted(path), pos.line, pos.column)


def _kind(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, ScalarNode):
        return f"the scalar {node.value!r}"
    return "a mapping"


class _Builder:
    def __init__(self) -> None:
        self.values: dict[Path, Position] = {}
        self.keys: dict[Path, Position] = {}
        self.errors: list[SourceError] = []
        self._count = 0
        self._constructor = _Loader("")
        self._open: set[int] = set()  # containers being built: an alias back into one is a cycle

    def build(self, node: Node, path: Path, depth: int) -> Any:
        self._count += 1
        if self._count > MAX_VALUES:
            if self._count == MAX_VALUES + 1:
                self.errors.append(
                    _error(
                        f"document expands to more than {MAX_VALUES} values (anchors and aliases?)",
                        node,
                        path,
                    )
                )
            return None
        if depth > MAX_DEPTH:
            self.errors.append(_error(f"nesting deeper than {MAX_DEPTH} levels", node, path))
            return None
        self.values.setdefault(path, _at(node))
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if node.tag not in _PLAIN_CONTAINER_TAGS:
            self.errors.append(
                _error(f"unsupported tag {node.tag!r}; manifests use plain YAML", node, path)
            )
            return None
        if id(node) in self._open:
            self.errors.append(_error("recursive alias: a value contains itself", node, path))
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path, depth)
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[Any, Any]:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self._key(key_node, path)
            if key in seen:
                first = seen[key].start_mark.line + 1
                self.errors.append(
                    _error(
                        f"duplicate key {key!r} (first defined at line {first})",
                        key_node,
                        (*path, str(key)),
                    )
                )
            else:
                seen[key] = key_node
        try:
            self._constructor.flatten_mapping(node)  # resolves `<<` merge keys in place
        except yaml.MarkedYAMLError as exc:
            self.errors.append(_from_marked(exc))
            return {}
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            self.keys.setdefault((*path, key), _at(key_node))
            out[key] = self.build(value_node, (*path, key), depth + 1)
        return out

    def _key(self, node: Node, path: Path) -> Any:
        if not isinstance(node, ScalarNode):
            self.errors.append(_error("expected a plain key, found a complex key", node, path))
            return f"<complex key at line {node.start_mark.line + 1}>"
        value = self._scalar(node, path)
        # A key is a name: `on:`, `1:` or `null:` mean the text the operator typed.
        return node.value if not isinstance(value, str) else value

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        if node.tag == "tag:yaml.org,2002:float":
            text = node.value.replace("_", "")
            try:
                number = Decimal(text)
            except InvalidOperation:
                number = Decimal("NaN")
            if not number.is_finite():
                self.errors.append(
                    _error(f"expected a finite number, was {node.value!r}", node, path)
                )
                return None
            return number
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self.errors.append(_from_marked(exc))
            return None
