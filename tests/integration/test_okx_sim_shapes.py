"""The simulated OKX speaks as OKX does: the key paths (and each value's JSON type) of its
private pushes and REST answers, as a client receives them on loopback, against OKX's own
messages (tests/fixtures/venues/real/okx), channel by channel and endpoint by endpoint.

A field OKX sends that the simulator lacks fails, and so does one the simulator invents, unless
`KNOWN` lists it with why. A test against the simulator then cannot pass on a field the venue
does not send, or by not meeting one it does (an empty string where a number is absent, a
fee's coin, a bill's `pnl`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from arbiter.market.instrument import InstrumentKind
from arbiter.sim import Simulation, start
from arbiter.sim.book import Side as BookSide
from arbiter.sim.generator import STILL_MARKET
from tests.support.rest_replay import REAL_OKX, real_okx
from tests.support.wire_clients import WsProbe, okx_login, okx_request

PERP = "BTC-USDT-SWAP"
SPOT = "BTC-USDT"

# What each channel or endpoint is compared with: the corpus files of that shape.
CORPUS: dict[str, list[str]] = {
    "ws orders": sorted(p.name for p in REAL_OKX.glob("ws_orders_*.json")),
    "ws account": ["ws_account.json", "ws_account_doc.json", "ws_account_empty.json"],
    "ws positions": ["ws_positions.json", "ws_positions_doc.json"],
    "ws balance_and_position": [
        "ws_balance_and_position_snapshot_doc.json",
        "ws_balance_and_position_funding_fee_doc.json",
    ],
    "GET /api/v5/account/balance": [
        "rest_account_balance_isolated.json",
        "rest_account_balance_doc.json",
    ],
    "GET /api/v5/account/positions": [
        "rest_account_positions_swap.json",
        "rest_account_positions_swap_funding.json",
        "rest_account_positions_isolated.json",
        "rest_account_positions_long_short.json",
        "rest_account_positions_margin_doc.json",
    ],
    "GET /api/v5/trade/orders-pending": [
        "rest_trade_orders_pending_swap.json",
        "rest_trade_orders_pending_post_only.json",
        "rest_trade_orders_pending_doc.json",
    ],
    "GET /api/v5/trade/order": [
        "rest_trade_order_spot_market.json",
        "rest_trade_order_spot_quote_doc.json",
    ],
    "GET /api/v5/trade/orders-history": [
        "rest_trade_orders_history_swap.json",
        "rest_trade_orders_history_swap_market.json",
        "rest_trade_orders_history_doc.json",
        "rest_trade_orders_history_canceled_after_fill.json",
    ],
    "GET /api/v5/trade/fills": [
        "rest_trade_fills_spot.json",
        "rest_trade_fills_doc.json",
        "rest_trade_fills_row.json",
        "rest_trade_fills_row_empty_fee.json",
    ],
    "GET /api/v5/trade/fills-history": ["rest_trade_fills_history_doc.json"],
    "GET /api/v5/account/bills": [
        "rest_account_bills_trade_doc.json",
        "rest_account_bills_trade.json",
        "rest_account_bills_transfer.json",
        "rest_account_bills_funding_derived.json",
    ],
}

# Justified differences: (channel or endpoint, key path) -> why the simulator may differ.
_CLOSE_ALGO = "attached close orders (TP/SL) of the position: the simulator takes none"
_TRADES = "the fills behind a push of eventType filled: the simulator pushes this channel on subscribe and funding only"
KNOWN: dict[tuple[str, str], str] = {
    ("ws orders", "arg.instId"): (
        "names the instrument only to a subscription made by instrument; the plugin"
        " subscribes instType ANY"
    ),
    **{
        ("ws positions", f"data[].closeOrderAlgo[]{leaf}"): _CLOSE_ALGO
        for leaf in (
            "",
            ".algoId",
            ".closeFraction",
            ".slTriggerPx",
            ".slTriggerPxType",
            ".tpTriggerPx",
            ".tpTriggerPxType",
        )
    },
    **{
        ("ws balance_and_position", f"data[].trades[]{leaf}"): _TRADES
        for leaf in ("", ".instId", ".tradeId")
    },
}


def key_paths(doc: Any, prefix: str = "") -> set[tuple[str, str]]:
    """Every (path, JSON type) in `doc`; list items share the path `name[]`."""
    kind = {dict: "object", list: "array", str: "string", bool: "bool", int: "number"}
    out = {(prefix, kind.get(type(doc), type(doc).__name__))} if prefix else set()
    if isinstance(doc, dict):
        for key, value in doc.items():
            out |= key_paths(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(doc, list):
        for value in doc:
            out |= key_paths(value, f"{prefix}[]")
    return out


def union(docs: Iterable[Any]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for doc in docs:
        out |= key_paths(doc)
    return out


@dataclass
class Heard:
    """What the simulated OKX said, per channel or endpoint."""

    messages: dict[str, list[Any]]


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    simulation = await start(venues=["okx"], symbols=["BTC/USDT"], seed=11, market=STILL_MARKET)
    yield simulation
    await simulation.stop()


async def _session_of_the_simulator(sim: Simulation) -> Heard:
    """Drive every private push and REST answer the corpus has a shape for, and keep them."""
    ep = sim.endpoints("okx")
    engine = sim.engine("okx")
    heard: dict[str, list[Any]] = {name: [] for name in CORPUS}
    async with aiohttp.ClientSession() as session:

        async def rest(path: str, params: dict[str, Any], method: str = "GET") -> Any:
            reply = (await okx_request(session, ep, method, path, params)).json()
            assert reply["code"] == "0", reply
            if method == "GET":
                heard[f"GET {path}"].append(reply)
            return reply

        probe = await WsProbe.open(session, ep.ws_private)
        await probe.send(okx_login(ep))
        await probe.wait_for(lambda fs: any(f.get("event") == "login" for f in fs), "login")
        channels = [
            {"channel": "orders", "instType": "ANY"},
            {"channel": "positions", "instType": "ANY"},
            {"channel": "account"},
            {"channel": "balance_and_position"},
        ]
        await probe.send({"op": "subscribe", "args": channels})
        await probe.wait_for(
            lambda fs: sum(f.get("event") == "subscribe" for f in fs) == 4, "subscribed"
        )

        perp = engine.instrument(InstrumentKind.PERP, PERP)
        book = engine.book(perp)
        bid = perp.ticks_to_price(book.depth(BookSide.BUY, 1)[0][0])
        ask_ticks, ask_lots = book.depth(BookSide.SELL, 1)[0]
        ask = perp.ticks_to_price(ask_ticks)
        far = str(bid - 100 * perp.tick_size)

        order = {"instId": PERP, "tdMode": "cross", "side": "buy"}
        await rest("/api/v5/trade/order", order | {"ordType": "limit", "px": far, "sz": "1", "clOrdId": "live1"}, "POST")  # fmt: skip
        await rest("/api/v5/trade/orders-pending", {"instType": "SWAP"})
        await rest("/api/v5/trade/order", {"instId": PERP, "clOrdId": "live1"})
        await rest("/api/v5/trade/order", order | {"ordType": "market", "sz": "2", "clOrdId": "mkt1"}, "POST")  # fmt: skip
        # More than the best ask holds, at its price: a partial fill, then the rest cancelled.
        over = str(perp.lots_to_qty(ask_lots) + perp.lot_size)
        await rest("/api/v5/trade/order", order | {"ordType": "ioc", "px": str(ask), "sz": over, "clOrdId": "ioc1"}, "POST")  # fmt: skip
        await rest("/api/v5/trade/cancel-order", {"instId": PERP, "clOrdId": "live1"}, "POST")
        spot = {"instId": SPOT, "tdMode": "cash", "side": "buy", "ordType": "market"}
        await rest("/api/v5/trade/order", spot | {"sz": "0.001", "tgtCcy": "base_ccy", "clOrdId": "spot1"}, "POST")  # fmt: skip

        state = engine.funding[f"perp:{PERP}"]
        state.next_ms = engine.clock.now_ms()
        assert engine.settle_funding() == 1
        account = engine.account(ep.api_key)
        engine.force_trade(account, perp, "adl", Decimal(1), ask)

        await probe.wait_for(
            lambda fs: any(
                r.get("category") == "adl"
                for f in fs
                if f.get("arg", {}).get("channel") == "orders"
                for r in f.get("data", [])
            ),
            "the forced trade's push",
        )
        await rest("/api/v5/account/balance", {})
        await rest("/api/v5/account/positions", {"instType": "SWAP"})
        await rest("/api/v5/trade/orders-history", {"instType": "SWAP"})
        await rest("/api/v5/trade/fills", {})
        await rest("/api/v5/trade/fills-history", {"instType": "SWAP"})
        await rest("/api/v5/account/bills", {"instType": "SWAP", "type": "8"})
        for f in probe.parsed():
            channel = f.get("arg", {}).get("channel")
            if "data" in f and f"ws {channel}" in heard:
                heard[f"ws {channel}"].append(f)
        await probe.close()
    return Heard(heard)


async def test_simulator_speaks_with_okx_own_key_paths_and_types(sim: Simulation) -> None:
    heard = await _session_of_the_simulator(sim)
    problems = []
    for name, files in CORPUS.items():
        said = heard.messages[name]
        assert said, f"{name}: the simulator said nothing to compare"
        venue = union(real_okx(f) for f in files)
        simulated = union(said)
        for path, kind in sorted(venue - simulated):
            if (name, path) not in KNOWN:
                problems.append(f"{name}: OKX sends {path} ({kind}), the simulator does not")
        for path, kind in sorted(simulated - venue):
            if (name, path) not in KNOWN:
                problems.append(f"{name}: the simulator sends {path} ({kind}), OKX does not")
    assert not problems, "\n".join(problems)


async def test_simulator_order_row_after_fills_and_a_cancel_names_its_last_fill(
    sim: Simulation,
) -> None:
    # OKX's REST rows keep what filled and name the last fill after a cancel
    # (rest_trade_orders_history_canceled_after_fill.json); the simulator's must too.
    ep = sim.endpoints("okx")
    engine = sim.engine("okx")
    perp = engine.instrument(InstrumentKind.PERP, PERP)
    ask_ticks, ask_lots = engine.book(perp).depth(BookSide.SELL, 1)[0]
    over = str(perp.lots_to_qty(ask_lots) + perp.lot_size)
    order = {
        "instId": PERP,
        "tdMode": "cross",
        "side": "buy",
        "ordType": "ioc",
        "px": str(perp.ticks_to_price(ask_ticks)),
        "sz": over,
        "clOrdId": "ioc1",
    }
    async with aiohttp.ClientSession() as session:
        placed = await okx_request(session, ep, "POST", "/api/v5/trade/order", order)
        assert placed.json()["code"] == "0"
        query = {"instId": PERP, "clOrdId": "ioc1"}
        (row,) = (await okx_request(session, ep, "GET", "/api/v5/trade/order", query)).json()[
            "data"
        ]
        fills = (await okx_request(session, ep, "GET", "/api/v5/trade/fills", {})).json()["data"]

    truth = engine.find_order(engine.account(ep.api_key), None, "ioc1")
    assert (row["state"], row["cancelSource"]) == ("canceled", "14")
    assert Decimal(row["accFillSz"]) == truth.filled == perp.lots_to_qty(ask_lots)
    newest = fills[0]  # newest first
    assert (row["tradeId"], row["fillSz"], row["fillPx"], row["fillTime"]) == (
        newest["tradeId"],
        newest["fillSz"],
        newest["fillPx"],
        newest["fillTime"],
    )
