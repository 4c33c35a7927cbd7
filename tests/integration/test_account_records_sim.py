"""The venues' own records of what they did to a held perp (funding settlements, forced
trades), from the venue to the strategy's books, with the real plugins against the simulator.

A runtime enters one spot/perp cycle (perp short) on a still market; the test then makes the
perp's funding time due on the simulated venue and lets the engine settle it, exactly as the
venue would at its funding time (no waiting 8 hours). The simulator reports the settlement in
the venue's own words: Bybit an execution of type Funding (private stream and
/v5/execution/list), OKX a balance_and_position funding_fee push and a bill
(/api/v5/account/bills). What the strategy books is checked against what the venue's account
was charged or paid: its own settlement record and its balance. A forced trade (the venue's
auto-deleveraging or liquidation) is made by the engine as well, reported as each venue does
(Bybit an execution of type AdlTrade or BustTrade, OKX an orders push of category adl or
full_liquidation), and checked against the venue's position.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.market.instrument import InstrumentKind
from arbiter.runtime.pair_runner import PairRunner
from arbiter.runtime.runtime import Runtime
from arbiter.sim import FaultKind, Simulation, start
from arbiter.sim.control import state
from arbiter.sim.generator import STILL_MARKET
from arbiter.venues import StreamingSession
from tests.support.sim_runtime import manifest, started

D = Decimal
WAIT_S = 30.0
DAY_MS = 86_400_000
PERP = {"bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP"}
SPOT = {"bybit": ("okx", "BTC-USDT"), "okx": ("bybit", "BTCUSDT")}
# The private frame that carries the settlement, and the one after it (the account's balance).
SETTLEMENT_TOPIC = {"bybit": "private:execution", "okx": "private:balance_and_position"}
AFTER_TOPIC = {"bybit": "private:wallet", "okx": "private:account"}


def pair_on(perp_venue: str, pid: str = "btc") -> str:
    spot_venue, spot_symbol = SPOT[perp_venue]
    return textwrap.dedent(
        f"""\
          - id: {pid}
            type: spot_perp
            asset: BTC
            spot: {{ venue: {spot_venue}, symbol: {spot_symbol} }}
            perp: {{ venue: {perp_venue}, symbol: {PERP[perp_venue]} }}
        """
    )


@dataclass
class Desk:
    sim: Simulation
    runtime: Runtime
    venue: str  # where the perp is

    async def until(self, check: Callable[[], bool], what: str) -> None:
        assert await self.runtime.wait_for(check, WAIT_S), f"timed out waiting: {what}"

    def pair(self, strategy: str = "alpha") -> PairRunner:
        return self.runtime.strategies[strategy].runner.pairs["btc"]

    async def enter(self, *strategies: str) -> None:
        self.sim.generator.set_basis(self.venue, "BTC", 0.008)  # perp 80 bps rich
        self.sim.step()
        for name in strategies:
            await self.until(lambda n=name: self.pair(n).machine.state == "open", f"{name} open")

    def position(self) -> Decimal:
        engine = self.sim.engine(self.venue)
        account = next(iter(engine.accounts.values()))
        return account.position(engine.instrument(InstrumentKind.PERP, PERP[self.venue])).qty

    def usdt(self) -> Decimal:
        account = next(iter(self.sim.engine(self.venue).accounts.values()))
        return account.balance("USDT")

    def settle(self) -> None:
        """The perp's funding time is now: the engine settles it on the next market step."""
        engine = self.sim.engine(self.venue)
        engine.funding[f"perp:{PERP[self.venue]}"].next_ms = engine.clock.now_ms()
        self.sim.step()

    def session(self) -> StreamingSession:
        session = self.runtime.accounts.sessions()[self.venue]
        assert isinstance(session, StreamingSession)
        return session

    def venue_records(self) -> list[dict[str, object]]:
        records: list[dict[str, object]] = state(self.sim)[self.venue]["funding"]
        return records

    def incident_kinds(self) -> list[str]:
        rows = self.runtime.journal.connection.execute("SELECT kind FROM incidents").fetchall()
        return [r[0] for r in rows] + [i.kind for i in self.runtime.incidents.open()]


async def open_desk(tmp_path: Path, venue: str, strategies: dict[str, str]) -> Desk:
    """`strategies`: name -> its pair's order notional, every one trading the perp on `venue`."""
    folder = tmp_path / "strategies"
    folder.mkdir()
    for name, notional in strategies.items():
        text = manifest(name, pairs=pair_on(venue), cooldown_s="3600")
        assert text.count("order_notional: 600") == 1
        text = text.replace("order_notional: 600", f"order_notional: {notional}")
        (folder / f"{name}.yaml").write_text(text)
    sim = await start(symbols=["BTC/USDT"], seed=3, market=STILL_MARKET)
    for engine in (sim.engine(v) for v in ("bybit", "okx")):
        for funding in engine.funding.values():  # no funding time falls inside a test by itself
            funding.next_ms = engine.clock.now_ms() + DAY_MS
    runtime = await started(folder, tmp_path, sim)
    desk = Desk(sim, runtime, venue)
    await desk.until(
        lambda: all(h.runner.engine is not None for h in runtime.strategies.values()),
        "spread engines built",
    )
    return desk


Opener = Callable[..., Awaitable[Desk]]


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[Opener]:
    desks: list[Desk] = []

    async def make(venue: str, strategies: dict[str, str] | None = None) -> Desk:
        desk = await open_desk(tmp_path, venue, strategies or {"alpha": "600"})
        desks.append(desk)
        return desk

    yield make
    for desk in desks:
        await desk.runtime.stop()
        await desk.sim.stop()


@pytest.mark.parametrize("venue", ["bybit", "okx"])
@pytest.mark.parametrize("path", ["stream", "rest"])
async def test_funding_when_perp_held_through_a_settlement_books_what_the_venue_charged(
    opened: Opener, venue: str, path: str
) -> None:
    """`stream`: the settlement arrives on the private stream, and again in the REST read of
    the reconnect that follows (the socket drops on the next frame). `rest`: the socket drops
    on the settlement's own frame, so only the reconnect's REST read brings it."""
    desk = await opened(venue)
    await desk.enter("alpha")
    assert desk.position() < 0  # short the perp: with a positive rate, funding is received
    reconciled = desk.session().private.reconciliations
    topic = (SETTLEMENT_TOPIC if path == "rest" else AFTER_TOPIC)[venue]
    desk.sim.faults.add(FaultKind.WS_DISCONNECT, f"{venue} {topic}")
    before = desk.usdt()

    desk.settle()
    runtime = desk.runtime
    await desk.until(
        lambda: runtime.funding.booked == 1 and desk.session().private.reconciliations > reconciled,
        "the settlement booked and the reconnect reconciled",
    )

    (record,) = desk.venue_records()
    amount = D(str(record["amount"]))
    assert amount > 0
    assert desk.usdt() - before == amount  # the record is what the account was credited
    ledger = runtime.strategies["alpha"].ledger
    assert ledger.lines().funding == amount
    assert ledger.realized == ledger.lines().realized
    status = runtime.status()["strategies"][0]
    assert D(status["pnl"]["funding"]) == amount
    # Booked once, as a settlement, never as a fill of an order we do not know.
    conn = runtime.journal.connection
    rows = conn.execute("SELECT settlement_id, amount FROM funding_settlements").fetchall()
    assert [(i, D(a)) for i, a in rows] == [(record["settlement_id"], amount)]
    shares = conn.execute("SELECT strategy, amount FROM funding_shares").fetchall()
    assert [(n, D(a)) for n, a in shares] == [("alpha", amount)]
    assert conn.execute(
        "SELECT COUNT(*) FROM fills WHERE client_id = '' OR trade_id = ?",
        (record["settlement_id"],),
    ).fetchone() == (0,)
    assert "unknown_order" not in desk.incident_kinds()
    if path == "stream":
        assert runtime.funding.duplicates >= 1  # the reconnect's REST read brought it again


async def test_funding_when_two_strategies_hold_the_perp_is_split_by_their_holdings(
    opened: Opener,
) -> None:
    desk = await opened("okx", {"alpha": "600", "beta": "1200"})
    await desk.enter("alpha", "beta")
    alpha, beta = (desk.pair(n).open_base for n in ("alpha", "beta"))
    assert alpha > 0
    assert beta > 0
    assert alpha != beta

    desk.settle()
    await desk.until(lambda: desk.runtime.funding.booked == 1, "the settlement booked")

    (record,) = desk.venue_records()
    amount = D(str(record["amount"]))
    shares = {n: h.ledger.lines().funding for n, h in desk.runtime.strategies.items()}
    assert shares["alpha"] + shares["beta"] == amount  # exactly what the account received
    # Each in proportion to the perp it held at the settlement (rounded at the 12th decimal).
    assert abs(shares["alpha"] - amount * alpha / (alpha + beta)) < D("1e-12")
    assert abs(shares["beta"] - amount * beta / (alpha + beta)) < D("1e-12")


@pytest.mark.parametrize(
    ("venue", "kind", "path"),
    [
        ("bybit", "adl", "stream"),
        ("bybit", "liquidation", "rest"),
        ("okx", "adl", "stream"),
        ("okx", "liquidation", "stream"),
    ],
)
async def test_forced_trade_when_venue_closes_part_of_the_perp_books_it_and_raises_an_incident(
    opened: Opener, venue: str, kind: str, path: str, tmp_path: Path
) -> None:
    desk = await opened(venue)
    await desk.enter("alpha")
    engine = desk.sim.engine(venue)
    perp = engine.instrument(InstrumentKind.PERP, PERP[venue])
    account = next(iter(engine.accounts.values()))
    held = account.position(perp).qty
    if path == "rest":  # the socket drops on the trade's own frame: the reconnect reads it
        desk.sim.faults.add(FaultKind.WS_DISCONNECT, f"{venue} {SETTLEMENT_TOPIC[venue]}")
    reconciled = desk.session().private.reconciliations
    fees_before = desk.runtime.strategies["alpha"].ledger.fees

    trade = engine.force_trade(account, perp, kind, -held / 2, engine.mark(perp) * D("1.01"))
    runtime = desk.runtime
    await desk.until(lambda: runtime.forced.booked == 1, "the forced trade booked")
    if path == "rest":
        assert desk.session().private.reconciliations > reconciled

    host = runtime.strategies["alpha"]
    # The strategy's books hold what the venue holds now.
    assert host.runner.inventory.delta("BTC").perp == perp.base_qty(account.position(perp).qty)
    assert host.ledger.lines().spread == account.position(perp).realized_pnl
    assert host.ledger.fees - fees_before == trade.fee
    (incident,) = [i for i in runtime.incidents.open() if i.kind == "forced_execution"]
    assert trade.exec_id in incident.reason
    assert "unknown_order" not in desk.incident_kinds()
    conn = runtime.journal.connection
    assert conn.execute("SELECT COUNT(*) FROM fills WHERE client_id = ''").fetchone() == (0,)

    # A restart rebuilds the same books from the journal (the trade's share included).
    spread, inventory = host.ledger.lines().spread, host.runner.inventory.delta("BTC").perp
    await runtime.stop()
    desk.runtime = await started(tmp_path / "strategies", tmp_path, desk.sim)
    again = desk.runtime.strategies["alpha"]
    assert again.ledger.lines().spread == spread
    assert again.runner.inventory.delta("BTC").perp == inventory
    assert desk.runtime.forced.booked == 0  # read again at start, booked before: not twice
