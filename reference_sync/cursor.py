"""The ``modifiedDateFrom`` cursor: list what changed since the cursor, read every page, then move the cursor on.

Three rules make it lose nothing:

* **The filter is inclusive and sent with an overlap.** The request asks from ``cursor - overlap`` (a few
  seconds), rounded down to the second (the filter's precision). The overlap covers a change that was stamped
  before a read but committed after it, and the rounding. Rows listed again cost a row, never a wrong value:
  the store skips a (productNumber, warehouse, changeDate) it already has.
* **The cursor is the server's own time**, taken from the ``changeDate`` values it answered, never our clock.
* **It moves only as far as the pass can vouch for.** Paging is live: a page is computed when it is asked for,
  so a record on page 1 that changes while page 3 is read is not listed again in this pass. Every change the
  pass did not see happened after page 1 was read. Two lower bounds for that moment come from the answers: the
  newest ``changeDate`` on page 1, and the newest ``changeDate`` anywhere minus the pass's duration (page 1 was
  read at most that long before the last page). The cursor is the larger of the two, and never goes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .timestamps import to_filter, to_ms


class ModifiedSincePass:
    """One pass over a ``modifiedDateFrom`` list. Feed it every page in order; ``next_cursor`` is where the next
    pass starts. Cursors are epoch milliseconds of the server's clock; None: nothing read yet (a full read)."""

    def __init__(
        self, cursor: int | None, overlap_seconds: float, started_at: float, date_field: str
    ) -> None:
        self.cursor = cursor
        self.started_at = started_at  # our clock, seconds
        self.date_field = date_field
        self.since = None if cursor is None else to_filter(cursor - round(overlap_seconds * 1000))
        self.pages = 0
        self._first_page_max: int | None = None
        self._max_seen: int | None = None

    def observe(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.pages += 1
        newest = max((ms for ms in map(self._change_ms, rows) if ms is not None), default=None)
        if newest is None:
            return
        if self.pages == 1:
            self._first_page_max = newest
        self._max_seen = newest if self._max_seen is None else max(self._max_seen, newest)

    def next_cursor(self, finished_at: float) -> int | None:
        candidates = [c for c in (self.cursor, self._first_page_max) if c is not None]
        if self._max_seen is not None:
            candidates.append(self._max_seen - round((finished_at - self.started_at) * 1000))
        return max(candidates, default=None)

    def _change_ms(self, row: Mapping[str, Any]) -> int | None:
        value = row.get(self.date_field)
        if not isinstance(value, str):
            return None
        try:
            return to_ms(value)
        except ValueError:
            return None
