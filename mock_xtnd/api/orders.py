"""CustomerOrders: create (idempotent on ExternalOrderNumber), list by change date, read, change, cancel."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from ..domain.backend import OrderInput, OrderLineInput, fingerprint
from ..domain.models import Address
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
from .schemas import CHOSEN, AddressIn, OrderIn, OrderLineIn, OrderList, OrderOut, OrderUpdateIn

OrderNumber = Annotated[str, Path(description="XTND's order number.", examples=["100001"])]


def _address(a: AddressIn | None) -> Address | None:
    return None if a is None else Address(a.Name, a.Street, a.PostalCode, a.City, a.CountryCode)


def _lines(lines: list[OrderLineIn]) -> list[OrderLineInput]:
    return [OrderLineInput(ln.ProductNumber, ln.Quantity, ln.UnitPrice, ln.Currency) for ln in lines]


def router(rt: Runtime) -> APIRouter:
    r = APIRouter(tags=["CustomerOrders"])
    b = rt.backend

    @r.post(
        "/api/CustomerOrders",
        operation_id="createCustomerOrder",
        response_model=OrderOut,
        status_code=201,
        summary="Create an order from the webshop",
        description="Creates the order and reserves its stock (available balance falls, firing "
        "AvailableBalanceChanged). Prices are kept exactly as sent. `ExternalOrderNumber` is the idempotency key: "
        "the same key with an identical body (equal once parsed, unknown fields ignored) answers 200 with the "
        "existing order; with a different body 409." + CHOSEN + " Ordering more than is available is accepted and "
        "backorders (available balance goes negative) unless the tenant sets allow_oversell: false." + CHOSEN,
        responses={**ERRORS_WRITE, 200: {"model": OrderOut, "description": "A safe retry: the existing order."}},
    )
    async def create_order(request: Request, body: OrderIn) -> Response:
        data = OrderInput(
            external_number=body.ExternalOrderNumber,
            customer_number=body.CustomerNumber,
            warehouse_number=body.WarehouseNumber,
            delivery_address=_address(body.DeliveryAddress),
            delivery_method=body.DeliveryMethod,
            expected_delivery_date=body.ExpectedDeliveryDate,
            lines=_lines(body.Lines),
        )
        order, created = b.create_order(data, fingerprint(body.model_dump(mode="json")))
        context(request).result_key = order.number
        return json_response(render.order_full(order), 201 if created else 200)

    @r.get(
        "/api/CustomerOrders",
        operation_id="listCustomerOrders",
        response_model=OrderList,
        summary="List orders by change date (the no-webhook fallback)",
        description="Order numbers with status and ChangedAt, ordered by ChangedAt then OrderNumber; then fetch "
        "each order singly." + CHOSEN,
        responses=ERRORS_READ,
    )
    async def list_orders(
        request: Request,
        changedSince: Annotated[str | None, Query(description=CHANGED_SINCE_DOC, json_schema_extra={"format": "date-time"})] = None,
        status: Annotated[Literal["Created", "Reserved", "Picked", "Cancelled"] | None, Query()] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000, description=PAGE_DOC)] = 1,
        pageSize: Annotated[int, Query(ge=1, description=PAGE_SIZE_DOC)] = rt.settings.paging.default_page_size,
    ) -> Response:
        since = changed_since_ms(changedSince)

        def select() -> list[str]:
            return by_change(b.state.orders.values(), since, status)

        def one(number: str) -> dict[str, object] | None:
            o = b.state.orders.get(number)
            return render.order_summary(o) if o else None

        return json_response(paged(rt, request, ("orders", since, status), page, pageSize, select, one))

    @r.get(
        "/api/CustomerOrders/{orderNumber}",
        operation_id="getCustomerOrder",
        response_model=OrderOut,
        summary="Read one order with lines, picked quantities and shipments",
        responses=ERRORS_ONE,
    )
    async def get_order(orderNumber: OrderNumber) -> Response:
        return json_response(render.order_full(b.order(orderNumber)))

    @r.put(
        "/api/CustomerOrders/{orderNumber}",
        operation_id="updateCustomerOrder",
        response_model=OrderOut,
        summary="Change lines or delivery data of an order (only while Created)",
        description="Only the given fields change. Once the order is Reserved (picking started) it is locked: "
        "422 with a message saying so (documented: no change allowed after OrderReserved).",
        responses=ERRORS_WRITE,
    )
    async def update_order(request: Request, orderNumber: OrderNumber, body: OrderUpdateIn) -> Response:
        given = body.model_fields_set
        order = b.update_order(
            orderNumber,
            lines=_lines(body.Lines) if body.Lines is not None else None,
            delivery_address=_address(body.DeliveryAddress),
            delivery_method=body.DeliveryMethod,
            expected_delivery_date=body.ExpectedDeliveryDate,
            date_given="ExpectedDeliveryDate" in given,
        )
        context(request).result_key = order.number
        return json_response(render.order_full(order))

    @r.post(
        "/api/CustomerOrders/{orderNumber}/cancel",
        operation_id="cancelCustomerOrder",
        response_model=OrderOut,
        summary="Cancel an order from the webshop (only while Created)",
        description="Releases the reservation (available balance rises). Locked once Reserved." + CHOSEN,
        responses=ERRORS_WRITE,
    )
    async def cancel_order(request: Request, orderNumber: OrderNumber) -> Response:
        order = b.cancel_order(orderNumber, "webshop")
        context(request).result_key = order.number
        return json_response(render.order_full(order))

    return r
