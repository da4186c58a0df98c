"""Background work yields to the API.

The API, the storms and the webhook senders share one event loop. The loop runs, in each pass, every callback that
was ready when the pass began; a request that arrives meanwhile waits for all of them. A storm step or a delivery
attempt costs tens of microseconds, so a pass with a few of each kept an API request waiting for most of a
millisecond, and the API's p99 under a 2,000/s storm reached about twice its idle p99 (bench/bench_webhooks.py).

``Pace`` gives background work a time slice per loop pass. Each storm step and each delivery attempt first awaits
``turn()``: within the slice it returns at once; past it, the work waits for the next pass, after the loop has
looked for new I/O, so an API request that arrived meanwhile runs before the rest of the backlog. The first turn of
every pass always goes ahead, so background work never starves, however busy the API is. A slice of ``None`` turns
pacing off (every turn goes ahead at once), for comparison: bench/bench_webhooks.py measures both side by side.
"""

from __future__ import annotations

import asyncio
import time

SLICE_SECONDS = 0.0003


class Pace:
    def __init__(self, slice_seconds: float | None = SLICE_SECONDS) -> None:
        self.slice = slice_seconds
        self._since: float | None = None  # when this pass's first background turn began
        self.deferred = 0  # turns put off to a later pass (for tests and diagnosis)

    def _new_pass(self) -> None:
        self._since = None

    async def turn(self) -> None:
        if self.slice is None:
            return
        while True:
            now = time.perf_counter()
            if self._since is None:
                self._since = now
                asyncio.get_running_loop().call_soon(self._new_pass)  # runs at the start of the next pass
                return
            if now - self._since < self.slice:
                return
            self.deferred += 1
            await asyncio.sleep(0)
