"""A runtime in a process of its own, for the crash test: `python -m tests.support.crash_driver`.

The test (tests/integration/test_crash_recovery.py) starts this module as a child against an
`arbiter sim` process. With `--crash-at POINT` the driver wraps one method of this run's
runtime so that the process SIGKILLs itself at that point of the first entry cycle; nothing of
the crash lives in production code. Points:

- `intent`: both entry legs' intents and their `submitted` marks are committed to the journal
  (one commit), nothing is sent;
- `first_send`: the first leg's order is accepted by the venue (its answer is back), the
  second leg is journaled as submitted but held back, never sent;
- `between_acks`: both orders are on the venue, the first answer is journaled, the second
  is not (the process dies holding it);
- `fill`: both orders are on the venue, and the first fill of the cycle is journaled and
  booked (private events wait until both orders are placed, then flow in their order).

Protocol: JSON lines on stdout (`{"event": "ready", ...}` once started and trading,
`{"event": "crash", "point": ...}` right before the kill); commands as JSON lines on stdin:
`{"op": "settle", "timeout": S, "pair_states": [...]}` answers once the runtime is at rest
(nothing in flight, the hedger idle, net delta inside the hedge band, every pair in one of
`pair_states`, by default any resting state) or the timeout passed, with its status;
`{"op": "stop"}` shuts the runtime down in order and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from arbiter.execution.order_tracker import Applied
from arbiter.runtime.runtime import Runtime, RuntimeOptions
from arbiter.venues import Fill, OrderAck, OrderRequest, OrderUpdate, PrivateEvent, Side
from tests.support.loopback import loopback_only
from tests.support.sim_runtime import LIFTED

Place = Callable[[OrderRequest], Awaitable[OrderAck]]
POINTS = ("intent", "first_send", "between_acks", "fill")
RESTING = ("idle", "open", "halted", "cooling_down")


def emit(event: str, **body: Any) -> None:
    print(json.dumps({"event": event, **body}, default=str), flush=True)


def die(point: str) -> None:
    emit("crash", point=point)
    os.kill(os.getpid(), signal.SIGKILL)


def install_crash(runtime: Runtime, point: str) -> None:
    """Wrap the methods whose completion is the crash point, on this runtime only."""
    if point == "intent":
        _crash_after_intent(runtime)
    elif point in ("first_send", "between_acks"):
        _crash_around_sends(runtime, point)
    elif point == "fill":
        _crash_after_fill(runtime)
    else:
        raise SystemExit(f"expected --crash-at among {POINTS}, was {point!r}")


def _crash_after_intent(runtime: Runtime) -> None:
    tracker = runtime.tracker
    submit_all = tracker.submit_all

    def committed_then_die(intents: Any) -> Any:
        applied = submit_all(intents)  # the commit is done when this returns
        die("intent")
        return applied

    tracker.submit_all = committed_then_die  # type: ignore[method-assign]


def _wrap_place_orders(runtime: Runtime, wrap: Callable[[Place], Place]) -> None:
    for session in runtime.accounts.sessions().values():
        trading: Any = session.trading
        place = trading.place_order = wrap(trading.place_order)
        # Writing at once (`begin_order`) would send a leg before the wrapper could hold it
        # back: every order goes through the wrapped `place_order` instead, as it does on a
        # venue that cannot write early.
        trading.begin_order = lambda request, place=place: asyncio.create_task(place(request))


def _crash_around_sends(runtime: Runtime, point: str) -> None:
    tracker = runtime.tracker
    sending: list[str] = []
    answered: list[str] = []
    first_journaled = asyncio.Event()
    never = asyncio.Event()
    on_ack = tracker.on_ack

    def ack_journaled(ack: OrderAck) -> Applied:
        applied = on_ack(ack)
        first_journaled.set()
        return applied

    tracker.on_ack = ack_journaled  # type: ignore[method-assign]

    def wrap(place: Place) -> Place:
        async def place_order(request: OrderRequest) -> OrderAck:
            sending.append(request.client_id)
            if point == "first_send" and len(sending) > 1:
                await never.wait()  # the second leg is held back: it never leaves
            answer = await place(request)
            answered.append(request.client_id)
            if point == "first_send":
                die(point)
            if len(answered) == 1:
                return answer  # the gateway journals the first answer
            await first_journaled.wait()  # both orders are on the venue; one answer journaled
            die(point)
            return answer

        return place_order

    _wrap_place_orders(runtime, wrap)


def _crash_after_fill(runtime: Runtime) -> None:
    """Private events wait until both legs are on the venue, then flow in their order; the
    process dies once the first fill is journaled (and booked)."""
    gateway, tracker = runtime.gateway, runtime.tracker
    answered: list[str] = []
    held: list[PrivateEvent] = []
    on_private, on_fill = gateway.on_private, tracker.on_fill

    def hold_until_both_placed(event: PrivateEvent) -> None:
        if len(answered) < 2 and isinstance(event, OrderUpdate | Fill):
            held.append(event)
        else:
            on_private(event)

    def fill_then_die(fill: Fill) -> Applied:
        applied = on_fill(fill)
        if applied.change is not None:
            die("fill")
        return applied

    def wrap(place: Place) -> Place:
        async def place_order(request: OrderRequest) -> OrderAck:
            answer = await place(request)
            answered.append(request.client_id)
            if len(answered) == 2:
                for event in held:
                    on_private(event)
            return answer

        return place_order

    gateway.on_private = hold_until_both_placed  # type: ignore[method-assign]
    tracker.on_fill = fill_then_die  # type: ignore[method-assign]
    _wrap_place_orders(runtime, wrap)


def status(runtime: Runtime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "recovery": runtime.stats.recovery.lines() if runtime.stats.recovery else []
    }
    strategies = {}
    for name, host in runtime.strategies.items():
        band = host.loaded.manifest.hedge.band_notional if host.loaded.manifest.hedge else None
        strategies[name] = {
            "trading_state": runtime.states.state(name),
            "hedger": host.hedger.machine.state if host.hedger else None,
            "band_notional": str(band),
            "pairs": {
                pid: {
                    "state": p.machine.state,
                    "cycle": p.cycle,
                    "open_base": str(p.open_base),
                    "repairs": p.stats.repairs,
                    "cycles_completed": p.stats.cycles_completed,
                }
                for pid, p in host.runner.pairs.items()
            },
            "delta": {
                a: {
                    "spot": str(d.spot),
                    "perp": str(d.perp),
                    "base": str(d.base),
                }
                for a in host.runner.inventory.assets()
                for d in [host.runner.inventory.delta(a)]
            },
        }
    out["strategies"] = strategies
    out["open_orders"] = [s.client_id for s in runtime.tracker.open_orders()]
    out["incidents"] = [
        {"key": i.key, "kind": i.kind, "reason": i.reason} for i in runtime.incidents.open()
    ]
    return out


def pair_states(runtime: Runtime) -> set[str]:
    return {p.machine.state for h in runtime.strategies.values() for p in h.runner.runners()}


def settled(runtime: Runtime, pairs_in: set[str]) -> Callable[[], bool]:
    return lambda: at_rest(runtime) and pair_states(runtime) <= pairs_in


def at_rest(runtime: Runtime) -> bool:
    if runtime.tracker.open_orders():
        return False
    for host in runtime.strategies.values():
        for pair in host.runner.runners():
            if pair.busy is not None and not pair.busy.done():
                return False
            if pair.machine.state not in RESTING:
                return False
        if host.hedger is not None and host.hedger.machine.state != "idle":
            return False
        hedge = host.loaded.manifest.hedge
        for asset in host.runner.inventory.assets():
            leg = next(r.pair.legs[0] for r in host.runner.runners() if r.pair.asset == asset)
            price = runtime.market.touch(leg, Side.SELL)
            if hedge is not None and price is not None:
                delta = host.runner.inventory.delta(asset).notional(price)
                if abs(delta) > hedge.band_notional:
                    return False
    return True


async def serve(runtime: Runtime) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        if command["op"] == "settle":
            wanted = set(command.get("pair_states", RESTING))
            ok = await runtime.wait_for(settled(runtime, wanted), float(command["timeout"]))
            emit("settled", ok=ok, status=status(runtime))
        elif command["op"] == "stop":
            break
    await runtime.stop()
    emit("stopped")


async def main(args: argparse.Namespace) -> None:
    runtime = Runtime(
        RuntimeOptions(
            targets=[Path(args.manifests)],
            journal=Path(args.journal),
            tick_s=0.05,
            venue_limits=LIFTED,
        ),
        environ=dict(os.environ),
    )
    await runtime.start()
    if args.crash_at is not None:
        install_crash(runtime, args.crash_at)  # the venue sessions open during start
    built = await runtime.wait_for(
        lambda: all(h.runner.engine is not None for h in runtime.strategies.values()), 30
    )
    emit("ready", engines_built=built, status=status(runtime))
    await serve(runtime)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.support.crash_driver")
    parser.add_argument("--manifests", required=True, help="folder of strategy manifests")
    parser.add_argument("--journal", required=True)
    parser.add_argument("--crash-at", choices=POINTS, default=None)
    return parser.parse_args(argv)


if __name__ == "__main__":
    with loopback_only():  # a child of a test keeps the tests' promise too
        asyncio.run(main(parse(sys.argv[1:])))
    sys.exit(0)
