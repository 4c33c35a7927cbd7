"""Replay a recorded venue stream (one raw frame per line) into the simulated books.

The format is what `arbiter book replay` reads: each line is the venue's own public WS frame.
Bybit `orderbook.*` snapshot/delta frames and OKX `books` snapshot/update frames are applied to
the matching book of the instrument they name; other lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.engine import VenueEngine


@dataclass
class _Stream:
    engine: VenueEngine
    lines: Iterator[str]
    bids: dict[str, dict[int, int]]
    asks: dict[str, dict[int, int]]


class Replayer:
    def __init__(self, streams: list[_Stream]) -> None:
        self.streams = streams

    @classmethod
    def from_files(cls, engines: list[VenueEngine], files: dict[str, str]) -> Replayer:
        by_name = {e.name: e for e in engines}
        streams = []
        for venue, path in files.items():
            if venue not in by_name:
                raise ValueError(f"expected a replay venue among {sorted(by_name)}, was {venue!r}")
            lines = iter(Path(path).read_text().splitlines())
            streams.append(_Stream(by_name[venue], lines, {}, {}))
        return cls(streams)

    def step(self) -> bool:
        """Apply the next frame of every stream; False once all streams are exhausted."""
        progressed = False
        for stream in self.streams:
            for line in stream.lines:
                if line.strip() and self._apply(stream, json.loads(line)):
                    progressed = True
                    break
        return progressed

    def _apply(self, stream: _Stream, frame: dict[str, Any]) -> bool:
        engine = stream.engine
        if engine.name == "bybit" and str(frame.get("topic", "")).startswith("orderbook."):
            data = frame["data"]
            inst = self._find(engine, data["s"])
            reset = frame.get("type") == "snapshot"
            return self._merge(stream, inst, data.get("b", []), data.get("a", []), reset)
        arg = frame.get("arg", {})
        if engine.name == "okx" and arg.get("channel") == "books" and frame.get("data"):
            data = frame["data"][0]
            inst = self._find(engine, arg["instId"])
            reset = frame.get("action") == "snapshot"
            return self._merge(stream, inst, data.get("bids", []), data.get("asks", []), reset)
        return False

    def _find(self, engine: VenueEngine, symbol: str) -> Instrument:
        for inst in engine.instruments.values():
            # Bybit names spot and perp alike; recordings here are of the perp book.
            if inst.symbol == symbol and (inst.kind is InstrumentKind.PERP or engine.name == "okx"):
                return inst
        raise ValueError(
            f"{engine.name}: expected a listed symbol in the recording, was {symbol!r}"
        )

    def _merge(
        self, stream: _Stream, inst: Instrument, bids: list[Any], asks: list[Any], reset: bool
    ) -> bool:
        key = inst.symbol
        if reset or key not in stream.bids:
            stream.bids[key], stream.asks[key] = {}, {}
        for levels, side in ((bids, stream.bids[key]), (asks, stream.asks[key])):
            for row in levels:
                ticks = inst.price_to_ticks(Decimal(row[0]))
                lots = inst.qty_to_lots(Decimal(row[1]))
                if lots:
                    side[ticks] = lots
                else:
                    side.pop(ticks, None)
        stream.engine.set_market(inst, dict(stream.bids[key]), dict(stream.asks[key]))
        return True
