"""The journal: every API call the client made and every webhook delivery attempt the fake made, in order.

The fake records facts here; ``contracts/`` judges them. The record format is in docs/journal-format.md.
Kept in memory (bounded; the oldest records go first and are counted in ``dropped``): the journal is evidence
for one run, not state that must survive a restart.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import orjson


class Journal:
    def __init__(self, max_records: int = 1_000_000) -> None:
        self._records: deque[dict[str, Any]] = deque(maxlen=max_records)
        self._seq = 0
        self.dropped = 0

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        if len(self._records) == self._records.maxlen:
            self.dropped += 1
        record["Seq"] = self._seq
        self._records.append(record)
        return record

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._records))

    @property
    def last_seq(self) -> int:
        return self._seq

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
        for r in list(self._records):
            if since is not None and r["Seq"] <= since:
                continue
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
        self._records.clear()
        self.dropped = 0
