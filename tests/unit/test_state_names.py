"""Every state name the runtime spells is one its machines declare.

The machines' tables (`arbiter.fsm`) are the only place states are defined; code elsewhere
compares against them, or names a group the table's module exports (`IN_FLIGHT`, `FLAT`, ...).
A misspelled state ("haltd") would compare false forever and no test of behaviour might notice,
so this reads the source: every string compared with a `state`, `dest`, `source` or
`last_state`, and every state handed to `resume_from`, must be a declared state.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import arbiter.runtime
from arbiter.fsm import MACHINES

DECLARED = {name for machine in MACHINES.values() for name in machine.state_names}
STATE_ATTRIBUTES = {"state", "dest", "source", "last_state"}
RUNTIME = Path(arbiter.runtime.__file__).parent


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for elt in node.elts for s in _strings(elt)]
    return []


def _is_state(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in STATE_ATTRIBUTES


def state_names_used(source: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_state(side) for side in sides):
                found += [(node.lineno, s) for side in sides for s in _strings(side)]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "resume_from"
            and node.args
        ):
            found += [(node.lineno, s) for s in _strings(node.args[0])]
    return found


@pytest.mark.parametrize("path", sorted(RUNTIME.glob("*.py")), ids=lambda p: p.name)
def test_runtime_when_it_names_a_state_the_machines_declare_it(path: Path) -> None:
    used = state_names_used(path.read_text(encoding="utf-8"))
    unknown = [f"{path.name}:{line}: {name!r}" for line, name in used if name not in DECLARED]
    assert unknown == []


def test_state_names_used_when_misspelled_finds_it() -> None:
    source = 'if runner.machine.state in ("idle", "haltd"):\n    runner.resume_from("eror", d, b)\n'
    assert [name for _, name in state_names_used(source) if name not in DECLARED] == [
        "haltd",
        "eror",
    ]
