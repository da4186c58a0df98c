"""XTND's error bodies, in ASP.NET Web API 2 style (chosen by the mock where XTND documents only ``{"Message"}``):

- validation: ``{"Message": "The request is invalid.", "ModelState": {"<path>": ["<reason>", ...]}}``
- everything else: ``{"Message": "<reason>"}``

How a client should react is told by the status and, for the transient 400s, by the message (docs/wire.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.responses import Response

JSON = "application/json; charset=utf-8"
INVALID = "The request is invalid."
UNAUTHORIZED = "Authorization has been denied for this request."
INTERNAL = "An error has occurred."
# SQL Server's own messages (error 1205 and SqlClient's timeout), as a production integration meets them inside a 400
DEADLOCK = ("Transaction (Process ID {pid}) was deadlocked on lock resources with another process and has been chosen "
            "as the deadlock victim. Rerun the transaction.")
TIMEOUT = ("Execution Timeout Expired.  The timeout period elapsed prior to completion of the operation or the server "
           "is not responding.")
TRANSIENT_MARKERS = ("deadlock victim", "Execution Timeout Expired")


class ApiError(Exception):
    """An early answer in XTND's error format, raised anywhere below the pipeline."""

    def __init__(self, status: int, message: str, model_state: Mapping[str, list[str]] | None = None,
                 headers: Mapping[str, str] | None = None, kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.model_state = dict(model_state) if model_state else None
        self.headers = dict(headers) if headers else None
        self.kind = kind  # the journal's errorKind when the status alone does not say it (Transient)

    def body(self) -> dict[str, Any]:
        if self.model_state:
            return {"Message": self.message, "ModelState": self.model_state}
        return {"Message": self.message}

    def response(self) -> Response:
        return Response(orjson.dumps(self.body()), status_code=self.status, media_type=JSON, headers=self.headers)


def invalid(problems: Iterable[tuple[str, str]]) -> ApiError:
    """400 with ModelState: every path keeps its first reasons, in order."""
    state: dict[str, list[str]] = {}
    for path, reason in problems:
        state.setdefault(path or "body", []).append(reason)
    return ApiError(400, INVALID, state)


def message(status: int, text: str, headers: Mapping[str, str] | None = None) -> ApiError:
    return ApiError(status, text, None, headers)


def is_transient(text: str | None) -> bool:
    return bool(text) and any(marker in text for marker in TRANSIENT_MARKERS)  # type: ignore[operator]


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type=JSON)


def error_kind(status: int, text: str | None) -> str | None:
    """The journal's ``errorKind`` for an answer (docs/journal-format.md)."""
    if status < 400 and status != 0:
        return None
    if status == 400:
        return "Transient" if is_transient(text) else "Validation"
    if status == 401:
        return "Unauthorized"
    if status == 429:
        return "Throttled"
    if status >= 500 or status == 0:
        return "Internal"
    return "Validation"
