"""The fault plan: scripted and seeded rules, latency bands, and the YAML plan file."""

from __future__ import annotations

from pathlib import Path

import pytest

from arbiter.sim.faults import FaultKind, FaultPlan, FaultPlanError, FaultRule, Latency

K = FaultKind


def _takes(plan: FaultPlan, kind: FaultKind, target: str, n: int) -> list[bool]:
    return [plan.take(kind, target) is not None for _ in range(n)]


def test_scripted_rule_when_skip_and_count_fires_after_skips_then_stops() -> None:
    plan = FaultPlan()
    plan.add(K.WS_DROP_DELTA, "okx books:BTC-USDT-SWAP", skip=2, count=2)

    fired = _takes(plan, K.WS_DROP_DELTA, "okx books:BTC-USDT-SWAP", 6)

    assert fired == [False, False, True, True, False, False]
    assert plan.fired == [(K.WS_DROP_DELTA, "okx books:BTC-USDT-SWAP")] * 2


def test_rule_when_kind_or_target_differ_does_not_fire() -> None:
    plan = FaultPlan()
    plan.add(K.REST_5XX, "bybit POST /v5/order/create")

    assert plan.take(K.REST_5XX, "okx POST /api/v5/trade/order") is None
    assert plan.take(K.RATE_LIMIT, "bybit POST /v5/order/create") is None
    assert plan.take(K.REST_5XX, "bybit GET /v5/order/realtime") is None
    assert plan.take(K.REST_5XX, "bybit POST /v5/order/create") is not None


def test_empty_target_when_any_venue_matches_everything() -> None:
    plan = FaultPlan()
    plan.add(K.WS_DUPLICATE, count=3)

    assert _takes(plan, K.WS_DUPLICATE, "bybit orderbook.50.BTCUSDT", 1) == [True]
    assert _takes(plan, K.WS_DUPLICATE, "okx books:ETH-USDT", 1) == [True]
    assert _takes(plan, K.WS_DUPLICATE, "okx private:orders", 1) == [True]


def test_random_rule_when_same_seed_fires_on_same_calls() -> None:
    def run(seed: int) -> list[bool]:
        plan = FaultPlan(seed=seed)
        plan.add(K.RATE_LIMIT, "POST", probability=0.25)
        return _takes(plan, K.RATE_LIMIT, "bybit POST /v5/order/create", 200)

    first = run(7)

    assert first == run(7)
    assert first != run(8)
    assert 20 < sum(first) < 80  # about a quarter of 200, never all or none


def test_random_rule_when_probability_one_always_fires_and_is_never_used_up() -> None:
    plan = FaultPlan()
    plan.add(K.REJECT, probability=1.0)

    assert _takes(plan, K.REJECT, "okx POST /api/v5/trade/order", 50) == [True] * 50


def test_latency_when_band_set_draws_inside_band_reproducibly_per_endpoint() -> None:
    def draws(seed: int) -> list[float]:
        plan = FaultPlan(seed=seed, latency={"/v5/order/create": Latency(40, 15)})
        return [plan.latency_ms("bybit POST /v5/order/create") for _ in range(100)]

    first = draws(1)

    assert first == draws(1)
    assert first != draws(2)
    assert all(25 <= ms <= 55 for ms in first)
    assert len(set(first)) > 50  # a distribution, not a constant
    plan = FaultPlan(latency={"/v5/order/create": Latency(40, 15)})
    assert plan.latency_ms("bybit GET /v5/market/time") == 0.0


def test_rule_when_values_out_of_range_refused_naming_them() -> None:
    with pytest.raises(ValueError, match=r"probability in \[0, 1\], was 1.5"):
        FaultRule(K.REJECT, probability=1.5)
    with pytest.raises(ValueError, match="non-negative count"):
        FaultRule(K.REJECT, count=-1)
    with pytest.raises(ValueError, match="non-negative mean and jitter"):
        Latency(-1)


# -- the plan file ----------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "faults.yaml"
    path.write_text(text)
    return path


def test_load_when_file_is_valid_builds_rules_latency_and_seed(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
seed: 9
rules:
  - {kind: ws_drop_delta, target: "okx books:BTC-USDT-SWAP", skip: 10}
  - kind: reject
    target: POST /v5/order/create
    code: "110007"
    message: Insufficient balance
  - {kind: rate_limit, probability: 0.05}
latency:
  "/v5/order/create": [40, 15.5]
""",
    )

    plan = FaultPlan.load(path, seed=1)

    assert plan.seed == 9  # the file's own seed wins
    assert plan.rules == [
        FaultRule(K.WS_DROP_DELTA, "okx books:BTC-USDT-SWAP", skip=10),
        FaultRule(K.REJECT, "POST /v5/order/create", code="110007", message="Insufficient balance"),
        FaultRule(K.RATE_LIMIT, probability=0.05),
    ]
    assert plan.latency == {"/v5/order/create": Latency(40.0, 15.5)}


def test_load_when_file_has_no_seed_uses_given_one_and_reproduces(tmp_path: Path) -> None:
    path = _write(tmp_path, "rules:\n  - {kind: ws_duplicate, probability: 0.5}\n")

    first, again = FaultPlan.load(path, seed=4), FaultPlan.load(path, seed=4)

    assert first.seed == 4
    target = "bybit orderbook.50.BTCUSDT"
    assert _takes(first, K.WS_DUPLICATE, target, 40) == _takes(again, K.WS_DUPLICATE, target, 40)


def test_load_when_file_is_empty_gives_empty_plan(tmp_path: Path) -> None:
    plan = FaultPlan.load(_write(tmp_path, "\n"), seed=2)

    assert (plan.rules, plan.latency, plan.seed) == ([], {}, 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules:\n  - {kind: ws_delay, count: many}\n", ":2:29: rules[0].count: "),
        (
            "rules:\n  - {kind: ws_explode}\n",
            ":2:12: rules[0].kind: Input should be 'ws_disconnect'",
        ),
        ("rules:\n  - {kind: reject, colour: red}\n", ":2:20: rules[0].colour: unknown field"),
        ("rules:\n  - {target: x}\n", ":2:5: rules[0].kind: required field is missing"),
        ("rules:\n  - {kind: reject, probability: 2}\n", "rules[0].probability: Input should be"),
        ('latency:\n  "/v5/order/create": [40]\n', "latency./v5/order/create: expected [mean_ms"),
        (
            'latency:\n  "/x": [-1, 2]\n',
            "latency: '/x': expected non-negative [mean_ms, jitter_ms]",
        ),
        ("rules: [\n", "invalid YAML"),
        ("speed: 3\n", ":1:1: speed: unknown field; expected one of ['latency', 'rules', 'seed']"),
    ],
)
def test_load_when_file_is_bad_error_names_file_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)

    with pytest.raises(FaultPlanError) as caught:
        FaultPlan.load(path)

    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message


def test_load_when_file_missing_error_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"

    with pytest.raises(FaultPlanError, match=f"{path}: cannot read file"):
        FaultPlan.load(path)
