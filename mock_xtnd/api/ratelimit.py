"""Rolling-window rate limits per company and endpoint family (observed: each family has its own limit and its own
``x-ratelimit-reset``; documented: "Standard" is 300 per minute). One fake serves one company, so the buckets are
per family. Reads the injected clock."""

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
    reset_epoch: int  # Unix epoch seconds when the family's oldest counted call leaves the window
    retry_after: int | None


class RateLimiter:
    def __init__(self, clock: Clock, default: int, families: dict[str, int], window_seconds: int = 60) -> None:
        self.clock = clock
        self.default = default
        self.families = dict(families)
        self.window_ms = window_seconds * 1000
        self._hits: dict[str, deque[int]] = {}

    def limit_of(self, family: str) -> int:
        return self.families.get(family, self.default)

    def check(self, family: str) -> Verdict:
        """Count the call if a slot is free. A refused call is not counted."""
        now = self.clock.now_ms()
        limit = self.limit_of(family)
        hits = self._hits.get(family)
        if hits is None:
            hits = self._hits[family] = deque()
        horizon = now - self.window_ms
        while hits and hits[0] <= horizon:
            hits.popleft()
        if len(hits) >= limit:
            free_at = hits[0] + self.window_ms
            wait = max(1, math.ceil((free_at - now) / 1000))
            return Verdict(False, limit, 0, math.ceil(free_at / 1000), wait)
        hits.append(now)
        return Verdict(True, limit, limit - len(hits), math.ceil((hits[0] + self.window_ms) / 1000), None)

    def clear(self) -> None:
        self._hits.clear()
