"""Stable snapshots for paging (chosen by the mock, off by default: ``paging.stable_snapshots``). When on, the keys
matching a query are fixed when the first page of a pass is asked for and kept per user and query for a while
(10 minutes by default); later pages come from that set with current values. By default paging is live, as on a
real database, and a record that enters or leaves the filter mid-pass shifts the pages behind it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


class Pager:
    def __init__(self, ttl_ms: int = 600_000, max_snapshots: int = 512) -> None:
        self.ttl_ms = ttl_ms
        self.max_snapshots = max_snapshots
        self._snapshots: OrderedDict[Hashable, tuple[int, Sequence[Hashable]]] = OrderedDict()

    def keys(self, pass_key: Hashable, first_page: bool, now_ms: int, select: Callable[[], Sequence[K]]) -> Sequence[K]:
        """The pass's keys: ``select()`` on its first page (or when no live snapshot exists), the snapshot after."""
        entry = self._snapshots.get(pass_key)
        if first_page or entry is None or now_ms - entry[0] > self.ttl_ms:
            keys: Sequence[Hashable] = select()
            self._snapshots[pass_key] = (now_ms, keys)
            self._snapshots.move_to_end(pass_key)
            while len(self._snapshots) > self.max_snapshots:
                self._snapshots.popitem(last=False)
            return keys  # type: ignore[return-value]
        return entry[1]  # type: ignore[return-value]

    def clear(self) -> None:
        self._snapshots.clear()
