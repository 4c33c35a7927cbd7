"""Fixtures shared by the integration tests."""

from __future__ import annotations

import socket
from typing import Any

import pytest


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to resolve a real host: these tests must never leave the machine."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", None):
            raise OSError(f"expected loopback only, a test tried to resolve {host!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
