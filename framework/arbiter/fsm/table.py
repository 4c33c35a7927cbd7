"""Machines declared as data: a list of states and a table of transitions.

The same `MachineDef` drives the running machine (`arbiter.fsm.runner`), the compiled plan
(`arbiter plan`) and the diagrams (`arbiter graph`), so what is drawn is what runs.

A transition whose `dest` is None is *internal*: the event is accepted and ignored (the state
does not change and no exit/entry actions run). That is how duplicate and out-of-order venue
events are absorbed idempotently instead of being treated as errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class State:
    name: str
    description: str
    terminal: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    trigger: str
    sources: tuple[str, ...]
    dest: str | None  # None: internal, the event is accepted and the state is unchanged
    guards: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class MachineDef:
    name: str
    description: str
    states: tuple[State, ...]
    initial: str
    transitions: tuple[Transition, ...]
    guard_descriptions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [s.name for s in self.states]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate state names in {names}")
        known = set(names)
        if self.initial not in known:
            raise ValueError(f"{self.name}: initial state {self.initial!r} is not declared")
        for t in self.transitions:
            for s in t.sources:
                if s not in known:
                    raise ValueError(f"{self.name}: {t.trigger} from undeclared state {s!r}")
            if t.dest is not None and t.dest not in known:
                raise ValueError(f"{self.name}: {t.trigger} to undeclared state {t.dest!r}")

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.trigger for t in self.transitions))

    def targets(self, state: str, trigger: str) -> list[Transition]:
        return [t for t in self.transitions if t.trigger == trigger and state in t.sources]

    def with_guards(
        self, trigger: str, guards: tuple[str, ...], name: str | None = None
    ) -> MachineDef:
        """A copy where every transition on `trigger` also requires `guards`."""
        if trigger not in self.triggers:
            raise ValueError(
                f"{self.name}: no trigger {trigger!r} to guard; triggers: {self.triggers}"
            )
        table = tuple(
            replace(t, guards=t.guards + guards) if t.trigger == trigger else t
            for t in self.transitions
        )
        return replace(self, name=name or self.name, transitions=table)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "initial": self.initial,
            "states": [
                {"name": s.name, "description": s.description, "terminal": s.terminal}
                for s in self.states
            ],
            "transitions": [
                {
                    "trigger": t.trigger,
                    "sources": list(t.sources),
                    "dest": t.dest,
                    "internal": t.dest is None,
                    "guards": list(t.guards),
                    **({"note": t.note} if t.note else {}),
                }
                for t in self.transitions
            ],
        }


def every_state_but(defn_states: tuple[State, ...], *excluded: str) -> tuple[str, ...]:
    return tuple(s.name for s in defn_states if s.name not in excluded)
