"""Run a `MachineDef` on `transitions`.

Guards are names in the table. A guard resolver turns each name into a `GuardResult`; every
guard on a transition is evaluated (not just up to the first failure) so a refused decision
records every gate that failed and why. A trigger that the current state does not accept is an
`IllegalTransition`, never a silent no-op (silent no-ops are the table's internal transitions).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from transitions import Machine, MachineError

from arbiter.fsm.table import MachineDef


@dataclass(frozen=True, slots=True)
class GuardResult:
    passed: bool
    reason: str = ""


PASS = GuardResult(True)

GuardResolver = Callable[[str, Mapping[str, Any]], GuardResult]


class IllegalTransition(Exception):
    def __init__(self, machine: str, state: str, trigger: str, allowed: list[str]) -> None:
        self.machine, self.state, self.trigger, self.allowed = machine, state, trigger, allowed
        super().__init__(
            f"{machine}: trigger {trigger!r} is not allowed in state {state!r}; allowed: {', '.join(allowed) or 'none'}"
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """What one fired trigger did: the state change, or the guards that refused it."""

    trigger: str
    source: str
    dest: str
    accepted: bool
    guards: tuple[tuple[str, GuardResult], ...]

    @property
    def failures(self) -> tuple[tuple[str, GuardResult], ...]:
        return tuple((name, r) for name, r in self.guards if not r.passed)


class _Model:
    """The object `transitions` keeps the state on; it stays empty so no trigger name clashes."""

    state: str


def _no_guards(name: str, context: Mapping[str, Any]) -> GuardResult:
    raise LookupError(f"guard {name!r} has no resolver")


class MachineRunner:
    """One live instance of a machine definition."""

    def __init__(
        self, definition: MachineDef, resolve: GuardResolver = _no_guards, history: int = 64
    ) -> None:
        self.definition = definition
        self._resolve = resolve
        self._model = _Model()
        self._evaluated: list[tuple[str, GuardResult]] = []
        self.history: deque[Decision] = deque(maxlen=history)
        self._machine = Machine(
            model=self._model,
            states=list(definition.state_names),
            initial=definition.initial,
            transitions=[
                {
                    "trigger": t.trigger,
                    "source": list(t.sources),
                    "dest": t.dest,
                    "conditions": [self._guard_condition(t.guards)] if t.guards else [],
                }
                for t in definition.transitions
            ],
            auto_transitions=False,
            ignore_invalid_triggers=False,
            send_event=True,
            queued=False,
        )

    @property
    def state(self) -> str:
        return self._model.state

    def restore(self, state: str) -> None:
        """Put the machine in `state` without a transition: a restart from the journal, or a
        reload that swaps the table (new guards) under a running pair."""
        if state not in self.definition.state_names:
            raise ValueError(
                f"{self.definition.name}: no state {state!r}; states: {', '.join(self.definition.state_names)}"
            )
        self._machine.set_state(state, self._model)

    def allowed_triggers(self) -> list[str]:
        return [t for t in self.definition.triggers if self.definition.targets(self.state, t)]

    def fire(self, trigger: str, **context: Any) -> Decision:
        """Fire `trigger`; returns the decision. Raises `IllegalTransition` if not allowed here."""
        source = self.state
        if not self.definition.targets(source, trigger):
            raise IllegalTransition(self.definition.name, source, trigger, self.allowed_triggers())
        self._evaluated = []
        try:
            accepted = self._machine.events[trigger].trigger(self._model, **context)
        except MachineError:  # pragma: no cover - targets() above already refused these
            raise IllegalTransition(
                self.definition.name, source, trigger, self.allowed_triggers()
            ) from None
        decision = Decision(trigger, source, self.state, bool(accepted), tuple(self._evaluated))
        self.history.append(decision)
        return decision

    def _guard_condition(self, guards: tuple[str, ...]) -> Callable[[Any], bool]:
        def condition(event: Any) -> bool:
            context: Mapping[str, Any] = event.kwargs
            results = [(name, self._resolve(name, context)) for name in guards]
            self._evaluated.extend(results)
            return all(r.passed for _, r in results)

        return condition
