"""Products: list by change date and status, then read each product singly."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from ..runtime import Runtime
from . import render
from .common import (
    CHANGED_SINCE_DOC,
    ERRORS_ONE,
    ERRORS_READ,
    PAGE_DOC,
    PAGE_SIZE_DOC,
    by_change,
    changed_since_ms,
    paged,
)
from .errors import json_response
from .schemas import ProductList, ProductOut


def router(rt: Runtime) -> APIRouter:
    r = APIRouter(tags=["Products"])
    b = rt.backend

    @r.get(
        "/api/Products",
        operation_id="listProducts",
        response_model=ProductList,
        summary="List product numbers by change date; then GET each product",
        responses=ERRORS_READ,
    )
    async def list_products(
        request: Request,
        changedSince: Annotated[str | None, Query(description=CHANGED_SINCE_DOC, json_schema_extra={"format": "date-time"})] = None,
        status: Annotated[Literal["Active", "Inactive", "Discontinued"] | None, Query()] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000, description=PAGE_DOC)] = 1,
        pageSize: Annotated[int, Query(ge=1, description=PAGE_SIZE_DOC)] = rt.settings.paging.default_page_size,
    ) -> Response:
        since = changed_since_ms(changedSince)

        def select() -> list[str]:
            return by_change(b.state.products.values(), since, status)

        def one(number: str) -> dict[str, object] | None:
            p = b.state.products.get(number)
            return render.product_summary(p) if p else None

        return json_response(paged(rt, request, ("products", since, status), page, pageSize, select, one))

    @r.get(
        "/api/Products/{productNumber:path}",
        operation_id="getProduct",
        response_model=ProductOut,
        summary="Read one product",
        description="Product numbers are free text and may contain spaces or slashes: URL-encode the segment "
        "(a slash as %2F).",
        responses=ERRORS_ONE,
    )
    async def get_product(
        productNumber: Annotated[str, Path(description="Free text; URL-encoded.", examples=["100003"])],
    ) -> Response:
        return json_response(render.product_full(b.product(productNumber)))

    return r
