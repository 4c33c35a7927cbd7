"""A loopback HTTP server that answers a venue's REST paths with recorded answers.

The corpus tests point a plugin's real trading object (and so a real ccxt client) at it: ccxt
builds and signs its requests as it would for the venue, and parses the venue's own recorded
bytes. The server checks nothing but the path; it is a recording, not a simulator.

Rules it keeps:
- one answer per path, served for every request to that path (whatever the query);
- a path without an answer gets the venue-style error body, so a test notices a call it did
  not plan for (`requests` lists every path asked, in order);
- OKX's instrument listings are built from real listing rows (`okx_listing`), so ccxt loads
  markets exactly as it would from the venue.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

REAL_OKX = Path(__file__).parents[1] / "fixtures" / "venues" / "real" / "okx"


def real_okx(name: str) -> Any:
    """One file of the OKX corpus, parsed."""
    return json.loads((REAL_OKX / name).read_text())


def okx_listing(spot: Iterable[str], swaps: Iterable[str]) -> dict[str, Any]:
    """`/api/v5/public/instruments` answers (by instType) listing the given instruments.

    Each row is a real listed row (BTC-USD spot, ETH-USDT-SWAP linear swap) with only its
    names changed, so every field ccxt reads has the venue's own type and form.
    """
    spot_row = next(
        r for r in real_okx("rest_public_instruments_spot.json")["data"] if r["instId"] == "BTC-USD"
    )
    swap_row = next(
        r
        for r in real_okx("rest_public_instruments_swap.json")["data"]
        if r["instId"] == "ETH-USDT-SWAP"
    )
    spot_rows = []
    for inst in spot:
        base, quote = inst.split("-")
        spot_rows.append(
            copy.deepcopy(spot_row) | {"instId": inst, "baseCcy": base, "quoteCcy": quote}
        )
    swap_rows = []
    for inst in swaps:
        base, quote, _ = inst.split("-")
        family = f"{base}-{quote}"
        row = copy.deepcopy(swap_row)
        row |= {"instId": inst, "instFamily": family, "uly": family, "ctValCcy": base}
        swap_rows.append(row)
    return {
        "SPOT": {"code": "0", "msg": "", "data": spot_rows},
        "SWAP": {"code": "0", "msg": "", "data": swap_rows},
    }


class RestReplay:
    """`async with RestReplay(answers) as replay:` serves `answers` (path -> JSON body) on
    `replay.url`; `listing` (instType -> body) answers `/api/v5/public/instruments`."""

    def __init__(
        self,
        answers: Mapping[str, Any],
        listing: Mapping[str, Any] | None = None,
    ) -> None:
        self.answers = dict(answers)
        self.listing = dict(listing or {})
        self.requests: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> RestReplay:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        if request.path == "/api/v5/public/instruments":
            body = self.listing.get(request.query.get("instType", ""))
            if body is not None:
                return web.json_response(body)
        if request.path == "/api/v5/asset/currencies":
            return web.json_response({"code": "0", "msg": "", "data": []})
        body = self.answers.get(request.path)
        if body is None:
            return web.json_response(
                {"code": "50000", "msg": f"no recorded answer for {request.path}", "data": []}
            )
        return web.json_response(body)
