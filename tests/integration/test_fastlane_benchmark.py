"""The benchmark script keeps working: a tiny run prints its summary line (figures not asserted)."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from tests.support.venue_frames import REPO_ROOT

SUMMARY = re.compile(
    r"^fast_lane updates_per_s=\d+ p99_us=[\d.]+ ccxt_updates_per_s=\d+ ratio=[\d.]+"
    r" floor_updates_per_s=\d+$"
)


def test_benchmark_when_run_small_ends_with_summary_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = importlib.util.spec_from_file_location(
        "fast_lane_bench", REPO_ROOT / "benchmarks" / "fast_lane.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fast_lane_bench"] = module
    try:
        spec.loader.exec_module(module)
        module.main(["--deltas", "300"])
    finally:
        del sys.modules["fast_lane_bench"]
    lines = capsys.readouterr().out.strip().splitlines()
    assert SUMMARY.match(lines[-1]), lines[-1]
    assert "gaps=0" in "\n".join(lines)
