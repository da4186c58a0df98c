"""Per-client rolling-window rate limits in three groups (chosen by the mock; XTND documents 429 and the
``x-ratelimit-limit`` header with Standard = 300). Reads the injected clock."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from ..domain.clock import Clock


@dataclass(slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int | None


class RateLimiter:
    def __init__(self, clock: Clock, limits: dict[str, int], window_seconds: int = 60) -> None:
        self.clock = clock
        self.limits = limits
        self.window_ms = window_seconds * 1000
        self._hits: dict[tuple[str, str], deque[int]] = {}

    def check(self, client_id: str, group: str) -> Verdict:
        """Count the call if a slot is free. A refused call is not counted."""
        now = self.clock.now_ms()
        limit = self.limits[group]
        hits = self._hits.get((client_id, group))
        if hits is None:
            hits = self._hits[(client_id, group)] = deque()
        horizon = now - self.window_ms
        while hits and hits[0] <= horizon:
            hits.popleft()
        if len(hits) >= limit:
            wait = max(1, math.ceil((hits[0] + self.window_ms - now) / 1000))
            return Verdict(False, limit, 0, wait, wait)
        hits.append(now)
        reset = max(0, math.ceil((hits[0] + self.window_ms - now) / 1000))
        return Verdict(True, limit, limit - len(hits), reset, None)

    def clear(self) -> None:
        self._hits.clear()
