"""The fault gate every REST request passes through, whatever the dialect.

Order of checks mirrors a real venue's edge: latency, rate limiter and gateway errors come
before the matching engine sees the request; the ambiguous failures (5xx, timeout) come *after*
it has accepted, so the client cannot tell whether its order exists. Rules match against
`endpoint_of(venue, request)`: "<venue> <METHOD> <path>".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from arbiter.sim.faults import FaultKind, FaultPlan, FaultRule

Handler = Callable[[], Awaitable[web.Response]]


def endpoint_of(venue: str, request: web.Request) -> str:
    """What REST fault rules and latency bands match: OKX places and queries orders on one
    path, so the method is part of it."""
    return f"{venue} {request.method} {request.path}"


async def guarded(
    plan: FaultPlan,
    endpoint: str,
    *,
    handle: Handler,
    rate_limited: Callable[[], web.Response],
    rejected: Callable[[FaultRule], web.Response],
    hang: asyncio.Event,
) -> web.Response:
    delay = plan.latency_ms(endpoint)
    if delay:
        await asyncio.sleep(delay / 1000)
    rule = plan.take(FaultKind.REST_HOLD, endpoint)
    if rule is not None:
        await plan.hold(rule)  # in flight, not yet at the engine
    if plan.take(FaultKind.RATE_LIMIT, endpoint):
        return rate_limited()
    if plan.take(FaultKind.REST_5XX, endpoint):
        return web.Response(status=502, text="Bad Gateway")
    rule = plan.take(FaultKind.REJECT, endpoint)
    if rule is not None:
        return rejected(rule)
    response = await handle()
    if plan.take(FaultKind.REST_5XX_AFTER_ACCEPT, endpoint):
        return web.Response(status=502, text="Bad Gateway")
    rule = plan.take(FaultKind.REST_TIMEOUT_AFTER_ACCEPT, endpoint)
    if rule is not None:
        # Hold the answer until the client gives up (or the server stops).
        if rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        else:
            await hang.wait()
        return web.Response(status=504, text="Gateway Timeout")
    return response
