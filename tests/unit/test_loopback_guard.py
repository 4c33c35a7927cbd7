"""The loopback guard tests/conftest.py keeps on for every test: off the machine is refused
before anything is sent, loopback still connects."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from tests.support.loopback import LeftTheMachine

OFF_MACHINE = ("192.0.2.1", 9)  # TEST-NET-1: a documentation address, routed nowhere
OFF_MACHINE_NAME = "venue.invalid"  # a name no resolver may answer (RFC 6761)


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_connect_when_address_is_off_the_machine_is_refused_naming_it() -> None:
    with socket.socket() as sock:
        sock.setblocking(False)  # unguarded, this would answer at once, never with our error
        with pytest.raises(LeftTheMachine, match=r"expected a loopback address.*192\.0\.2\.1"):
            sock.connect(OFF_MACHINE)


def test_connect_ex_when_address_is_off_the_machine_is_refused() -> None:
    with socket.socket() as sock:
        sock.setblocking(False)
        with pytest.raises(LeftTheMachine):
            sock.connect_ex(OFF_MACHINE)


def test_resolve_when_name_is_not_localhost_is_refused_naming_it() -> None:
    with pytest.raises(LeftTheMachine, match=r"expected a loopback host.*'venue\.invalid'"):
        socket.getaddrinfo(OFF_MACHINE_NAME, 443)


async def test_asyncio_connect_when_address_is_off_the_machine_is_refused() -> None:
    with pytest.raises(LeftTheMachine):
        await asyncio.wait_for(asyncio.open_connection(*OFF_MACHINE), 5)


async def test_asyncio_connect_when_name_is_off_the_machine_is_refused() -> None:
    with pytest.raises(LeftTheMachine):
        await asyncio.wait_for(asyncio.open_connection(OFF_MACHINE_NAME, 443), 5)


async def test_connect_when_address_is_loopback_goes_through(listener: int) -> None:
    with socket.create_connection(("127.0.0.1", listener), timeout=5):
        pass
    _, writer = await asyncio.wait_for(asyncio.open_connection("localhost", listener), 5)
    writer.close()
    await writer.wait_closed()
