"""A strategy's spread engine holds every pair that can be priced; the others join when they can.

A pair sized in quote needs its buy leg's book to be priced. While a new pair's book is not
synced yet, the pairs already trading keep their engine (so an open position can still exit).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from arbiter.control.incidents import IncidentLog
from arbiter.execution.dual_leg import DualLegExecutor
from arbiter.execution.gateway import OrderGateway
from arbiter.execution.order_tracker import OrderTracker
from arbiter.execution.pretrade import PretradeChecker
from arbiter.execution.reservations import Reservations
from arbiter.manifest import load_manifest_bytes
from arbiter.market import Instrument, InstrumentKind, OrderBook
from arbiter.risk.trading import TradingStates
from arbiter.runtime.market import MarketState
from arbiter.runtime.pair_desk import PairDesk
from arbiter.runtime.pair_services import CycleJournal, EntryChecks
from arbiter.runtime.strategy_runner import StrategyRunner, StrategyServices
from arbiter.store.journal import Journal
from tests.support.manifest_samples import MINIMAL

TWO_PAIRS = MINIMAL.replace(
    "thresholds:",
    "  - { id: eth, type: spot_perp, asset: ETH, spot: { venue: bybit, symbol: ETHUSDT },"
    " perp: { venue: okx, symbol: ETH-USDT-SWAP } }\nthresholds:",
)
LISTED = {
    ("bybit", "spot", "BTCUSDT"): ("BTC", Decimal("0.001"), Decimal(1)),
    ("okx", "perp", "BTC-USDT-SWAP"): ("BTC", Decimal("0.01"), Decimal("0.01")),
    ("bybit", "spot", "ETHUSDT"): ("ETH", Decimal("0.001"), Decimal(1)),
    ("okx", "perp", "ETH-USDT-SWAP"): ("ETH", Decimal("0.01"), Decimal("0.1")),
}


@pytest.fixture
def market() -> MarketState:
    state = MarketState()
    for (venue, kind, symbol), (base, lot, contract) in LISTED.items():
        state.instruments[(venue, kind, symbol)] = Instrument(
            venue, symbol, InstrumentKind(kind), base, "USDT", Decimal("0.1"), lot,
            contract_value=contract,
        )  # fmt: skip
        state.books.setdefault(f"{venue}:{kind}", {})
    return state


@pytest.fixture
def runner(market: MarketState, tmp_path: Path) -> Iterator[StrategyRunner]:
    journal = Journal.open(tmp_path / "journal.sqlite")
    try:
        executor = DualLegExecutor(OrderGateway(OrderTracker(journal), {}))
        incidents, states = IncidentLog(), TradingStates()
        services = StrategyServices(
            market,
            executor,
            CycleJournal(journal, incidents, lambda: None, lambda strategy, pair: None),
            EntryChecks(PretradeChecker(Reservations()), market),
            PairDesk({}, incidents, states, journal, market),
        )
        yield StrategyRunner(load_manifest_bytes(TWO_PAIRS), services)
    finally:
        journal.close()


def _quote(market: MarketState, venue: str, kind: str, symbol: str, price: int) -> None:
    """A synced book one tick wide at `price` (no spread crossing either threshold)."""
    book = OrderBook(f"{venue}:{kind}", symbol, price_scale=1, size_scale=3)
    book.reset([(price * 10, 10**9)], [(price * 10 + 1, 10**9)])
    books = market.books[f"{venue}:{kind}"]
    assert isinstance(books, dict)
    books[symbol] = book


def test_engine_when_a_pairs_book_is_not_synced_yet_runs_the_others_then_takes_it_in(
    runner: StrategyRunner, market: MarketState
) -> None:
    _quote(market, "bybit", "spot", "BTCUSDT", 30_000)
    _quote(market, "okx", "perp", "BTC-USDT-SWAP", 30_000)

    assert runner.build_engine() is False  # not every pair is in
    engine = runner.engine
    assert engine is not None
    assert runner.waiting == ("eth",)
    entry, exit_ = runner.spreads("btc")["buy_spot_short_perp"]
    assert entry is not None
    assert exit_ is not None
    assert runner.complete_engine() is False
    assert runner.engine is engine  # nothing new to take in: not rebuilt

    _quote(market, "bybit", "spot", "ETHUSDT", 2_000)
    _quote(market, "okx", "perp", "ETH-USDT-SWAP", 2_000)
    assert runner.complete_engine() is True
    assert runner.waiting == ()
    assert runner.spreads("eth")["buy_spot_short_perp"][0] is not None
    assert runner.spreads("btc")["buy_spot_short_perp"][0] == entry
