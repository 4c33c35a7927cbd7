"""The kill-switch file: while it exists, everything is halted.

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
    ) -> None:
        if interval <= 0 or interval > 1:
            raise ValueError(
                f"expected 0 < interval <= 1 s so a trip lands within a second, was {interval}"
            )
        self.path = Path(path)
        self.tripped = False
        self._on_trip, self._on_clear = on_trip, on_clear
        self._interval, self._sleep = interval, sleep

    def check(self) -> bool:
        """One poll: fire on_trip when the file appears, on_clear when it goes. Returns tripped."""
        present = self.path.exists()
        if present and not self.tripped:
            self.tripped = True
            self._on_trip(f"kill file {self.path} present")
        elif not present and self.tripped:
            self.tripped = False
            if self._on_clear is not None:
                self._on_clear(f"kill file {self.path} removed")
        return self.tripped

    async def run(self) -> None:
        while True:
            self.check()
            await self._sleep(self._interval)
