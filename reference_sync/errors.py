"""XTND's kinds of failure, and what each one means for the caller.

XTND answers a failure with a status and ``{"Message": "..."}`` (plus ``ModelState`` naming the body path when a
request fails validation). The kind decides what a client may do next, so it is the first thing worked out:

* ``Validation`` (400, 404, 413): the request is wrong. Record it and park the item; sending the same request
  again can only fail again. Fix the request instead.
* ``Transient`` (a 400 whose Message names a SQL Server deadlock or an execution timeout): seen in production.
  Nothing was changed; wait a little and send the same request again, a bounded number of times.
* ``Throttled`` (429 with ``Retry-After``): nothing is wrong with the request. Wait, then send it again.
* ``Internal`` (500 and other 5xx, or no answer at all): maybe transient. Retry a few times with back-off, then
  alert. A write without an answer may have been committed: look it up before sending it again.
* ``Unauthorized`` (401): the credentials are wrong. Retrying cannot fix that: stop and alert.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import httpx
import orjson


class ErrorKind(StrEnum):
    VALIDATION = "Validation"
    TRANSIENT = "Transient"
    THROTTLED = "Throttled"
    INTERNAL = "Internal"
    UNAUTHORIZED = "Unauthorized"


# What production tenants answer (as 400) when SQL Server picked the request as a deadlock victim or timed out.
TRANSIENT_MARKERS = ("deadlock", "execution timeout expired")


def kind_of(status: int, message: str) -> ErrorKind:
    """The kind by HTTP status, and for a 400 by its Message: XTND reports transient database failures as 400."""
    if status == 401:
        return ErrorKind.UNAUTHORIZED
    if status == 429:
        return ErrorKind.THROTTLED
    if status >= 500:
        return ErrorKind.INTERNAL
    if status == 400 and any(marker in message.lower() for marker in TRANSIENT_MARKERS):
        return ErrorKind.TRANSIENT
    return ErrorKind.VALIDATION


class XtndError(Exception):
    """A request XTND refused (or that got no answer: ``status`` None). ``kind`` says what to do about it."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        model_state: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.model_state = model_state or {}
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> XtndError:
        body: Any = None
        try:
            body = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            body = {}
        message = str(body.get("Message") or f"HTTP {response.status_code}")
        model_state = body.get("ModelState")
        return cls(
            kind_of(response.status_code, message),
            message,
            status=response.status_code,
            model_state=model_state if isinstance(model_state, dict) else None,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
        )

    def describe(self) -> str:
        """One line for logs and the parked-items table: kind, status, message, the fields ModelState names."""
        line = f"{self.kind} {self.status if self.status is not None else 'no answer'}: {self.message}"
        if self.model_state:
            fields = "; ".join(
                f"{path}: {' '.join(map(str, reasons)) if isinstance(reasons, list) else reasons}"
                for path, reasons in self.model_state.items()
            )
            line += f" [{fields}]"
        return line

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
