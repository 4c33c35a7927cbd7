"""Random YAML never crashes the loader: it loads or it raises ManifestError, nothing else."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arbiter.manifest import ManifestError, load_manifest_bytes
from tests.support.manifest_samples import MINIMAL

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=12),
    st.sampled_from(
        [
            "0.1",
            "1e3",
            ".inf",
            "-.nan",
            "09:30",
            "on",
            "~",
            "${HOME}",
            "${UNSET_ARBITER_X}",
            "0x1F",
            "1_000",
        ]
    ),
)
_keys = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["strategy", "venues", "pairs", "gates", "type", "name", "when", "leg", "<<"]),
)
_trees = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=25,
)


def _load(text: str | bytes) -> None:
    try:
        load_manifest_bytes(text, "fuzz.yaml")
    except ManifestError as exc:
        errors = exc.errors
    else:
        return
    assert errors, "a ManifestError always names at least one problem"
    for error in errors:
        assert error.message
        assert error.line is None or error.line >= 1


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.text(max_size=300))
def test_loader_when_given_random_text_never_raises_anything_else(text: str) -> None:
    _load(text)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=200))
def test_loader_when_given_random_bytes_never_raises_anything_else(raw: bytes) -> None:
    _load(raw)


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(_trees)
def test_loader_when_given_random_yaml_structures_never_raises_anything_else(tree: object) -> None:
    _load(yaml.safe_dump(tree, allow_unicode=True))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.data())
def test_loader_when_a_valid_manifest_is_mutated_never_raises_anything_else(
    data: st.DataObject,
) -> None:
    lines = MINIMAL.splitlines()
    index = data.draw(st.integers(0, len(lines) - 1))
    mutation = data.draw(
        st.sampled_from(["delete", "duplicate", "replace_value", "indent", "truncate"])
    )
    line = lines[index]
    if mutation == "delete":
        del lines[index]
    elif mutation == "duplicate":
        lines.insert(index, line)
    elif mutation == "replace_value" and ":" in line:
        lines[index] = (
            line.split(":", 1)[0]
            + ": "
            + data.draw(st.sampled_from(["-1", "x", "[]", "{}", "0.0", "null", "'${NOPE}'"]))
        )
    elif mutation == "indent":
        lines[index] = "   " + line
    else:
        lines = lines[:index]
    _load("\n".join(lines) + "\n")
