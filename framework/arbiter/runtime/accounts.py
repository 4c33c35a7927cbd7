"""Venue accounts of one runtime: one session per account, shared by every strategy naming it.

An account is a manifest's venue entry (`venues.bybit: {plugin, endpoint, credentials, urls}`),
known by its name. Two manifests that name the same account must describe it identically
(same plugin, endpoint, URLs and credential references); a manifest that disagrees is refused
rather than silently trading on the other's keys. A session opens when the first strategy needs
it and closes when the last one lets go, so a reload that keeps the venue section keeps the
connection.

With a simulator (`arbiter run --sim`), an account whose endpoint is `sim` takes its URLs and a
funded test account's keys from the simulator; no environment variable is read. The runtime
does not know a simulator: the command starts one and hands over what any venue would be to
it, where it listens and which keys to use (`SimulatedVenues`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol

from loguru import logger

from arbiter.manifest.models import Credentials, Endpoint, Venue
from arbiter.market.events import Funding, MarketEvent, Ticker, book_name
from arbiter.risk.snapshot import BalanceView
from arbiter.runtime.market import MarketState
from arbiter.venues import (
    ApiKeys,
    Balance,
    BookRef,
    PrivateEvent,
    VenueConfig,
    VenueLimits,
    VenueSession,
)
from arbiter.venues.registry.credentials import resolve
from arbiter.venues.registry.plugins import Installed

KINDS = ("spot", "perp")


class AccountError(Exception):
    """An account cannot be opened or two manifests disagree about it."""


class VenueAddress(Protocol):
    """Where one venue listens, and the keys of the account to trade there."""

    rest: str
    ws_public: str
    ws_private: str
    api_key: str
    secret: str
    passphrase: str


class SimulatedVenues(Protocol):
    """The venues a simulator serves, by plugin (`arbiter.sim.Simulation` is one)."""

    @property
    def venues(self) -> Mapping[str, object]: ...

    def endpoints(self, venue: str) -> VenueAddress: ...


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """What makes two manifests' venue entries the same account."""

    name: str
    plugin: str
    endpoint: str
    urls: tuple[tuple[str, str], ...]
    credentials: str  # the references as canonical JSON; never the secrets themselves

    @classmethod
    def of(cls, name: str, venue: Venue) -> AccountSpec:
        urls = venue.urls.model_dump(exclude_none=True) if venue.urls else {}
        creds = venue.credentials.model_dump(exclude_none=True) if venue.credentials else {}
        return cls(
            name,
            venue.plugin,
            venue.endpoint.value,
            tuple(sorted(urls.items())),
            json.dumps(creds, sort_keys=True),
        )

    def differences(self, other: AccountSpec) -> list[str]:
        return [
            f"{what}: {mine!r} vs {theirs!r}"
            for what, mine, theirs in (
                ("plugin", self.plugin, other.plugin),
                ("endpoint", self.endpoint, other.endpoint),
                ("urls", dict(self.urls), dict(other.urls)),
                ("credentials", self.credentials, other.credentials),
            )
            if mine != theirs
        ]


@dataclass
class _Account:
    spec: AccountSpec
    session: VenueSession
    owners: set[str] = field(default_factory=set)
    watched: dict[BookRef, int] = field(default_factory=dict)  # ref -> strategies watching


MarketHandler = Callable[[str, Sequence[MarketEvent]], None]  # (account, events)
PrivateHandler = Callable[[str, PrivateEvent], None]  # (account, event)


class VenueAccounts:
    def __init__(
        self,
        market: MarketState,
        plugins: Installed,
        *,
        on_market: MarketHandler,
        on_private: PrivateHandler,
        sim: SimulatedVenues | None = None,
        environ: dict[str, str] | None = None,
        limits: Mapping[str, VenueLimits] | None = None,
    ) -> None:
        self.market = market
        self._plugins = plugins
        self._on_market, self._on_private = on_market, on_private
        self._sim = sim
        self._environ = environ
        self._limits = dict(limits or {})
        self._accounts: dict[str, _Account] = {}
        self._opening: dict[str, asyncio.Future[_Account]] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._accounts

    def sessions(self) -> dict[str, VenueSession]:
        return {name: acct.session for name, acct in self._accounts.items()}

    def spec(self, name: str) -> AccountSpec | None:
        acct = self._accounts.get(name)
        return acct.spec if acct else None

    def _identity(self, spec: AccountSpec) -> AccountSpec:
        """What must match for two manifests to share the account: with a running simulator a
        `sim` account trades the simulator's funded keys, whatever credentials it names."""
        if spec.endpoint == Endpoint.SIM.value and self._sim is not None:
            return replace(spec, credentials="{}")
        return spec

    def check(self, specs: Iterable[AccountSpec]) -> list[str]:
        """Why these accounts could not be shared with the open ones ([] when they can)."""
        problems = []
        for spec in map(self._identity, specs):
            acct = self._accounts.get(spec.name)
            if acct is not None and acct.spec != spec:
                diff = "; ".join(spec.differences(acct.spec))
                problems.append(
                    f"venue {spec.name!r} is already open for {', '.join(sorted(acct.owners))} "
                    f"with a different definition ({diff})"
                )
            if spec.plugin not in self._plugins.plugins:
                problems.append(
                    f"venue {spec.name!r}: plugin {spec.plugin!r} is not installed; installed: "
                    f"{', '.join(self._plugins.names) or 'none'}"
                )
        return problems

    async def acquire(self, spec: AccountSpec, owner: str) -> VenueSession:
        """The account's session, opened (and started) on first use."""
        problems = self.check([spec])
        if problems:
            raise AccountError("; ".join(problems))
        spec = self._identity(spec)
        acct = self._accounts.get(spec.name)
        if acct is None:
            pending = self._opening.get(spec.name)
            if pending is None:
                pending = asyncio.get_running_loop().create_future()
                self._opening[spec.name] = pending
                try:
                    acct = await self._open(spec)
                except BaseException as exc:
                    pending.set_exception(exc)
                    pending.exception()  # retrieved: the caller below raises it
                    raise
                finally:
                    self._opening.pop(spec.name, None)
                pending.set_result(acct)
            else:
                acct = await pending
        acct.owners.add(owner)
        return acct.session

    async def _open(self, spec: AccountSpec) -> _Account:
        plugin = self._plugins.plugins[spec.plugin]
        config = self._config(spec)
        session: VenueSession = plugin.factory(config)
        # partials, not lambdas: no frame of ours between the venue readers and the router
        session.on_market(partial(self._on_market, spec.name))
        session.on_private(partial(self._on_private, spec.name))
        await session.start()
        acct = _Account(spec, session)
        self._accounts[spec.name] = acct
        for kind in KINDS:
            self.market.books[book_name(spec.name, kind)] = session.books(kind)
        for (kind, symbol), inst in session.instruments().items():
            self.market.instruments[(spec.name, kind, symbol)] = inst
        self.market.rules[spec.name] = session.trading.limits.client_ids
        await self.refresh_balances(spec.name)
        self.refresh_health()
        logger.bind(venue=spec.name).info(
            "venue {} open ({} via {}, {} instruments)",
            spec.name,
            spec.endpoint,
            spec.plugin,
            len(session.instruments()),
        )
        return acct

    def _config(self, spec: AccountSpec) -> VenueConfig:
        urls = dict(spec.urls)
        keys: ApiKeys | None = None
        if spec.endpoint == Endpoint.SIM.value and self._sim is not None:
            if spec.plugin not in self._sim.venues:
                raise AccountError(
                    f"venue {spec.name!r}: the simulator runs {', '.join(self._sim.venues)}, "
                    f"not {spec.plugin!r}"
                )
            ends = self._sim.endpoints(spec.plugin)
            urls = {"rest": ends.rest, "ws_public": ends.ws_public, "ws_private": ends.ws_private}
            keys = ApiKeys(ends.api_key, ends.secret, ends.passphrase or None)
        else:
            creds = json.loads(spec.credentials)
            if creds:
                keys = resolve(spec.name, Credentials(**creds), self._environ)
            if spec.endpoint == Endpoint.SIM.value and "rest" not in urls:
                raise AccountError(
                    f"venue {spec.name!r}: endpoint sim needs `urls` in the manifest, or "
                    "`arbiter run --sim` to start the simulator"
                )
        return VenueConfig(
            account=spec.name,
            endpoint=spec.endpoint,
            urls=urls,
            keys=keys,
            limits=self._limits.get(spec.plugin),
        )

    def watching(self, name: str) -> Mapping[BookRef, int]:
        """The books the account streams, each with how many strategies watch it."""
        acct = self._accounts.get(name)
        return dict(acct.watched) if acct is not None else {}

    def watch(self, name: str, refs: Iterable[BookRef]) -> None:
        acct = self._accounts[name]
        refs = list(refs)
        new = [ref for ref in dict.fromkeys(refs) if ref not in acct.watched]
        if new:  # first: a session refusing a book leaves the counts as they were
            acct.session.watch_books(new)
        for ref in refs:
            acct.watched[ref] = acct.watched.get(ref, 0) + 1

    def unwatch(self, name: str, refs: Iterable[BookRef]) -> None:
        acct = self._accounts.get(name)
        if acct is None:
            return
        gone = []
        for ref in refs:
            count = acct.watched.get(ref, 0) - 1
            if count <= 0:
                acct.watched.pop(ref, None)
                gone.append(ref)
            else:
                acct.watched[ref] = count
        if gone:
            acct.session.unwatch_books(gone)

    async def release(self, name: str, owner: str) -> None:
        """`owner` no longer uses the account; the last one out closes the session."""
        acct = self._accounts.get(name)
        if acct is None:
            return
        acct.owners.discard(owner)
        if not acct.owners:
            await self._close(name)

    async def _close(self, name: str) -> None:
        acct = self._accounts.pop(name)
        for kind in KINDS:
            self.market.books.pop(book_name(name, kind), None)
        for key in [k for k in self.market.instruments if k[0] == name]:
            del self.market.instruments[key]
        self.market.healthy.pop(name, None)
        await acct.session.close()
        logger.bind(venue=name).info("venue {} closed", name)

    async def close_all(self) -> None:
        for name in list(self._accounts):
            await self._close(name)

    # -- what the sessions tell us -----------------------------------------------------------

    def on_slow_market(self, name: str, event: MarketEvent) -> None:
        """Tickers and funding: the funding-rate gate reads the latest rate per symbol."""
        if isinstance(event, Funding):
            self.market.funding[(name, event.symbol)] = event.rate
        elif isinstance(event, Ticker) and event.funding_rate is not None:
            self.market.funding[(name, event.symbol)] = event.funding_rate

    async def refresh_balances(self, name: str) -> None:
        acct = self._accounts.get(name)
        if acct is None:
            return
        balances: dict[str, Balance] = await acct.session.trading.balances()
        for asset, bal in balances.items():
            self.market.balances[(name, asset)] = BalanceView(bal.free, bal.total)

    def connection_states(self) -> dict[str, dict[str, str]]:
        """account -> stream -> venue-connection machine state."""
        return {n: dict(a.session.connection_states()) for n, a in self._accounts.items()}

    def refresh_health(self) -> None:
        """Mark each account healthy in the market when every one of its streams is live."""
        for name, states in self.connection_states().items():
            self.market.healthy[name] = bool(states) and all(s == "live" for s in states.values())
