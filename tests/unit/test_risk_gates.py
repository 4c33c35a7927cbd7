"""Every gate type against books from the venue fixtures, through the compiled cycle machine."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from arbiter.compiler import PairPlan, compile_manifest
from arbiter.fsm import MachineRunner
from arbiter.manifest import load_manifest_bytes
from arbiter.risk.book_view import OrderBookView
from arbiter.risk.gates import Decision, GateStats, PairGates, consumed_side, in_window
from arbiter.risk.snapshot import BalanceView, RiskSnapshot, Side
from arbiter_bybit.codec import BybitCodec
from tests.support.manifest_samples import MINIMAL
from tests.support.venue_frames import bybit_book
from tests.support.xrp_books import XRP_SPOT, raw_depth_within, xrp_book, xrp_view

XRP = (
    MINIMAL.replace("asset: BTC", "asset: XRP")
    .replace("symbol: BTCUSDT", "symbol: XRPUSDT")
    .replace("symbol: BTC-USDT-SWAP", "symbol: XRP-USDT-SWAP")
)
SPOT, PERP = ("bybit", "XRPUSDT"), ("okx", "XRP-USDT-SWAP")
SNAPSHOT_TS_MS = 1733011200691  # the recording's first frame
NOW_NS = (SNAPSHOT_TS_MS + 50) * 1_000_000  # the book is 50 ms old
ENTER_BUY = Decision(
    "enter", "buy_spot_short_perp", order_qty=Decimal(50_000), order_notional=Decimal(97_655)
)


def _pair(*gates: str) -> PairPlan:
    text = XRP + "gates:\n" + "".join(f"  - {gate}\n" for gate in gates)
    (pair,) = compile_manifest(load_manifest_bytes(text)).pairs
    return pair


def _snapshot(**overrides: object) -> RiskSnapshot:
    book = xrp_view()
    fields: dict[str, object] = {
        "now_ns": NOW_NS,
        "wall_clock": datetime(2026, 11, 25, 12, 0, tzinfo=UTC),  # a Wednesday
        "books": {SPOT: book, PERP: book},
        "balances": {("bybit", "USDT"): BalanceView(Decimal(5000), Decimal(5000))},
        "venue_healthy": {"bybit": True, "okx": True},
        # at the entry threshold (10 bps): the built-in min_profit guard passes, 8 >= 3
        "entry_spread_bps": {"buy_spot_short_perp": Decimal(10)},
    }
    fields.update(overrides)
    return RiskSnapshot(**fields)  # type: ignore[arg-type]


def _check(
    pair: PairPlan, snapshot: RiskSnapshot, decision: Decision = ENTER_BUY
) -> tuple[bool, str]:
    (gate,) = pair.gates
    result = PairGates(pair).evaluate(gate.name, decision, snapshot)
    return result.passed, result.reason


REFERENCE = "{ name: perp-absorbs, type: min_depth, when: before_entry, leg: perp, within_bps: 10, min_order_multiple: 3 }"


def test_reference_gate_when_perp_book_deep_allows_the_spot_buy() -> None:
    assert (
        raw_depth_within("b", Decimal(10)) >= 3 * ENTER_BUY.order_qty
    )  # the fixture really is that deep
    runner = MachineRunner(_pair(REFERENCE).cycle, PairGates(_pair(REFERENCE)).resolve)
    runner.fire("spread_entered")
    decision = runner.fire("enter", decision=ENTER_BUY, snapshot=_snapshot())
    assert decision.accepted
    assert runner.state == "entering"


def test_reference_gate_when_perp_book_thin_blocks_the_spot_buy_with_numbers() -> None:
    pair = _pair(REFERENCE)
    thin = xrp_view(Decimal("0.1"))
    expected_depth = raw_depth_within("b", Decimal(10), Decimal("0.1"))
    assert expected_depth < 3 * ENTER_BUY.order_qty
    gates = PairGates(pair)
    runner = MachineRunner(pair.cycle, gates.resolve)
    runner.fire("spread_entered")
    decision = runner.fire(
        "enter",
        decision=ENTER_BUY,
        snapshot=_snapshot(books={SPOT: xrp_view(), PERP: thin}),
    )
    assert not decision.accepted
    assert runner.state == "armed"
    ((name, result),) = decision.failures
    assert name == "gate:perp-absorbs"
    assert result.reason == (
        f"okx:XRP-USDT-SWAP bid depth within 10 bps is {expected_depth.normalize():f} XRP, "
        "needs 150000 XRP (3 x order 50000 XRP)"
    )
    assert gates.stats.failed["perp-absorbs"] == 1
    assert gates.stats.passed["perp-absorbs"] == 0


def test_min_depth_side_auto_when_direction_or_trigger_flips_reads_the_other_side() -> None:
    pair = _pair(REFERENCE)
    assert consumed_side(pair, "perp", ENTER_BUY) is Side.BID  # shorting the perp sells into bids
    assert consumed_side(pair, "spot", ENTER_BUY) is Side.ASK
    exit_ = Decision("exit", "buy_spot_short_perp", ENTER_BUY.order_qty, ENTER_BUY.order_notional)
    assert consumed_side(pair, "perp", exit_) is Side.ASK  # buying the perp back lifts asks
    reverse = Decision(
        "enter", "sell_spot_long_perp", ENTER_BUY.order_qty, ENTER_BUY.order_notional
    )
    assert consumed_side(pair, "perp", reverse) is Side.ASK


def test_min_depth_when_book_stale_fails_closed() -> None:
    raw = xrp_book()
    raw.mark_stale("sequence gap")
    book = OrderBookView(raw, XRP_SPOT)
    passed, reason = _check(_pair(REFERENCE), _snapshot(books={SPOT: book, PERP: book}))
    assert not passed
    assert reason == "okx:XRP-USDT-SWAP: book is stale"


def test_min_depth_by_notional_when_depth_short_fails() -> None:
    pair = _pair(
        "{ name: d, type: min_depth, when: before_entry, leg: spot, side: ask, within_bps: 1, min_notional: 10000000 }"
    )
    passed, reason = _check(pair, _snapshot())
    assert not passed
    assert reason.startswith("bybit:XRPUSDT ask depth within 1 bps is")
    assert "(10000000 quote at 1.9532)" in reason


@pytest.mark.parametrize(("age_ms", "passes"), [(50, True), (499, True), (501, False)])
def test_max_book_age_when_book_older_than_limit_fails(age_ms: int, passes: bool) -> None:
    passed, reason = _check(
        _pair("{ name: a, type: max_book_age_ms, when: always, max_age_ms: 500 }"),
        _snapshot(now_ns=(SNAPSHOT_TS_MS + age_ms) * 1_000_000),
    )
    assert passed is passes
    assert reason.endswith(f"book is {age_ms} ms old, limit 500 ms")


def test_max_spread_when_book_wide_fails_and_names_spread() -> None:
    tight = xrp_view()  # 1.9531 / 1.9532: about 0.51 bps
    assert _check(
        _pair("{ name: s, type: max_spread_bps, when: always, leg: spot, max_bps: 1 }"), _snapshot()
    )[0]
    codec = BybitCodec([XRP_SPOT])
    codec.feed(bybit_book("snapshot", 1, [["1.90", "1"]], [["2.00", "1"]], symbol="XRPUSDT"))
    wide = OrderBookView(codec.books["XRPUSDT"], XRP_SPOT)
    passed, reason = _check(
        _pair("{ name: s, type: max_spread_bps, when: always, leg: spot, max_bps: 1 }"),
        _snapshot(books={SPOT: wide, PERP: tight}),
    )
    assert not passed
    assert reason == "bybit:XRPUSDT bid/ask spread is 512.82 bps, limit 1 bps"


def test_min_balance_when_free_below_minimum_fails() -> None:
    pair = _pair(
        "{ name: b, type: min_balance, when: before_entry, venue: bybit, asset: USDT, min_free: 6000 }"
    )
    passed, reason = _check(pair, _snapshot())
    assert not passed
    assert reason == "bybit USDT free 5000, needs 6000"
    assert not _check(pair, _snapshot(balances={}))[0]


def test_max_position_when_entry_would_exceed_fails_but_exit_passes() -> None:
    pair = _pair("{ name: p, type: max_position, when: always, max_notional: 100000 }")
    snapshot = _snapshot(position_notional={"btc": Decimal(5000)})
    passed, reason = _check(pair, snapshot)
    assert not passed
    assert reason == "pair btc position would be 102655 quote, limit 100000"
    assert _check(pair, snapshot, Decision("exit", "buy_spot_short_perp", Decimal(1), Decimal(1)))[
        0
    ]


@pytest.mark.parametrize(
    ("delta", "passes"), [(Decimal(-499), True), (Decimal(500), True), (Decimal(-501), False)]
)
def test_max_net_delta_when_outside_band_fails_either_sign(delta: Decimal, passes: bool) -> None:
    pair = _pair("{ name: n, type: max_net_delta, when: always, max_notional: 500 }")
    assert _check(pair, _snapshot(net_delta_notional={"XRP": delta}))[0] is passes


@pytest.mark.parametrize(
    ("rate", "passes"), [(Decimal("0.0001"), True), (Decimal("-0.0006"), False), (None, False)]
)
def test_funding_rate_when_outside_bounds_or_unknown_fails(
    rate: Decimal | None, passes: bool
) -> None:
    pair = _pair(
        "{ name: f, type: funding_rate, when: before_entry, min_rate: -0.0005, max_rate: 0.003 }"
    )
    rates = {} if rate is None else {PERP: rate}
    passed, reason = _check(pair, _snapshot(funding_rates=rates))
    assert passed is passes
    assert "funding rate" in reason


def test_venue_healthy_when_a_leg_venue_is_down_fails_naming_it() -> None:
    pair = _pair("{ name: v, type: venue_healthy, when: always }")
    passed, reason = _check(pair, _snapshot(venue_healthy={"bybit": True, "okx": False}))
    assert not passed
    assert reason == "venues down: okx"


def test_max_open_cycles_when_at_limit_blocks_entry_only() -> None:
    pair = _pair("{ name: c, type: max_open_cycles, when: always, max_cycles: 2 }")
    snapshot = _snapshot(open_cycles={"btc": 2})
    assert not _check(pair, snapshot)[0]
    assert _check(pair, snapshot, Decision("exit", "buy_spot_short_perp", Decimal(1), Decimal(1)))[
        0
    ]
    assert _check(pair, _snapshot(open_cycles={"btc": 1}))[0]


def test_max_open_cycles_when_other_pairs_hold_the_cycles_counts_them_too() -> None:
    pair = _pair("{ name: c, type: max_open_cycles, when: before_entry, max_cycles: 2 }")
    passed, reason = _check(pair, _snapshot(open_cycles={"btc": 0, "eth": 1, "sol": 1}))
    assert not passed
    assert reason == "2 cycles open across the strategy's pairs, limit 2"


def test_max_open_cycles_when_scoped_counts_only_its_pairs() -> None:
    text = XRP + (
        "gates:\n"
        "  - { name: c, type: max_open_cycles, when: before_entry, max_cycles: 1, pairs: [btc] }\n"
    )
    (pair,) = compile_manifest(load_manifest_bytes(text)).pairs
    snapshot = _snapshot(open_cycles={"btc": 0, "eth": 1})
    assert _check(pair, snapshot) == (True, "0 cycles open across pairs btc, limit 1")


def _enter(entry_bps: str | None) -> tuple[bool, str]:
    """Fire `enter` on the compiled XRP pair (entry 10, exit 2, min_profit 3) with the engine's
    net entry spread at `entry_bps` (None: unknown): accepted, and the min_profit reason."""
    (pair,) = compile_manifest(load_manifest_bytes(XRP)).pairs
    runner = MachineRunner(pair.cycle, PairGates(pair).resolve)
    runner.fire("spread_entered")
    spreads = {} if entry_bps is None else {"buy_spot_short_perp": Decimal(entry_bps)}
    decision = runner.fire(
        "enter", decision=ENTER_BUY, snapshot=_snapshot(entry_spread_bps=spreads)
    )
    return decision.accepted, dict(decision.guards)["min_profit"].reason


def test_min_profit_when_expected_round_trip_short_of_it_refuses_entry_with_numbers() -> None:
    assert _enter("4.99") == (
        False,
        "net entry spread 4.99 bps - exit_bps 2 = 2.99 bps expected, min_profit_bps 3",
    )


def test_min_profit_when_expected_round_trip_reaches_it_lets_entry_through() -> None:
    assert _enter("5") == (
        True,
        "net entry spread 5 bps - exit_bps 2 = 3 bps expected, min_profit_bps 3",
    )


def test_min_profit_when_entry_spread_unknown_fails_closed() -> None:
    assert _enter(None) == (False, "pair btc buy_spot_short_perp: net entry spread unknown")


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (datetime(2026, 11, 25, 22, 0, tzinfo=UTC), True),  # start is inclusive
        (datetime(2026, 11, 25, 21, 59, tzinfo=UTC), False),
        (datetime(2026, 11, 25, 23, 30, tzinfo=UTC), True),  # Wed late evening, window opened Wed
        (datetime(2026, 11, 26, 5, 59, tzinfo=UTC), True),  # Thu early morning: still Wed's window
        (datetime(2026, 11, 26, 6, 0, tzinfo=UTC), False),  # end is exclusive
        (datetime(2026, 11, 26, 23, 0, tzinfo=UTC), False),  # Thu's window: Thu not allowed
        (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), False),  # midday, outside 22:00-06:00
    ],
)
def test_trading_window_when_wrapping_midnight_belongs_to_its_start_day(
    when: datetime, inside: bool
) -> None:
    pair = _pair(
        "{ name: w, type: trading_window, when: before_entry, start: '22:00', end: '06:00', days: [wed] }"
    )
    (gate,) = pair.gates
    assert in_window(gate.rule, when) is inside  # type: ignore[arg-type]
    assert _check(pair, _snapshot(wall_clock=when))[0] is inside


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), True),  # Monday at the start
        (datetime(2026, 11, 23, 16, 59, tzinfo=UTC), True),
        (datetime(2026, 11, 23, 17, 0, tzinfo=UTC), False),
        (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), False),  # Wednesday: not an allowed day
    ],
)
def test_trading_window_when_same_day_checks_day_and_hours(when: datetime, inside: bool) -> None:
    pair = _pair(
        "{ name: w, type: trading_window, when: before_entry, start: '09:00', end: '17:00', days: [mon] }"
    )
    assert _check(pair, _snapshot(wall_clock=when))[0] is inside


def test_kill_switch_when_file_present_fails() -> None:
    pair = _pair("{ name: k, type: kill_switch, when: always, file: /run/arbiter/kill }")
    assert _check(pair, _snapshot(file_exists=lambda path: False))[0]
    passed, reason = _check(pair, _snapshot(file_exists=lambda path: path == "/run/arbiter/kill"))
    assert not passed
    assert reason == "kill file /run/arbiter/kill exists"


def test_gated_trigger_when_fired_without_snapshot_fails_closed() -> None:
    pair = _pair(REFERENCE)
    runner = MachineRunner(pair.cycle, PairGates(pair).resolve)
    runner.fire("spread_entered")
    decision = runner.fire("enter")
    assert not decision.accepted
    assert [(name, r.reason) for name, r in decision.failures] == [
        ("min_profit", "min_profit: fired without a decision and snapshot"),
        ("gate:perp-absorbs", "gate:perp-absorbs: fired without a decision and snapshot"),
    ]


def test_gate_stats_when_shared_count_every_evaluation_per_gate() -> None:
    pair = _pair(REFERENCE)
    stats = GateStats()
    gates = PairGates(pair, stats)
    thin = xrp_view(Decimal("0.01"))
    for books in (
        {SPOT: thin, PERP: thin},
        {SPOT: thin, PERP: xrp_view()},
        {SPOT: thin, PERP: thin},
    ):
        gates.evaluate("perp-absorbs", ENTER_BUY, _snapshot(books=books))
    assert (stats.passed["perp-absorbs"], stats.failed["perp-absorbs"]) == (1, 2)
    assert "needs 150000 XRP" in stats.last_failure["perp-absorbs"]
