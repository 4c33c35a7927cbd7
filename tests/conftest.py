"""Settings shared by every test.

Hypothesis runs without its timing checks here: a per-example deadline or a "generation is slow"
health check turns a busy shared machine (or a run under valgrind) into a failure, and a test
that fails on timing alone is flaky. Each property test still fixes its own example count and
derandomizes, so every run checks the same examples.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("arbiter", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("arbiter")
