"""Client-side pacing from XTND's rate-limit headers, so the client slows down before it is told to.

XTND limits calls per rolling minute **per endpoint family** (one bucket per resource: ``ProductAvailability``,
``CustomerOrders``, ...; 300 by default, "Standard"). Every answer carries ``x-ratelimit-remaining`` and
``x-ratelimit-reset`` (the Unix time, in seconds, when the family's oldest counted call leaves the window). When a
family's remaining count reaches the reserve, callers of that family wait for the reset instead of spending a 429;
the other families are not held up.

Waiting is not lost time for balances: while the balance loop waits, hooks keep arriving and the next
ProductAvailability pass simply covers more of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .clock import Clock

# Values above this are Unix times; below, seconds from now (a tenant behind a proxy that rewrites the header).
_EPOCH_THRESHOLD = 1_000_000_000
# Never trust a reset further away than one rate-limit window: the server's clock is not ours.
_MAX_RESET_SECONDS = 60.0


@dataclass(slots=True)
class _Budget:
    remaining: int
    reset_at: float  # on our clock


class RateLimitPacer:
    def __init__(self, clock: Clock, reserve: int = 2, unknown_reset_seconds: float = 1.0) -> None:
        self.clock = clock
        # Calls of other tasks may be on their way when an answer reports the budget: keep a few slots for them.
        self.reserve = reserve
        # After a reset passes we know one slot freed but not when the next will: assume this until an answer says.
        self.unknown_reset_seconds = unknown_reset_seconds
        self._budgets: dict[str, _Budget] = {}

    def observe(self, family: str, headers: Mapping[str, str]) -> None:
        """Record what an answer said about the family's budget."""
        try:
            remaining = int(headers["x-ratelimit-remaining"])
            reset = float(headers.get("x-ratelimit-reset", "0"))
        except (KeyError, ValueError):
            return
        now = self.clock.now()
        seconds = reset - now if reset > _EPOCH_THRESHOLD else reset
        self._budgets[family] = _Budget(remaining, now + min(_MAX_RESET_SECONDS, max(0.0, seconds)))

    def throttled(self, family: str, retry_after: float) -> None:
        """Nobody calls this family before ``retry_after`` seconds have passed (a 429 is about its family)."""
        until = self.clock.now() + retry_after
        budget = self._budgets.get(family)
        if budget is None or budget.remaining > 0 or budget.reset_at < until:
            self._budgets[family] = _Budget(0, until)

    def delay(self, family: str) -> float:
        """Seconds to wait before the next call in ``family`` (0: go now)."""
        budget = self._budgets.get(family)
        if budget is None or budget.remaining > self.reserve:
            return 0.0
        return max(0.0, budget.reset_at - self.clock.now())

    async def acquire(self, family: str) -> None:
        """Wait until the family has a slot, then spend it."""
        while (wait := self.delay(family)) > 0:
            await self.clock.sleep(wait)
        budget = self._budgets.get(family)
        if budget is None:
            return
        if budget.remaining <= self.reserve:
            # The reset has passed: one slot is free. Until an answer tells us more, space further calls out.
            budget.remaining = self.reserve + 1
            budget.reset_at = self.clock.now() + self.unknown_reset_seconds
        budget.remaining -= 1
