"""Halts: who stops trading, who may start it again, and what a restart keeps.

The runtime's side of the latched trading states (`arbiter.risk.trading`, which holds the table
of sources and who clears each):

- **Kill files**: one watcher per path (`--kill-file`, each `kill_switch` gate's file, and any
  a previous run left latched). The file appearing latches `kill-file:<path>` on "*"; only its
  removal, seen by its watcher, clears it. A watcher that cannot see its file (the check fails)
  counts it as present.
- **Commands**: an operator's `halt` latches `operator` on a strategy or on "*"; an admin's
  `kill` latches `kill`. A `resume` clears, in the scope it names, every source its caller
  owns whose cause is gone, and answers with what still holds, how each clears and, for those
  it could not clear, why not.
- **Safety loops**: supervised tasks whose death must stop trading (they fail closed):

  - `tick` (risk limits, venue health, gate retries): `supervisor:tick` latches reducing on
    "*": no entries; exits, repairs and hedges (which shrink exposure) go on.
  - `balances` (free balances behind the pre-trade funds check): `supervisor:balances`,
    reducing on "*".
  - `kill-switch:<path>` (sight of its kill file): the file counts as present
    (`kill-file:<path>`: every order refused) and `supervisor:kill-switch:<path>` halts "*".

  The manifest watcher is not one: a dead one stops reloads, not a check an order passes, and
  raises an incident only. A task with an owner halts its owner. An operator's resume of a
  `supervisor:<task>` source runs one pass of the dead loop itself first: if it raises, the
  source stays and the answer says why; if not, the loop starts again and the source clears
  (a loop a restart began afresh is running: its source clears without a pass).
- **Restart** (`restore`): every source the journal holds is latched again before anything
  trades, `shutdown` clears (this is the start it waited for), and each kill file left latched
  is watched again: one removed while the runtime was down clears at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from arbiter.control.incidents import IncidentLog
from arbiter.risk.kill_switch import KillSwitch
from arbiter.risk.trading import (
    DAILY_LOSS,
    GLOBAL,
    HALTED,
    KILL,
    OPERATOR,
    SHUTDOWN,
    Hold,
    HoldChange,
    Owner,
    TradingStates,
    clears,
    kill_file,
    owner,
    supervisor,
)
from arbiter.runtime.host import StrategyHost
from arbiter.runtime.risk_monitor import RiskMonitor
from arbiter.runtime.supervisor import Supervised, Supervisor, TaskFactory
from arbiter.store.replay import HoldRecord

KILL_SWITCH = "kill-switch"  # who trips and clears a kill file's source; its watcher's task prefix


@dataclass(frozen=True, slots=True)
class SafetyLoop:
    state: str  # what its death imposes on "*": reducing (no entries) or halted
    one_pass: Callable[[], Awaitable[None]]  # what a resume runs to see it works again
    factory: TaskFactory  # the loop itself, as the supervisor runs it
    switch: KillSwitch | None = None  # a kill-file watcher: its file counts as present once dead


class Halts:
    def __init__(
        self,
        states: TradingStates,
        supervisor: Supervisor,
        incidents: IncidentLog,
        risk: RiskMonitor,
        strategies: Mapping[str, StrategyHost],
    ) -> None:
        self.states, self.supervisor, self.incidents = states, supervisor, incidents
        self.risk, self.strategies = risk, strategies
        self.kill_switches: dict[Path, KillSwitch] = {}
        self._loops: dict[str, SafetyLoop] = {}  # task name -> what its death means

    # -- restart ---------------------------------------------------------------------------

    def restore(self, records: Iterable[HoldRecord]) -> None:
        """Latch again every source the journal holds; call before anything trades."""
        holds = [Hold(r.scope, r.source, r.state, r.held_by, r.reason) for r in records]
        self.states.restore(holds)
        self.states.release(GLOBAL, SHUTDOWN, "runtime", "started again")
        for hold in holds:
            if hold.source == SHUTDOWN:
                continue
            logger.bind(strategy=hold.scope).warning(
                "restored: {} {} by {} ({}: {})",
                hold.scope,
                hold.state,
                hold.source,
                hold.by,
                hold.reason,
            )
            if hold.source.startswith(kill_file("")):
                self.watch_kill_file(Path(hold.source.removeprefix(kill_file(""))), tripped=True)
            elif hold.source.startswith(supervisor(f"{KILL_SWITCH}:")):
                self.watch_kill_file(Path(hold.source.removeprefix(supervisor(f"{KILL_SWITCH}:"))))
        for scope in self.states.scopes():
            sources = ", ".join(self.states.holds(scope))
            self.incidents.raise_(
                f"trading:{scope}",
                "trading_state",
                "restart",
                f"{self.states.scope_state(scope)} after a restart by {sources}",
            )

    # -- kill files ------------------------------------------------------------------------

    def watch_kill_file(self, path: Path, *, tripped: bool = False) -> None:
        """Watch `path` from now on (once per path); a file already there halts at once.
        `tripped`: its source is latched already (restored), so an absent file clears it."""
        if path in self.kill_switches:
            return
        source = kill_file(path)

        def trip(why: str) -> None:
            self.states.hold(GLOBAL, source, HALTED, KILL_SWITCH, why)

        def clear(why: str) -> None:
            self.states.release(GLOBAL, source, KILL_SWITCH, why)

        switch = KillSwitch(path, trip, clear, tripped=tripped)
        self.kill_switches[path] = switch

        async def one_pass() -> None:
            switch.check()

        switch.check()  # before the first entry
        self.start_loop(f"{KILL_SWITCH}:{path}", switch.run, one_pass, HALTED, switch=switch)

    # -- safety loops ----------------------------------------------------------------------

    def start_loop(
        self,
        name: str,
        factory: TaskFactory,
        one_pass: Callable[[], Awaitable[None]],
        state: str,
        *,
        switch: KillSwitch | None = None,
    ) -> None:
        """Start a safety loop under the supervisor: its death latches `supervisor:<name>`."""
        self._loops[name] = SafetyLoop(state, one_pass, factory, switch)
        self.supervisor.start(name, factory)

    def gave_up(self, entry: Supervised) -> None:
        """The supervisor gave up on `entry`: an incident, and for a safety loop a halt."""
        self.incidents.raise_(
            f"task:{entry.name}", "task_failed", "supervisor", f"{entry.name}: {entry.last_error}"
        )
        why = f"task {entry.name} keeps failing: {entry.last_error}"
        loop = self._loops.get(entry.name)
        if loop is not None:
            if loop.switch is not None:
                # It can no longer see its file: as far as anyone knows, the file is there.
                loop.switch.tripped = True
                self.states.hold(
                    GLOBAL,
                    kill_file(loop.switch.path),
                    HALTED,
                    "supervisor",
                    f"its watcher is dead, so the file counts as present ({why})",
                )
            self.states.hold(GLOBAL, supervisor(entry.name), loop.state, "supervisor", why)
        elif entry.owner is not None:
            self.states.hold(entry.owner, supervisor(entry.name), HALTED, "supervisor", why)

    async def _revive(self, name: str) -> str:
        """A resume of `supervisor:<name>`: why the task cannot resume yet, or "" once it runs
        again (after one pass of it succeeded here, where it had died)."""
        entry = self.supervisor.tasks.get(name)
        if entry is not None and not (entry.gave_up or entry.finished):
            return ""  # running (a restart began it afresh)
        loop = self._loops.get(name)
        if loop is not None:
            try:
                await loop.one_pass()
            except Exception as exc:
                return f"{name} still fails: {type(exc).__name__}: {exc}"
        if entry is not None:
            self.supervisor.start(name, loop.factory if loop else entry.factory, entry.owner)
        return ""

    # -- commands --------------------------------------------------------------------------

    def halt(self, scope: str, by: str) -> dict[str, Any]:
        self.states.hold(scope, OPERATOR, HALTED, by, "halt")
        return self.answer(scope)

    def kill(self, by: str) -> dict[str, Any]:
        self.states.hold(GLOBAL, KILL, HALTED, by, "kill")
        return self.answer(GLOBAL)

    async def resume(self, scope: str, by: str, *, admin: bool) -> dict[str, Any]:
        """Clear every source of `scope` that `by` owns and whose cause is gone."""
        released: list[str] = []
        still: dict[str, str] = {}
        for source in self.states.holds(scope):
            why_not = await self._why_not(scope, source, admin=admin)
            if why_not:
                still[source] = why_not
            elif source in self.states.holds(scope):  # (a pass of a loop may have cleared it)
                self.states.release(scope, source, by, "resume")
                released.append(source)
        return self.answer(scope, released, still)

    async def _why_not(self, scope: str, source: str, *, admin: bool) -> str:
        who = owner(source)
        if who in (Owner.CONDITION, Owner.RUNTIME):
            return f"no resume clears it: it clears by {clears(source)}"
        if who is Owner.ADMIN and not admin:
            return "needs an admin's resume"
        if source == DAILY_LOSS:
            host = self.strategies.get(scope)
            return "" if host is None else self.risk.daily_loss(host)
        if source.startswith(supervisor("")):
            return await self._revive(source.removeprefix(supervisor("")))
        return ""

    def answer(
        self,
        scope: str,
        released: Iterable[str] = (),
        still: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The scope's state now, what this command cleared, and what still holds and why."""
        holding = []
        for hold in self.states.holding(scope):
            body = hold.describe()
            if still and hold.scope == scope and hold.source in still:
                body["still"] = still[hold.source]
            holding.append(body)
        return {
            "scope": scope,
            "state": self.states.state(scope),
            "released": list(released),
            "holding": holding,
        }


def hold_incident(incidents: IncidentLog, change: HoldChange) -> None:
    """Every source latched is an operator-visible incident, with who latched it and why."""
    if change.event == "hold":
        hold = change.hold
        incidents.raise_(
            f"trading:{hold.scope}",
            "trading_state",
            change.by,
            f"{hold.state} by {hold.source}: {change.reason}",
        )
