"""What a run did, per strategy: the figures `arbiter run` and `make demo` print at the end.

Every figure is read from the running parts (pair runners, ledgers, gate counters, hedgers),
never estimated: a cycle counts when its exit filled, PnL is realized (spread legs + hedges +
funding - fees, each line shown), latencies are percentiles of measured samples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from rich.console import JustifyMethod
from rich.table import Table

from arbiter.runtime.host import StrategyHost

ZERO = Decimal(0)


def percentile_us(samples_ns: Iterable[int], q: float) -> float | None:
    ordered = sorted(samples_ns)
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index] / 1000


def fast_lane_percentiles(decide_ns: Iterable[int], last: int = 10_000) -> dict[str, float | None]:
    """p50/p99 of the latest `last` book-event-to-decision times, in microseconds."""
    recent = list(decide_ns)[-last:]
    return {"p50": percentile_us(recent, 0.50), "p99": percentile_us(recent, 0.99)}


@dataclass
class StrategySummary:
    name: str
    state: str
    cycles: int
    entries: int
    entries_refused: int
    one_legged: int
    repairs: dict[str, int]
    realized_pnl: Decimal
    spread_pnl: Decimal
    hedge_pnl: Decimal
    funding: Decimal
    fees: Decimal
    slippage_bps: Decimal
    fills: int
    gates_failed: dict[str, int]
    last_gate_failure: dict[str, str]
    max_abs_delta: dict[str, Decimal]  # worst |net delta| seen per asset, in quote
    end_abs_delta: dict[str, Decimal]  # |net delta| per asset when the summary was taken
    hedges: int
    fast_lane_p50_us: float | None
    fast_lane_p99_us: float | None
    order_path_p99_us: float | None
    decisions: int
    reload_ms: list[float] = field(default_factory=list)


def summarize(host: StrategyHost, state: str) -> StrategySummary:
    runners = host.runner.runners()
    decide = list(host.runner.stats.decide_ns)
    sent = [ns for r in runners for ns in r.stats.decision_to_sent_ns]
    repairs: dict[str, int] = {}
    for r in runners:
        for outcome, n in r.stats.repairs.items():
            repairs[outcome] = repairs.get(outcome, 0) + n
    hedger = host.hedger
    lines = host.ledger.lines()
    return StrategySummary(
        name=host.name,
        state=state,
        cycles=sum(r.stats.cycles_completed for r in runners),
        entries=sum(r.stats.entries for r in runners),
        entries_refused=sum(r.stats.entries_refused for r in runners),
        one_legged=sum(r.stats.one_legged for r in runners),
        repairs=repairs,
        realized_pnl=lines.realized,
        spread_pnl=lines.spread,
        hedge_pnl=lines.hedge,
        funding=lines.funding,
        fees=lines.fees,
        slippage_bps=host.ledger.slippage.bps,
        fills=host.ledger.fills,
        gates_failed=dict(host.runner.gate_stats.failed),
        last_gate_failure=dict(host.runner.gate_stats.last_failure),
        max_abs_delta=_worst_delta(host),
        end_abs_delta=dict(host.delta.latest),
        hedges=sum(len(d.slices) for d in hedger.decisions) if hedger else 0,
        fast_lane_p50_us=percentile_us(decide, 0.50),
        fast_lane_p99_us=percentile_us(decide, 0.99),
        order_path_p99_us=percentile_us(sent, 0.99),
        decisions=len(decide),
        reload_ms=list(host.reload_ms),
    )


_REPAIR = {
    "repaired": "chased",
    "flattened": "unwound",
    "handed_to_hedger": "to hedger",
    "repair_budget_exceeded": "over budget",
}


def _worst_delta(host: StrategyHost) -> dict[str, Decimal]:
    """Per asset, the worst |net delta| seen: by the risk checks on every tick, and by the
    hedger when it measured a residual (which it may hedge away between two ticks)."""
    worst = dict(host.delta.worst)
    if host.hedger is not None:
        for asset, value in host.hedger.max_abs_delta_notional.items():
            worst[asset] = max(worst.get(asset, ZERO), value)
    return worst


def _money(value: Decimal) -> str:
    """Two decimals, and no "-0.00" for a figure that rounds to zero."""
    return f"{value.quantize(Decimal('0.01')) + 0:.2f}"


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def summary_table(summaries: list[StrategySummary]) -> Table:
    table = Table(title="run summary (money in quote currency)", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("strategy", "left"),
        ("state", "left"),
        ("cycles", "right"),
        ("entries (refused)", "right"),
        ("one-legged (repairs)", "left"),
        ("spread", "right"),
        ("hedge", "right"),
        ("funding", "right"),
        ("fees", "right"),
        ("PnL", "right"),
        ("slippage bps", "right"),
        ("hedge orders", "right"),
        ("worst |delta|", "right"),
        ("|delta| at end", "right"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for s in summaries:
        repairs = ", ".join(f"{_REPAIR.get(k, k)} {v}" for k, v in sorted(s.repairs.items()))
        worst = max(s.max_abs_delta.values(), default=None)
        end = max(s.end_abs_delta.values(), default=None)
        table.add_row(
            s.name,
            s.state,
            str(s.cycles),
            f"{s.entries} ({s.entries_refused})",
            f"{s.one_legged} ({repairs})" if s.one_legged else "0",
            _money(s.spread_pnl),
            _money(s.hedge_pnl),
            _money(s.funding),
            _money(s.fees),
            _money(s.realized_pnl),
            _money(s.slippage_bps),
            str(s.hedges),
            "-" if worst is None else f"{worst:.0f}",
            "-" if end is None else f"{end:.0f}",
        )
    return table


def latency_table(summaries: list[StrategySummary]) -> Table:
    table = Table(title="latency (microseconds)", title_justify="left")
    for column in (
        "strategy",
        "book events decided",
        "fast lane p50",
        "fast lane p99",
        "decision -> both legs done p99",
    ):
        table.add_column(column, justify="right" if column != "strategy" else "left")
    for s in summaries:
        table.add_row(
            s.name,
            str(s.decisions),
            _us(s.fast_lane_p50_us),
            _us(s.fast_lane_p99_us),
            _us(s.order_path_p99_us),
        )
    return table


def gate_reasons(summaries: list[StrategySummary]) -> list[str]:
    """One line per gate that blocked something: its last reason, with the numbers."""
    return [
        f"{s.name} gate {gate} blocked {s.gates_failed[gate]}x; last: {reason}"
        for s in summaries
        for gate, reason in sorted(s.last_gate_failure.items())
    ]
