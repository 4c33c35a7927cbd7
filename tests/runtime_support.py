"""Manifests for runtime tests: both venues on the simulator, one BTC spot/perp pair by default."""

from __future__ import annotations

import textwrap


def manifest(
    name: str,
    *,
    entry_bps: str = "10",
    pairs: str = "",
    gates: str = "",
    repair: str = "chase",
) -> str:
    pairs = pairs or textwrap.dedent(
        """\
          - id: btc
            type: spot_perp
            asset: BTC
            spot: { venue: bybit, symbol: BTCUSDT }
            perp: { venue: okx, symbol: BTC-USDT-SWAP }
        """
    )
    text = textwrap.dedent(
        f"""\
        strategy: {{ name: {name}, version: 1 }}
        venues:
          bybit: {{ plugin: bybit, endpoint: sim }}
          okx: {{ plugin: okx, endpoint: sim }}
        pairs:
        PAIRS
        thresholds: {{ entry_bps: {entry_bps}, exit_bps: 2, min_profit_bps: 3, cooldown_s: 0 }}
        sizing: {{ order_notional: 600, max_position_notional: 5000 }}
        hedge: {{ band_notional: 100, interval_s: 3600, max_order_notional: 2000 }}
        execution:
          max_slippage_bps: 20
          leg_timeout_ms: 3000
          repair: {{ policy: {repair}, max_chase_steps: 3, chase_step_bps: 5 }}
        risk: {{ max_net_delta_notional: 100000, daily_loss_limit: 100000 }}
        """
    ).replace("PAIRS\n", textwrap.indent(pairs, ""))
    return text + (f"gates:\n{gates}" if gates else "")
