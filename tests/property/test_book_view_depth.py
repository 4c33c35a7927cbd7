"""The gate's integer depth walk equals plain Decimal arithmetic on the fixture's levels."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from arbiter.risk.snapshot import Side
from tests.support.xrp_books import raw_depth_within, xrp_view

VIEW = xrp_view()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.integers(min_value=0, max_value=4000).map(lambda n: Decimal(n) / 4),
    st.sampled_from(["b", "a"]),
)
def test_depth_within_when_any_distance_matches_decimal_reference(bps: Decimal, side: str) -> None:
    assert VIEW.depth_within(Side.BID if side == "b" else Side.ASK, bps) == raw_depth_within(
        side, bps
    )
