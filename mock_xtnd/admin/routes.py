"""The mock's own control surface under /_mock: never part of XTND's contract (its own docs at /_mock/docs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from ..api.errors import json_response
from ..api.render import order_full
from ..domain.clock import iso_ms
from ..domain.errors import DomainError
from ..runtime import Runtime


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class StockMove(_Body):
    ProductNumber: str = Field(min_length=1)
    WarehouseNumber: str = Field(min_length=1)
    Delta: int | None = None
    OnHand: int | None = Field(None, ge=0)


class DeliveryDate(_Body):
    ExpectedDeliveryDate: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


class Advance(_Body):
    Seconds: float = Field(ge=0, le=365 * 86400)


def state_view(rt: Runtime, include_products: bool = False) -> dict[str, Any]:
    st = rt.backend.state
    view = {
        "Now": iso_ms(rt.clock.now_ms()),
        "Balances": [
            {"ProductNumber": s.product_number, "WarehouseNumber": s.warehouse_number, "OnHand": s.on_hand,
             "Reserved": s.reserved, "AvailableBalance": s.available}
            for s in sorted(st.stock.values(), key=lambda s: (s.product_number, s.warehouse_number))
        ],
        "Orders": [
            {"OrderNumber": o.number, "ExternalOrderNumber": o.external_number, "Status": o.status}
            for o in sorted(st.orders.values(), key=lambda o: int(o.number) if o.number.isdigit() else 0)
        ],
    }
    if include_products:
        view["Products"] = [{"ProductNumber": p.number, "Status": p.status} for p in st.products.values()]
    return view


def router(rt: Runtime) -> APIRouter:
    r = APIRouter()
    b = rt.backend

    @r.post("/reset", summary="Back to the seeded start (and the config file's subscriptions)")
    async def reset() -> Response:
        rt.reset()
        return json_response({"Reset": True, "Now": iso_ms(rt.clock.now_ms())})

    @r.get("/state", summary="The truth: balances per product x warehouse, orders with status")
    async def state(include: Annotated[str | None, Query(pattern="^products$")] = None) -> Response:
        return json_response(state_view(rt, include_products=include == "products"))

    @r.post("/stock", summary="Back-office stock move: {ProductNumber, WarehouseNumber, Delta} or {..., OnHand}")
    async def stock(body: StockMove) -> Response:
        item = b.set_stock(body.ProductNumber, body.WarehouseNumber, delta=body.Delta, on_hand=body.OnHand)
        return json_response({"ProductNumber": item.product_number, "WarehouseNumber": item.warehouse_number,
                              "OnHand": item.on_hand, "Reserved": item.reserved, "AvailableBalance": item.available})

    @r.post("/orders/{orderNumber}/reserve", summary="Back office: picking starts (Created -> Reserved)")
    async def reserve(orderNumber: str) -> Response:
        return json_response(order_full(b.reserve_order(orderNumber)))

    @r.post("/orders/{orderNumber}/pick", summary="Back office: ship (-> Picked, with shipment and tracking)")
    async def pick(orderNumber: str) -> Response:
        return json_response(order_full(b.pick_order(orderNumber)))

    @r.post("/orders/{orderNumber}/cancel", summary="Back office: cancel (Created or Reserved -> Cancelled)")
    async def cancel(orderNumber: str) -> Response:
        return json_response(order_full(b.cancel_order(orderNumber, "backoffice")))

    @r.post("/orders/{orderNumber}/delivery-date", summary="Back office: the expected delivery date moved")
    async def delivery_date(orderNumber: str, body: DeliveryDate) -> Response:
        return json_response(order_full(b.move_delivery_date(orderNumber, body.ExpectedDeliveryDate)))

    @r.post("/tokens/expire", summary="Expire every issued token (the next call gets 401)")
    async def expire_tokens() -> Response:
        return json_response({"Expired": rt.expire_tokens()})

    @r.get("/journal", summary="Every API call and webhook delivery attempt, in order (docs/journal-format.md)")
    async def journal(
        kind: Annotated[str | None, Query()] = None,
        clientId: Annotated[str | None, Query()] = None,
        since: Annotated[int | None, Query(ge=0)] = None,
        path: Annotated[str | None, Query()] = None,
        limit: Annotated[int | None, Query(ge=1)] = None,
        format: Annotated[str, Query(pattern="^(json|jsonl)$")] = "json",
    ) -> Response:
        lines = rt.journal.lines(kind=kind, client_id=clientId, since=since, path=path, limit=limit)
        if format == "jsonl":
            return Response(rt.journal.jsonl(lines), media_type="application/x-ndjson")
        return Response(rt.journal.json_page(lines), media_type="application/json; charset=utf-8")

    @r.get("/clock", summary="The fake's clock")
    async def clock() -> Response:
        return json_response({"Now": iso_ms(rt.clock.now_ms()), "Kind": "virtual" if rt.clock.is_virtual else "real"})

    @r.post("/clock/advance", summary="Virtual clock only: run every timer that falls due, in order, then return")
    async def advance(body: Advance) -> Response:
        if not rt.clock.is_virtual:
            raise DomainError(409, "The clock is real; start with --clock virtual to advance it.",
                              error_type="Validation")
        await rt.timeloop.advance(int(body.Seconds * 1000))
        return json_response({"Now": iso_ms(rt.clock.now_ms())})

    return r
