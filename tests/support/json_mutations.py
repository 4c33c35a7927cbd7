"""What the fuzz tests feed a codec: any JSON value (with strings a venue frame would carry),
and a frame with one node of its JSON tree replaced by such a value."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["0", "-1", "1e5", "NaN", "", "1.5", "orderbook.50.BTCUSDT", "snapshot", "delta"]
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def mutate(frame: bytes, path: list[int], value: Any) -> bytes:
    """Replace one node of the frame's JSON tree (chosen by `path`) with `value`."""
    doc = json.loads(frame)
    node: Any = doc
    for step in path:
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if not children:
            break
        key, child = children[step % len(children)]
        if not isinstance(child, dict | list) or step == path[-1]:
            node[key] = value
            return json.dumps(doc).encode()
        node = child
    return json.dumps(doc).encode()
