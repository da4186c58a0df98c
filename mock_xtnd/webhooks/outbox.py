"""The durable outbox (Svix's message -> destination -> attempt): one Delivery per notification envelope and
subscription, with its attempts and the time of the next one. Persisted with the state under --db, in the same
transaction as the change that caused it, so an acknowledged change never loses its hook."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

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
