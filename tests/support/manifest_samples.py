"""Manifest texts for tests. `MINIMAL` is the smallest valid manifest; tests mutate it."""

from __future__ import annotations

import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STRATEGIES = sorted((REPO / "strategies").glob("*.yaml"))

MINIMAL = textwrap.dedent(
    """\
    strategy:
      name: t
      version: 1
    venues:
      bybit: { plugin: bybit }
      okx: { plugin: okx }
    pairs:
      - id: btc
        type: spot_perp
        asset: BTC
        spot: { venue: bybit, symbol: BTCUSDT }
        perp: { venue: okx, symbol: BTC-USDT-SWAP }
    thresholds: { entry_bps: 10, exit_bps: 2, min_profit_bps: 3 }
    sizing: { order_notional: 100, max_position_notional: 1000 }
    risk: { max_net_delta_notional: 500, daily_loss_limit: 50 }
    """
)


def with_gates(*gates: str) -> str:
    """MINIMAL plus a `gates:` list; each gate is a YAML flow mapping."""
    return MINIMAL + "gates:\n" + "".join(f"  - {g}\n" for g in gates)


def marked_line(text: str, marker: str = "# <-") -> int:
    """1-based line number of the line carrying `marker`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"no {marker!r} in text")
