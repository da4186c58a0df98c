"""ProductAvailability: available balance per product and warehouse, by change date, products, warehouses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ..domain.errors import unprocessable
from ..runtime import Runtime
from . import render
from .common import (
    _ERR,
    CHANGED_SINCE_DOC,
    ERRORS_READ,
    PAGE_DOC,
    PAGE_SIZE_DOC,
    changed_since_ms,
    check_product_numbers,
    paged,
)
from .errors import json_response
from .schemas import CHOSEN, AvailabilityList


def router(rt: Runtime) -> APIRouter:
    r = APIRouter(tags=["ProductAvailability"])
    b = rt.backend

    @r.get(
        "/api/ProductAvailability",
        operation_id="listProductAvailability",
        response_model=AvailabilityList,
        summary="Available balances, filtered by change date, products and warehouses",
        description="XTND recommends calling this when an AvailableBalanceChanged hook arrives, batching the "
        "products of many hooks into one call; it does not accept clients that call it every N minutes for each "
        "product (documented). Repeat `productNumber` (at most 200 per call) and `warehouseNumber` to filter."
        + CHOSEN,
        responses={**ERRORS_READ, 422: {**_ERR, "description": "Validation: unknown warehouse."}},
    )
    async def list_availability(
        request: Request,
        changedSince: Annotated[str | None, Query(description=CHANGED_SINCE_DOC, json_schema_extra={"format": "date-time"})] = None,
        productNumber: Annotated[list[str], Query(description="Repeatable; at most 200.")] = [],  # noqa: B006
        warehouseNumber: Annotated[list[str], Query(description="Repeatable.")] = [],  # noqa: B006
        page: Annotated[int, Query(ge=1, le=1_000_000, description=PAGE_DOC)] = 1,
        pageSize: Annotated[int, Query(ge=1, description=PAGE_SIZE_DOC)] = rt.settings.paging.default_page_size,
    ) -> Response:
        since = changed_since_ms(changedSince)
        check_product_numbers(rt, productNumber)
        for wh in warehouseNumber:
            if wh not in b.state.warehouses:
                raise unprocessable(f"Warehouse {wh!r} does not exist.", ("warehouseNumber", f"No warehouse {wh!r}."))
        warehouses = list(dict.fromkeys(warehouseNumber)) or list(b.state.warehouses)
        stock = b.state.stock

        def select() -> list[tuple[str, str]]:
            if productNumber:
                items = [stock[(pn, wh)] for pn in dict.fromkeys(productNumber) for wh in warehouses if (pn, wh) in stock]
            else:
                wanted = set(warehouses)
                items = [s for s in stock.values() if s.warehouse_number in wanted]
            if since is not None:
                items = [s for s in items if s.changed_at >= since]
            items.sort(key=lambda s: (s.changed_at, s.product_number, s.warehouse_number))
            return [(s.product_number, s.warehouse_number) for s in items]

        def one(key: tuple[str, str]) -> dict[str, object] | None:
            s = stock.get(key)
            return render.availability_row(s) if s else None

        query_key = ("availability", since, tuple(sorted(set(productNumber))), tuple(sorted(warehouses)))
        return json_response(paged(rt, request, query_key, page, pageSize, select, one))

    return r
