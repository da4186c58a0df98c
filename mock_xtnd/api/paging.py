"""XTND's two paging schemes (docs/wire.md, "Paging"):

- **A** (``GET CustomerOrders``, ``GET Products``): ``pageCount`` is the page size, ``pageOffset`` the page *index*
  (0 = first); the answer is a bare array and a short page is the last. A page past the end at ``pageOffset > 0``
  answers 400 (an observed quirk, switchable).
- **B** (every other list): ``pageNumber`` from 1; the answer is ``{"<name>List": [...], "paginationInfo": {...}}``.

Paging is live by default: each page is cut from the matching keys as they are when it is asked for. With
``paging.stable_snapshots`` the keys of a pass are fixed at its first page (chosen, off by default).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import orjson

from .call import Call, RawJson
from .errors import ApiError, invalid

K = TypeVar("K", bound=Hashable)


def _keys(call: Call, first_page: bool, select: Callable[[], Sequence[K]]) -> Sequence[K]:
    rt = call.rt
    if not rt.settings.paging.stable_snapshots:
        return select()
    pass_key = (call.user, call.route.op_id,
                tuple(sorted((k, str(v)) for k, v in call.query.items() if k not in ("pageNumber", "pageOffset"))))
    return rt.pager.keys(pass_key, first_page, call.now, select)


def page_a(call: Call, select: Callable[[], Sequence[K]]) -> Sequence[K]:
    """The keys of the page asked for (scheme A). Records the paging facts on the journal record."""
    paging = call.rt.settings.paging
    count = call.q("pageCount", paging.default_page_count)
    offset = call.q("pageOffset", 0)
    problems = []
    if not 1 <= count <= paging.max_page_count:
        problems.append(("pageCount", f"The page size must be between 1 and {paging.max_page_count}."))
    if offset < 0:
        problems.append(("pageOffset", "The page index must be 0 or more (0 is the first page)."))
    if problems:
        raise invalid(problems)
    keys = _keys(call, offset == 0, select)
    page = keys[offset * count:(offset + 1) * count]
    record = call.record
    record.update(pageScheme="A", page=offset, pageSize=count, rows=len(page), lastPage=len(page) < count)
    if not page and offset > 0 and call.rt.settings.quirks.page_past_end_400:
        record["quirk"] = "page-past-end"
        raise ApiError(400, f"pageOffset {offset} is past the last page ({math.ceil(len(keys) / count)} page(s) of "
                            f"{count}).")
    return page


def _page_b_keys(call: Call, select: Callable[[], Sequence[K]]) -> tuple[Sequence[K], dict[str, Any]]:
    size = call.rt.settings.paging.page_size
    number = call.q("pageNumber", 1)
    if number < 1:
        raise invalid([("pageNumber", "The page number must be 1 or more (1 is the first page).")])
    keys = _keys(call, number == 1, select)
    total = len(keys)
    pages = math.ceil(total / size)
    call.record.update(pageScheme="B", page=number, pageSize=size, totalPages=pages, lastPage=number >= pages)
    return keys[(number - 1) * size:number * size], {"currentPage": number, "totalPages": pages, "pageSize": size,
                                                     "totalResources": total, "message": None}


def page_b(call: Call, list_key: str, select: Callable[[], Sequence[K]],
           render: Callable[[K], dict[str, Any] | None]) -> dict[str, Any]:
    """A scheme B answer: the page's items under ``list_key`` and ``paginationInfo``."""
    keys, info = _page_b_keys(call, select)
    items = [row for row in (render(k) for k in keys) if row is not None]
    call.record["rows"] = len(items)
    return {list_key: items, "paginationInfo": info}


def page_b_json(call: Call, list_key: str, select: Callable[[], Sequence[K]],
                render_rows: Callable[[Sequence[K]], list[str]]) -> RawJson:
    """The same answer from rows rendered straight to JSON text (the hot lists: no dict per row, no second pass
    of the serialiser over them). ``render_rows`` renders the page's keys that still exist."""
    keys, info = _page_b_keys(call, select)
    rows = render_rows(keys)
    call.record["rows"] = len(rows)
    return RawJson(f'{{"{list_key}":[{",".join(rows)}],"paginationInfo":'.encode()
                   + orjson.dumps(info) + b"}")
