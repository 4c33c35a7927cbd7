"""Every bad manifest is reported at the right line and field, never as a traceback."""

from __future__ import annotations

import pytest

from arbiter.manifest import ManifestError, load_manifest, load_manifest_bytes
from arbiter.manifest.yaml_source import MAX_FILE_BYTES
from tests.support.manifest_samples import MINIMAL, marked_line, with_gates


def _errors(text: str | bytes) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load_manifest_bytes(text, "bad.yaml")
    return info.value


def _only_error_at_marker(text: str, path: str, fragment: str) -> None:
    error = _errors(text)
    assert [e.path for e in error.errors] == [path], str(error)
    (only,) = error.errors
    assert only.line == marked_line(text), str(error)
    assert fragment in only.message
    assert str(error).startswith(f"bad.yaml:{only.line}:{only.column}: {path}: ")


def test_minimal_manifest_when_valid_loads_with_decimal_thresholds() -> None:
    loaded = load_manifest_bytes(MINIMAL, "ok.yaml")
    assert str(loaded.manifest.thresholds.entry_bps) == "10"
    assert len(loaded.sha256) == 64


# Ten-plus kinds of bad manifest, each pointing at the marked line.
BAD_CASES = [
    pytest.param(
        MINIMAL.replace("  version: 1", "  version: 1\n  colour: blue # <-"),
        "strategy.colour",
        "unknown field 'colour'",
        id="unknown-field",
    ),
    pytest.param(
        MINIMAL.replace("    asset: BTC", "    asset: BTC\n    direction: sideways # <-"),
        "pairs[0].direction",
        "expected 'buy_spot_short_perp'",
        id="wrong-enum-value",
    ),
    pytest.param(
        MINIMAL.replace(
            "sizing: { order_notional: 100, max_position_notional: 1000 }",
            "sizing: { order_notional: -1, max_position_notional: 1000 } # <-",
        ),
        "sizing.order_notional",
        "expected a positive number, was -1",
        id="negative-size",
    ),
    pytest.param(
        with_gates("{ name: g, type: max_sprd, when: always, max_bps: 5 } # <-"),
        "gates[0].type",
        "unknown type 'max_sprd'",
        id="unknown-gate-type",
    ),
    pytest.param(
        with_gates("{ name: g, type: max_spread_bps, when: always } # <-"),
        "gates[0].max_bps",
        "required field is missing",
        id="gate-missing-field",
    ),
    pytest.param(
        MINIMAL.replace(
            "  bybit: { plugin: bybit }",
            "  bybit: { plugin: bybit, credentials: { api_key: abc123, api_secret_env: S } } # <-",
        ),
        "venues.bybit.credentials",
        "literal credentials are not allowed",
        id="literal-api-key",
    ),
    pytest.param(
        MINIMAL.replace("daily_loss_limit: 50 }", "daily_loss_limit: lots } # <-"),
        "risk.daily_loss_limit",
        "valid decimal",
        id="text-for-a-number",
    ),
    pytest.param(
        with_gates(
            '{ name: w, type: trading_window, when: before_entry, start: "25:00", end: "10:00" } # <-'
        ),
        "gates[0].start",
        "expected a time HH:MM",
        id="bad-window-time",
    ),
    pytest.param(
        with_gates(
            "{ name: d, type: min_depth, when: before_entry, leg: a, within_bps: 5, min_notional: 10 } # <-"
        ),
        "gates[0].leg",
        "leg 'a' does not exist on pair(s) btc",
        id="gate-leg-the-pair-lacks",
    ),
    pytest.param(
        with_gates(
            "{ name: k, type: kill_switch, when: always, file: '${ARBITER_TEST_SURELY_UNSET}' } # <-"
        ),
        "gates[0].file",
        "environment variable ARBITER_TEST_SURELY_UNSET is not set",
        id="unset-environment-variable",
    ),
    pytest.param(
        MINIMAL.replace("  okx: { plugin: okx }", "  OKX: { plugin: okx } # <-"),
        "venues.OKX",
        "expected text matching",
        id="upper-case-venue-name",
    ),
    pytest.param(
        MINIMAL.replace("    asset: BTC", "    asset: BTC\n    a: { venue: okx, symbol: X } # <-"),
        "pairs[0].a",
        "unknown field 'a'",
        id="spot-spot-leg-on-spot-perp-pair",
    ),
    pytest.param(
        MINIMAL.replace("  - id: btc", "  - id: hedge # <-"),
        "pairs[0].id",
        "pair id 'hedge' is reserved (the hedger's orders carry it as their pair)",
        id="pair-id-reserved-for-the-hedger",
    ),
    pytest.param(
        with_gates("{ name: min_profit, type: venue_healthy, when: always } # <-"),
        "gates[0].name",
        "gate name 'min_profit' is reserved",
        id="gate-name-of-a-built-in-guard",
    ),
    pytest.param(
        MINIMAL.replace(
            "risk: { max_net_delta_notional: 500, daily_loss_limit: 50 }",
            "risk:\n  max_net_delta_notional: 500\n  daily_loss_limit: 50\n"
            '  trading_day_start_utc: "24:00" # <-',
        ),
        "risk.trading_day_start_utc",
        "expected a time HH:MM (00:00 to 23:59), was '24:00'",
        id="trading-day-start-out-of-range",
    ),
]


def test_removed_setting_when_loaded_points_at_its_key_and_says_what_to_use() -> None:
    text = MINIMAL.replace(
        "sizing: { order_notional: 100, max_position_notional: 1000 }",
        "sizing:\n  order_notional: 100\n  max_position_notional: 1000\n  max_open_cycles: 2 # <-",
    )
    (error,) = _errors(text).errors
    assert (error.path, error.line, error.column) == (
        "sizing.max_open_cycles",
        marked_line(text),
        3,
    )
    assert error.message.startswith("no longer a setting (a pair runs one cycle at a time)")
    assert "type: max_open_cycles" in error.message


def test_removed_setting_when_in_a_pair_override_is_reported_there_too() -> None:
    text = MINIMAL.replace(
        "    asset: BTC",
        "    asset: BTC\n"
        "    sizing: { order_qty: 1, max_position_notional: 9, max_open_cycles: 1 } # <-",
    )
    (error,) = _errors(text).errors
    assert (error.path, error.line) == ("pairs[0].sizing.max_open_cycles", marked_line(text))
    assert "no longer a setting" in error.message


def test_trading_day_start_when_given_is_the_utc_time_of_day_it_names() -> None:
    text = MINIMAL.replace(
        "daily_loss_limit: 50 }", 'daily_loss_limit: 50, trading_day_start_utc: "22:30" }'
    )
    risk = load_manifest_bytes(text, "ok.yaml").manifest.risk
    assert (risk.trading_day_start.hour, risk.trading_day_start.minute) == (22, 30)
    assert load_manifest_bytes(MINIMAL, "ok.yaml").manifest.risk.trading_day_start_utc == "00:00"


@pytest.mark.parametrize(("text", "path", "fragment"), BAD_CASES)
def test_bad_manifest_when_loaded_reports_marked_line_and_field(
    text: str, path: str, fragment: str
) -> None:
    _only_error_at_marker(text, path, fragment)


def test_misspelt_field_when_loaded_suggests_the_known_name() -> None:
    text = MINIMAL.replace("sizing: { order_notional: 100,", "sizing: { order_notionl: 100,")
    messages = {e.path: e for e in _errors(text).errors}
    assert "did you mean 'order_notional'?" in messages["sizing.order_notionl"].message
    assert messages["sizing.order_notionl"].line == 14


def test_unknown_venue_reference_when_loaded_lists_declared_venues() -> None:
    text = MINIMAL.replace("perp: { venue: okx,", "perp: { venue: okex,")
    (error,) = _errors(text).errors
    assert error.path == "pairs[0].perp.venue"
    assert (error.line, error.column) == (12, 20)
    assert error.message == "unknown venue 'okex'; declared: bybit, okx"


def test_exit_above_entry_when_loaded_points_at_thresholds_mapping() -> None:
    text = MINIMAL.replace("exit_bps: 2,", "exit_bps: 12,")
    (error,) = _errors(text).errors
    assert (error.path, error.line) == ("thresholds", 13)
    assert error.message == "expected exit_bps < entry_bps, was 12 >= 10"


def test_duplicate_pair_id_when_loaded_points_at_second_id() -> None:
    second = "  - { id: btc, type: spot_perp, asset: ETH, spot: { venue: bybit, symbol: ETHUSDT }, perp: { venue: okx, symbol: ETH-USDT-SWAP } } # <-\n"
    text = MINIMAL.replace("thresholds:", second + "thresholds:")
    (error,) = _errors(text).errors
    assert (error.path, error.line) == ("pairs[1].id", marked_line(text))
    assert "duplicate pair id 'btc'" in error.message


def test_missing_section_when_loaded_points_at_root_and_names_field() -> None:
    text = MINIMAL.replace("risk: { max_net_delta_notional: 500, daily_loss_limit: 50 }\n", "")
    (error,) = _errors(text).errors
    assert (error.path, error.line, error.column) == ("risk", 1, 1)
    assert error.message == "required field is missing"


def test_missing_nested_field_when_loaded_points_at_parent_mapping() -> None:
    text = MINIMAL.replace("  version: 1\n", "")
    (error,) = _errors(text).errors
    assert (error.path, error.line) == ("strategy.version", 2)


def test_duplicate_key_when_parsed_points_at_second_occurrence() -> None:
    text = MINIMAL.replace("  version: 1", "  version: 1\n  name: again # <-")
    (error,) = _errors(text).errors
    assert (error.path, error.line, error.column) == ("strategy.name", marked_line(text), 3)
    assert "duplicate key 'name' (first defined at line 2)" in error.message


def test_tab_indentation_when_parsed_is_refused_at_its_column() -> None:
    text = MINIMAL.replace("  version: 1", "\tversion: 1")
    (error,) = _errors(text).errors
    assert (error.line, error.column) == (3, 1)
    assert "tab character in indentation" in error.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("- a\n- b\n", "found a list"),
        ("just text\n", "found the scalar 'just text'"),
        ("", "empty document"),
        ("# only a comment\n", "empty document"),
    ],
)
def test_non_mapping_root_when_parsed_is_refused(text: str, fragment: str) -> None:
    (error,) = _errors(text).errors
    assert fragment in error.message
    assert error.line == 1


def test_alias_bomb_when_parsed_is_refused_before_expanding() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    error = _errors("\n".join(lines) + "\n")
    assert "document expands to more than" in error.errors[0].message


def test_recursive_alias_when_parsed_is_refused() -> None:
    (error,) = _errors("a: &x [1, *x]\n").errors
    assert "recursive alias" in error.message


def test_oversized_file_when_loaded_is_refused_without_parsing() -> None:
    (error,) = _errors(b"a: " + b"x" * MAX_FILE_BYTES).errors
    assert "the limit is" in error.message
    assert error.line is None


def test_invalid_utf8_when_loaded_is_refused() -> None:
    (error,) = _errors(b"strategy: \xff\xfe\n").errors
    assert "expected UTF-8 text" in error.message


def test_broken_yaml_syntax_when_parsed_reports_scanner_position() -> None:
    (error,) = _errors("strategy: [unclosed\nvenues: {}\n").errors
    assert error.message.startswith("invalid YAML:")
    assert error.line is not None


def test_python_tag_when_parsed_is_refused_as_unsafe() -> None:
    (error,) = _errors("strategy: !!python/object/apply:os.system [echo hi]\n").errors
    assert "unsupported tag 'tag:yaml.org,2002:python/object/apply:os.system'" in error.message
    (error,) = _errors("strategy: !!python/name:os.system x\n").errors
    assert "could not determine a constructor" in error.message


def test_float_number_when_loaded_stays_exact_decimal() -> None:
    text = MINIMAL.replace("entry_bps: 10", "entry_bps: 10.1")
    assert str(load_manifest_bytes(text).manifest.thresholds.entry_bps) == "10.1"


def test_missing_file_when_loaded_is_a_manifest_error(tmp_path: object) -> None:
    with pytest.raises(ManifestError, match="cannot read file"):
        load_manifest("/nonexistent/arbiter/manifest.yaml")


def test_control_character_when_parsed_is_refused_at_its_line_and_column() -> None:
    (error,) = _errors("strategy:\n  name: a\x1fb\n").errors
    assert (error.line, error.column) == (2, 10)
    assert "control character #x001f" in error.message


def test_unknown_plugin_when_installed_list_given_names_the_installed_ones() -> None:
    text = MINIMAL.replace("  okx: { plugin: okx }", "  okx: { plugin: okex } # <-")
    with pytest.raises(ManifestError) as info:
        load_manifest_bytes(text, "bad.yaml", plugins=["bybit", "okx"])
    error = info.value
    (only,) = error.errors
    assert (only.path, only.line) == ("venues.okx.plugin", marked_line(text))
    assert only.message == "unknown venue plugin 'okex'; installed: bybit, okx"
    load_manifest_bytes(MINIMAL, plugins=["bybit", "okx"])  # known plugins pass


def test_reserved_pair_ids_when_compared_with_the_runtime_include_the_hedgers_pair() -> None:
    from arbiter.manifest.models import RESERVED_PAIR_IDS
    from arbiter.runtime.ledger import HEDGE_PAIR

    assert HEDGE_PAIR in RESERVED_PAIR_IDS
