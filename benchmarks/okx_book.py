"""OKX book benchmark: `books` frames -> OKX codec -> book, against ccxt.pro okx on the same bytes.

Generates an OKX `books` stream for 20 perpetual swaps (a 50-level snapshot per symbol, then N
updates of 1-5 levels near the touch, `prevSeqId`/`seqId` chained, and the `checksum` OKX sends:
CRC-32 of the top 25 levels' texts after the update), and in the same run replays it through:

  okx codec  OkxCodec.feed: decode, levels to integer units, apply, sequence check, and the
             checksum of the book after every update
  ccxt       the decode ccxt's ws client does + ccxt.pro okx `handle_message` into ccxt's
             OrderBook (a stub stands in for the WebSocket client, as in `fast_lane.py`); this
             ccxt version checks the sequence but computes no checksum
  floor      a bare JSON decode of each frame (msgspec, untyped)

The paths take turns on ten chunks of the stream (`fast_lane.measure`). Not asserted anywhere.

  .venv/bin/python benchmarks/okx_book.py              # 100k updates
  .venv/bin/python benchmarks/okx_book.py --no-checksum   # frames carry checksum 0 (not sent)

Last line: `okx_book updates_per_s=N p99_us=N ccxt_updates_per_s=N ratio=N`.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import ccxt.pro
import msgspec
from ccxt.async_support.base.ws.client import json_parser as ccxt_json

from arbiter.market import Instrument, InstrumentKind
from arbiter_okx import OkxCodec, okx_checksum
from fast_lane import floor_path, measure, report

SYMBOLS = 20
DEPTH = 50
TICK = Decimal("0.1")
LOT = Decimal("1")


def _symbols() -> list[str]:
    return [f"C{i:02d}-USDT-SWAP" for i in range(SYMBOLS)]


class _Book:
    """The generator's own book: price ticks -> (price text, size text)."""

    def __init__(self) -> None:
        self.bids: dict[int, str] = {}
        self.asks: dict[int, str] = {}

    def checksum(self) -> int:
        """What OKX sends: the Python checksum (`okx_checksum`), not the codec's C one."""
        bids = [self.bids[p] for p in sorted(self.bids, reverse=True)[:25]]
        asks = [self.asks[p] for p in sorted(self.asks)[:25]]
        return okx_checksum(bids, asks)


def generate(updates: int, seed: int, checksums: bool) -> list[tuple[int, bytes]]:
    """(connection 0, frame bytes), exactly as OKX would send them on one connection."""
    rng = random.Random(seed)
    frames: list[tuple[int, bytes]] = []
    books = []
    for n, symbol in enumerate(_symbols()):
        mid = 100_000 + 1_000 * n
        book = _Book()
        for k in range(DEPTH):
            book.bids[mid - 1 - k] = f"{_px(mid - 1 - k)}:{rng.randint(1, 500)}"
            book.asks[mid + 1 + k] = f"{_px(mid + 1 + k)}:{rng.randint(1, 500)}"
        seq = 1_000 * n
        data = {
            "asks": _levels(book.asks, sorted(book.asks)),
            "bids": _levels(book.bids, sorted(book.bids, reverse=True)),
            "ts": "1733011200000",
            "checksum": book.checksum() if checksums else 0,
            "prevSeqId": -1,
            "seqId": seq,
        }
        frames.append((0, _frame(symbol, "snapshot", data)))
        books.append([symbol, book, seq])
    for u in range(updates):
        entry = books[rng.randrange(SYMBOLS)]
        symbol, book, prev = entry
        changed: dict[str, list[list[str]]] = {"bids": [], "asks": []}
        for _ in range(rng.randint(1, 5)):
            side = "bids" if rng.random() < 0.5 else "asks"
            levels = book.bids if side == "bids" else book.asks
            best = max(book.bids) if side == "bids" else min(book.asks)
            price = best - rng.randint(0, 30) if side == "bids" else best + rng.randint(0, 30)
            if (side == "bids" and price >= min(book.asks)) or (
                side == "asks" and price <= max(book.bids)
            ):
                continue  # never cross the book
            if price in levels and len(levels) > 30 and rng.random() < 0.3:
                del levels[price]
                changed[side].append([_px(price), "0", "0", "0"])
            else:
                size = str(rng.randint(1, 500))
                levels[price] = f"{_px(price)}:{size}"
                changed[side].append([_px(price), size, "0", "1"])
        seq = prev + 1
        entry[2] = seq
        data = {
            "asks": changed["asks"],
            "bids": changed["bids"],
            "ts": str(1_733_011_200_000 + u),
            "checksum": book.checksum() if checksums else 0,
            "prevSeqId": prev,
            "seqId": seq,
        }
        frames.append((0, _frame(symbol, "update", data)))
    return frames


def _px(ticks: int) -> str:
    return str(ticks * TICK)


def _levels(side: dict[int, str], order: list[int]) -> list[list[str]]:
    return [[*side[p].split(":"), "0", "1"] for p in order]


def _frame(symbol: str, action: str, data: dict[str, Any]) -> bytes:
    msg = {"arg": {"channel": "books", "instId": symbol}, "action": action, "data": [data]}
    return json.dumps(msg, separators=(",", ":")).encode()


# -- paths -----------------------------------------------------------------------------------


def codec_path() -> tuple[Callable[[int, bytes], None], Callable[[], str]]:
    instruments = [
        Instrument("okx", s, InstrumentKind.PERP, s.split("-")[0], "USDT", TICK, LOT)
        for s in _symbols()
    ]
    codec = OkxCodec(instruments)
    feed = codec.feed

    def step(conn: int, frame: bytes) -> None:
        feed(frame)

    def summary() -> str:
        s = codec.stats
        return f"applied={s.updates_applied} gaps={s.gaps} checksum_failures={s.checksum_failures}"

    return step, summary


class _StubClient:
    """What ccxt's okx handlers touch on a WebSocket client, minus the futures and the socket."""

    def __init__(self) -> None:
        self.url = "wss://ws.okx.com:8443/ws/v5/public"
        self.subscriptions = {f"books:{_ccxt_symbol(s)}": True for s in _symbols()}

    def resolve(self, result: object, message_hash: str) -> None:
        return None

    def reject(self, error: object, message_hash: str) -> None:
        raise AssertionError(f"ccxt rejected {message_hash}: {error}")


def ccxt_path() -> tuple[Callable[[int, bytes], None], Callable[[], str]]:
    exchange = ccxt.pro.okx({"enableRateLimit": False})
    exchange.set_markets([_ccxt_market(s) for s in _symbols()])
    client = _StubClient()
    handle = exchange.handle_message
    loads = ccxt_json.loads

    def step(conn: int, frame: bytes) -> None:
        handle(client, loads(frame))

    def summary() -> str:
        return f"books={len(exchange.orderbooks)}"

    return step, summary


def _ccxt_symbol(market_id: str) -> str:
    return f"{market_id.split('-', maxsplit=1)[0]}/USDT:USDT"


def _ccxt_market(market_id: str) -> dict[str, Any]:
    base = market_id.split("-", maxsplit=1)[0]
    return {
        "id": market_id,
        "symbol": _ccxt_symbol(market_id),
        "base": base,
        "quote": "USDT",
        "settle": "USDT",
        "baseId": base,
        "quoteId": "USDT",
        "settleId": "USDT",
        "type": "swap",
        "spot": False,
        "margin": False,
        "swap": True,
        "future": False,
        "option": False,
        "contract": True,
        "linear": True,
        "inverse": False,
        "active": True,
        "contractSize": 1.0,
        "precision": {"amount": 1.0, "price": 0.1},
        "limits": {"amount": {"min": 1.0, "max": None}, "price": {"min": None, "max": None}},
        "info": {"instType": "SWAP"},
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-checksum", action="store_true", help="frames carry checksum 0")
    args = parser.parse_args(argv)

    frames = generate(args.updates, args.seed, not args.no_checksum)
    with_sum = "without" if args.no_checksum else "with"
    print(
        f"stream: {len(frames) - SYMBOLS:,} updates of 1-5 levels over {SYMBOLS} OKX swaps, {with_sum} checksums"
    )
    ours_step, ours_summary = codec_path()
    ccxt_step, ccxt_summary = ccxt_path()
    timings = measure(
        {"ours": ours_step, "ccxt": ccxt_step, "floor": floor_path(msgspec.json.decode)},
        frames,
        SYMBOLS,
    )
    ours_rate, ours_p99 = report("okx codec", timings["ours"])
    ccxt_rate, _ = report("ccxt.pro", timings["ccxt"])
    floor_rate, _ = report("floor", timings["floor"])
    print(f"okx codec: {ours_summary()}   ccxt: {ccxt_summary()}")
    print(
        f"okx codec / ccxt = {ours_rate / ccxt_rate:.1f}x   floor / okx codec = {floor_rate / ours_rate:.1f}x"
    )
    print(
        f"okx_book updates_per_s={ours_rate:.0f} p99_us={ours_p99:.2f}"
        f" ccxt_updates_per_s={ccxt_rate:.0f} ratio={ours_rate / ccxt_rate:.1f}"
    )


if __name__ == "__main__":
    main()
