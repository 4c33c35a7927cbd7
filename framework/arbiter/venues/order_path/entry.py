"""Order entry without ccxt in the way: placing and cancelling as one signed request each.

ccxt spends as much Python per `create_order` (unified parameter handling, precision, its
throttler's queue) before a byte is written as the order path may spend in all: a budget of
one millisecond for two orders. So placing and cancelling go out here: the venue's own request
body, built from an `OrderRequest` that `rest.requests` has already checked, signed with the
account's HMAC key, and written on keep-alive connections of our own to the venue's order host
(`order_path.wire`: aiohttp's request machinery alone is too slow for it) with the client's
timeout, default headers and TLS settings. Everything else (reads, amends, queries,
reconciliation) stays on ccxt and its aiohttp session.

A plugin states its venue in an `OrderEntry` subclass: the paths, the bodies, the signature
headers, and how an answer says "accepted" or "refused". A refusal in the venue's own words
(its error code) goes to ccxt's error table for the venue (`handle_errors`), so a venue code
means the same on both paths and `rest.errors` maps it once; an answer without them is judged
by its HTTP status as ccxt would (`handle_http_status_code`: 429 rate limited, 401 refused
keys, 5xx unavailable); anything else -- a 200 nobody recognizes, a timeout, a dropped
connection, a broken answer -- is `Ambiguous` (the order may exist). Keys are read once; nothing here logs or
raises them.
"""

from __future__ import annotations

import hmac
import json
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, ClassVar

import ccxt
import msgspec
from ccxt.base.decimal_to_precision import TICK_SIZE
from yarl import URL

from arbiter import clock as process_clock
from arbiter.venues.contract.config import ApiKeys
from arbiter.venues.contract.errors import Ambiguous, OrderRejected
from arbiter.venues.contract.orders import OrderRequest
from arbiter.venues.order_path.wire import OrderWire, PendingPost, WireError
from arbiter.venues.rest.requests import CcxtMarket, exact

_CONTENT_TYPE = {"Content-Type": "application/json"}
# Compact JSON, as ccxt writes order bodies (`json.dumps(..., separators=(",", ":"))`): the
# fields are ASCII strings, numbers and booleans, for which both write the same bytes (tested).
_COMPACT_JSON = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class SentRequest:
    """One signed request handed to the order wire, its answer still to read."""

    url: URL
    path: str
    body: str
    headers: dict[str, str]
    timeout_s: float
    wire: PendingPost


class OrderEntry(ABC):
    """One venue's place and cancel requests, on a started ccxt client of that venue."""

    api_url: ClassVar[str]  # the key of ccxt's `urls["api"]` that holds the private REST host
    place_path: ClassVar[str]
    cancel_path: ClassVar[str]

    def __init__(self, venue: str, client: Any, keys: ApiKeys) -> None:
        self.venue = venue
        self.client = client
        self.api_key = keys.api_key
        self.secret = keys.api_secret.encode()
        # The key's HMAC state, set up once; each signature continues a copy of it.
        self._hmac = hmac.new(self.secret, digestmod="sha256")
        self.passphrase = keys.passphrase or ""
        base = str(client.implode_hostname(client.urls["api"][self.api_url])).rstrip("/")
        self._place_url = URL(base + self.place_path, encoded=True)
        self._cancel_url = URL(base + self.cancel_path, encoded=True)
        # Our own keep-alive connections to the order host (`order_path.wire`), not ccxt's session.
        self.wire = OrderWire(base, ssl_context=_tls(client) if base.startswith("https") else None)

    def hmac_sha256(self, payload: bytes) -> bytes:
        """HMAC-SHA256 of `payload` under the account's secret."""
        mac = self._hmac.copy()
        mac.update(payload)
        return mac.digest()

    @classmethod
    def signs(cls, keys: ApiKeys) -> bool:
        """Whether this path can sign for `keys`; when not, orders stay on ccxt's signer."""
        return "PRIVATE KEY" not in keys.api_secret  # an RSA key (Bybit takes those): ccxt's

    # -- what a plugin states about its venue ---------------------------------------------------

    @abstractmethod
    def place_body(
        self, market: CcxtMarket, request: OrderRequest, amount: str, price: str | None
    ) -> dict[str, Any]:
        """The create-order fields; `amount` and `price` are already the exact wire strings."""

    @abstractmethod
    def cancel_body(self, market: CcxtMarket, client_id: str) -> dict[str, Any]: ...

    @abstractmethod
    def signed_headers(self, method: str, path: str, body: str) -> dict[str, str]:
        """The venue's authentication headers for one request with this exact body."""

    @abstractmethod
    def accepted(self, answer: Any) -> bool:
        """Whether a parsed HTTP 200 answer says the venue did what was asked."""

    @abstractmethod
    def refused(self, answer: Any) -> bool:
        """Whether a parsed answer is the venue's own refusal (it carries an error code)."""

    @abstractmethod
    def order_id(self, answer: Any) -> str:
        """The venue's order id in an accepted create-order answer ("" when it gives none)."""

    # -- the requests ---------------------------------------------------------------------------

    async def place(
        self, market: CcxtMarket, request: OrderRequest, amount: str, price: str | None
    ) -> str:
        """Send the order; its venue order id once accepted. Raises ccxt's error for a refusal
        (the caller translates it) and `Ambiguous` for an answer nobody recognizes."""
        return await self.placed(self.send_place(market, request, amount, price))

    def send_place(
        self, market: CcxtMarket, request: OrderRequest, amount: str, price: str | None
    ) -> SentRequest:
        """The first half of `place`: build, sign and write the order now (on an idle
        connection; else `placed` writes it once one is open). Raises only before anything
        is written."""
        fields = self.place_body(market, request, amount, price)
        return self._send(self._place_url, self.place_path, fields)

    async def placed(self, sent: SentRequest) -> str:
        """The second half of `place`: the venue order id from the answer to `send_place`."""
        return self.order_id(await self._answer(sent))

    async def cancel(self, market: CcxtMarket, client_id: str) -> None:
        fields = self.cancel_body(market, client_id)
        await self._answer(self._send(self._cancel_url, self.cancel_path, fields))

    def now_ms(self) -> int:
        """The venue's clock as ccxt estimates it (`timeDifference`, when it measured one)."""
        return process_clock.wall_ms() - int(self.client.options.get("timeDifference") or 0)

    def close(self) -> None:
        """Close the order path's idle connections (the owner closes ccxt's client)."""
        self.wire.close()

    def _send(self, url: URL, path: str, fields: dict[str, Any]) -> SentRequest:
        raw = _COMPACT_JSON.encode(fields)
        body = raw.decode()
        headers = self.client.headers | _CONTENT_TYPE
        headers.update(self.signed_headers("POST", path, body))
        # The client's timeout, read per request: a caller may change it after start.
        timeout_s = self.client.timeout / 1000
        wire = self.wire.send(url.raw_path, headers, raw, timeout_s)
        return SentRequest(url, path, body, headers, timeout_s, wire)

    async def _answer(self, sent: SentRequest) -> Any:
        url, path, body, headers, timeout_s = (
            sent.url,
            sent.path,
            sent.body,
            sent.headers,
            sent.timeout_s,
        )
        try:
            got = await self.wire.answer(sent.wire)
        except TimeoutError:
            raise Ambiguous(
                self.venue, f"POST {path}: no answer within {timeout_s:g} s", "timeout"
            ) from None
        except WireError as exc:
            raise Ambiguous(self.venue, f"POST {path}: {exc}", "disconnected") from exc
        answer = _json_or_none(got.text)
        if got.status == 200 and answer is not None and self.accepted(answer):
            return answer
        raise self._refusal(
            url,
            got.status,
            got.reason,
            got.text,
            answer,
            answer_headers=got.headers,
            request_headers=headers,
            request_body=body,
        )

    def _refusal(
        self,
        url: URL,
        status: int,
        reason: str,
        text: str,
        answer: Any,
        *,
        answer_headers: Mapping[str, str],
        request_headers: Mapping[str, str],
        request_body: str,
    ) -> Exception:
        """What ccxt would raise for this answer; `Ambiguous` when it would raise nothing."""
        try:
            if answer is not None and self.refused(answer):
                self.client.handle_errors(
                    status,
                    reason,
                    str(url),
                    "POST",
                    answer_headers,
                    text,
                    answer,
                    request_headers,
                    request_body,
                )
            self.client.handle_http_status_code(status, reason, str(url), "POST", text)
        except ccxt.BaseError as exc:
            refusal: Exception = exc
            return refusal
        return Ambiguous(
            self.venue,
            f"POST {url.path}: unrecognized answer (HTTP {status} {reason}): {text[:300]}",
            "unrecognized_answer",
        )


_PROXY_SETTINGS = (
    "proxy",
    "proxyUrl",
    "proxy_url",
    "proxyUrlCallback",
    "proxy_url_callback",
    "httpProxy",
    "http_proxy",
    "httpProxyCallback",
    "http_proxy_callback",
    "httpsProxy",
    "https_proxy",
    "httpsProxyCallback",
    "https_proxy_callback",
    "socksProxy",
    "socks_proxy",
    "socksProxyCallback",
    "socks_proxy_callback",
    "aiohttp_proxy",
)


def routed_directly(client: Any) -> bool:
    """Whether ccxt sends this client's requests straight to the venue; through a proxy, the
    order path leaves them to ccxt, which knows how to reach it."""
    return not any(getattr(client, name, None) for name in _PROXY_SETTINGS)


def on_grid(client: Any, venue: str, market: CcxtMarket, value: Decimal, what: str) -> str:
    """`rest.requests.exact` for the order path: `value` ("qty" or "price") as the text ccxt
    would send (plain notation, no trailing zeros), refused unless it is on the market's grid.
    When the precision is a step (tick size, as on Bybit and OKX) that is one modulo instead of
    ccxt's string arithmetic."""
    precision = market["precision"]["amount" if what == "qty" else "price"]
    step = _decimal(str(precision)) if precision is not None else Decimal(0)
    if client.precisionMode != TICK_SIZE or step <= 0:
        return exact(client, venue, market, value, what)
    if value % step:
        raise OrderRejected(
            venue, f"{market['id']}: {what} {value} is not a multiple of {step}", "off_grid"
        )
    return format(value.normalize(), "f")


def _tls(client: Any) -> ssl.SSLContext:
    """TLS as ccxt sets it up for the client: its CA file, or no verification when the
    client's `verify` is off."""
    if not getattr(client, "verify", True):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=getattr(client, "cafile", None))


def iso8601_ms(ms: int) -> str:
    """UTC milliseconds as 2024-01-02T03:04:05.678Z."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


@lru_cache(maxsize=256)
def _decimal(text: str) -> Decimal:
    return Decimal(text)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
