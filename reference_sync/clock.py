"""The injected clock. Every timer in the sync (coalescing window, back-off, Retry-After, schedules) reads one
of these, so tests advance time instead of sleeping on it (trio's MockClock, Twisted's task.Clock).

Times are float seconds since the Unix epoch. They are only ever compared with other local times; XTND's own
``changeDate`` values are never compared with them (the server's clock is not ours). Only a local *duration*,
how long a pass took, is applied to XTND's dates (cursor.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        """Wait until ``event`` is set or ``timeout`` seconds pass (None: no limit). True if the event is set."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        if timeout is None:
            await event.wait()
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(0.0, timeout))
        return event.is_set()


class ManualClock:
    """A clock that moves only when told to, or when someone sleeps on it (the sleep returns at once).

    ``sleeps`` records every sleep, so a test can assert "waited Retry-After seconds" without waiting.
    """

    def __init__(self, start: float = 1_767_600_000.0) -> None:
        self._now = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        await asyncio.sleep(0)
        if not event.is_set() and timeout is not None:
            self.advance(max(0.0, timeout))
        return event.is_set()
