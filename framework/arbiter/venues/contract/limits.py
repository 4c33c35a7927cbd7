"""What a venue allows an account: its client order ids, its request rates, what it trades.

`VenueLimits` are the venue's published limits, which a plugin states as its defaults and an
account may replace (raised limits, or a simulator that enforces none). `Capabilities` are what
`arbiter venues` lists for a plugin and what a strategy may ask of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from arbiter.venues.contract.client_ids import ClientIdRules


@dataclass(frozen=True, slots=True)
class VenueLimits:
    client_ids: ClientIdRules
    orders_per_second: int
    requests_per_second: int


@dataclass(frozen=True, slots=True)
class Capabilities:
    spot: bool = True
    perp: bool = True
    amend: bool = True
    reduce_only: bool = True
    order_types: tuple[str, ...] = ("limit", "market")
    time_in_force: tuple[str, ...] = ("gtc", "ioc", "fok", "post_only")
    extra: dict[str, str] = field(default_factory=dict)
