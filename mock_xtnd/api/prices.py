"""ProductPrices: the customer's net best price right now (documented), per product."""

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
from .schemas import CHOSEN, PriceList


def router(rt: Runtime) -> APIRouter:
    r = APIRouter(tags=["ProductPrices"])
    b = rt.backend

    @r.get(
        "/api/ProductPrices",
        operation_id="listProductPrices",
        response_model=PriceList,
        summary="A customer's best net prices right now",
        description="The minimum over every active price list, customer-group discount list and campaign price "
        "list that applies to the customer (documented). `customerNumber` is required. An item's ChangedAt is the "
        "latest edit of its price inputs or campaign start/end that has passed, so `changedSince` also finds "
        "prices that changed because a campaign began or expired." + CHOSEN,
        responses={**ERRORS_READ, 422: {**_ERR, "description": "Validation: unknown customer."}},
    )
    async def list_prices(
        request: Request,
        customerNumber: Annotated[str, Query(min_length=1, examples=["10001"])],
        productNumber: Annotated[list[str], Query(description="Repeatable; at most 200.")] = [],  # noqa: B006
        changedSince: Annotated[str | None, Query(description=CHANGED_SINCE_DOC, json_schema_extra={"format": "date-time"})] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000, description=PAGE_DOC)] = 1,
        pageSize: Annotated[int, Query(ge=1, description=PAGE_SIZE_DOC)] = rt.settings.paging.default_page_size,
    ) -> Response:
        since = changed_since_ms(changedSince)
        check_product_numbers(rt, productNumber)
        customer = b.state.customers.get(customerNumber)
        if customer is None:
            raise unprocessable(f"Customer {customerNumber!r} does not exist.", ("customerNumber", "Unknown customer."))
        now = rt.clock.now_ms()
        products = b.state.products

        def select() -> list[str]:
            numbers = [pn for pn in dict.fromkeys(productNumber) if pn in products] if productNumber else list(products)
            rows = []
            for pn in numbers:
                if products[pn].status != "Active":
                    continue
                changed = b.price_changed_at_for(customer, pn, now)
                if since is None or changed >= since:
                    rows.append((changed, pn))
            rows.sort()
            return [pn for _, pn in rows]

        def one(pn: str) -> dict[str, object] | None:
            p = products.get(pn)
            return render.price_row(customer.number, b.best_price(customer, p, rt.clock.now_ms())) if p else None

        query_key = ("prices", customer.number, since, tuple(sorted(set(productNumber))))
        return json_response(paged(rt, request, query_key, page, pageSize, select, one))

    return r
