"""The journal: every API call the client made and every webhook delivery attempt the fake made, in order.

The fake records facts here; ``contracts/`` judges them. The record format is in docs/journal-format.md.
Kept in memory and bounded (the oldest records go first and are counted in ``dropped``): the journal is evidence
for one run, not state that must survive a restart. Records are numbered by ``Seq``, so reading what came after
a given record costs only the records after it (the harness and storm progress poll it often).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson


class Journal:
    def __init__(self, max_records: int = 200_000) -> None:
        self.max_records = max_records
        self._records: list[dict[str, Any]] = []
        self._first_seq = 1  # Seq of self._records[0]
        self._seq = 0
        self.dropped = 0

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        record["Seq"] = self._seq
        self._records.append(record)
        if len(self._records) > self.max_records + self.max_records // 10:
            excess = len(self._records) - self.max_records  # trim in chunks: amortised O(1) per append
            del self._records[:excess]
            self._first_seq += excess
            self.dropped += excess
        return record

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._records))

    @property
    def last_seq(self) -> int:
        return self._seq

    def since(self, seq: int) -> list[dict[str, Any]]:
        """Records with Seq > seq (a copy of the list; the records themselves are shared and never mutated)."""
        start = max(0, seq + 1 - self._first_seq)
        return self._records[start:]

    def query(
        self,
        *,
        kind: str | None = None,
        client_id: str | None = None,
        since: int | None = None,
        path: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        prefix = path.lower() if path else None
        for r in self.since(since or 0):
            if kind is not None and r.get("Kind") != kind:
                continue
            if client_id is not None and r.get("ClientId") != client_id:
                continue
            if prefix is not None and not str(r.get("Path", "")).lower().startswith(prefix):
                continue
            out.append(r)
            if limit is not None and len(out) >= limit:
                break
        return out

    def jsonl(self, records: list[dict[str, Any]]) -> bytes:
        return b"".join(orjson.dumps(r) + b"\n" for r in records)

    def clear(self) -> None:
        """Back to an empty journal numbered from 1 (a reset returns to the seeded start, Seq included)."""
        self._records.clear()
        self._first_seq = 1
        self._seq = 0
        self.dropped = 0
