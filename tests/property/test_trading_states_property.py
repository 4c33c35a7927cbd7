"""Latched trading states against a plain model: any sequence of sources set and cleared.

The model is a dict of (scope, source) -> the state it imposes. After every step the effective
state of each strategy must be the strictest of its own and the global sources held; the
gateway's admission must refuse exactly while a kill source holds; the reported state changes
must chain (each starts where the last one of its scope ended); and what was reported for the
journal, replayed, must rebuild the same holds.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from arbiter.execution.intent import Intent
from arbiter.risk.trading import (
    ACTIVE,
    GLOBAL,
    HALTED,
    KILL,
    OPERATOR,
    REDUCING,
    SHUTDOWN,
    Hold,
    HoldChange,
    StateChange,
    TradingStates,
    is_kill,
    kill_file,
    legging,
    risk,
    stricter,
    supervisor,
)

STRATEGIES = ("alpha", "beta")
SCOPES = (*STRATEGIES, GLOBAL)
SOURCES = (
    OPERATOR,
    KILL,
    kill_file("/run/a"),
    kill_file("/run/b"),
    risk("daily_loss"),
    risk("venue:okx"),
    risk("max_net_delta:BTC"),
    legging("btc"),
    supervisor("tick"),
    SHUTDOWN,
)
STEP = st.tuples(
    st.sampled_from(("hold", "release")),
    st.sampled_from(SCOPES),
    st.sampled_from(SOURCES),
    st.sampled_from((REDUCING, HALTED)),
)
NO_INTENT: Intent = None  # type: ignore[assignment]  # admission looks at no field of it


def _strictest(model: dict[tuple[str, str], str], *scopes: str) -> str:
    state = ACTIVE
    for (scope, _), held in model.items():
        if scope in scopes:
            state = stricter(held, state)
    return state


@given(st.lists(STEP, max_size=60))
def test_effective_state_when_sources_set_and_cleared_is_the_strictest_held(
    steps: list[tuple[str, str, str, str]],
) -> None:
    changes: list[StateChange] = []
    reported: list[HoldChange] = []
    states = TradingStates(changes.append, reported.append)
    model: dict[tuple[str, str], str] = {}
    for event, drawn, source, state in steps:
        scope = GLOBAL if is_kill(source) else drawn  # kills are global by definition
        if event == "hold":
            states.hold(scope, source, state, "test", f"{source} {state}")
            model[(scope, source)] = state
        else:
            states.release(scope, source, "test", "cleared")
            model.pop((scope, source), None)

        for strategy in STRATEGIES:
            assert states.state(strategy) == _strictest(model, strategy, GLOBAL)
            assert {(h.scope, h.source) for h in states.holding(strategy)} == {
                key for key in model if key[0] in (strategy, GLOBAL)
            }
        for each in SCOPES:
            assert states.scope_state(each) == _strictest(model, each)
        killed = any(is_kill(src) for _, src in model)
        assert bool(states.admit(NO_INTENT)) == killed

    last: dict[str, str] = {}
    for change in changes:
        assert change.source == last.get(change.scope, ACTIVE) != change.dest
        last[change.scope] = change.dest
    for each in SCOPES:
        assert last.get(each, ACTIVE) == states.scope_state(each)

    journal: dict[tuple[str, str], Hold] = {}
    for hold_change in reported:
        key = (hold_change.hold.scope, hold_change.hold.source)
        if hold_change.event == "hold":
            journal[key] = hold_change.hold
        else:
            del journal[key]
    assert {key: hold.state for key, hold in journal.items()} == model
    restarted = TradingStates()
    restarted.restore(journal.values())
    for each in (*SCOPES, "never-seen"):
        assert restarted.state(each) == states.state(each)
    assert restarted.admit(NO_INTENT) == states.admit(NO_INTENT)
