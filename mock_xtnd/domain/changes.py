"""Which records changed since a moment, without scanning them all.

``GET ProductAvailability?modifiedDateFrom=...`` is what a well-behaved client calls on every burst of balance hooks,
and a catalogue of 100,000 products in 3 warehouses has 300,000 items: a full scan per call (~30 ms) would make the
fake's answer time grow with the catalogue. Every change moves its key to the end of an ordered dict, so the keys
changed since T are a suffix of it, read from the end.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class ChangeIndex(Generic[K]):
    def __init__(self, items: Iterable[tuple[K, int]] = ()) -> None:
        self._order: OrderedDict[K, int] = OrderedDict(sorted(items, key=lambda kv: kv[1]))
        self._last = next(reversed(self._order.values()), 0) if self._order else 0

    def touch(self, key: K, changed_at: int) -> None:
        # A real clock may step back a little (NTP): keep the index monotonic; callers filter on the record's own
        # change time, so an entry stamped a few ms late only makes it a candidate a little longer.
        self._last = max(self._last, changed_at)
        self._order[key] = self._last
        self._order.move_to_end(key)

    def discard(self, key: K) -> None:
        self._order.pop(key, None)

    def since(self, ms: int) -> list[K]:
        """Keys changed at or after ``ms`` (candidates: check each record's own change time), newest first."""
        out: list[K] = []
        order = self._order
        for key in reversed(order):
            if order[key] < ms:
                break
            out.append(key)
        return out

    def __len__(self) -> int:
        return len(self._order)
