"""Coalescing AvailableBalanceChanged hooks into few ProductAvailability reads.

XTND fires one hook per change of available balance and wants it used as a trigger, not as data. Reading once per
hook costs one call per event, and a storm is thousands of events a second. ProductAvailability offers two reads:

* ``GET ProductAvailability/{productNumber}/{warehouse}``: one item, one call. Right for a trickle: each change is
  read exactly once, and nothing else is.
* ``GET ProductAvailability?modifiedDateFrom=<cursor>``: every item changed since the cursor, 100 per page. Right
  for a storm: one pass of a few pages answers every hook that arrived before it started, however many.

The coalescer collects the changed (product, warehouse) pairs and decides when and how to read them. A window opens
with the first pending pair. It closes when no hook has come for ``quiet`` seconds (a burst is over: read now, so
the shop converges right after it) or ``max_wait`` seconds after it opened (a storm goes on: read anyway, so the
shop lags by at most that). Then a few pairs (``single_reads_max`` or fewer) are read one by one, and more take one
``modifiedDateFrom`` pass. In a storm each pass costs about as many pages as the catalogue has changed items, so
``max_wait`` is what keeps the calls per event low: with 1,500 items and a 2.5 s window, a 1,000/s storm costs
about 15 pages per 2,500 events (0.006 calls per event).

Each pending pair carries the *mark* of its newest hook (see store.py): a read that started at mark M answers every
hook up to M, and nothing later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .clock import Clock
from .store import ALL_WAREHOUSES, Pair


@dataclass(frozen=True, slots=True)
class BalanceBatch:
    pairs: dict[Pair, int]  # pair -> mark of its newest hook
    single_reads: bool  # True: one GET per pair; False: one modifiedDateFrom pass


class BalanceCoalescer:
    def __init__(self, clock: Clock, *, quiet: float, max_wait: float, single_reads_max: int) -> None:
        self.clock = clock
        self.quiet = quiet
        self.max_wait = max_wait
        self.single_reads_max = single_reads_max
        self._pending: dict[Pair, int] = {}  # insertion order: the oldest pending change first
        self._opened_at: float | None = None
        self._last_added_at = 0.0
        self._hold_until = 0.0

    def add(self, pair: Pair, mark: int) -> bool:
        """Note a changed pair. True when the window just opened (the flusher should wake up)."""
        self._pending[pair] = max(mark, self._pending.get(pair, mark))
        now = self.clock.now()
        self._last_added_at = now
        if self._opened_at is None:
            self._opened_at = now
            return True
        return False

    def add_all(self, pairs: Iterable[tuple[Pair, int]]) -> bool:
        woke = False
        for pair, mark in pairs:
            woke = self.add(pair, mark) or woke
        return woke

    def forget(self, upto_mark: int) -> None:
        """A modifiedDateFrom pass that started at ``upto_mark`` answered every pair marked up to it."""
        self._pending = {pair: mark for pair, mark in self._pending.items() if mark > upto_mark}
        if not self._pending:
            self._opened_at = None

    def hold(self, seconds: float) -> None:
        """Do not flush before ``seconds`` from now (after a failed read, to give XTND room)."""
        self._hold_until = max(self._hold_until, self.clock.now() + seconds)

    @property
    def pending_pairs(self) -> int:
        return len(self._pending)

    def due_in(self) -> float | None:
        """Seconds until the next flush is due: None when nothing is pending, 0 when it is due now."""
        if self._opened_at is None:
            return None
        closes_at = min(self._last_added_at + self.quiet, self._opened_at + self.max_wait)
        return max(0.0, closes_at - self.clock.now(), self._hold_until - self.clock.now())

    def take(self) -> BalanceBatch:
        """Everything pending, and how to read it. The window closes."""
        pairs, self._pending, self._opened_at = self._pending, {}, None
        single = len(pairs) <= self.single_reads_max and all(w != ALL_WAREHOUSES for _, w in pairs)
        return BalanceBatch(pairs, single)
