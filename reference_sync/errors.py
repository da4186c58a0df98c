"""XTND's error kinds, and what each one means for the caller.

XTND answers every failure with ``{"ErrorType", "Message", "Errors": [{"Field", "Message"}], "TraceId"}``. The
kind decides what a client may do next, so it is the first thing the client works out:

* ``Validation`` (400, 404, 409, 413, 422): the request is wrong. Record it and park the item; sending the same
  request again can only fail again.
* ``Throttled`` (429, 503, with ``Retry-After``): nothing is wrong with the request. Wait, then send it again.
* ``Internal`` (500 and other 5xx, or no answer at all): maybe transient. Retry a few times with back-off and
  jitter, then park and alert. A write whose answer was lost may have been committed: the retry must be the
  identical request, and the idempotency key makes that safe.
* ``Unauthorized`` (401): a token problem, not one of the three. Fetch a new token once, then retry.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import httpx
import orjson


class ErrorKind(StrEnum):
    VALIDATION = "Validation"
    THROTTLED = "Throttled"
    INTERNAL = "Internal"
    UNAUTHORIZED = "Unauthorized"


def kind_of_status(status: int) -> ErrorKind:
    """The kind by HTTP status. The status decides, not the body: a proxy's bare 503 carries no envelope."""
    if status == 401:
        return ErrorKind.UNAUTHORIZED
    if status in (429, 503):
        return ErrorKind.THROTTLED
    if status >= 500:
        return ErrorKind.INTERNAL
    return ErrorKind.VALIDATION


class XtndError(Exception):
    """A request XTND refused (or that got no answer: ``status`` None). ``kind`` says what to do about it."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        trace_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.errors = errors or []
        self.trace_id = trace_id
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> XtndError:
        envelope: Any = None
        try:
            envelope = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            envelope = None
        if not isinstance(envelope, dict):
            envelope = {}
        errors = envelope.get("Errors")
        return cls(
            kind_of_status(response.status_code),
            str(envelope.get("Message") or f"HTTP {response.status_code}"),
            status=response.status_code,
            errors=[e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else [],
            trace_id=envelope.get("TraceId") if isinstance(envelope.get("TraceId"), str) else None,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
        )

    def describe(self) -> str:
        """One line for logs and the parked-items table: kind, status, message, field errors, trace id."""
        fields = "; ".join(f"{e.get('Field')}: {e.get('Message')}" for e in self.errors)
        parts = [f"{self.kind} {self.status if self.status is not None else 'no answer'}: {self.message}"]
        if fields:
            parts.append(f"[{fields}]")
        if self.trace_id:
            parts.append(f"(TraceId {self.trace_id})")
        return " ".join(parts)

    def __str__(self) -> str:
        return self.describe()


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (XTND sends whole seconds; an HTTP date is not used by XTND and is ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)
