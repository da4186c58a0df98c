"""Shared pieces of the resource routers: the request context, paging, changedSince, documented errors."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from fastapi import Request

from ..domain.clock import parse_iso
from ..domain.errors import bad_request
from ..domain.paging import Page
from ..runtime import Runtime
from .pipeline import RequestContext
from .schemas import CHOSEN, ErrorEnvelope

K = TypeVar("K", bound=Hashable)

_ERR = {"model": ErrorEnvelope}
ERRORS_READ: dict[int | str, dict[str, Any]] = {
    400: {**_ERR, "description": "Validation: malformed request (bad paging, dates, types)."},
    401: {**_ERR, "description": "Unauthorized: missing, wrong or expired bearer token."},
    429: {**_ERR, "description": "Throttled: rate limit exceeded; wait Retry-After seconds."},
    500: {**_ERR, "description": "Internal: retry a few times with back-off, then alert."},
    503: {**_ERR, "description": "Throttled: temporarily unavailable; wait Retry-After seconds."},
}
ERRORS_ONE = {**ERRORS_READ, 404: {**_ERR, "description": "Validation: no such record."}}
ERRORS_WRITE: dict[int | str, dict[str, Any]] = {
    **ERRORS_ONE,
    409: {**_ERR, "description": "Validation: idempotency clash (same external key, different body)."},
    413: {**_ERR, "description": "Validation: body too large."},
    422: {**_ERR, "description": "Validation: well-formed but wrong (unknown product/customer, quantity <= 0, locked)."},
}

PAGE_DOC = "Page number, from 1." + CHOSEN
PAGE_SIZE_DOC = "Items per page: default 100, max 1000 (configurable); over the max is a Validation error." + CHOSEN
CHANGED_SINCE_DOC = "ISO 8601 UTC timestamp; inclusive: records with ChangedAt >= changedSince." + CHOSEN


def context(request: Request) -> RequestContext:
    ctx: RequestContext = request.scope["xtnd"]
    return ctx


def changed_since_ms(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):
        raise bad_request(
            f"changedSince {value[:60]!r} is not an ISO 8601 timestamp.",
            ("changedSince", "Expected e.g. 2026-01-05T08:00:00.000Z."),
        ) from None


def check_page_size(rt: Runtime, page_size: int) -> None:
    if page_size > rt.settings.paging.max_page_size:
        raise bad_request(
            f"pageSize {page_size} is over the maximum {rt.settings.paging.max_page_size}.",
            ("pageSize", f"Must be between 1 and {rt.settings.paging.max_page_size}."),
        )


def check_product_numbers(rt: Runtime, numbers: Sequence[str]) -> None:
    limit = rt.settings.paging.max_product_numbers
    if len(numbers) > limit:
        raise bad_request(
            f"At most {limit} productNumber values per call; got {len(numbers)}.",
            ("productNumber", f"At most {limit}."),
        )


def by_change(records: Iterable[Any], since: int | None, status: str | None = None) -> list[str]:
    """Numbers of the records changed at or after ``since`` (and in ``status``), ordered by ChangedAt then number:
    the order of every list (chosen by the mock)."""
    rows = [
        (r.changed_at, r.number)
        for r in records
        if (since is None or r.changed_at >= since) and (status is None or r.status == status)
    ]
    rows.sort()
    return [number for _, number in rows]


def paged(
    rt: Runtime,
    request: Request,
    query_key: Hashable,
    page: int,
    page_size: int,
    select: Callable[[], Sequence[K]],
    render: Callable[[K], dict[str, Any] | None],
) -> dict[str, Any]:
    """Stable paging over ``select``'s ordered keys, rendering each key's current value."""
    check_page_size(rt, page_size)
    ctx = context(request)
    result: Page[K] = rt.pager.page((ctx.client_id, query_key), page, page_size, rt.clock.now_ms(), select)
    items = [row for row in (render(k) for k in result.keys) if row is not None]
    out = {"Items": items, "Page": page, "PageSize": page_size, "TotalCount": result.total_count,
           "TotalPages": result.total_pages}
    ctx.page_info = {"TotalPages": result.total_pages, "TotalCount": result.total_count}
    return out
