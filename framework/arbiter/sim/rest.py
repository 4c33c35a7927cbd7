"""The REST skeleton both dialects stand on: one route table, one way through, typed routes.

A request goes, in this order, through:
1. the tally (`RestRecords.requests`), counted before any fault, so a test can prove that a
   request never left its client;
2. the fault gate (gate.py): latency, rate limit, gateway errors, refusals, lost answers;
3. the route table, `(method, path) -> Public(route) | Private(route)`; an unknown pair gets
   the dialect's `no_route` answer;
4. for a private route, the dialect's `authenticate`, which resolves the account the request is
   signed for or refuses it: a private route takes that `Account` and never sees a request
   without one;
5. the parameters: the query string, then a JSON body (an object's fields; an array, which
   only OKX's batch endpoints take, as `batch`);
6. the route, then the dialect's envelope around its result (`answer`) or refusal (`refused`).

A route refuses by raising `RestError` in its dialect's own words. It may also let through the
engine's `Rejected` and the parsers' `ParamError`: the dialect says what those are called on
its wire (`reject_code`, `bad_param`). Everything else a dialect keeps is its own: paths, field
names, error codes, envelopes and signatures.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from aiohttp import web

from arbiter.sim.accounts import Account
from arbiter.sim.engine import VenueEngine
from arbiter.sim.faults import FaultPlan, FaultRule
from arbiter.sim.fill_log import FillLog
from arbiter.sim.gate import endpoint_of, guarded
from arbiter.sim.orders import Order, Rejected, RejectReason

Params = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Public(Generic[T]):
    """A route anyone may call."""

    handler: Callable[[Params], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class Private(Generic[T]):
    """A route for signed requests only: it takes the account the signature resolved."""

    handler: Callable[[Account, Params], Awaitable[T]]


class RestError(Exception):
    """A refusal in the dialect's words: its code (Bybit's are numbers, OKX's strings), its
    message and, where the dialect answers per item (OKX's order endpoints), the items."""

    def __init__(self, code: int | str, msg: str, data: list[Any] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.data = data or []


class ParamError(ValueError):
    """A parameter missing or not what the endpoint takes; `problem` says what was expected."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


# -- parameters -------------------------------------------------------------------------------


def request_params(request: web.Request, body: str) -> Params:
    params: Params = dict(request.query)
    if request.method == "POST" and body:
        payload = json.loads(body)
        params |= {"batch": payload} if isinstance(payload, list) else payload
    return params


def optional_decimal(params: Params, key: str) -> Decimal | None:
    raw = params.get(key)
    if raw in (None, ""):
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation as exc:
        raise ParamError(key, f"expected a number, was {raw!r}") from exc


def decimal_param(params: Params, key: str) -> Decimal:
    value = optional_decimal(params, key)
    if value is None:
        raise ParamError(key, "expected a value")
    return value


def int_param(params: Params, key: str) -> int | None:
    raw = params.get(key)
    if not raw:
        return None
    try:
        return int(str(raw))
    except ValueError as exc:
        raise ParamError(key, f"expected an integer, was {raw!r}") from exc


def limit_param(params: Params, default: int, maximum: int) -> int:
    """A venue's `limit` query parameter; both venues refuse anything outside 1..maximum."""
    raw = params.get("limit")
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise ParamError("limit", f"expected 1..{maximum}, was {raw!r}")
    return value


# -- records ----------------------------------------------------------------------------------


@dataclass
class RequestTally:
    """(method, path) -> how many requests reached the dialect, counted before any fault."""

    seen: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, request: web.Request) -> None:
        self.seen[(request.method, request.path)] += 1


@dataclass
class RestRecords:
    fills: FillLog = field(default_factory=FillLog)
    requests: RequestTally = field(default_factory=RequestTally)


# Where a dialect leaves its records on the aiohttp app: `sim.venues[v].runner.app[REST_RECORDS]`.
REST_RECORDS = web.AppKey("rest_records", RestRecords)


# -- the skeleton -----------------------------------------------------------------------------


class VenueRest(ABC, Generic[T]):
    """One venue's REST API over one engine; a dialect fills in the hooks at the end.

    `T` is what the dialect's routes return, the `result` (Bybit) or `data` (OKX) of its
    envelope."""

    prefix: ClassVar[str]  # where the dialect's REST lives, e.g. "/v5"
    order_id_param: ClassVar[str]  # the fields a request names one order by
    client_id_param: ClassVar[str]

    def __init__(self, engine: VenueEngine, faults: FaultPlan, hang: asyncio.Event) -> None:
        self.engine = engine
        self.faults = faults
        self.hang = hang
        self.records = RestRecords(fills=FillLog().attach(engine))
        self.routes = self.route_table()

    def install(self, app: web.Application) -> None:
        app.router.add_route("*", self.prefix + "/{tail:.*}", self.dispatch)
        app[REST_RECORDS] = self.records

    async def dispatch(self, request: web.Request) -> web.Response:
        self.records.requests.count(request)
        return await guarded(
            self.faults,
            endpoint_of(self.engine.name, request),
            handle=partial(self._handle, request),
            rate_limited=self.rate_limited,
            rejected=partial(self.fault_refusal, request),
            hang=self.hang,
        )

    async def _handle(self, request: web.Request) -> web.Response:
        route = self.routes.get((request.method, request.path))
        if route is None:
            return self.no_route(f"expected a known endpoint, was {request.method} {request.path}")
        body = await request.text()
        params: Params = {}
        try:
            if isinstance(route, Private):
                account = self.authenticate(request, body)
                params = request_params(request, body)
                result = await route.handler(account, params)
            else:
                params = request_params(request, body)
                result = await route.handler(params)
        except RestError as exc:
            return self.refused(exc)
        except ParamError as exc:
            return self.refused(self.bad_param(exc))
        except Rejected as exc:
            code, msg = self.reject_code(exc.reason, params)
            return self.refused(RestError(code, f"{msg} ({exc.detail})"))
        return self.answer(result)

    def named_order(self, account: Account, params: Params) -> Order:
        """The order a request names by the venue's order id or, failing that, client id."""
        return self.engine.find_order(
            account,
            params.get(self.order_id_param) or None,
            params.get(self.client_id_param) or None,
        )

    # -- what each dialect says its own way ---------------------------------------------------

    @abstractmethod
    def route_table(self) -> dict[tuple[str, str], Public[T] | Private[T]]:
        """(method, path) -> route."""

    @abstractmethod
    def authenticate(self, request: web.Request, body: str) -> Account:
        """The account whose key signed the request; raises `RestError` when it does not hold."""

    @abstractmethod
    def answer(self, result: T) -> web.Response:
        """The envelope around a route's result."""

    @abstractmethod
    def refused(self, error: RestError) -> web.Response:
        """The envelope around a refusal."""

    @abstractmethod
    def reject_code(self, reason: RejectReason, params: Params) -> tuple[int | str, str]:
        """The code and message the venue refuses a request with for the engine's `reason`."""

    @abstractmethod
    def bad_param(self, error: ParamError) -> RestError:
        """The venue's refusal of a parameter."""

    @abstractmethod
    def no_route(self, message: str) -> web.Response:
        """The answer to a method and path the venue does not serve."""

    @abstractmethod
    def rate_limited(self) -> web.Response:
        """The answer when the rate-limit fault strikes."""

    @abstractmethod
    def fault_refusal(self, request: web.Request, rule: FaultRule) -> web.Response:
        """The answer when a reject fault strikes: `rule.code` and `rule.message`, if given."""
