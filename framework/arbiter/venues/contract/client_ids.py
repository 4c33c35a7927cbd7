"""Deterministic order identities.

An *intent* id names one order we mean to place: (strategy, pair, cycle, leg, attempt). The
attempt changes only when we deliberately place a *different* order (a chase step at a new
price); a retry of the same intent keeps its attempt, so it keeps its client order id, and the
venue's duplicate-id answer tells us the first try arrived.

The client order id is a digest of the intent id, so it is the same on every run and after a
restart, short, and within every venue's charset: `a` + 25 lower-case hex characters fits OKX
(letters and digits, at most 32) and Bybit (at most 36 of `[A-Za-z0-9_-]`).

Each venue's own rules are its plugin's to state (`ClientIdRules`, in its `VenueLimits`); an id
outside them is refused before anything is sent.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClientIdRules:
    venue: str
    pattern: re.Pattern[str]
    max_length: int

    def check(self, client_id: str) -> str:
        if len(client_id) > self.max_length:
            raise ValueError(
                f"{self.venue}: client order id {client_id!r} has {len(client_id)} characters; the limit is {self.max_length}"
            )
        if not self.pattern.fullmatch(client_id):
            raise ValueError(
                f"{self.venue}: client order id {client_id!r} does not match {self.pattern.pattern}"
            )
        return client_id


@dataclass(frozen=True, slots=True)
class IntentId:
    strategy: str
    pair: str
    cycle: int
    leg: str  # e.g. "entry.spot", "exit.perp", "repair.perp", "hedge"
    attempt: int = 0

    def __str__(self) -> str:
        return f"{self.strategy}/{self.pair}/{self.cycle}/{self.leg}/{self.attempt}"

    def next_attempt(self) -> IntentId:
        return IntentId(self.strategy, self.pair, self.cycle, self.leg, self.attempt + 1)

    def client_id(self, rules: ClientIdRules | None = None) -> str:
        digest = hashlib.blake2b(str(self).encode("utf-8"), digest_size=16).hexdigest()
        client_id = "a" + digest[:25]
        return rules.check(client_id) if rules is not None else client_id
