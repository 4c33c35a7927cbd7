"""Pre-trade checks for both legs of a pair, before either leg is sent.

Every check runs on every leg (an operator sees all that failed, not only the first), and the
result names the check and its numbers: "bybit USDT free 1200.5 minus reserved 900 < needed
2000.4". Funds are summed per venue and asset across both legs, because a spot buy and a perp
margin on one venue draw on the same USDT. Only when everything passes are funds reserved, for
both legs at once; if anything fails, nothing is reserved and neither leg may be sent.

What each leg needs (linear perps margined in the quote asset, fees at the taker rate, the
conservative case for an IOC):
- spot buy: quote = notional * (1 + taker fee)
- spot sell: base = base quantity
- perp opening: quote = notional / leverage + notional * taker fee
- perp reduce-only: quote = notional * taker fee
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from arbiter.execution.intent import Intent
from arbiter.execution.records import OrderSnapshot
from arbiter.execution.reservations import Reservations
from arbiter.market.instrument import Instrument, InstrumentKind, OffGridError
from arbiter.venues import OrderType, Side


@dataclass(frozen=True, slots=True)
class PlannedLeg:
    intent: Intent
    instrument: Instrument
    leverage: Decimal = Decimal(1)  # perps: initial margin = notional / leverage
    # Market orders carry no price: funds and notional are checked at this bound (e.g. the
    # decision price moved by the manifest's max slippage). Defaults to the decision price.
    price_bound: Decimal | None = None

    @property
    def name(self) -> str:
        return f"{self.intent.id.leg} {self.intent.venue}:{self.intent.request.symbol}"

    @property
    def check_price(self) -> Decimal:
        request = self.intent.request
        if request.type is OrderType.LIMIT and request.price is not None:
            return request.price
        return self.price_bound or self.intent.decision_price

    @property
    def notional(self) -> Decimal:
        return self.instrument.base_qty(self.intent.request.qty) * self.check_price

    def funds(self) -> tuple[str, Decimal]:
        """(asset, amount) this leg needs free on its venue."""
        request, inst = self.intent.request, self.instrument
        notional = self.notional
        fee = notional * inst.taker_fee
        if inst.kind is InstrumentKind.SPOT:
            if request.side is Side.BUY:
                return inst.quote, notional + fee
            return inst.base, inst.base_qty(request.qty)
        if request.reduce_only:
            return inst.quote, fee
        return inst.quote, notional / self.leverage + fee

    @property
    def adds_exposure(self) -> bool:
        return not self.intent.request.reduce_only


@dataclass(frozen=True, slots=True)
class PositionLimit:
    """The manifest's `max_position_notional` for the pair, and what the pair holds now."""

    max_notional: Decimal
    current_notional: Decimal  # absolute, in quote


@dataclass(frozen=True, slots=True)
class CheckFailure:
    check: str  # "tick", "lot", "min_qty", "min_notional", "instrument", "funds", "position"
    legs: str
    message: str

    def __str__(self) -> str:
        return f"{self.check} [{self.legs}]: {self.message}"


@dataclass(frozen=True, slots=True)
class PretradeResult:
    failures: tuple[CheckFailure, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def reason(self) -> str:
        return "; ".join(str(f) for f in self.failures)


Balances = Mapping[tuple[str, str], Decimal]  # (venue, asset) -> free, as the venue reports it


class PretradeChecker:
    def __init__(self, reservations: Reservations) -> None:
        self.reservations = reservations

    def check(
        self,
        legs: Sequence[PlannedLeg],
        balances: Balances,
        limit: PositionLimit | None = None,
    ) -> PretradeResult:
        return self._check(legs, [leg.funds() for leg in legs], balances, limit)

    def check_and_reserve(
        self,
        legs: Sequence[PlannedLeg],
        balances: Balances,
        limit: PositionLimit | None = None,
    ) -> PretradeResult:
        """Check every leg; reserve funds for all of them only if all pass."""
        funds = [leg.funds() for leg in legs]
        result = self._check(legs, funds, balances, limit)
        if result.passed:
            for leg, (asset, amount) in zip(legs, funds, strict=True):
                request = leg.intent.request
                self.reservations.reserve(
                    request.client_id, leg.intent.venue, asset, amount, request.qty
                )
        return result

    def reserve(self, leg: PlannedLeg, snapshot: OrderSnapshot | None = None) -> None:
        """Reserve a leg's funds unchecked: after a restart, for each open order the journal
        holds (with its snapshot, so what already filled is not reserved again)."""
        asset, amount = leg.funds()
        request = leg.intent.request
        self.reservations.reserve(request.client_id, leg.intent.venue, asset, amount, request.qty)
        if snapshot is not None:
            self.reservations.update(snapshot)

    def _check(
        self,
        legs: Sequence[PlannedLeg],
        funds: Sequence[tuple[str, Decimal]],
        balances: Balances,
        limit: PositionLimit | None,
    ) -> PretradeResult:
        """`funds`: each leg's `funds()`, worked out once by the caller."""
        failures: list[CheckFailure] = []
        for leg in legs:
            failures.extend(_instrument_failures(leg))
        failures.extend(self._funds_failures(legs, funds, balances))
        if limit is not None:
            failures.extend(_position_failures(legs, limit))
        return PretradeResult(tuple(failures))

    def _funds_failures(
        self,
        legs: Sequence[PlannedLeg],
        funds: Sequence[tuple[str, Decimal]],
        balances: Balances,
    ) -> list[CheckFailure]:
        needed: dict[tuple[str, str], Decimal] = {}
        names: dict[tuple[str, str], list[str]] = {}
        for leg, (asset, amount) in zip(legs, funds, strict=True):
            key = (leg.intent.venue, asset)
            needed[key] = needed.get(key, Decimal(0)) + amount
            names.setdefault(key, []).append(leg.name)
        failures = []
        for (venue, asset), amount in needed.items():
            free = balances.get((venue, asset), Decimal(0))
            reserved = self.reservations.reserved(venue, asset)
            if free - reserved < amount:
                failures.append(
                    CheckFailure(
                        "funds",
                        " + ".join(names[(venue, asset)]),
                        f"{venue} {asset} free {free} minus reserved {reserved} < needed {amount}",
                    )
                )
        return failures


def _instrument_failures(leg: PlannedLeg) -> list[CheckFailure]:
    request, inst = leg.intent.request, leg.instrument
    if (leg.intent.venue, request.symbol) != inst.key:
        message = f"expected instrument {leg.intent.venue}:{request.symbol}, was {inst.venue}:{inst.symbol}"
        return [CheckFailure("instrument", leg.name, message)]
    failures = []
    if request.price is not None:
        try:
            inst.price_to_ticks(request.price)
        except OffGridError as off:
            failures.append(CheckFailure("tick", leg.name, str(off)))
    try:
        inst.qty_to_lots(request.qty)
    except OffGridError as off:
        failures.append(CheckFailure("lot", leg.name, str(off)))
    if request.qty < inst.min_qty:
        failures.append(
            CheckFailure("min_qty", leg.name, f"qty {request.qty} < min qty {inst.min_qty}")
        )
    notional = leg.notional
    if notional < inst.min_notional:
        failures.append(
            CheckFailure(
                "min_notional",
                leg.name,
                f"notional {notional} at {leg.check_price} < min notional {inst.min_notional}",
            )
        )
    return failures


def _position_failures(legs: Sequence[PlannedLeg], limit: PositionLimit) -> list[CheckFailure]:
    # A hedged pair holds one position on each leg; its size is the larger leg's notional.
    opening = [leg for leg in legs if leg.adds_exposure]
    if not opening:
        return []
    added = max(leg.notional for leg in opening)
    if limit.current_notional + added > limit.max_notional:
        return [
            CheckFailure(
                "position",
                " + ".join(leg.name for leg in opening),
                f"pair notional {limit.current_notional} plus {added} > limit {limit.max_notional}",
            )
        ]
    return []
