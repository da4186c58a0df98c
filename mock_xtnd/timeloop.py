"""Drives timers and webhook retries from the injected clock.

Virtual clock: ``advance(ms)`` walks forward to each due point in order (timers and delivery attempts), runs what
fell due there and waits for those deliveries to finish, then moves on - so a test advances time instead of
sleeping. Real clock: a background task runs timers as they fall due.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from .domain.clock import VirtualClock

if TYPE_CHECKING:
    from .runtime import Runtime


class TimeLoop:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def _next_due(self) -> int | None:
        candidates = [self.rt.scheduler.next_due()]
        if self.rt.webhooks is not None:
            candidates.append(self.rt.webhooks.next_due())
        due = [c for c in candidates if c is not None]
        return min(due) if due else None

    def run_due_timers(self) -> int:
        ran = 0
        while (timer := self.rt.scheduler.pop_due(self.rt.clock.now_ms())) is not None:
            if not timer.cancelled:
                try:
                    timer.callback()
                except Exception as e:  # a failing back-office step must not stop time
                    self.rt.log_error(f"timer {timer.name} failed: {e!r}")
                ran += 1
        return ran

    async def _settle_deliveries(self) -> None:
        if self.rt.webhooks is not None:
            await self.rt.webhooks.drain_due()

    async def advance(self, ms: int) -> None:
        clock = self.rt.clock
        assert isinstance(clock, VirtualClock)
        async with self._lock:
            target = clock.now_ms() + ms
            while True:
                self.run_due_timers()
                await self._settle_deliveries()
                due = self._next_due()
                if due is None or due > target:
                    break
                clock.set_ms(max(clock.now_ms(), due))
            clock.set_ms(target)
            self.run_due_timers()
            await self._settle_deliveries()

    def poke(self) -> None:
        self._wake.set()

    async def _real_loop(self) -> None:
        while True:
            self.run_due_timers()
            due = self.rt.scheduler.next_due()
            wait = 1.0 if due is None else max(0.0, min(1.0, (due - self.rt.clock.now_ms()) / 1000))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def start(self) -> None:
        if not self.rt.clock.is_virtual and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._real_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
