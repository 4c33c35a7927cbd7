"""Trading states per strategy and global: latched sources, and what the strictest lets through.

Each scope (a strategy's name, or GLOBAL "*") holds a set of latched *sources* (`Hold`), each
imposing `reducing` (only orders that shrink an exposure) or `halted` (no new orders), with who
set it and why. A scope's state is the strictest of its sources (`active` with none); a
strategy's effective state is the stricter of its own and GLOBAL's. The trading-state machine
(`arbiter.fsm.trading_state`) follows each scope's state. Every source latched, changed or
released is reported (`on_hold`), and so is every change of a scope's state (`on_change`), each
with who and why, for the journal (and the runtime raises an incident for every source latched).

A source clears only through its owner, never through another source's (`owner`, `clears`):

- `kill-file:<path>`: its file appeared (or its watcher died); halted; cleared by the file's
  removal, seen by its watcher.
- `kill`: an admin's `arbiter kill`; halted; cleared by an admin's resume.
- `operator`: an operator's halt; halted (or reducing); cleared by an operator's resume.
- `risk:daily_loss`: the risk monitor; `on_breach`; cleared by an operator's resume, once the
  day's loss is within the limit.
- `risk:<other condition>` (net delta, venue health): the risk monitor; `on_breach`; clears
  itself once its condition ends.
- `legging:<pair>`: a repair that could not complete; `on_breach`; cleared by an operator's
  resume.
- `supervisor:<task>`: a safety loop the supervisor gave up on (`arbiter.runtime.halts`); per
  loop; cleared by an operator's resume, once the loop runs again.
- `shutdown`: the runtime stopping; halted; cleared when the runtime starts again.

Kill sources (`kill`, `kill-file:*`) are global and hold every order path: `admit` refuses every
placement while one holds (the runtime wires it to the order gateway's admission check), so no
entry, exit, repair or hedge leaves. Latching a source that already holds replaces what it
imposes, who and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from arbiter.execution.intent import Intent
from arbiter.fsm.runner import MachineRunner
from arbiter.fsm.trading_state import TRADING_STATE

GLOBAL = "*"
ACTIVE, REDUCING, HALTED = "active", "reducing", "halted"
_STRICTNESS = {ACTIVE: 0, REDUCING: 1, HALTED: 2}
# the trigger that moves a scope's machine into each state (from any other)
_INTO = {REDUCING: "reduce", HALTED: "halt", ACTIVE: "resume"}

KILL = "kill"
OPERATOR = "operator"
SHUTDOWN = "shutdown"
_KILL_FILE, _RISK, _LEGGING, _SUPERVISOR = "kill-file:", "risk:", "legging:", "supervisor:"
DAILY_LOSS = f"{_RISK}daily_loss"


class Owner(StrEnum):
    """Who may clear a source."""

    OPERATOR = "operator"  # an operator's (or an admin's) resume
    ADMIN = "admin"  # an admin's resume only
    CONDITION = "condition"  # no resume: it clears itself when what set it ends
    RUNTIME = "runtime"  # the runtime itself (shutdown: cleared when it starts again)


def kill_file(path: object) -> str:
    return f"{_KILL_FILE}{path}"


def risk(condition: str) -> str:
    return f"{_RISK}{condition}"


def legging(pair: str) -> str:
    return f"{_LEGGING}{pair}"


def supervisor(task: str) -> str:
    return f"{_SUPERVISOR}{task}"


def owner(source: str) -> Owner:
    """Who may clear `source`; a name outside the table is a ValueError."""
    if source in (OPERATOR, DAILY_LOSS) or source.startswith((_LEGGING, _SUPERVISOR)):
        return Owner.OPERATOR
    if source == KILL:
        return Owner.ADMIN
    if source.startswith((_KILL_FILE, _RISK)):
        return Owner.CONDITION
    if source == SHUTDOWN:
        return Owner.RUNTIME
    raise ValueError(
        f"expected a trading-state source (kill, kill-file:<path>, operator, risk:<condition>, "
        f"legging:<pair>, supervisor:<task>, shutdown), was {source!r}"
    )


def clears(source: str) -> str:
    """How `source` clears, in an operator's words."""
    if source.startswith(_KILL_FILE):
        return f"removing the file {source.removeprefix(_KILL_FILE)}"
    if source == DAILY_LOSS:
        return "an operator's resume, once the day's loss is within the limit"
    if source.startswith(_SUPERVISOR):
        return "an operator's resume, once the task runs again"
    return {
        Owner.OPERATOR: "an operator's resume",
        Owner.ADMIN: "an admin's resume",
        Owner.CONDITION: "itself, once the condition ends",
        Owner.RUNTIME: "the runtime starting again",
    }[owner(source)]


def is_kill(source: str) -> bool:
    return source == KILL or source.startswith(_KILL_FILE)


def stricter(a: str, b: str) -> str:
    return a if _STRICTNESS[a] >= _STRICTNESS[b] else b


@dataclass(frozen=True, slots=True)
class Hold:
    """One latched source of one scope."""

    scope: str
    source: str
    state: str  # reducing or halted
    by: str
    reason: str

    def describe(self) -> dict[str, str]:
        return {
            "scope": self.scope,
            "source": self.source,
            "state": self.state,
            "by": self.by,
            "reason": self.reason,
            "clears": clears(self.source),
        }


@dataclass(frozen=True, slots=True)
class HoldChange:
    """A source latched (`hold`) or cleared (`release`); `state` is what it imposes(d)."""

    event: str  # hold or release
    hold: Hold
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class StateChange:
    """A scope's state moved (from `source` to `dest`, as the machine names them)."""

    scope: str  # a strategy name, or "*" for global
    source: str
    dest: str
    by: str
    reason: str


class TradingStates:
    def __init__(
        self,
        on_change: Callable[[StateChange], None] | None = None,
        on_hold: Callable[[HoldChange], None] | None = None,
    ) -> None:
        """`on_hold`: every source latched or cleared (the runtime journals it and raises an
        incident for each one latched); `on_change`: every change of a scope's state."""
        self._machines: dict[str, MachineRunner] = {GLOBAL: MachineRunner(TRADING_STATE)}
        self._holds: dict[str, dict[str, Hold]] = {}  # scope -> source -> hold
        self._on_change, self._on_hold = on_change, on_hold
        self._kill_reason = ""  # why every placement is refused now; "" when none is

    def _machine(self, scope: str) -> MachineRunner:
        if scope not in self._machines:
            self._machines[scope] = MachineRunner(TRADING_STATE)
        return self._machines[scope]

    # -- reading ---------------------------------------------------------------------------

    def state(self, strategy: str) -> str:
        """The strategy's effective state: the stricter of its own and the global one."""
        return stricter(self.scope_state(strategy), self.scope_state(GLOBAL))

    def scope_state(self, scope: str) -> str:
        """The scope's own state, as its machine holds it."""
        machine = self._machines.get(scope)
        return ACTIVE if machine is None else machine.state

    def holds(self, scope: str) -> dict[str, Hold]:
        """The sources latched on the scope itself, by source."""
        return dict(self._holds.get(scope, {}))

    def holding(self, strategy: str) -> list[Hold]:
        """Every source that keeps `strategy` from trading freely: its own, then the global ones."""
        own = list(self._holds.get(strategy, {}).values()) if strategy != GLOBAL else []
        return own + list(self._holds.get(GLOBAL, {}).values())

    def scopes(self) -> list[str]:
        return [scope for scope, held in self._holds.items() if held]

    def admit(self, intent: Intent) -> str:
        """The order gateway's admission check: "" admits, else why every order is refused."""
        return self._kill_reason

    def allows(
        self, strategy: str, position_before: Decimal, position_after: Decimal
    ) -> tuple[bool, str]:
        """May an order that moves this position from `before` to `after` go out now?"""
        state = self.state(strategy)
        if state == ACTIVE:
            return True, ACTIVE
        if state == HALTED:
            return False, f"{strategy} is halted: no new orders"
        reduces = (
            abs(position_after) < abs(position_before) and (position_after * position_before) >= 0
        )
        if reduces:
            return True, "reducing: this order shrinks exposure"
        return (
            False,
            f"{strategy} is reducing: order would move position {position_before} -> {position_after}",
        )

    # -- latching and clearing -------------------------------------------------------------

    def hold(self, scope: str, source: str, state: str, by: str, reason: str) -> StateChange:
        """Latch `source` on `scope` imposing `state` (reducing or halted), with who and why."""
        if state not in (REDUCING, HALTED):
            raise ValueError(f"expected a held state reducing or halted, was {state!r}")
        owner(source)  # an unknown source name is refused before anything changes
        if is_kill(source) and scope != GLOBAL:
            raise ValueError(f"expected scope {GLOBAL!r} for kill source {source!r}, was {scope!r}")
        held = self._holds.setdefault(scope, {})
        before = held.get(source)
        hold = Hold(scope, source, state, by, reason)
        if before == hold:
            return self._unchanged(scope, by, reason)
        held[source] = hold
        if self._on_hold is not None:
            self._on_hold(HoldChange("hold", hold, by, reason))
        return self._settle(scope, by, reason)

    def release(self, scope: str, source: str, by: str, reason: str) -> StateChange:
        """Clear `source` on `scope` (a no-op when it does not hold). The caller is its owner."""
        hold = self._holds.get(scope, {}).pop(source, None)
        if hold is None:
            return self._unchanged(scope, by, reason)
        if self._on_hold is not None:
            self._on_hold(HoldChange("release", hold, by, reason))
        return self._settle(scope, by, reason)

    def restore(self, holds: Iterable[Hold]) -> None:
        """Put back what a previous run latched, before anything trades; nothing is reported
        (the journal already holds it)."""
        for hold in holds:
            owner(hold.source)
            self._holds.setdefault(hold.scope, {})[hold.source] = hold
        for scope in self._holds:
            self._machine(scope).restore(self._strictest(scope))
        self._kill_reason = self._kills()

    def _strictest(self, scope: str) -> str:
        state = ACTIVE
        for hold in self._holds.get(scope, {}).values():
            state = stricter(hold.state, state)
        return state

    def _unchanged(self, scope: str, by: str, reason: str) -> StateChange:
        state = self.scope_state(scope)
        return StateChange(scope, state, state, by, reason)

    def _settle(self, scope: str, by: str, reason: str) -> StateChange:
        """Move the scope's machine to the strictest of its sources; report a change."""
        self._kill_reason = self._kills()
        machine = self._machine(scope)
        target = self._strictest(scope)
        if target == machine.state:
            return StateChange(scope, target, target, by, reason)
        # out of halted into reducing: a halting source cleared while a reducing one holds
        trigger = "relax" if (machine.state, target) == (HALTED, REDUCING) else _INTO[target]
        decision = machine.fire(trigger)
        change = StateChange(scope, decision.source, decision.dest, by, reason)
        if self._on_change is not None:
            self._on_change(change)
        return change

    def _kills(self) -> str:
        kills = [h for h in self._holds.get(GLOBAL, {}).values() if is_kill(h.source)]
        return "; ".join(f"{h.source} holds ({h.by}: {h.reason})" for h in kills)
