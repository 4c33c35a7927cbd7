"""Hot reload: file saved to change in effect, and whether any book update was lost meanwhile.

    .venv/bin/python benchmarks/reload.py [edits]

One runtime runs a manifest against the in-process simulator (the market stepping 50 times a
second). The script rewrites the manifest's entry threshold `edits` times; each time it takes
the clock before the write and stops it when the pair's running machine carries the new value.
The runtime polls its files every 50 ms, so about half of that is the expected wait.

"No dropped book update": every book event the venue sessions delivered for the strategy's
books must have reached its spread engine (`runtime.stats.book_events` against the engine's
recompute count), and the sessions must report no sequence gap.

The peer in the same run is what a framework that checks config only at start needs for the
same edit: stop the runtime, start a new one on the edited file, wait until its spread engine
is built again (venue connections and books included). The ratio is restart over reload.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from arbiter.runtime.logs import configure_logging
from arbiter.runtime.runtime import Runtime, RuntimeOptions
from arbiter.sim import start
from arbiter.sim.generator import MarketParams
from arbiter.venues import StreamingSession

MANIFEST = textwrap.dedent(
    """\
    strategy: { name: reload-bench, version: 1 }
    venues:
      bybit: { plugin: bybit, endpoint: sim }
      okx: { plugin: okx, endpoint: sim }
    pairs:
      - { id: btc, type: spot_perp, asset: BTC, spot: { venue: bybit, symbol: BTCUSDT },
          perp: { venue: okx, symbol: BTC-USDT-SWAP } }
    thresholds: { entry_bps: ENTRY, exit_bps: 2, min_profit_bps: 3 }
    sizing: { order_notional: 500, max_position_notional: 5000 }
    risk: { max_net_delta_notional: 5000, daily_loss_limit: 500 }
    """
)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(edits: int) -> None:
    configure_logging("human", level="ERROR")
    # Entries stay far away (entry >= 500 bps): only reloads and book events are measured.
    sim = await start(
        symbols=["BTC/USDT"], seed=5, steps_per_second=50, market=MarketParams(jump_rate=0)
    )
    scratch = Path(tempfile.mkdtemp(prefix="arbiter-reload-"))
    path = scratch / "strategies" / "bench.yaml"
    path.parent.mkdir()
    path.write_text(MANIFEST.replace("ENTRY", "500"))

    def runtime_on(journal: str) -> Runtime:
        options = RuntimeOptions(targets=[path.parent], journal=scratch / journal)
        return Runtime(options, sim=sim)

    runtime = runtime_on("journal.sqlite")
    await runtime.start()
    runner = runtime.strategies["reload-bench"].runner
    assert await runtime.wait_for(lambda: runner.engine is not None, 30), "engine never built"
    events_before, reached_before = runtime.stats.book_events, runner.stats.book_events
    reload_ms: list[float] = []
    for n in range(edits):
        entry = 500 + n + 1
        started = time.perf_counter()
        path.write_text(MANIFEST.replace("ENTRY", str(entry)))
        pair = runtime.strategies["reload-bench"].runner.pairs["btc"]
        applied = await runtime.wait_for(
            lambda p=pair, e=entry: p.pair.thresholds.entry_bps == e, 10
        )
        assert applied, f"edit {n} never took effect"
        reload_ms.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)  # let book events flow between edits
    delivered = runtime.stats.book_events - events_before
    reached = runner.stats.book_events - reached_before
    gaps = sum(
        count
        for session in runtime.accounts.sessions().values()
        if isinstance(session, StreamingSession)
        for count in session_gaps(session).values()
    )
    await runtime.stop()

    restart_ms: list[float] = []
    for n in range(min(5, edits)):
        started = time.perf_counter()
        path.write_text(MANIFEST.replace("ENTRY", str(900 + n)))
        fresh = runtime_on(f"restart-{n}.sqlite")
        await fresh.start()
        fresh_runner = fresh.strategies["reload-bench"].runner
        assert await fresh.wait_for(lambda r=fresh_runner: r.engine is not None, 30)
        restart_ms.append((time.perf_counter() - started) * 1000)
        await fresh.stop()
    await sim.stop()

    print(f"{edits} edits of a running manifest's entry threshold (file poll every 50 ms)")
    print(
        f"reload   p50 {percentile(reload_ms, 0.5):7.1f} ms   p99 {percentile(reload_ms, 0.99):7.1f}"
        f" ms   max {max(reload_ms):7.1f} ms"
    )
    print(
        f"restart  p50 {percentile(restart_ms, 0.5):7.1f} ms   (stop + start + books, "
        f"{len(restart_ms)} runs)"
    )
    print(
        f"book events delivered {delivered}, reached the spread engine {reached}, "
        f"sequence gaps {gaps}"
    )
    ratio = percentile(restart_ms, 0.5) / percentile(reload_ms, 0.5)
    print(f"restart / reload p50 = {ratio:.1f}x")
    print(
        f"reload p50_ms={percentile(reload_ms, 0.5):.1f} p99_ms={percentile(reload_ms, 0.99):.1f} "
        f"max_ms={max(reload_ms):.1f} dropped={delivered - reached} gaps={gaps} "
        f"restart_ms={percentile(restart_ms, 0.5):.0f}"
    )


def session_gaps(session: StreamingSession) -> dict[str, int]:
    """Resyncs each public stream of a session had to request (a gap or a reset)."""
    return {kind: session.public_stream(kind).stats.resyncs_sent for kind in ("spot", "perp")}


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
