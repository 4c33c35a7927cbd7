"""A runtime trading one Bybit-spot / OKX-perp pair ("alpha", pair "btc") on the simulator,
with what tests of its legs and repairs read from it: the journal's orders of a cycle, what the
venues hold, and whether the two agree (`tests.support.journal_agreement`). Waits are on conditions with a
generous timeout, never on a fixed sleep."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from arbiter.execution.dual_leg import LegOrder
from arbiter.execution.intent import Intent
from arbiter.market.instrument import InstrumentKind
from arbiter.runtime.pair_runner import PairRunner
from arbiter.runtime.runtime import Runtime
from arbiter.sim import Simulation, start
from arbiter.sim.control import state
from arbiter.sim.generator import MarketParams
from arbiter.venues import OrderType, Side, TimeInForce
from arbiter.venues.contract.client_ids import IntentId
from tests.support.journal_agreement import assert_journal_agrees, net_base
from tests.support.sim_runtime import manifest, started

D = Decimal
SYMBOLS = ("BTC/USDT",)
WAIT_S = 30.0
OKX_ORDER = "okx POST /api/v5/trade/order"


@dataclass
class Desk:
    sim: Simulation
    runtime: Runtime

    @property
    def pair(self) -> PairRunner:
        return self.runtime.strategies["alpha"].runner.pairs["btc"]

    async def until(self, check: Callable[[], bool], what: str) -> None:
        assert await self.runtime.wait_for(check, WAIT_S), f"timed out waiting: {what}"

    async def basis(self, bps: str) -> None:
        self.sim.generator.set_basis("okx", "BTC", float(D(bps) / 10_000))
        self.sim.step()

    async def restart(self, tmp_path: Path) -> None:
        """Stop the runtime in order and start a new one on the same journal."""
        await self.runtime.stop()
        self.runtime = (await start_runtime(tmp_path, self.sim)).runtime

    async def cycle_settles(self, *states: str) -> None:
        """The entry (or exit) and any repair are over, the hedger is idle, nothing is open."""
        host = self.runtime.strategies["alpha"]

        def settled() -> bool:
            busy = self.pair.busy
            return (
                (busy is None or busy.done())
                and self.pair.machine.state in states
                and not self.runtime.tracker.open_orders()
                and (host.hedger is None or host.hedger.machine.state == "idle")
            )

        await self.until(settled, f"pair in {states}")

    def agrees(self) -> None:
        assert_journal_agrees(self.runtime.journal.connection, state(self.sim), SYMBOLS)

    def net_base(self) -> Decimal:
        return net_base(state(self.sim), SYMBOLS, "BTC")

    def legs(self, cycle: int) -> dict[str, tuple[str, str, Decimal]]:
        """leg -> (state, client id, filled) of every order of `cycle`, from the journal."""
        rows = self.runtime.journal.connection.execute(
            "SELECT i.leg, i.attempt, o.state, o.client_id, o.fills_qty FROM orders o "
            "JOIN intents i USING (client_id) WHERE i.pair = 'btc' AND i.cycle = ?",
            (cycle,),
        ).fetchall()
        return {f"{leg}/{attempt}": (st, cid, D(q)) for leg, attempt, st, cid, q in rows}

    def no_client_id_twice(self) -> None:
        """Every order either venue holds has one intent in the journal, and no client id was
        used twice."""
        journaled = [
            cid
            for (cid,) in self.runtime.journal.connection.execute("SELECT client_id FROM intents")
        ]
        assert len(journaled) == len(set(journaled))
        for venue in ("bybit", "okx"):
            held = self.engine_orders(venue)
            assert len(held) == len(set(held)), f"{venue} holds a client id twice"
            assert set(held) <= set(journaled), f"{venue} holds orders the journal lacks"

    def engine_orders(self, venue: str) -> list[str]:
        return [o.client_id for o in self.sim.engine(venue).orders.values()]

    def held(self) -> tuple[Decimal, Decimal]:
        """(BTC the spot account holds from the spot leg's trades, net of the fees it paid in
        BTC; BTC the perp leg is short), from the venues."""
        venues = state(self.sim)
        bought = sum(
            (
                D(e["qty"]) * (1 if e["side"] == "buy" else -1)
                - (D(e["fee"]) if e["fee_coin"] == "BTC" else D(0))
                for e in venues["bybit"]["executions"]
            ),
            D(0),
        )
        (okx,) = venues["okx"]["accounts"]
        position = okx["positions"].get("BTC-USDT-SWAP", {"qty": "0"})
        return bought, -D(position["qty"]) * D("0.01")

    def hedged(self) -> None:
        """The venues hold the pair hedged to below one spot lot (a spot buy is sized up by the
        fee it pays in BTC), and the strategy's own books say exactly what the venues hold."""
        net = self.net_base()
        spot = self.sim.engine("bybit").instrument(InstrumentKind.SPOT, "BTCUSDT")
        assert abs(net) < spot.lot_size, f"net {net} BTC is not below one lot {spot.lot_size}"
        inventory = self.runtime.strategies["alpha"].ledger.inventory
        assert inventory.delta("BTC").base == net

    def fee_paid_in_btc(self) -> Decimal:
        """What the spot buys paid in BTC (the venue keeps it)."""
        executions = state(self.sim)["bybit"]["executions"]
        return sum((D(e["fee"]) for e in executions if e["fee_coin"] == "BTC"), D(0))

    def spot_lot(self) -> Decimal:
        return self.sim.engine("bybit").instrument(InstrumentKind.SPOT, "BTCUSDT").lot_size


async def open_desk(
    tmp_path: Path, repair: str, market: MarketParams, text: str | None = None
) -> Desk:
    """A simulator on `market` and a runtime trading "alpha" on it: the shared test manifest
    with `repair`, or `text`."""
    folder = tmp_path / "strategies"
    folder.mkdir()
    text = text or manifest("alpha", repair=repair, cooldown_s="3600")
    (folder / "alpha.yaml").write_text(text)
    sim = await start(symbols=list(SYMBOLS), seed=3, market=market)
    return await start_runtime(tmp_path, sim)


async def start_runtime(tmp_path: Path, sim: Simulation) -> Desk:
    """A runtime on the folder and journal under `tmp_path`, trading on `sim`."""
    runtime = await started(tmp_path / "strategies", tmp_path, sim)
    desk = Desk(sim, runtime)
    await desk.until(
        lambda: runtime.strategies["alpha"].runner.engine is not None, "spread engine built"
    )
    return desk


def resting_legs(desk: Desk) -> list[LegOrder]:
    """An IOC spot buy that fills at once, and a perp sell resting above the market."""
    market = desk.runtime.market
    spot_leg, perp_leg = desk.pair.pair.legs
    spot, perp = market.instrument(spot_leg), market.instrument(perp_leg)
    ask = market.touch(spot_leg, Side.BUY)
    bid = market.touch(perp_leg, Side.SELL)
    assert spot is not None
    assert perp is not None
    assert ask is not None
    assert bid is not None
    legs = []
    for inst, side, price, tif, qty in (
        (
            spot,
            Side.BUY,
            spot.round_price_up(ask * D("1.002")),
            TimeInForce.IOC,
            spot.gross_buy_qty(D("0.0099")),  # holds 0.0099 BTC once its fee is paid
        ),
        (perp, Side.SELL, perp.round_price_up(bid * D("1.01")), TimeInForce.GTC, D("0.99")),
    ):
        intent = Intent.build(
            IntentId("manual", "btc", 1, f"entry.{inst.kind.value}"),
            inst.venue,
            market.rules[inst.venue],
            symbol=inst.symbol,
            side=side,
            order_type=OrderType.LIMIT,
            qty=qty,
            price=price,
            decision_price=price,
            tif=tif,
            kind=inst.kind.value,
        )
        legs.append(LegOrder(inst.kind.value, intent, inst))
    return legs
