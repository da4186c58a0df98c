"""Timers on the injected clock: back-office lifecycle steps, simulation ticks, storm emissions.

Pure data: a heap of (due time, sequence, callback). Who runs them depends on the clock: under a virtual clock
``POST /_mock/clock/advance`` runs each in due order; under a real clock a background task does.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True, slots=True)
class Timer:
    due_ms: int
    seq: int
    name: str = field(compare=False)
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Scheduler:
    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._seq = 0

    def call_at(self, due_ms: int, name: str, callback: Callable[[], None]) -> Timer:
        self._seq += 1
        timer = Timer(due_ms, self._seq, name, callback)
        heapq.heappush(self._heap, timer)
        return timer

    def next_due(self) -> int | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].due_ms if self._heap else None

    def pop_due(self, now_ms: int) -> Timer | None:
        """The earliest timer due at or before now, or None."""
        due = self.next_due()
        if due is None or due > now_ms:
            return None
        return heapq.heappop(self._heap)

    def clear(self) -> None:
        self._heap.clear()

    def __len__(self) -> int:
        return sum(1 for t in self._heap if not t.cancelled)
