"""Inventory and net delta per asset, across venues.

A strategy's inventory is what *its own* fills built (spot bought or sold, perp opened or
closed), not the whole account balance: several strategies can share one account, and an
operator's idle coins are not exposure this strategy must hedge. Every quantity is in base
units (coins); perp fills in contracts are converted by the caller with the instrument's
contract value before they reach this book.

    net delta (base) = hedge_ratio x (spot + pending spot) + (perp + pending perp)

With ratio 1 a fully hedged cash-and-carry (long 1 BTC spot, short 1 BTC perp) has delta 0.

An order in flight may fill anything from nothing to all of what is left of it, and until the
venue says which, the book cannot know. `base` counts every pending order as if it fills (both
legs of a step hedge each other while they fly, and the hedger acts on it); `worst_base` is the
net delta the venue may really hold: each pending order counted filled or not, whichever takes
the total furthest from zero. Risk limits and what status reports read the worst case, so an
order stuck in doubt never hides the exposure of the leg that did fill.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class AssetDelta:
    asset: str
    spot: Decimal
    perp: Decimal
    pending_spot: Decimal
    pending_perp: Decimal
    ratio: Decimal
    # the pending orders that would raise (`up`) or lower (`down`) net delta, ratio applied
    pending_up: Decimal = ZERO
    pending_down: Decimal = ZERO

    @property
    def base(self) -> Decimal:
        return self.ratio * (self.spot + self.pending_spot) + self.perp + self.pending_perp

    def notional(self, price: Decimal) -> Decimal:
        return self.base * price

    @property
    def worst_base(self) -> Decimal:
        """Net delta as far from zero as the pending orders may leave it (see the module)."""
        held = self.ratio * self.spot + self.perp
        high, low = held + self.pending_up, held + self.pending_down
        return high if abs(high) >= abs(low) else low

    def worst_notional(self, price: Decimal) -> Decimal:
        return self.worst_base * price


class Inventory:
    """Spot and perp holdings per asset and venue built from fills, plus in-flight intents."""

    def __init__(self, hedge_ratio: Decimal = Decimal(1)) -> None:
        self.ratio = hedge_ratio
        self._spot: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)  # (asset, venue)
        self._perp: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self._pending: dict[
            str, tuple[str, str, Decimal]
        ] = {}  # client id -> (asset, kind, signed base)

    def apply_fill(self, asset: str, venue: str, kind: str, signed_base: Decimal) -> None:
        """A fill of `signed_base` coins (positive bought, negative sold) on a spot or perp leg."""
        book = self._spot if kind == "spot" else self._perp
        book[(asset, venue)] += signed_base

    def reserve(self, client_id: str, asset: str, kind: str, signed_base: Decimal) -> None:
        """An order about to be sent: counted in delta until it fills or ends."""
        self._pending[client_id] = (asset, kind, signed_base)

    def fill_pending(self, client_id: str, signed_base: Decimal) -> None:
        """Part of a reserved order filled: move that much from pending to held (exactly once)."""
        entry = self._pending.get(client_id)
        if entry is None:
            return
        asset, kind, remaining = entry
        left = remaining - signed_base
        if left == 0 or (left > 0) != (remaining > 0):
            del self._pending[client_id]
        else:
            self._pending[client_id] = (asset, kind, left)

    def release(self, client_id: str) -> None:
        """The order ended (cancelled, rejected, expired, or fully filled): nothing pending."""
        self._pending.pop(client_id, None)

    def assets(self) -> list[str]:
        names = (
            {a for a, _ in self._spot}
            | {a for a, _ in self._perp}
            | {a for a, _, _ in self._pending.values()}
        )
        return sorted(names)

    def held(self, asset: str, kind: str) -> dict[str, Decimal]:
        book = self._spot if kind == "spot" else self._perp
        return {venue: qty for (a, venue), qty in book.items() if a == asset and qty != 0}

    def delta(self, asset: str) -> AssetDelta:
        pending_spot = pending_perp = up = down = ZERO
        for a, kind, qty in self._pending.values():
            if a != asset:
                continue
            weighted = self.ratio * qty if kind == "spot" else qty
            if kind == "spot":
                pending_spot += qty
            else:
                pending_perp += qty
            if weighted > 0:
                up += weighted
            else:
                down += weighted
        return AssetDelta(
            asset=asset,
            spot=sum(self.held(asset, "spot").values(), ZERO),
            perp=sum(self.held(asset, "perp").values(), ZERO),
            pending_spot=pending_spot,
            pending_perp=pending_perp,
            ratio=self.ratio,
            pending_up=up,
            pending_down=down,
        )
