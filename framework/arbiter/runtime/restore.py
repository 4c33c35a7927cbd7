"""Put a strategy back where the journal left it: held positions, open cycles, its books.

A restart must neither forget a position nor invent one. The journal holds every fill of every
order with its intent, and the cycle machine's last state per pair; from those:

- the strategy's ledger (inventory, PnL) is rebuilt by replaying every fill, so the hedger sees
  any residual a crashed cycle left, and net delta is what the fills say it is;
- each pair's last cycle is classified by what its fills hold: a hedged position resumes in
  `open` (it exits when the spread converges), nothing held resumes `idle`, and a one-legged
  position (a crash between the legs, or mid-repair) resumes `halted` with an incident: the
  hedger owns the residual and an operator decides when the pair trades again;
- a cycle whose repair handed its residual to the hedger (journaled `handed_to_hedger`) is not
  one-legged: the pair holds what both legs hold alike, the hedger the rest (its fills are in
  the inventory), so it resumes `open` on that part, or `idle` when nothing is left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from arbiter.compiler.plan import LegPlan, PairPlan, direction_buying
from arbiter.execution.fees import base_change, is_dust
from arbiter.execution.intent import Intent
from arbiter.fsm.cycle import ENDED
from arbiter.market.instrument import Instrument
from arbiter.venues import Fill, Side

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class RestoredCycle:
    pair: str
    cycle: int
    last_state: str  # the cycle machine's last journaled state
    state: str  # where the pair resumes: idle, open or halted
    direction: str | None
    held_base: Decimal  # base the long leg still holds (entry buys net of exit sells)
    residual_base: Decimal  # signed net of both legs: not zero means one-legged
    reason: str


def restore_cycle(
    pair: PairPlan,
    cycle: int,
    last_state: str,
    fills: list[tuple[Intent, Fill]],
    instrument: Callable[[LegPlan], Instrument | None],
    *,
    handed_over: bool = False,
) -> RestoredCycle:
    """Classify a pair's last cycle from its fills (all of the strategy's; filtered here);
    `handed_over`: the cycle's residual went to the hedger (see `CycleRecord.handed_over`)."""

    def resumes(
        state: str,
        reason: str = "flat",
        direction: str | None = None,
        held: Decimal = ZERO,
        residual: Decimal = ZERO,
    ) -> RestoredCycle:
        return RestoredCycle(pair.id, cycle, last_state, state, direction, held, residual, reason)

    own = [(i, f) for i, f in fills if i.id.pair == pair.id and i.id.cycle == cycle]
    if last_state in ENDED or not own:
        return resumes("idle")
    signed: dict[str, Decimal] = {}  # role -> signed base, net of fees paid in it
    direction = None
    long_role = None  # the role the entry bought
    instruments: list[Instrument] = []
    for intent, fill in own:
        parts = intent.id.leg.split(".")
        role = parts[1] if len(parts) > 1 else ""
        leg = next((x for x in pair.legs if x.role == role), None)
        inst = instrument(leg) if leg is not None else None
        if leg is None or inst is None:
            continue
        instruments.append(inst)
        signed[role] = signed.get(role, ZERO) + base_change(fill, inst)
        if parts[0] == "entry" and intent.request.side is Side.BUY:
            direction = direction_buying(pair.type, role)
            long_role = role
    residual = sum(signed.values(), ZERO)
    if is_dust(residual, instruments):
        residual = ZERO  # below one lot of every leg: no order could trade it, it is hedged
    held = max(signed.values(), default=ZERO)
    hedged = held  # what both legs hold alike
    if long_role is not None:
        short = sum((q for r, q in signed.items() if r != long_role), ZERO)
        hedged = max(ZERO, min(signed[long_role], -short))
    if residual != 0 and handed_over and long_role is not None:
        held = hedged
        if held == 0:
            return resumes("idle")
        reason = (
            f"cycle {cycle} holds {held} {pair.asset} hedged; its residual {residual} "
            "was handed to the hedger"
        )
        return resumes("open", reason, direction, held)
    if residual != 0:
        reason = (
            f"cycle {cycle} stopped in {last_state} one-legged: residual {residual} {pair.asset}"
        )
        return resumes("halted", reason, direction, held, residual)
    if hedged > 0 and direction is not None:
        return resumes(
            "open", f"cycle {cycle} holds {hedged} {pair.asset} hedged", direction, hedged
        )
    return resumes("idle")
