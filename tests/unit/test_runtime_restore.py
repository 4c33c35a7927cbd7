"""A restart puts each pair back where its journaled fills say it is: never forgets, never invents."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from arbiter.compiler import compile_manifest
from arbiter.compiler.plan import LegPlan
from arbiter.execution import Intent, OrderTracker
from arbiter.manifest.loader import load_manifest_bytes
from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.runtime.restore import restore_cycle
from arbiter.store import Journal
from arbiter.store.replay import load_strategy_fills
from arbiter.venues import Fill, OrderAck, OrderType, Side
from arbiter.venues.contract.client_ids import IntentId
from tests.support.instruments import OKX_BTC_PERP
from tests.support.manifest_samples import MINIMAL

D = Decimal
PLAN = compile_manifest(load_manifest_bytes(MINIMAL, "t.yaml"))
PAIR = PLAN.pairs[0]
SPOT = Instrument("bybit", "BTCUSDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.01"), D("0.000001"))
PERP = OKX_BTC_PERP  # contracts of 0.01 BTC


def instrument(leg: LegPlan) -> Instrument | None:
    return {"spot": SPOT, "perp": PERP}.get(leg.role)


def journal_fills(
    tmp_path: Path, legs: list[tuple[str, Side, str, str]], btc_fees: dict[str, str] | None = None
) -> list[tuple[Intent, Fill]]:
    """Write (leg, side, qty in venue units, fill qty) orders and fills, each fill paying the
    fee `btc_fees` names for its leg in BTC (else none in USDT); read them back."""
    btc_fees = btc_fees or {}
    with Journal.open(tmp_path / "j.sqlite") as journal:
        tracker = OrderTracker(journal)
        for n, (leg, side, qty, filled) in enumerate(legs):
            inst = SPOT if leg.endswith("spot") or ".spot." in leg else PERP
            intent = Intent.build(
                IntentId("t", "btc", 3, leg),
                inst.venue,
                None,
                symbol=inst.symbol,
                side=side,
                order_type=OrderType.LIMIT,
                qty=D(qty),
                price=D("60000"),
                decision_price=D("60000"),
                kind=inst.kind.value,
            )
            tracker.add(intent)
            tracker.submitted(intent.client_id)
            tracker.apply(OrderAck(inst.venue, intent.client_id, f"v{n}"))
            if D(filled) > 0:
                tracker.apply(
                    Fill(
                        inst.venue,
                        inst.symbol,
                        intent.client_id,
                        f"v{n}",
                        f"t{n}",
                        side,
                        D("60000"),
                        D(filled),
                        D(btc_fees.get(leg, "0")),
                        "BTC" if leg in btc_fees else "USDT",
                    )
                )
        return load_strategy_fills(journal.connection, "t")


def test_restore_when_both_entry_legs_filled_resumes_open_with_position(tmp_path: Path) -> None:
    fills = journal_fills(
        tmp_path, [("entry.spot", Side.BUY, "0.05", "0.05"), ("entry.perp", Side.SELL, "5", "5")]
    )
    restored = restore_cycle(PAIR, 3, "open", fills, instrument)
    assert (restored.state, restored.held_base, restored.residual_base) == ("open", D("0.05"), 0)
    assert restored.direction == "buy_spot_short_perp"


def test_restore_when_spot_buy_paid_its_fee_in_btc_resumes_open_on_the_net(
    tmp_path: Path,
) -> None:
    # Bought up by the fee: 0.050026 BTC less 0.000026 BTC of fee leaves 0.05, hedged.
    fills = journal_fills(
        tmp_path,
        [("entry.spot", Side.BUY, "0.050026", "0.050026"), ("entry.perp", Side.SELL, "5", "5")],
        btc_fees={"entry.spot": "0.000026"},
    )
    restored = restore_cycle(PAIR, 3, "open", fills, instrument)
    assert (restored.state, restored.held_base, restored.residual_base) == ("open", D("0.05"), 0)


def test_restore_when_fee_left_less_than_one_lot_calls_it_hedged(tmp_path: Path) -> None:
    # 0.0500005 BTC held against 0.05 short: the 0.0000005 left is below the spot lot.
    fills = journal_fills(
        tmp_path,
        [("entry.spot", Side.BUY, "0.050027", "0.050027"), ("entry.perp", Side.SELL, "5", "5")],
        btc_fees={"entry.spot": "0.0000265"},
    )
    restored = restore_cycle(PAIR, 3, "open", fills, instrument)
    assert (restored.state, restored.held_base, restored.residual_base) == ("open", D("0.05"), 0)


def test_restore_when_crash_left_one_leg_resumes_halted_with_residual(tmp_path: Path) -> None:
    fills = journal_fills(
        tmp_path, [("entry.spot", Side.BUY, "0.05", "0.05"), ("entry.perp", Side.SELL, "5", "2")]
    )
    restored = restore_cycle(PAIR, 3, "entering", fills, instrument)
    assert restored.state == "halted"
    assert restored.residual_base == D("0.03")
    assert "one-legged" in restored.reason


def test_restore_when_exit_completed_before_crash_resumes_idle(tmp_path: Path) -> None:
    fills = journal_fills(
        tmp_path,
        [
            ("entry.spot", Side.BUY, "0.05", "0.05"),
            ("entry.perp", Side.SELL, "5", "5"),
            ("exit.spot", Side.SELL, "0.05", "0.05"),
            ("exit.perp", Side.BUY, "5", "5"),
        ],
    )
    restored = restore_cycle(PAIR, 3, "exiting", fills, instrument)
    assert (restored.state, restored.held_base, restored.residual_base) == ("idle", 0, 0)


def test_restore_when_chase_completed_the_missing_leg_resumes_open(tmp_path: Path) -> None:
    fills = journal_fills(
        tmp_path,
        [
            ("entry.spot", Side.BUY, "0.05", "0.05"),
            ("entry.perp", Side.SELL, "5", "3"),
            ("entry.perp.chase", Side.SELL, "2", "2"),
        ],
    )
    restored = restore_cycle(PAIR, 3, "legging", fills, instrument)
    assert (restored.state, restored.held_base) == ("open", D("0.05"))


def test_restore_when_nothing_filled_resumes_idle(tmp_path: Path) -> None:
    fills = journal_fills(
        tmp_path, [("entry.spot", Side.BUY, "0.05", "0"), ("entry.perp", Side.SELL, "5", "0")]
    )
    assert restore_cycle(PAIR, 3, "entering", fills, instrument).state == "idle"


def test_restore_when_residual_was_handed_to_hedger_resumes_open_on_hedged_part(
    tmp_path: Path,
) -> None:
    fills = journal_fills(
        tmp_path, [("entry.spot", Side.BUY, "0.05", "0.05"), ("entry.perp", Side.SELL, "5", "2")]
    )
    restored = restore_cycle(PAIR, 3, "open", fills, instrument, handed_over=True)
    assert (restored.state, restored.held_base, restored.residual_base) == ("open", D("0.02"), 0)
    assert restored.direction == "buy_spot_short_perp"
    assert "handed to the hedger" in restored.reason


def test_restore_when_whole_leg_was_handed_to_hedger_resumes_idle(tmp_path: Path) -> None:
    fills = journal_fills(
        tmp_path, [("entry.spot", Side.BUY, "0.05", "0.05"), ("entry.perp", Side.SELL, "5", "0")]
    )
    restored = restore_cycle(PAIR, 3, "open", fills, instrument, handed_over=True)
    assert (restored.state, restored.held_base) == ("idle", 0)


def test_load_state_when_cycle_handed_over_says_so(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite") as journal:
        for cycle, trigger, dest in (
            (1, "handed_to_hedger", "cooling_down"),
            (2, "enter", "entering"),
        ):
            journal.record_cycle("t", "btc", cycle, trigger=trigger, source="x", dest=dest)
            journal.record_cycle("t", f"p{cycle}", cycle, trigger=trigger, source="x", dest=dest)
        cycles = journal.load_state().cycles
    assert cycles[("t", "p1")].handed_over
    assert not cycles[("t", "p2")].handed_over
    assert not cycles[("t", "btc")].handed_over  # its last cycle (2) was not handed over
