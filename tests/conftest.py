"""Settings shared by every test.

Every test stays on this machine: the loopback guard (tests/support/loopback.py) is on for the
whole run, so a connect or a name lookup that would leave it fails the test that made it.

Hypothesis runs without its timing checks here: a per-example deadline or a "generation is slow"
health check turns a busy shared machine (or a run under valgrind) into a failure, and a test
that fails on timing alone is flaky. Each property test still fixes its own example count and
derandomizes, so every run checks the same examples.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.support.loopback import loopback_only

settings.register_profile("arbiter", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("arbiter")


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    with loopback_only():
        yield
