"""Every trading path reads time from the one clock (`arbiter.clock`), never from `time` or
`datetime` directly: a simulated run swaps that clock, and a read that bypasses it would see
the machine's time where the rest sees the simulated one.

Latency measurements of our own code (`time.perf_counter*`) are not reads of the market's time
and stay. Outside the trading paths: the clock itself, the command line (how long a CLI run
lasts is wall time by definition), the test kits and the benchmarks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRADING_PATHS = [
    *sorted((ROOT / "framework" / "arbiter").rglob("*.py")),
    *sorted((ROOT / "plugins").rglob("*.py")),
]
OUTSIDE = (
    "framework/arbiter/clock.py",
    "framework/arbiter/commands/",
    "framework/arbiter/testing/",
)
DIRECT_READ = re.compile(
    r"\btime\.(time|time_ns|monotonic|monotonic_ns)\s*\(|\bdatetime\.(now|utcnow|today)\s*\("
    # a read bound at import keeps the clock of its import: `using` could not swap it
    r"|from arbiter\.clock import .*\b(monotonic_ns|monotonic|wall_ns|wall_ms|wall_seconds)\b"
)


def direct_reads(text: str) -> list[tuple[int, str]]:
    return [
        (n, line.strip())
        for n, line in enumerate(text.splitlines(), 1)
        if DIRECT_READ.search(line.split("#", 1)[0])
    ]


@pytest.mark.parametrize(
    "path",
    [p for p in TRADING_PATHS if not str(p.relative_to(ROOT)).startswith(OUTSIDE)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_trading_path_when_it_reads_time_reads_the_one_clock(path: Path) -> None:
    assert direct_reads(path.read_text(encoding="utf-8")) == []


def test_direct_reads_when_a_file_reads_the_system_clock_finds_it() -> None:
    text = (
        "a = time.monotonic_ns()\nb = time.perf_counter_ns()\nc = datetime.now(UTC)  \n"
        "# time.time()\nfrom arbiter.clock import LoopClock, wall_ms\nfrom arbiter import clock\n"
    )
    assert [n for n, _ in direct_reads(text)] == [1, 3, 5]
