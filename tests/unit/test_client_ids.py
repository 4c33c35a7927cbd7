from __future__ import annotations

import pytest

from arbiter.venues import ClientIdRules
from arbiter.venues.contract.client_ids import IntentId
from arbiter_bybit.limits import BYBIT_CLIENT_IDS
from arbiter_okx.limits import OKX_CLIENT_IDS


def test_client_id_when_same_intent_is_identical_across_calls_and_runs() -> None:
    intent = IntentId("btc-basis", "btc", 7, "entry.spot")
    assert intent.client_id() == IntentId("btc-basis", "btc", 7, "entry.spot").client_id()
    # A fixed vector: the id must not change between releases, or a restart could resend.
    assert intent.client_id() == "a0e106458ee6ac418cc31a0895"
    assert len(intent.client_id()) == 26


def test_client_id_when_attempt_or_leg_changes_is_different() -> None:
    base = IntentId("s", "p", 1, "entry.spot")
    ids = {
        base.client_id(),
        base.next_attempt().client_id(),
        IntentId("s", "p", 1, "entry.perp").client_id(),
        IntentId("s", "p", 2, "entry.spot").client_id(),
    }
    assert len(ids) == 4


@pytest.mark.parametrize("rules", [BYBIT_CLIENT_IDS, OKX_CLIENT_IDS])
def test_client_id_when_derived_satisfies_every_venue(rules: ClientIdRules) -> None:
    for cycle in range(200):
        IntentId("strategy-with-long-name", "pair", cycle, "repair.perp", cycle % 5).client_id(
            rules
        )


def test_venue_rules_when_id_breaks_them_refuse_before_sending() -> None:
    with pytest.raises(ValueError, match="okx: client order id 'a-b' does not match"):
        OKX_CLIENT_IDS.check("a-b")
    with pytest.raises(ValueError, match="has 37 characters; the limit is 36"):
        BYBIT_CLIENT_IDS.check("x" * 37)
    assert BYBIT_CLIENT_IDS.check("a-b_c") == "a-b_c"
