"""A manifest against what its venues list: every leg's symbol, product and coin, at its line."""

from __future__ import annotations

from dataclasses import dataclass

from arbiter.manifest import load_manifest_bytes
from arbiter.manifest.listings import Listing, check_listings
from tests.support.manifest_samples import MINIMAL, marked_line


@dataclass(frozen=True)
class _Inst:
    base: str
    quote: str


LISTED: Listing = {
    ("bybit", "spot", "BTCUSDT"): _Inst("BTC", "USDT"),
    ("bybit", "perp", "BTCUSDT"): _Inst("BTC", "USDT"),
    ("bybit", "spot", "ETHUSDT"): _Inst("ETH", "USDT"),
    ("okx", "spot", "BTC-USDT"): _Inst("BTC", "USDT"),
    ("okx", "spot", "BTC-USDC"): _Inst("BTC", "USDC"),
    ("okx", "perp", "BTC-USDT-SWAP"): _Inst("BTC", "USDT"),
    ("okx", "perp", "ETH-USDT-SWAP"): _Inst("ETH", "USDT"),
}
BOTH = ("bybit", "okx")


def _errors(text: str, accounts: tuple[str, ...] = BOTH) -> list[str]:
    loaded = load_manifest_bytes(text, "s.yaml")
    return [e.render("s.yaml") for e in check_listings(loaded, LISTED, accounts)]


def _perp(symbol: str) -> str:
    return MINIMAL.replace(
        "perp: { venue: okx, symbol: BTC-USDT-SWAP }",
        f"perp: {{ venue: okx, symbol: {symbol} }} # <-",
    )


def _at(text: str, value: str) -> str:
    line = marked_line(text)
    return f"s.yaml:{line}:{text.splitlines()[line - 1].index(value) + 1}"


def test_listings_when_every_leg_listed_find_nothing() -> None:
    assert _errors(MINIMAL) == []


def test_symbol_when_not_listed_is_refused_at_its_value_with_the_closest_listed() -> None:
    text = _perp("BTC-USDT-SWAPX")
    assert _errors(text) == [
        f"{_at(text, 'BTC-USDT-SWAPX')}: pairs[0].perp.symbol: okx lists no perp "
        "'BTC-USDT-SWAPX'; did you mean 'BTC-USDT-SWAP'?"
    ]


def test_symbol_when_listed_as_the_other_product_says_which() -> None:
    text = _perp("BTC-USDT")
    assert _errors(text) == [
        f"{_at(text, 'BTC-USDT')}: pairs[0].perp.symbol: okx lists no perp 'BTC-USDT' "
        "(it lists a spot by that name)"
    ]


def test_symbol_when_it_trades_another_coin_names_both() -> None:
    text = _perp("ETH-USDT-SWAP")
    assert _errors(text) == [
        f"{_at(text, 'ETH-USDT-SWAP')}: pairs[0].perp.symbol: okx perp 'ETH-USDT-SWAP' trades "
        "ETH, expected BTC (the pair's asset)"
    ]


def test_legs_when_quoted_in_different_currencies_are_refused() -> None:
    text = MINIMAL.replace("type: spot_perp", "type: spot_spot").replace(
        "    spot: { venue: bybit, symbol: BTCUSDT }\n"
        "    perp: { venue: okx, symbol: BTC-USDT-SWAP }",
        "    a: { venue: bybit, symbol: BTCUSDT }\n    b: { venue: okx, symbol: BTC-USDC } # <-",
    )
    assert _errors(text) == [
        f"{_at(text, 'BTC-USDC')}: pairs[0].b.symbol: okx spot 'BTC-USDC' is quoted in USDC, "
        "expected USDT like the a leg"
    ]


def test_hedge_instrument_when_not_a_listed_perp_is_refused() -> None:
    text = MINIMAL + (
        "hedge:\n  band_notional: 100\n  max_order_notional: 100\n"
        "  instruments: { BTC: { venue: okx, symbol: BTC-USDT } } # <-\n"
    )
    assert _errors(text) == [
        f"{_at(text, 'BTC-USDT')}: hedge.instruments.BTC.symbol: okx lists no perp 'BTC-USDT' "
        "(it lists a spot by that name)"
    ]


def test_legs_when_their_account_is_not_checked_are_left_alone() -> None:
    assert _errors(_perp("BTC-USDT-SWAPX"), accounts=("bybit",)) == []
