"""The ``changedSince`` cursor for the documented no-webhook fallback (and the reconciliation that heals missed
hooks): list what changed since the cursor, follow every page, then move the cursor forward.

Two rules make it lose nothing:

* ``changedSince`` is inclusive, and the cursor is a ``ChangedAt`` the server sent. Records that share the
  cursor's timestamp are listed again on the next pass; the caller skips those it already has (it compares
  with its own copy's ``ChangedAt``), so equal timestamps cost a row, not a fetch.
* The new cursor is the highest ``ChangedAt`` on the *first* page. XTND's paging is stable: the set of records
  is fixed when page 1 is read, later pages show their *current* values. A record read on page 1 that changes
  while we read page 3 gets a new ``ChangedAt`` that may be lower than one we see on page 3 (which changed
  later still). "Max of everything seen" would then step over that change for good. Page 1 was read all at
  once, so every change after it is newer than anything on it. In a one-page pass (the normal case in steady
  state) this is simply the max seen; a multi-page pass re-lists its later pages once, which costs rows and
  list calls but never data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .timestamps import BEGINNING, to_ms


class ChangedSincePass:
    """One pass over a ``changedSince`` list. Feed it every page in order; ``next_cursor`` is where the next
    pass starts."""

    def __init__(self, since: str | None) -> None:
        self.since = since or BEGINNING
        self._since_ms = to_ms(self.since)
        self._next: str = self.since
        self._next_ms = self._since_ms
        self.pages_seen = 0

    def observe_page(self, page_number: int, items: Iterable[Mapping[str, Any]]) -> None:
        self.pages_seen += 1
        if page_number != 1:
            return
        for item in items:
            changed_at = str(item["ChangedAt"])
            ms = to_ms(changed_at)
            if ms > self._next_ms:
                self._next, self._next_ms = changed_at, ms

    @property
    def next_cursor(self) -> str:
        return self._next
