"""The outbox file: a submission's journal rows made durable before its orders are sent, with
no SQLite on the order path.

`Journal.batch(outbox=True)` (what `OrderTracker.submit_all` uses) appends the batch's rows as
one record to a memory-mapped file beside the journal (`<journal>-outbox`); the journal moves
them into their tables on the event loop's next turn, after the requests left, in the same
transaction as the new `outbox_settled` mark. A copy into a shared file mapping is a write to
the kernel's page cache: no system call, no lock, and once copied the bytes are the file's, so
a process killed at any point afterwards loses nothing -- the promise a WAL commit with
synchronous=NORMAL makes (it too stays in the page cache until a checkpoint). With durability
FULL each record's pages are flushed to disk (msync) before `append` returns, as SQLite would
fsync its WAL.

A record: its payload's length (u32), a CRC-32 of (sequence number, length, payload) (u32),
the sequence number (u64), then the payload. Numbers rise by one per record. Once every
record is settled the next one is written at the start of the file again (`rewind`), over
older ones. Reading (`records`) starts at the file's start and stops at the first record that
is torn (a crash inside a copy: its CRC fails; its orders were never sent, since sending waits
for `append`), zero (never written) or not numbered one past the one before (an older record
behind a rewind). The journal takes those numbered above its settled mark.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import zlib
from pathlib import Path

_HEADER = struct.Struct("<IIQ")  # length, crc32, seq
_CHECKED = struct.Struct("<QI")  # what the CRC covers before the payload: seq, length
DEFAULT_SIZE = 1 << 20


class OutboxInUse(RuntimeError):
    """Another journal (in this process or another) holds the outbox file."""


class OutboxFull(Exception):
    """The record does not fit behind the records not yet settled."""


class OutboxFile:
    """One journal's outbox file, mapped and locked (one writer) for the life of the journal."""

    def __init__(self, path: Path, *, size: int = DEFAULT_SIZE, flush: bool = False) -> None:
        if size < mmap.PAGESIZE or size % mmap.PAGESIZE:
            raise ValueError(f"expected a size in whole pages of {mmap.PAGESIZE}, was {size}")
        self.path = path
        self._flush = flush
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                # Two writers would each rewind over the other's records: one journal at a time.
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutboxInUse(
                    f"{path}: expected no other open journal on this file, but one holds it"
                ) from None
            have = os.fstat(fd).st_size
            if have < size:
                os.ftruncate(fd, size)  # a new file reads as zeros: no record
            self.size = max(have, size)
            self._map = mmap.mmap(fd, self.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd  # open while the journal is: it holds the lock
        self._end = 0  # where the next record goes

    def records(self) -> list[tuple[int, bytes]]:
        """Every whole record from the start of the file, in order: (sequence number, payload)."""
        found: list[tuple[int, bytes]] = []
        pos = 0
        view = self._map
        while pos + _HEADER.size <= self.size:
            length, crc, seq = _HEADER.unpack_from(view, pos)
            start, end = pos + _HEADER.size, pos + _HEADER.size + length
            if length == 0 or end > self.size or (found and seq != found[-1][0] + 1):
                break
            payload = view[start:end]
            if zlib.crc32(payload, zlib.crc32(_CHECKED.pack(seq, length))) != crc:
                break
            found.append((seq, payload))
            pos = end
        return found

    def fits(self, length: int) -> bool:
        """Whether a record of `length` payload bytes fits behind the last one."""
        return self._end + _HEADER.size + length <= self.size

    def append(self, seq: int, payload: bytes) -> None:
        """Write one record after the last; durable (see the module doc) when this returns.
        Raises `OutboxFull` (writing nothing) when it does not fit."""
        length = len(payload)
        start = self._end + _HEADER.size
        end = start + length
        if length == 0 or not self.fits(length):
            raise OutboxFull(f"{self.path}: a record of {length} bytes does not fit")
        crc = zlib.crc32(payload, zlib.crc32(_CHECKED.pack(seq, length)))
        view = self._map
        view[start:end] = payload
        _HEADER.pack_into(view, self._end, length, crc, seq)
        if self._flush:
            first = self._end - self._end % mmap.PAGESIZE
            view.flush(first, end - first)
        self._end = end

    def rewind(self) -> None:
        """Every record is settled: the next one goes at the start of the file."""
        self._end = 0

    @property
    def used(self) -> int:
        """Bytes from the start of the file to the end of the last record."""
        return self._end

    def close(self) -> None:
        if not self._map.closed:
            self._map.close()
            os.close(self._fd)
