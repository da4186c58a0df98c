"""Customers: list by change date, read singly, create from the webshop (idempotent on ExternalCustomerNumber)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from ..domain.backend import CustomerInput, fingerprint
from ..runtime import Runtime
from . import render
from .common import (
    CHANGED_SINCE_DOC,
    ERRORS_ONE,
    ERRORS_READ,
    ERRORS_WRITE,
    PAGE_DOC,
    PAGE_SIZE_DOC,
    by_change,
    changed_since_ms,
    context,
    paged,
)
from .errors import json_response
from .orders import _address
from .schemas import CHOSEN, CustomerIn, CustomerList, CustomerOut


def router(rt: Runtime) -> APIRouter:
    r = APIRouter(tags=["Customers"])
    b = rt.backend

    @r.get(
        "/api/Customers",
        operation_id="listCustomers",
        response_model=CustomerList,
        summary="List customer numbers by change date; then GET each customer",
        responses=ERRORS_READ,
    )
    async def list_customers(
        request: Request,
        changedSince: Annotated[str | None, Query(description=CHANGED_SINCE_DOC, json_schema_extra={"format": "date-time"})] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000, description=PAGE_DOC)] = 1,
        pageSize: Annotated[int, Query(ge=1, description=PAGE_SIZE_DOC)] = rt.settings.paging.default_page_size,
    ) -> Response:
        since = changed_since_ms(changedSince)

        def select() -> list[str]:
            return by_change(b.state.customers.values(), since)

        def one(number: str) -> dict[str, object] | None:
            c = b.state.customers.get(number)
            return render.customer_summary(c) if c else None

        return json_response(paged(rt, request, ("customers", since), page, pageSize, select, one))

    @r.get(
        "/api/Customers/{customerNumber}",
        operation_id="getCustomer",
        response_model=CustomerOut,
        summary="Read one customer (group, price list, salesperson, addresses)",
        responses=ERRORS_ONE,
    )
    async def get_customer(customerNumber: Annotated[str, Path(examples=["10001"])]) -> Response:
        return json_response(render.customer_full(b.customer(customerNumber)))

    @r.post(
        "/api/Customers",
        operation_id="createCustomer",
        response_model=CustomerOut,
        status_code=201,
        summary="Create a customer from the webshop",
        description="`ExternalCustomerNumber` is the idempotency key, as for orders: identical retry -> 200 with "
        "the existing customer; a different body -> 409." + CHOSEN,
        responses={**ERRORS_WRITE, 200: {"model": CustomerOut, "description": "A safe retry: the existing customer."}},
    )
    async def create_customer(request: Request, body: CustomerIn) -> Response:
        data = CustomerInput(
            external_number=body.ExternalCustomerNumber,
            name=body.Name,
            org_number=body.OrganizationNumber,
            email=body.Email,
            phone=body.Phone,
            customer_group=body.CustomerGroup,
            price_list=body.PriceList,
            invoice_address=_address(body.InvoiceAddress),
            delivery_address=_address(body.DeliveryAddress),
        )
        customer, created = b.create_customer(data, fingerprint(body.model_dump(mode="json")))
        context(request).result_key = customer.number
        return json_response(render.customer_full(customer), 201 if created else 200)

    return r
