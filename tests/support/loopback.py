"""The guard that keeps every test on this machine, installed once for the whole run by
tests/conftest.py.

Rules it keeps:
- a connect to an address that is not loopback raises `LeftTheMachine` before anything is sent;
  this covers blocking and non-blocking sockets, `socket.create_connection`, asyncio's
  `sock_connect` (and so websockets, aiohttp and ccxt) and TLS sockets, which all end in the
  socket's own `connect`;
- resolving a name other than `localhost` raises the same: a lookup asks a DNS server, which is
  off the machine too. A numeric address resolves locally and is judged when it is connected;
- Unix sockets are local by nature and pass.

`LeftTheMachine` is not an `OSError` on purpose: code that retries a failed connect must not
take a test's broken promise for a network blip and try again.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_INTERNET = (socket.AF_INET, socket.AF_INET6)


class LeftTheMachine(RuntimeError):
    """A test tried to reach beyond loopback."""


def is_loopback(host: str | bytes | None) -> bool:
    if host is None:
        return False
    name = host.decode() if isinstance(host, bytes) else host
    name = name.split("%", 1)[0]  # an IPv6 scope id names the interface, not the host
    if name.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_numeric(host: str | bytes) -> bool:
    name = host.decode() if isinstance(host, bytes) else host
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _guard_resolve(real: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: str | bytes | None, *args: Any, **kwargs: Any) -> Any:
        # None and "" ask for the wildcard address (a server binding): nothing is looked up.
        if host not in (None, "", b"") and not _is_numeric(host) and not is_loopback(host):
            raise LeftTheMachine(
                f"expected a loopback host, a test tried to resolve {host!r}: "
                "tests never leave the machine"
            )
        return real(host, *args, **kwargs)

    return getaddrinfo


def _guard_connect(real: Callable[..., Any]) -> Callable[..., Any]:
    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in _INTERNET and not is_loopback(address[0]):
            raise LeftTheMachine(
                f"expected a loopback address, a test tried to connect to {address!r}: "
                "tests never leave the machine"
            )
        return real(sock, address)

    return connect


@contextmanager
def loopback_only() -> Iterator[None]:
    """Refuse, while inside, every resolve and connect that would leave the machine."""
    resolve = socket.getaddrinfo
    own = {name: vars(socket.socket).get(name) for name in ("connect", "connect_ex")}
    socket.getaddrinfo = _guard_resolve(resolve)
    for name in own:
        setattr(socket.socket, name, _guard_connect(getattr(socket.socket, name)))
    try:
        yield
    finally:
        socket.getaddrinfo = resolve
        for name, method in own.items():
            if method is None:
                delattr(socket.socket, name)  # back to the one socket.socket inherits
            else:
                setattr(socket.socket, name, method)
