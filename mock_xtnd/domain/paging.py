"""Stable paging (chosen by the mock): the set of keys matching a query is fixed when page 1 is asked for and
kept per client and query for a while (10 minutes by default); later pages come from that set with current
values. Plain offset paging would let a record that changes mid-pass push an unchanged one off its page."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(slots=True)
class Page(Generic[K]):
    keys: Sequence[K]
    page: int
    page_size: int
    total_count: int

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.total_count / self.page_size)) if self.total_count else 0


class Pager:
    def __init__(self, ttl_ms: int = 600_000, max_snapshots: int = 512) -> None:
        self.ttl_ms = ttl_ms
        self.max_snapshots = max_snapshots
        self._snapshots: OrderedDict[Hashable, tuple[int, Sequence[Hashable]]] = OrderedDict()

    def page(
        self, query_key: Hashable, page: int, page_size: int, now_ms: int, select: Callable[[], Sequence[K]]
    ) -> Page[K]:
        """``select`` computes the ordered matching keys; it runs on page 1 or when no live snapshot exists."""
        entry = self._snapshots.get(query_key)
        if page == 1 or entry is None or now_ms - entry[0] > self.ttl_ms:
            keys: Sequence[Hashable] = select()
            self._snapshots[query_key] = (now_ms, keys)
            self._snapshots.move_to_end(query_key)
            while len(self._snapshots) > self.max_snapshots:
                self._snapshots.popitem(last=False)
        else:
            keys = entry[1]
        start = (page - 1) * page_size
        return Page(keys[start : start + page_size], page, page_size, len(keys))  # type: ignore[arg-type]

    def clear(self) -> None:
        self._snapshots.clear()
