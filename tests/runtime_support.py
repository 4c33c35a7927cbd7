"""Runtime tests' shared parts: a manifest with both venues on the simulator (one BTC
spot/perp pair by default), and the venues' rate limits lifted (the simulator enforces none)."""

from __future__ import annotations

import textwrap

from tests.trading_sim import PLUGINS, fast_limits

LIFTED = {venue: fast_limits(venue) for venue in PLUGINS}


def manifest(
    name: str,
    *,
    entry_bps: str = "10",
    pairs: str = "",
    gates: str = "",
    repair: str = "chase",
    cooldown_s: str = "0",
    leg_timeout_ms: str = "3000",
    max_unhedged_ms: str = "5000",
    retry: str = "{ max_attempts: 3, backoff_ms: 200 }",
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
        thresholds: {{ entry_bps: {entry_bps}, exit_bps: 2, min_profit_bps: 3, cooldown_s: {cooldown_s} }}
        sizing: {{ order_notional: 600, max_position_notional: 5000 }}
        hedge: {{ band_notional: 100, interval_s: 3600, max_order_notional: 2000 }}
        execution:
          max_slippage_bps: 20
          leg_timeout_ms: {leg_timeout_ms}
          repair: {{ policy: {repair}, max_chase_steps: 3, chase_step_bps: 5 }}
          retry: {retry}
        risk: {{ max_net_delta_notional: 100000, daily_loss_limit: 100000, max_unhedged_ms: {max_unhedged_ms} }}
        """
    ).replace("PAIRS\n", textwrap.indent(pairs, ""))
    return text + (f"gates:\n{gates}" if gates else "")
