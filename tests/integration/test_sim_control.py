"""The simulator's control commands (`arbiter sim --control`): move the market, add faults,
report the engines' state; bad commands are answered, never fatal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from arbiter.market.instrument import InstrumentKind
from arbiter.sim import FaultKind, Simulation, start
from arbiter.sim.book import Side
from arbiter.sim.control import apply
from arbiter.sim.generator import STILL_MARKET
from arbiter.sim.orders import OrderType, TimeInForce

D = Decimal


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    simulation = await start(symbols=["BTC/USDT"], seed=2, market=STILL_MARKET)
    yield simulation
    await simulation.stop()


def mid(sim: Simulation, venue: str, kind: InstrumentKind, symbol: str) -> Decimal:
    engine = sim.engine(venue)
    return engine.mark(engine.instrument(kind, symbol))


async def test_control_when_basis_set_and_stepped_moves_only_that_perp(sim: Simulation) -> None:
    spot_before = mid(sim, "okx", InstrumentKind.SPOT, "BTC-USDT")
    bybit_perp = mid(sim, "bybit", InstrumentKind.PERP, "BTCUSDT")

    assert apply(sim, '{"op": "basis", "venue": "okx", "base": "BTC", "bps": "80"}') == {"ok": True}
    assert apply(sim, json.dumps({"op": "step", "n": 2})) == {"ok": True}

    perp = mid(sim, "okx", InstrumentKind.PERP, "BTC-USDT-SWAP")
    assert mid(sim, "okx", InstrumentKind.SPOT, "BTC-USDT") == spot_before  # still market
    assert abs(perp / spot_before - D("1.008")) < D("0.00001")
    assert mid(sim, "bybit", InstrumentKind.PERP, "BTCUSDT") == bybit_perp


async def test_control_when_state_asked_reports_orders_fills_and_balances_exactly(
    sim: Simulation,
) -> None:
    engine = sim.engine("bybit")
    account = next(iter(engine.accounts.values()))
    inst = engine.instrument(InstrumentKind.SPOT, "BTCUSDT")
    order = engine.place(
        account,
        inst,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=D("0.01"),
        price=inst.ticks_to_price(engine.book(inst).best_ask() or 0),
        tif=TimeInForce.IOC,
        client_id="c1",
    )

    answer = apply(sim, '{"op": "state"}')

    assert answer["ok"]
    bybit = answer["state"]["bybit"]
    assert bybit["orders"] == [
        {
            "order_id": order.order_id,
            "client_id": "c1",
            "kind": "spot",
            "symbol": "BTCUSDT",
            "side": "buy",
            "qty": "0.01",
            "filled": str(order.filled),
            "status": "filled",
        }
    ]
    (execution,) = bybit["executions"]
    assert (execution["client_id"], D(execution["qty"]), D(execution["fee"])) == (
        "c1",
        D("0.01"),
        order.fee,
    )
    (acct,) = bybit["accounts"]
    assert {k: D(v) for k, v in acct["balances"].items()} == account.balances
    assert answer["state"]["okx"]["orders"] == []


async def test_control_when_fault_added_fires_on_its_target(sim: Simulation) -> None:
    command = {"op": "fault", "kind": "reject", "target": "okx POST /api/v5/trade/order"}
    assert apply(sim, json.dumps(command)) == {"ok": True}
    assert sim.faults.take(FaultKind.REJECT, "okx POST /api/v5/trade/order") is not None


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("not json", "expected one JSON object per line"),
        ("[1]", "expected a JSON object, was list"),
        ('{"op": "fly"}', "expected op basis, step, fault or state, was 'fly'"),
        ('{"op": "step", "n": 0}', "step: expected a positive integer n, was 0"),
        ('{"op": "basis", "venue": "okx", "base": "BTC", "bps": 0.5}', "bps: expected a decimal"),
        ('{"op": "basis", "venue": "okx", "bps": "5"}', "basis: expected base as a string"),
        ('{"op": "basis", "venue": "kraken", "base": "BTC", "bps": "5"}', "kraken:BTC"),
        ('{"op": "fault", "kind": "meteor"}', "'meteor' is not a valid FaultKind"),
    ],
)
async def test_control_when_command_is_bad_answers_why_and_keeps_running(
    sim: Simulation, line: str, says: str
) -> None:
    answer = apply(sim, line)

    assert answer["ok"] is False
    assert says in answer["error"]
    assert apply(sim, '{"op": "step"}') == {"ok": True}
