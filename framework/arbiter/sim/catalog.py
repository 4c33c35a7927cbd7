"""The listed instruments of each simulated venue and the funded test account.

Tick, lot and contract sizes follow the real venues' listings for the default symbols, so a
plugin's rounding meets the same grid it will meet live.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arbiter.market.instrument import Instrument, InstrumentKind
from arbiter.sim.accounts import Account
from arbiter.sim.engine import instrument_key

D = Decimal
DEFAULT_SYMBOLS = ("BTC/USDT", "ETH/USDT")
REFERENCE_PRICES = {"BTC": D(60000), "ETH": D(3000), "SOL": D(150), "XRP": D("0.6")}


@dataclass(frozen=True)
class Grid:
    spot_tick: Decimal
    spot_lot: Decimal
    perp_tick: Decimal
    perp_lot: Decimal
    contract_value: Decimal


_BYBIT = {
    "BTC": Grid(D("0.01"), D("0.000001"), D("0.1"), D("0.001"), D(1)),
    "ETH": Grid(D("0.01"), D("0.00001"), D("0.01"), D("0.01"), D(1)),
}
_OKX = {
    "BTC": Grid(D("0.1"), D("0.00000001"), D("0.1"), D("0.01"), D("0.01")),
    "ETH": Grid(D("0.01"), D("0.000001"), D("0.01"), D("0.01"), D("0.1")),
}
_FALLBACK = Grid(D("0.0001"), D("0.01"), D("0.0001"), D("0.1"), D(1))


def venue_instruments(
    venue: str, symbols: tuple[str, ...] = DEFAULT_SYMBOLS
) -> dict[str, Instrument]:
    """Spot and USDT perpetual instruments of `symbols` ("BASE/QUOTE") on `venue`."""
    if venue not in ("bybit", "okx"):
        raise ValueError(f"expected venue 'bybit' or 'okx', was {venue!r}")
    out: dict[str, Instrument] = {}
    for pair in symbols:
        base, _, quote = pair.partition("/")
        if not base or not quote:
            raise ValueError(f"expected a symbol like 'BTC/USDT', was {pair!r}")
        grid = (_BYBIT if venue == "bybit" else _OKX).get(base, _FALLBACK)
        if venue == "bybit":
            spot_sym, perp_sym = f"{base}{quote}", f"{base}{quote}"
        else:
            spot_sym, perp_sym = f"{base}-{quote}", f"{base}-{quote}-SWAP"
        for kind, sym, tick, lot, ct in (
            (InstrumentKind.SPOT, spot_sym, grid.spot_tick, grid.spot_lot, D(1)),
            (InstrumentKind.PERP, perp_sym, grid.perp_tick, grid.perp_lot, grid.contract_value),
        ):
            inst = Instrument(
                venue=venue,
                symbol=sym,
                kind=kind,
                base=base,
                quote=quote,
                tick_size=tick,
                lot_size=lot,
                min_qty=lot,
                # Bybit spot publishes minOrderAmt; OKX publishes no minimum notional (minSz only).
                min_notional=D(1) if kind is InstrumentKind.SPOT and venue == "bybit" else D(0),
                contract_value=ct,
                maker_fee=D("0.001") if kind is InstrumentKind.SPOT else D("0.0002"),
                taker_fee=D("0.001") if kind is InstrumentKind.SPOT else D("0.00055"),
            )
            out[instrument_key(inst)] = inst
    return out


def funded_account(venue: str, symbols: tuple[str, ...] = DEFAULT_SYMBOLS) -> Account:
    """A funded account: 100,000 USDT and about 10,000 USDT worth of each base coin."""
    balances = {"USDT": D(100_000)}
    for pair in symbols:
        base = pair.partition("/")[0]
        ref = REFERENCE_PRICES.get(base, D(100))
        balances[base] = (D(10_000) / ref).quantize(D("0.0001"))
    return Account(
        api_key=f"sim-{venue}-key",
        secret=f"sim-{venue}-secret",
        passphrase="sim-passphrase" if venue == "okx" else "",
        balances=balances,
    )
