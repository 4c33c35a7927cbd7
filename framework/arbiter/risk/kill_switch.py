"""The kill-switch file: while it exists, everything is halted.

A switch reports the file appearing (`on_trip`) and going (`on_clear`), each once. It starts
`tripped` when a previous run left its file's source latched, so a file removed while the
runtime was down clears at the first check. A file that cannot be checked (the stat fails, say a
mount went away) counts as present: a switch that cannot see fails closed.

The watcher checks the path's existence every `interval` seconds (default 0.25 s, so a touch
halts within one second even on a loaded machine). A stat() of one path is cheaper than any
file-notification machinery and works the same on every filesystem, including network mounts
where inotify does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

DEFAULT_INTERVAL_S = 0.25


class KillSwitch:
    def __init__(
        self,
        path: str | Path,
        on_trip: Callable[[str], None],
        on_clear: Callable[[str], None] | None = None,
        interval: float = DEFAULT_INTERVAL_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        *,
        tripped: bool = False,
    ) -> None:
        if interval <= 0 or interval > 1:
            raise ValueError(
                f"expected 0 < interval <= 1 s so a trip lands within a second, was {interval}"
            )
        self.path = Path(path)
        self.tripped = tripped
        self._on_trip, self._on_clear = on_trip, on_clear
        self._interval, self._sleep = interval, sleep

    def check(self) -> bool:
        """One poll: fire on_trip when the file appears, on_clear when it goes. Returns tripped."""
        try:
            present, why = self.path.exists(), f"kill file {self.path} present"
        except OSError as exc:  # it cannot be seen: as far as anyone knows, it is there
            present = True
            why = f"kill file {self.path} cannot be checked ({exc}): counts as present"
        if present and not self.tripped:
            self.tripped = True
            self._on_trip(why)
        elif not present and self.tripped:
            self.tripped = False
            if self._on_clear is not None:
                self._on_clear(f"kill file {self.path} removed")
        return self.tripped

    async def run(self) -> None:
        while True:
            self.check()
            await self._sleep(self._interval)
