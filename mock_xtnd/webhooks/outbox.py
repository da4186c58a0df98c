"""The durable outbox (Svix's message -> destination -> attempt): one Delivery per notification envelope and
subscription, with its attempts and the time of the next one. Persisted with the state under --db, in the same
transaction as the change that caused it, so an acknowledged change never loses its hook."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from ..kept import kept_json

PENDING, DELIVERED, GONE, DEAD = "pending", "delivered", "gone", "dead"


@dataclass(slots=True)
class Attempt:
    attempt: int
    at_ms: int
    status: int | None
    error: str | None
    latency_ms: float
    fault: str | None = None


@dataclass(slots=True)
class Delivery:
    id: str  # envelope Id: 32 lowercase hex, the same on every attempt
    notification_id: str  # Properties.NotificationId: a GUID with dashes
    subscription: str
    url: str
    notifications: list[dict[str, Any]]  # [{"Action", "Details"}]
    created_at: int
    next_attempt_at: int
    status: str = PENDING
    attempts: list[Attempt] = field(default_factory=list)
    forged: str | None = None  # "bad" | "missing": sent by the harness with a bad/missing signature, never retried
    redeliveries: int = 0  # each redelivery by hand renews the attempt budget
    origin: str | None = None  # the events' origin when they share one (e.g. "storm:S1")
    seq: int = 0  # creation order (the delivery id stream's counter), kept so a restart lists them in that order

    @property
    def attempt_count(self) -> int:
        return len(self.attempts)

    def body(self, attempt: int) -> bytes:
        """The exact bytes sent: indented JSON (2 spaces), as ASP.NET WebHooks serialises it."""
        envelope = {
            "Id": self.id,
            "Attempt": attempt,
            "Properties": {"NotificationId": self.notification_id},
            "Notifications": self.notifications,
        }
        return orjson.dumps(envelope, option=orjson.OPT_INDENT_2)

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> Delivery:
        d = dict(d)
        d["attempts"] = [Attempt(**a) for a in d.get("attempts", [])]
        return cls(**d)

    def actions(self) -> list[str]:
        return [n["Action"] for n in self.notifications]


# A finished delivery, flattened: (status, subscription, actions, created_at, id, notification_id, url,
# notifications as JSON, next_attempt_at, attempts as JSON, forged, redeliveries, origin, size, seq). Strings, ints,
# None, bytes and one tuple of strings only: the garbage collector stops tracking such a tuple once it has seen it.
_Row = tuple[Any, ...]
ROW_OVERHEAD = 420  # bytes a row costs beyond its two JSON blobs (the tuple, its strings, the dict slot), measured


class Outbox:
    """Every delivery by Id, in the order they were made.

    A pending delivery is a live ``Delivery`` the senders work on. A finished one (delivered, gone, dead) only
    answers the delivery log and a redelivery by hand, so it is kept as a compact immutable row and turned back into
    a ``Delivery`` when asked for. Tens of thousands of finished deliveries as live objects (each with its attempts
    and lists) made every full garbage collection walk them all: 50-130 ms pauses of the event loop mid-storm, felt
    by every API call and every hook in flight (docs/benchmarks.md). As rows they cost the collector nothing, and
    about half the memory (550 instead of 990 bytes for a one-attempt delivery).
    """

    def __init__(self, max_finished: int = 100_000, max_finished_bytes: int = 64 * 2**20) -> None:
        self._by_id: dict[str, Delivery | _Row] = {}
        # Retention: finished deliveries beyond these go, oldest finished first (pending ones never do); what went
        # is counted, and its ids wait in ``evicted_ids`` for the store to delete them.
        self.max_finished = max_finished
        self.max_finished_bytes = max_finished_bytes
        self._finished: deque[tuple[str, _Row]] = deque()  # in the order they finished (stale entries skipped)
        self.finished = 0
        self.finished_bytes = 0
        self.evicted: dict[str, int] = {DELIVERED: 0, GONE: 0, DEAD: 0}
        self.evicted_bytes = 0
        self.evicted_ids: list[str] = []

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, d: Delivery) -> None:
        """Keep ``d`` (live while pending; a finished one is stored as a row at once). An Id already here keeps its
        place in the order."""
        self._put(d.id, d if d.status == PENDING else _row(d))

    def settle(self, d: Delivery) -> None:
        """``d`` has finished (or not): store it as a row if so."""
        if d.status != PENDING and self._by_id.get(d.id) is d:
            self._put(d.id, _row(d))

    def _put(self, did: str, value: Delivery | _Row) -> None:
        old = self._by_id.get(did)
        if old is not None and not isinstance(old, Delivery):
            self.finished -= 1
            self.finished_bytes -= old[13]
        self._by_id[did] = value
        if not isinstance(value, Delivery):
            self.finished += 1
            self.finished_bytes += value[13]
            self._finished.append((did, value))
            self._evict()

    def _evict(self) -> None:
        while self._finished and (self.finished > self.max_finished or self.finished_bytes > self.max_finished_bytes):
            did, row = self._finished.popleft()
            if self._by_id.get(did) is not row:
                continue  # redelivered since (pending again, or finished anew: a later entry stands for it)
            del self._by_id[did]
            self.finished -= 1
            self.finished_bytes -= row[13]
            self.evicted[row[0]] = self.evicted.get(row[0], 0) + 1
            self.evicted_bytes += row[13]
            self.evicted_ids.append(did)

    def take_evicted(self) -> list[str]:
        ids, self.evicted_ids = self.evicted_ids, []
        return ids

    def stats(self) -> dict[str, Any]:
        """What is kept and what retention dropped (``GET /_mock/deliveries``)."""
        return {"kept": len(self._by_id), "pending": len(self._by_id) - self.finished,
                "finishedKept": self.finished, "finishedBytes": self.finished_bytes,
                "evicted": dict(self.evicted), "evictedBytes": self.evicted_bytes,
                "limits": {"finishedDeliveries": self.max_finished, "finishedDeliveryBytes": self.max_finished_bytes}}

    def stats_record(self) -> dict[str, Any]:
        """The counts that outlive a restart (persisted with the outbox)."""
        return {"evicted": dict(self.evicted), "evictedBytes": self.evicted_bytes}

    def load_stats(self, rec: dict[str, Any]) -> None:
        self.evicted.update({k: int(v) for k, v in dict(rec.get("evicted", {})).items()})
        self.evicted_bytes = int(rec.get("evictedBytes", 0))

    def pending(self, did: str) -> Delivery | None:
        """The live delivery, if ``did`` is pending; None otherwise (no decoding)."""
        v = self._by_id.get(did)
        return v if isinstance(v, Delivery) else None

    def get(self, did: str) -> Delivery | None:
        v = self._by_id.get(did)
        return v if v is None or isinstance(v, Delivery) else _thaw(v)

    def created_at(self, did: str) -> int | None:
        v = self._by_id.get(did)
        if v is None:
            return None
        return v.created_at if isinstance(v, Delivery) else v[3]

    def query(self, status: str | None, action: str | None, subscription: str | None) -> Iterator[Delivery]:
        """Matching deliveries in creation order; only the matches are decoded."""
        for v in list(self._by_id.values()):
            if isinstance(v, Delivery):
                st, sub, actions = v.status, v.subscription, v.actions()
            else:
                st, sub, actions = v[0], v[1], v[2]
            if status and st != status:
                continue
            if action and action not in actions:
                continue
            if subscription and sub != subscription:
                continue
            yield v if isinstance(v, Delivery) else _thaw(v)

    def clear(self) -> None:
        self._by_id.clear()
        self._finished.clear()
        self.finished = self.finished_bytes = self.evicted_bytes = 0
        self.evicted = {DELIVERED: 0, GONE: 0, DEAD: 0}
        self.evicted_ids = []


def _row(d: Delivery) -> _Row:
    notifications = kept_json(d.notifications)
    attempts = kept_json([(a.attempt, a.at_ms, a.status, a.error, a.latency_ms, a.fault) for a in d.attempts])
    return (d.status, d.subscription, tuple(n["Action"] for n in d.notifications), d.created_at, d.id,
            d.notification_id, d.url, notifications, d.next_attempt_at, attempts, d.forged, d.redeliveries, d.origin,
            len(notifications) + len(attempts) + ROW_OVERHEAD, d.seq)


def _thaw(row: _Row) -> Delivery:
    (status, subscription, _actions, created_at, did, notification_id, url, notifications, next_attempt_at, attempts,
     forged, redeliveries, origin, _size, seq) = row
    return Delivery(did, notification_id, subscription, url, orjson.loads(notifications), created_at,
                    next_attempt_at, status, [Attempt(*a) for a in orjson.loads(attempts)], forged, redeliveries, origin,
                    seq)
