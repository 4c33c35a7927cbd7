"""Order machines, built ahead of the order path and reused after it.

An order's machine runs the order table (`arbiter.fsm.ORDER`) compiled once into a dict
(`TableRunner`): `transitions` costs much Python per trigger and hundreds of objects per
machine, and the order path fires `submit` for both legs between a decision and its bytes.
A table runner is a handful of objects, but building even that is work the order path need
not do: machines are built when nothing is waiting (`prewarm`: at start, and after each
placement's requests are written and answered), and the machine of an order the tracker
forgets is reset and kept for the next one. The pool is capped, so a burst of orders does not
leave a heap of idle machines for the garbage collector to walk.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from arbiter.fsm import ORDER, GuardResult
from arbiter.fsm.table_runner import CompiledTable, TableRunner

MAX_SPARES = 64
ORDER_TABLE = CompiledTable(ORDER)


def order_guards(name: str, context: Mapping[str, Any]) -> GuardResult:
    filled: Decimal = context["filled_qty"]
    if name == "has_fills":
        return GuardResult(filled > 0, f"filled {filled}")
    if name == "no_fills":
        return GuardResult(filled == 0, f"filled {filled}")
    raise LookupError(f"order machine: no guard named {name!r}")


def new_order_machine() -> TableRunner:
    return TableRunner(ORDER_TABLE, order_guards)


class MachinePool:
    def __init__(self, max_spares: int = MAX_SPARES) -> None:
        self._spares: list[TableRunner] = []
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

    def take(self) -> TableRunner:
        """A machine in the initial state: a spare if there is one, else a new one."""
        return self._spares.pop() if self._spares else new_order_machine()

    def give_back(self, runner: TableRunner) -> None:
        """Reset a machine nobody uses any more and keep it, room permitting."""
        if len(self._spares) < self._max:
            runner.restore(ORDER.initial)
            runner.history.clear()
            self._spares.append(runner)
