"""XTND's error envelope: ``{"ErrorType", "Message", "Errors": [{"Field", "Message"}], "TraceId"}``.

Three kinds (documented): Validation (fix the request, never resend it unchanged), Throttled (wait Retry-After and
retry), Internal (retry a few times with back-off). A 401 carries the same envelope with ErrorType Unauthorized.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.responses import Response

ERROR_TYPE_BY_STATUS = {401: "Unauthorized", 429: "Throttled", 503: "Throttled", 500: "Internal"}


def error_type_for(status: int) -> str:
    return ERROR_TYPE_BY_STATUS.get(status, "Internal" if status >= 500 else "Validation")


def envelope(
    status: int,
    message: str,
    errors: Iterable[tuple[str, str]] = (),
    *,
    trace_id: str = "",
    error_type: str | None = None,
) -> dict[str, Any]:
    return {
        "ErrorType": error_type or error_type_for(status),
        "Message": message,
        "Errors": [{"Field": f, "Message": m} for f, m in errors],
        "TraceId": trace_id,
    }


def error_response(
    status: int,
    message: str,
    errors: Iterable[tuple[str, str]] = (),
    *,
    trace_id: str = "",
    error_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = orjson.dumps(envelope(status, message, errors, trace_id=trace_id, error_type=error_type))
    return Response(body, status_code=status, media_type="application/json; charset=utf-8", headers=headers)


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json; charset=utf-8")


def field_of(loc: Iterable[Any]) -> str:
    """('body', 'Lines', 0, 'Quantity') -> 'Lines[0].Quantity'; ('query', 'pageSize') -> 'pageSize'."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "form"):
        parts = parts[1:]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "body"
