"""Evaluate the manifest's gates against a `RiskSnapshot` at decision time.

A gate returns pass or fail with a reason that names the numbers, e.g.
"okx:BTC-USDT-SWAP bid depth within 10 bps is 1.8 BTC, needs 3.0 BTC (3 x order 1.0 BTC)".
Evaluation happens only when the cycle machine fires a gated trigger (a threshold crossing),
never per book update, so it costs the fast lane nothing between crossings.

Besides the manifest's gates, every `enter` carries the built-in `min_profit` guard
(`check_min_profit`), evaluated, counted and reported the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from arbiter.compiler.plan import GATE_GUARD_PREFIX, LegPlan, PairPlan
from arbiter.fsm.runner import GuardResult
from arbiter.manifest import gates as g
from arbiter.manifest.gates import MIN_PROFIT_GUARD
from arbiter.risk.snapshot import BPS, RiskSnapshot, Side

PASS = GuardResult(True)

_BUYS_FIRST = {
    "buy_spot_short_perp": "spot",
    "sell_spot_long_perp": "perp",
    "buy_a_sell_b": "a",
    "buy_b_sell_a": "b",
}


@dataclass(frozen=True, slots=True)
class Decision:
    """What the strategy is about to do: the context every gate is evaluated in."""

    trigger: str  # "enter" or "exit"
    direction: str  # a concrete direction, never "both"
    order_qty: Decimal  # base units per leg
    order_notional: Decimal  # quote


def leg_action(pair: PairPlan, role: str, decision: Decision) -> str:
    """'buy' or 'sell' for one leg: entering buys the cheap leg; exiting reverses both."""
    buyer = _BUYS_FIRST.get(decision.direction)
    if buyer is None:
        raise ValueError(
            f"pair {pair.id}: expected a concrete direction, was {decision.direction!r}"
        )
    buys = role == buyer
    if decision.trigger == "exit":
        buys = not buys
    return "buy" if buys else "sell"


def consumed_side(pair: PairPlan, role: str, decision: Decision) -> Side:
    """The book side a leg's taker order eats: asks when buying, bids when selling."""
    return Side.ASK if leg_action(pair, role, decision) == "buy" else Side.BID


def _fmt(value: Decimal) -> str:
    """Plain notation without trailing zeros: 150000, 31999.4, 0.0005."""
    return f"{value.normalize():f}"


def _legs(pair: PairPlan, role: g.LegRole) -> list[LegPlan]:
    return list(pair.legs) if role is g.LegRole.ALL else [pair.leg(role.value)]


def _min_depth(rule: g.MinDepth, pair: PairPlan, d: Decision, snap: RiskSnapshot) -> GuardResult:
    leg = pair.leg(rule.leg.value)
    name = f"{leg.venue}:{leg.symbol}"
    book = snap.books.get((leg.venue, leg.symbol))
    if book is None:
        return GuardResult(False, f"{name}: no book")
    if book.stale:
        return GuardResult(False, f"{name}: book is stale")
    side = (
        consumed_side(pair, leg.role, d) if rule.side is g.BookSide.AUTO else Side(rule.side.value)
    )
    touch = book.best(side)
    if touch is None:
        return GuardResult(False, f"{name}: {side.value} side is empty")
    if rule.min_order_multiple is not None:
        needed = rule.min_order_multiple * d.order_qty
        why = f"{_fmt(rule.min_order_multiple)} x order {_fmt(d.order_qty)} {pair.asset}"
    else:
        assert rule.min_notional is not None
        needed = rule.min_notional / touch[0]
        why = f"{_fmt(rule.min_notional)} quote at {_fmt(touch[0])}"
    depth = book.depth_within(side, rule.within_bps)
    text = (
        f"{name} {side.value} depth within {_fmt(rule.within_bps)} bps is {_fmt(depth)} {pair.asset}, "
        f"needs {_fmt(needed.quantize(Decimal('1e-8')).normalize())} {pair.asset} ({why})"
    )
    return GuardResult(depth >= needed, text)


def _max_book_age(
    rule: g.MaxBookAge, pair: PairPlan, d: Decision, snap: RiskSnapshot
) -> GuardResult:
    ages = []
    for leg in _legs(pair, rule.leg):
        book = snap.books.get((leg.venue, leg.symbol))
        if book is None:
            return GuardResult(False, f"{leg.venue}:{leg.symbol}: no book")
        ages.append((book.age_ms(snap.now_ns), f"{leg.venue}:{leg.symbol}"))
    age, name = max(ages)
    return GuardResult(
        age <= rule.max_age_ms, f"{name} book is {age:.0f} ms old, limit {rule.max_age_ms} ms"
    )


def _max_spread(rule: g.MaxSpread, pair: PairPlan, d: Decision, snap: RiskSnapshot) -> GuardResult:
    worst: tuple[Decimal, str] | None = None
    for leg in _legs(pair, rule.leg):
        name = f"{leg.venue}:{leg.symbol}"
        book = snap.books.get((leg.venue, leg.symbol))
        bid = book.best(Side.BID) if book else None
        ask = book.best(Side.ASK) if book else None
        if bid is None or ask is None:
            return GuardResult(False, f"{name}: no two-sided book")
        mid = (bid[0] + ask[0]) / 2
        spread = (ask[0] - bid[0]) / mid * BPS
        if worst is None or spread > worst[0]:
            worst = (spread, name)
    assert worst is not None
    spread, name = worst
    return GuardResult(
        spread <= rule.max_bps,
        f"{name} bid/ask spread is {spread:.2f} bps, limit {_fmt(rule.max_bps)} bps",
    )


def _min_balance(
    rule: g.MinBalance, pair: PairPlan, d: Decision, snap: RiskSnapshot
) -> GuardResult:
    balance = snap.balances.get((rule.venue, rule.asset))
    if balance is None:
        return GuardResult(False, f"{rule.venue} {rule.asset} balance unknown")
    return GuardResult(
        balance.free >= rule.min_free,
        f"{rule.venue} {rule.asset} free {_fmt(balance.free)}, needs {_fmt(rule.min_free)}",
    )


def _max_position(
    rule: g.MaxPosition, pair: PairPlan, d: Decision, snap: RiskSnapshot
) -> GuardResult:
    held = snap.position_notional.get(pair.id, Decimal(0))
    after = held + d.order_notional if d.trigger == "enter" else held
    return GuardResult(
        after <= rule.max_notional,
        f"pair {pair.id} position would be {_fmt(after)} quote, limit {_fmt(rule.max_notional)}",
    )


def _max_net_delta(
    rule: g.MaxNetDelta, pair: PairPlan, d: Decision, snap: RiskSnapshot
) -> GuardResult:
    delta = snap.net_delta_notional.get(pair.asset, Decimal(0))
    return GuardResult(
        abs(delta) <= rule.max_notional,
        f"{pair.asset} net delta is {_fmt(delta)} quote, limit {_fmt(rule.max_notional)}",
    )


def _funding_rate(
    rule: g.FundingRate, pair: PairPlan, d: Decision, snap: RiskSnapshot
) -> GuardResult:
    perp = pair.leg("perp")
    rate = snap.funding_rates.get((perp.venue, perp.symbol))
    if rate is None:
        return GuardResult(False, f"{perp.venue}:{perp.symbol} funding rate unknown")
    low_ok = rule.min_rate is None or rate >= rule.min_rate
    high_ok = rule.max_rate is None or rate <= rule.max_rate
    bounds = f"[{_fmt(rule.min_rate) if rule.min_rate is not None else '-inf'}, {_fmt(rule.max_rate) if rule.max_rate is not None else '+inf'}]"
    return GuardResult(
        low_ok and high_ok,
        f"{perp.venue}:{perp.symbol} funding rate {_fmt(rate)}, allowed {bounds}",
    )


def _venue_healthy(
    rule: g.VenueHealthy, pair: PairPlan, d: Decision, snap: RiskSnapshot
) -> GuardResult:
    venues = rule.venues or sorted({leg.venue for leg in pair.legs})
    down = [v for v in venues if not snap.venue_healthy.get(v, False)]
    return GuardResult(
        not down, f"venues down: {', '.join(down)}" if down else f"venues up: {', '.join(venues)}"
    )


def _max_open_cycles(
    rule: g.MaxOpenCycles, pair: PairPlan, d: Decision, snap: RiskSnapshot
) -> GuardResult:
    """Cycles open across the strategy's pairs the gate applies to (a pair runs one cycle at a
    time, so a count of the deciding pair alone could never reach a limit)."""
    scope = "the strategy's pairs" if rule.pairs is None else f"pairs {', '.join(rule.pairs)}"
    open_now = sum(
        n for pid, n in snap.open_cycles.items() if rule.pairs is None or pid in rule.pairs
    )
    if d.trigger != "enter":
        return GuardResult(True, f"{open_now} cycles open across {scope} (exits always allowed)")
    return GuardResult(
        open_now < rule.max_cycles,
        f"{open_now} cycles open across {scope}, limit {rule.max_cycles}",
    )


_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def in_window(rule: g.TradingWindow, now: datetime) -> bool:
    """Inside [start, end) UTC on an allowed day; a window past midnight belongs to its start day."""
    hhmm = now.strftime("%H:%M")
    today = _WEEKDAY_NAMES[now.weekday()]
    yesterday = _WEEKDAY_NAMES[(now.weekday() - 1) % 7]
    if rule.start < rule.end:
        return today in rule.days and rule.start <= hhmm < rule.end
    if hhmm >= rule.start:
        return today in rule.days
    return hhmm < rule.end and yesterday in rule.days


def _trading_window(
    rule: g.TradingWindow, pair: PairPlan, d: Decision, snap: RiskSnapshot
) -> GuardResult:
    now = snap.wall_clock
    inside = in_window(rule, now)
    where = "inside" if inside else "outside"
    return GuardResult(
        inside,
        f"{now:%a %H:%M} UTC is {where} {rule.start}-{rule.end} on {','.join(rule.days)}",
    )


def _kill_switch(
    rule: g.KillSwitch, pair: PairPlan, d: Decision, snap: RiskSnapshot
) -> GuardResult:
    present = snap.file_exists(rule.file)
    return GuardResult(not present, f"kill file {rule.file} {'exists' if present else 'absent'}")


def check_min_profit(pair: PairPlan, d: Decision, snap: RiskSnapshot) -> GuardResult:
    """`thresholds.min_profit_bps`: the expected round trip of a cycle entered now, the net
    entry spread at the decision less the exit threshold it will leave at, must reach it.

    Above `entry_bps` this always holds (the manifest keeps min_profit_bps <= entry_bps -
    exit_bps); it bites while a pair stays armed with its spread back inside the hysteresis
    band, or when the spread moved between the crossing and the decision."""
    t = pair.thresholds
    entry = snap.entry_spread_bps.get(d.direction)
    if entry is None:
        return GuardResult(False, f"pair {pair.id} {d.direction}: net entry spread unknown")
    expected = entry - t.exit_bps
    return GuardResult(
        expected >= t.min_profit_bps,
        f"net entry spread {_fmt(entry)} bps - exit_bps {_fmt(t.exit_bps)} = "
        f"{_fmt(expected)} bps expected, min_profit_bps {_fmt(t.min_profit_bps)}",
    )


Evaluator = Callable[[Any, PairPlan, Decision, RiskSnapshot], GuardResult]

EVALUATORS: Mapping[str, Evaluator] = {
    "min_depth": _min_depth,
    "max_book_age_ms": _max_book_age,
    "max_spread_bps": _max_spread,
    "min_balance": _min_balance,
    "max_position": _max_position,
    "max_net_delta": _max_net_delta,
    "funding_rate": _funding_rate,
    "venue_healthy": _venue_healthy,
    "max_open_cycles": _max_open_cycles,
    "trading_window": _trading_window,
    "kill_switch": _kill_switch,
}


class GateStats:
    """Pass and fail counts per gate name, for status and the demo summary."""

    def __init__(self) -> None:
        self.passed: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.last_failure: dict[str, str] = {}

    def record(self, name: str, result: GuardResult) -> None:
        if result.passed:
            self.passed[name] += 1
        else:
            self.failed[name] += 1
            self.last_failure[name] = result.reason


class PairGates:
    """The guard resolver for one pair's cycle machine.

    `MachineRunner` calls `resolve(guard, context)` with the kwargs the trigger was fired with;
    gated triggers are fired with `snapshot=` and `decision=`. Guards that are not gates
    (`is_flat`, `has_position`) go to `other`.
    """

    def __init__(
        self,
        pair: PairPlan,
        stats: GateStats | None = None,
        other: Callable[[str, Mapping[str, Any]], GuardResult] | None = None,
    ) -> None:
        self.pair = pair
        self.stats = stats if stats is not None else GateStats()
        self._other = other

    def evaluate(self, name: str, decision: Decision, snapshot: RiskSnapshot) -> GuardResult:
        gate = self.pair.gate(name)
        try:
            result = EVALUATORS[gate.type](gate.rule, self.pair, decision, snapshot)
        except Exception as exc:  # a gate that cannot decide blocks: fail closed, and say why
            result = GuardResult(False, f"gate {gate.name} could not be evaluated: {exc!r}")
        self.stats.record(gate.name, result)
        return result

    def resolve(self, guard: str, context: Mapping[str, Any]) -> GuardResult:
        if guard.startswith(GATE_GUARD_PREFIX) or guard == MIN_PROFIT_GUARD:
            decision, snapshot = context.get("decision"), context.get("snapshot")
            if not isinstance(decision, Decision) or not isinstance(snapshot, RiskSnapshot):
                return GuardResult(False, f"{guard}: fired without a decision and snapshot")
            if guard == MIN_PROFIT_GUARD:
                result = check_min_profit(self.pair, decision, snapshot)
                self.stats.record(MIN_PROFIT_GUARD, result)
                return result
            return self.evaluate(guard, decision, snapshot)
        if self._other is None:
            return GuardResult(False, f"{guard}: no resolver")
        return self._other(guard, context)
