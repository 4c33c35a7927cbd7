"""Run a `MachineDef` straight from its table, without `transitions`, for the order path.

`MachineRunner` drives a `transitions` machine: hundreds of objects to build and much Python
per trigger (event data, condition and callback lists, state objects), which the order path pays
twice (both legs' `submit`) between a decision and its bytes. `TableRunner` makes the same
decisions from a dict compiled once per definition: (state, trigger) -> the candidate
transitions in declaration order.

It decides exactly as `MachineRunner` does (tests/unit/test_table_runner.py checks every
state, trigger and guard outcome of every machine against it):
- a trigger the state does not accept raises `IllegalTransition`;
- candidates are tried in declaration order; each one's guards are all evaluated and recorded
  (not just up to the first failure), and the first whose guards all pass is taken;
- no candidate passing: the decision is refused (`accepted` False) and the state stays;
- an internal transition (`dest` None) is accepted and leaves the state as it is.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from arbiter.fsm.runner import Decision, GuardResolver, GuardResult, IllegalTransition, _no_guards
from arbiter.fsm.table import MachineDef

# One candidate: (dest or None for internal, guard names).
_Candidate = tuple[str | None, tuple[str, ...]]


class CompiledTable:
    """A definition's transitions indexed by (state, trigger); built once per definition and
    shared by every runner of it."""

    __slots__ = ("allowed", "definition", "moves")

    def __init__(self, definition: MachineDef) -> None:
        self.definition = definition
        moves: dict[tuple[str, str], list[_Candidate]] = {}
        for t in definition.transitions:
            for source in t.sources:
                moves.setdefault((source, t.trigger), []).append((t.dest, t.guards))
        self.moves: dict[tuple[str, str], tuple[_Candidate, ...]] = {
            key: tuple(candidates) for key, candidates in moves.items()
        }
        self.allowed: dict[str, list[str]] = {
            state: [t for t in definition.triggers if (state, t) in self.moves]
            for state in definition.state_names
        }


class TableRunner:
    """One live instance of a machine definition; the same surface as `MachineRunner`."""

    __slots__ = ("_resolve", "_table", "definition", "history", "state")

    def __init__(
        self, table: CompiledTable, resolve: GuardResolver = _no_guards, history: int = 64
    ) -> None:
        self.definition = table.definition
        self._table = table
        self._resolve = resolve
        self.state: str = table.definition.initial
        self.history: deque[Decision] = deque(maxlen=history)

    def restore(self, state: str) -> None:
        """Put the machine in `state` without a transition (see `MachineRunner.restore`)."""
        if state not in self._table.allowed:
            raise ValueError(
                f"{self.definition.name}: no state {state!r}; states: {', '.join(self.definition.state_names)}"
            )
        self.state = state

    def allowed_triggers(self) -> list[str]:
        return list(self._table.allowed[self.state])

    def fire(self, trigger: str, **context: Any) -> Decision:
        """Fire `trigger`; returns the decision. Raises `IllegalTransition` if not allowed here."""
        source = self.state
        candidates = self._table.moves.get((source, trigger))
        if candidates is None:
            raise IllegalTransition(self.definition.name, source, trigger, self.allowed_triggers())
        evaluated: list[tuple[str, GuardResult]] = []
        accepted = False
        for dest, guards in candidates:
            if guards:
                results = [(name, self._resolve(name, context)) for name in guards]
                evaluated.extend(results)
                if not all(r.passed for _, r in results):
                    continue
            accepted = True
            if dest is not None:
                self.state = dest
            break
        decision = Decision(trigger, source, self.state, accepted, tuple(evaluated))
        self.history.append(decision)
        return decision
