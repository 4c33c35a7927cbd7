"""Order machines, built ahead of the order path and reused after it.

A `transitions` machine for one order is ~500 objects and costs ~300-700 us to build
(benchmarks/journal_write.py), more than the journal commit of both legs of a pair. So machines
are built when nothing is waiting (`prewarm`: at start, and after each placement's requests are
written and answered), and the machine of an order the tracker forgets is reset and kept for
the next one. The pool is capped, so a burst of orders does not leave a heap of idle machines
for the garbage collector to walk.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from arbiter.fsm import ORDER, GuardResult, MachineRunner

MAX_SPARES = 64


def order_guards(name: str, context: Mapping[str, Any]) -> GuardResult:
    filled: Decimal = context["filled_qty"]
    if name == "has_fills":
        return GuardResult(filled > 0, f"filled {filled}")
    if name == "no_fills":
        return GuardResult(filled == 0, f"filled {filled}")
    raise LookupError(f"order machine: no guard named {name!r}")


def new_order_machine() -> MachineRunner:
    return MachineRunner(ORDER, order_guards)


class MachinePool:
    def __init__(self, max_spares: int = MAX_SPARES) -> None:
        self._spares: list[MachineRunner] = []
        self._max = max_spares

    def __len__(self) -> int:
        return len(self._spares)

    def prewarm(self, count: int) -> int:
        """Have `count` machines ready (at most the cap); returns how many were built."""
        built = 0
        while len(self._spares) < min(count, self._max):
            self._spares.append(new_order_machine())
            built += 1
        return built

    def take(self) -> MachineRunner:
        """A machine in the initial state: a spare if there is one, else a new one."""
        return self._spares.pop() if self._spares else new_order_machine()

    def give_back(self, runner: MachineRunner) -> None:
        """Reset a machine nobody uses any more and keep it, room permitting."""
        if len(self._spares) < self._max:
            runner.restore(ORDER.initial)
            runner.history.clear()
            self._spares.append(runner)
