"""The journal: every API call the client made and every webhook delivery attempt the fake made, in order.

The fake records facts here; ``contracts/`` judges them. The record format is in docs/journal-format.md.
Kept in memory and bounded in records and in bytes (the oldest records go first and are counted in ``dropped`` and
``droppedBytes``): the journal is evidence for one run, not state that must survive a restart. The byte bound is
what keeps a client sending 1 MB bodies from filling memory (their bodies are journaled). Records are numbered by ``seq``, so reading what came after
a given record costs only the records after it (the harness and storm progress poll it often).

A record is written once and never changed, so it is kept as its JSON line (the form every reader gets anyway)
beside the few fields the filters need, in a tuple of strings and bytes. The garbage collector stops tracking such
tuples, so a journal of 200,000 records adds nothing to the work of a full collection: with records kept as dicts
of lists, those collections grew with the journal and paused the event loop for 50-130 ms in the middle of storms
(docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from .kept import kept_json

# (kind, user, path lower-cased, origin, the record as one JSON line without its newline)
_Entry = tuple[str, str | None, str, str | None, bytes]
# what an entry costs beyond its JSON line: the tuple, the lower-cased path, the list slot (measured, rounded up)
ENTRY_OVERHEAD = 200


def _cost(entry: _Entry) -> int:
    return len(entry[4]) + len(entry[2]) + ENTRY_OVERHEAD


class Journal:
    """Entries are kept in sealed chunks (tuples of entries) plus one open list. An untracked tuple is skipped
    whole by the collector, so even a 2,000,000-record journal is a few hundred objects to it, not millions."""

    def __init__(self, max_records: int = 200_000, max_bytes: int = 64 * 2**20) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._chunk = max(1, min(1024, max_records // 20))
        self._chunk_bytes = max(1, max_bytes // 20)
        self._sealed: list[tuple[_Entry, ...]] = []
        self._sealed_bytes: list[int] = []
        self._open: list[_Entry] = []
        self._open_bytes = 0
        self._first_seq = 1  # Seq of the oldest entry kept
        self._seq = 0
        self.bytes = 0  # what the kept entries cost (their JSON lines plus ENTRY_OVERHEAD each)
        self.dropped = 0
        self.dropped_bytes = 0

    def append(self, record: dict[str, Any]) -> int:
        """Number the record (its ``seq``), keep it, and return the seq. The caller's dict is not kept."""
        self._seq += 1
        record["seq"] = self._seq
        path = record.get("path")
        entry = (record["kind"], record.get("user"), path.lower() if isinstance(path, str) else "",
                 record.get("origin"), kept_json(record))
        cost = _cost(entry)
        self._open.append(entry)
        self._open_bytes += cost
        self.bytes += cost
        if len(self._open) >= self._chunk or self._open_bytes >= self._chunk_bytes:
            self._sealed.append(tuple(self._open))
            self._sealed_bytes.append(self._open_bytes)
            self._open = []
            self._open_bytes = 0
            self._trim()
        return self._seq

    def _trim(self) -> None:
        """Drop the oldest chunks down to max_records and max_bytes, early enough that the open chunk never takes
        the journal past either by more than 10% (a chunk is sealed at 1/20 of each; amortised O(1) per append).
        The newest chunk always stays."""
        if (len(self) + self._chunk <= self.max_records + self.max_records // 10
                and self.bytes + self._chunk_bytes <= self.max_bytes + self.max_bytes // 10):
            return
        while len(self._sealed) > 1 and (len(self) - len(self._sealed[0]) >= self.max_records
                                         or self.bytes - self._sealed_bytes[0] >= self.max_bytes):
            n = len(self._sealed.pop(0))
            cost = self._sealed_bytes.pop(0)
            self._first_seq += n
            self.dropped += n
            self.bytes -= cost
            self.dropped_bytes += cost

    def __len__(self) -> int:
        return self._seq - self._first_seq + 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.since(0))

    @property
    def last_seq(self) -> int:
        return self._seq

    def _after(self, seq: int) -> Iterator[_Entry]:
        skip = max(0, seq + 1 - self._first_seq)
        for chunk in self._sealed:
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            yield from chunk[skip:] if skip else chunk
            skip = 0
        yield from self._open[skip:]

    def since(self, seq: int, *, kind: str | None = None, origin: str | None = None) -> list[dict[str, Any]]:
        """Records with seq > seq (fresh dicts), optionally only one kind and one origin."""
        return [orjson.loads(e[4]) for e in self._after(seq)
                if (kind is None or e[0] == kind) and (origin is None or e[3] == origin)]

    def lines(
        self,
        *,
        kind: str | None = None,
        user: str | None = None,
        since: int | None = None,
        path: str | None = None,
        limit: int | None = None,
    ) -> list[bytes]:
        """The matching records as JSON lines (no newline), oldest first."""
        out: list[bytes] = []
        prefix = path.lower() if path else None
        for k, cid, p, _origin, line in self._after(since or 0):
            if kind is not None and k != kind:
                continue
            if user is not None and cid != user:
                continue
            if prefix is not None and not p.startswith(prefix):
                continue
            out.append(line)
            if limit is not None and len(out) >= limit:
                break
        return out

    @staticmethod
    def jsonl(lines: list[bytes]) -> bytes:
        return b"".join(line + b"\n" for line in lines)

    def json_page(self, lines: list[bytes]) -> bytes:
        """``{"items": [...], "dropped": n, "lastSeq": n}`` built from the stored lines without decoding them."""
        return (b'{"items":[' + b",".join(lines) + b'],"dropped":' + str(self.dropped).encode()
                + b',"droppedBytes":' + str(self.dropped_bytes).encode() + b',"lastSeq":' + str(self._seq).encode()
                + b"}")

    def clear(self) -> None:
        """Back to an empty journal numbered from 1 (a reset returns to the seeded start, Seq included)."""
        self._sealed.clear()
        self._sealed_bytes.clear()
        self._open = []
        self._open_bytes = 0
        self._first_seq = 1
        self._seq = 0
        self.bytes = 0
        self.dropped = 0
        self.dropped_bytes = 0
