"""Client-side pacing from XTND's rate-limit headers, so the client slows down before it is told to.

XTND limits each client per rolling minute in three groups (Standard: single-record GETs, ProductAvailability
and ProductPrices; List: the Products, Customers and CustomerOrders lists; Write: POST and PUT). Every answer
carries ``x-ratelimit-remaining`` and ``x-ratelimit-reset`` (whole seconds until a slot frees). When a group's
remaining count reaches the reserve, callers of that group wait for the reset instead of spending a 429.

Waiting is not lost time for balances: while the balance loop waits, hooks keep arriving and the next
ProductAvailability call simply covers more products.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .clock import Clock


class RateGroup(StrEnum):
    STANDARD = "Standard"
    LIST = "List"
    WRITE = "Write"


@dataclass(slots=True)
class _Budget:
    remaining: int
    reset_at: float


class RateLimitPacer:
    def __init__(self, clock: Clock, reserve: int = 2, unknown_reset_seconds: float = 1.0) -> None:
        self.clock = clock
        # Calls of other tasks may be on their way when an answer reports the budget: keep a few slots for them.
        self.reserve = reserve
        # After a reset passes we know one slot freed but not when the next will: assume this until an answer says.
        self.unknown_reset_seconds = unknown_reset_seconds
        self._budgets: dict[RateGroup, _Budget] = {}

    def observe(self, group: RateGroup, headers: Mapping[str, str]) -> None:
        """Record what an answer said about the group's budget."""
        try:
            remaining = int(headers["x-ratelimit-remaining"])
            reset = float(headers.get("x-ratelimit-reset", "0"))
        except (KeyError, ValueError):
            return
        self._budgets[group] = _Budget(remaining, self.clock.now() + max(0.0, reset))

    def throttled(self, group: RateGroup | None, retry_after: float) -> None:
        """Nobody in the group (None: in any group) calls before ``retry_after`` seconds have passed."""
        until = self.clock.now() + retry_after
        for g in RateGroup if group is None else (group,):
            budget = self._budgets.get(g)
            if budget is None or budget.remaining > 0 or budget.reset_at < until:
                self._budgets[g] = _Budget(0, until)

    def delay(self, group: RateGroup) -> float:
        """Seconds to wait before the next call in ``group`` (0: go now)."""
        budget = self._budgets.get(group)
        if budget is None or budget.remaining > self.reserve:
            return 0.0
        return max(0.0, budget.reset_at - self.clock.now())

    async def acquire(self, group: RateGroup) -> None:
        """Wait until the group has a slot, then spend it."""
        while (wait := self.delay(group)) > 0:
            await self.clock.sleep(wait)
        budget = self._budgets.get(group)
        if budget is None:
            return
        if budget.remaining <= self.reserve:
            # The reset has passed: one slot is free. Until an answer tells us more, space further calls out.
            budget.remaining = self.reserve + 1
            budget.reset_at = self.clock.now() + self.unknown_reset_seconds
        budget.remaining -= 1
