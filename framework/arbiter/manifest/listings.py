"""A manifest checked against what its venues list: the markets the venue accounts loaded.

A manifest can be valid on its own and still name a symbol its venue does not list (a typo, a
delisted coin), a perp symbol on a spot leg, or a coin other than the pair's asset. Only an
open venue session knows, so the runtime runs these checks once a manifest's accounts are open
and before its version is applied: when a file starts a strategy (start-up included) and
before a reload replaces the running version. A version that fails them is refused like an
invalid file; `arbiter validate` opens no venue and cannot run them.

Rules kept here:
- every leg (`pairs[i].spot|perp|a|b`) and every `hedge.instruments` entry is listed by its
  account as the product its role trades (`LEG_KINDS`, `HEDGE_INSTRUMENT_KIND`);
- the listed instrument trades the pair's `asset` (a hedge entry: the asset it is keyed by);
- both legs of a pair are quoted in the same currency (the spread compares their prices);
- legs on an account outside `accounts` are not checked here (the caller checks them once
  that account is open with this manifest's definition).
Each error points at the offending `symbol`.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Mapping
from typing import Protocol

from arbiter.manifest.loader import LoadedManifest
from arbiter.manifest.models import HEDGE_INSTRUMENT_KIND, LEG_KINDS, LegRef
from arbiter.manifest.yaml_source import Path, SourceError


class Listed(Protocol):
    """What a venue says of one instrument it lists (an `arbiter.market.Instrument` is one)."""

    @property
    def base(self) -> str: ...

    @property
    def quote(self) -> str: ...


Listing = Mapping[tuple[str, str, str], Listed]  # (account, kind, symbol) -> instrument


def check_listings(
    loaded: LoadedManifest, listing: Listing, accounts: Collection[str]
) -> list[SourceError]:
    """Every leg on one of `accounts` that its venue does not list as the manifest needs it."""
    return [
        loaded.error_at(path, message) for path, message in _problems(loaded, listing, accounts)
    ]


def _problems(
    loaded: LoadedManifest, listing: Listing, accounts: Collection[str]
) -> Iterator[tuple[Path, str]]:
    m = loaded.manifest
    for i, pair in enumerate(m.pairs):
        quoted: tuple[str, str] | None = None  # (role, quote) of the first leg checked
        for role, ref in pair.legs():
            path: Path = ("pairs", i, role, "symbol")
            if ref.venue not in accounts:
                continue
            found = listing.get((ref.venue, LEG_KINDS[role], ref.symbol))
            if found is None:
                yield path, _unlisted(listing, ref, LEG_KINDS[role])
                continue
            if found.base != pair.asset:
                yield (
                    path,
                    _other_coin(ref, LEG_KINDS[role], found.base, pair.asset, "the pair's asset"),
                )
            if quoted is None:
                quoted = (role, found.quote)
            elif found.quote != quoted[1]:
                yield (
                    path,
                    f"{ref.venue} {LEG_KINDS[role]} {ref.symbol!r} is quoted in {found.quote}, "
                    f"expected {quoted[1]} like the {quoted[0]} leg",
                )
    if m.hedge is not None:
        for asset, ref in m.hedge.instruments.items():
            path = ("hedge", "instruments", asset, "symbol")
            if ref.venue not in accounts:
                continue
            found = listing.get((ref.venue, HEDGE_INSTRUMENT_KIND, ref.symbol))
            if found is None:
                yield path, _unlisted(listing, ref, HEDGE_INSTRUMENT_KIND)
            elif found.base != asset:
                yield path, _other_coin(ref, HEDGE_INSTRUMENT_KIND, found.base, asset, "its key")


def _unlisted(listing: Listing, ref: LegRef, kind: str) -> str:
    text = f"{ref.venue} lists no {kind} {ref.symbol!r}"
    others = sorted(
        k for (acct, k, symbol) in listing if acct == ref.venue and symbol == ref.symbol
    )
    if others:
        return f"{text} (it lists a {' and a '.join(others)} by that name)"
    same_kind = [s for (acct, k, s) in listing if acct == ref.venue and k == kind]
    close = difflib.get_close_matches(ref.symbol, same_kind, n=1, cutoff=0.8)
    return f"{text}; did you mean {close[0]!r}?" if close else text


def _other_coin(ref: LegRef, kind: str, base: str, asset: str, whose: str) -> str:
    return f"{ref.venue} {kind} {ref.symbol!r} trades {base}, expected {asset} ({whose})"
