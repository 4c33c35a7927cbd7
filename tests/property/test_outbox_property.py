"""The outbox file under random appends, rewinds and reopenings: of what reading it back gives,
those numbered past the last rewind (the journal's settled mark) are exactly the records
written since, never an older one left behind them."""

from __future__ import annotations

import mmap
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from arbiter.store.outbox import OutboxFile

# An op: append a payload of this many bytes (a positive int), rewind (0) or reopen (-1).
ops = st.lists(st.one_of(st.integers(1, 900), st.just(0), st.just(-1)), max_size=60)


@given(ops)
def test_records_past_the_settled_mark_are_those_appended_since_the_last_rewind(
    script: list[int],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "j-outbox"
        box = OutboxFile(path, size=mmap.PAGESIZE)
        seq = settled = 0  # a rewind comes once every record is settled
        expected: list[tuple[int, bytes]] = []
        try:
            for op in script:
                if op == 0:
                    box.rewind()
                    settled, expected = seq, []
                elif op == -1:  # a restart: a new mapping reads the file, then starts over
                    box.close()
                    box = OutboxFile(path, size=mmap.PAGESIZE)
                    assert _unsettled(box, settled) == expected
                    box.rewind()
                    settled, expected = seq, []
                elif box.fits(op):  # the journal numbers only what it appends
                    seq += 1
                    payload = bytes([seq % 251]) * op
                    box.append(seq, payload)
                    expected.append((seq, payload))
                assert _unsettled(box, settled) == expected
        finally:
            box.close()


def _unsettled(box: OutboxFile, settled: int) -> list[tuple[int, bytes]]:
    return [(seq, payload) for seq, payload in box.records() if seq > settled]
