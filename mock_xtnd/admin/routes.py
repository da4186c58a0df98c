"""The mock's own control surface under /_mock: never part of XTND's contract (its own docs at /_mock/docs).

camelCase, with records named as the API names them (docs/control-surface.md): one vocabulary.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from ..api.errors import json_response
from ..api.facts import BODY_DATES_MS, parse_date
from ..api.render import availability, order_full
from ..domain.backend import INT32_MAX
from ..domain.clock import iso_ms
from ..domain.errors import DomainError, FieldError, bad_request
from ..persistence import state_records
from ..runtime import Runtime
from ..settings import QuirkSettings


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class StockMove(_Body):
    productNumber: str = Field(min_length=1, max_length=200)
    warehouse: str = Field(min_length=1, max_length=50)
    balanceDifference: int | None = Field(None, ge=-INT32_MAX, le=INT32_MAX)
    physicalBalance: int | None = Field(None, ge=0, le=INT32_MAX)
    blockedBalance: int | None = Field(None, ge=0, le=INT32_MAX)


class DeliveryDate(_Body):
    askedDeliveryDate: str = Field(min_length=1, max_length=40, description="ISO 8601 date or date and time")


class Advance(_Body):
    seconds: float = Field(ge=0, le=365 * 86400)


class User(_Body):
    username: str = Field(min_length=1, max_length=200, pattern=r"^[^:\s]+$")
    password: str = Field(min_length=1, max_length=200)


class Quirks(_Body):
    transientErrors: float | None = Field(None, ge=0, le=1)
    pagePastEnd400: bool | None = None
    ordersListNeedsModifiedDate: bool | None = None
    productsModifiedMissesNew: bool | None = None


QUIRK_FIELDS = {"transientErrors": "transient_errors", "pagePastEnd400": "page_past_end_400",
                "ordersListNeedsModifiedDate": "orders_list_needs_modified_date",
                "productsModifiedMissesNew": "products_modified_misses_new"}


def state_view(rt: Runtime, include_products: bool = False) -> dict[str, Any]:
    st = rt.backend.state
    view: dict[str, Any] = {
        "now": iso_ms(rt.clock.now_ms()),
        "balances": [
            {"productNumber": s.product_number, "warehouse": s.warehouse_number, "physicalBalance": s.on_hand,
             "orderedQuantity": s.allocated, "blockedBalance": s.blocked, "availableBalanceNow": s.available}
            for s in sorted(st.stock.values(), key=lambda s: (s.product_number, s.warehouse_number))
        ],
        "orders": [
            {"orderNumber": o.number, "orderNumberExternal": o.external_number, "orderStatus": o.status}
            for o in sorted(st.orders.values(), key=lambda o: int(o.number) if o.number.isdecimal() else 0)
        ],
    }
    if include_products:
        view["products"] = [{"productNumber": p.number, "enabled": p.status == "Active"}
                            for p in st.products.values()]
    return view


def truth_view(rt: Runtime) -> bytes:
    """Every record the fake holds, as the store would persist it, plus counters and the outbox: what a test
    compares before and after a refused request to prove nothing changed."""
    records: dict[str, dict[str, Any]] = {}
    for kind, key, obj in state_records(rt.backend.state):
        records.setdefault(kind, {})[key] = obj
    for part in rt.parts:  # the parts' own persisted records: subscriptions, sales channels' holds
        for kind, key, obj in getattr(part, "truth_records", list)():
            records.setdefault(kind, {})[key] = obj
    outbox = rt.webhooks.outbox_records() if rt.webhooks is not None else []
    return orjson.dumps({"records": records, "counters": rt.ids.counters, "outbox": outbox,
                         "users": sorted(rt.users)}, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def router(rt: Runtime) -> APIRouter:
    r = APIRouter()
    b = rt.backend
    dates = rt.dates.text

    @r.post("/reset", summary="Back to the seeded start (and the config file's subscriptions, users and quirks)")
    async def reset() -> Response:
        rt.reset()
        return json_response({"reset": True, "now": iso_ms(rt.clock.now_ms())})

    @r.get("/state", summary="The truth in summary: balances per product and warehouse, orders with status")
    async def state(include: Annotated[str | None, Query(pattern="^products$")] = None) -> Response:
        return json_response(state_view(rt, include_products=include == "products"))

    @r.get("/truth", summary="Every record, the id counters and the outbox (for before/after comparisons)")
    async def truth() -> Response:
        return Response(truth_view(rt), media_type="application/json")

    @r.post("/stock", summary="Back-office stock move on the real ledger: {productNumber, warehouse, "
                              "balanceDifference} or {..., physicalBalance}, and/or blockedBalance")
    async def stock(body: StockMove) -> Response:
        if body.balanceDifference is None and body.physicalBalance is None and body.blockedBalance is None:
            raise bad_request("Give balanceDifference, physicalBalance or blockedBalance.",
                              ("balanceDifference", "Nothing to move."))
        item = b.set_stock(body.productNumber, body.warehouse, delta=body.balanceDifference,
                           on_hand=body.physicalBalance, blocked=body.blockedBalance)
        return json_response(availability(b, item, dates))

    @r.post("/orders/{orderNumber}/reserve", summary="Back office: picking starts (Created -> Reserved)")
    async def reserve(orderNumber: str) -> Response:
        return json_response(order_full(b, b.reserve_order(orderNumber), dates))

    @r.post("/orders/{orderNumber}/pick",
            summary="Back office: ship what is on hand (-> Terminated, or PartiallyDelivered when short)")
    async def pick(orderNumber: str) -> Response:
        return json_response(order_full(b, b.pick_order(orderNumber), dates))

    @r.post("/orders/{orderNumber}/cancel", summary="Back office: cancel (-> Annulled)")
    async def cancel(orderNumber: str) -> Response:
        return json_response(order_full(b, b.cancel_order(orderNumber, "backoffice"), dates))

    @r.post("/orders/{orderNumber}/delivery-date", summary="Back office: the asked delivery date moved")
    async def delivery_date(orderNumber: str, body: DeliveryDate) -> Response:
        ms = parse_date(body.askedDeliveryDate)
        if ms is None or not BODY_DATES_MS[0] <= ms <= BODY_DATES_MS[1]:
            raise bad_request("askedDeliveryDate is not a date.",
                              ("askedDeliveryDate", "Expected an ISO 8601 date, e.g. 2026-01-09."))
        return json_response(order_full(b, b.move_delivery_date(orderNumber, ms), dates))

    @r.get("/prices", summary="A customer's best price now per product, with where it comes from (the price book "
                              "behind ProductPrices, without using up the API's rate limit)")
    async def prices(customerNumber: Annotated[str, Query(min_length=1, max_length=100)],
                     productNumber: Annotated[list[str], Query(max_length=200)]) -> Response:
        customer = b.customer(customerNumber)
        now = rt.clock.now_ms()
        items = []
        for number in dict.fromkeys(productNumber):
            product = b.state.products.get(number)
            if product is None:
                continue
            best = b.best_price(customer, product, now)
            items.append({"productNumber": number, "price": best.price, "listPrice": best.list_price,
                          "currency": best.currency, "priceSource": best.source,
                          "validTo": iso_ms(best.valid_to) if best.valid_to is not None else None})
        return json_response({"customerNumber": customerNumber, "items": items})

    @r.get("/users", summary="The API users (passwords masked)")
    async def users() -> Response:
        return json_response({"items": [{"username": u, "password": "***"} for u in rt.users]})

    @r.put("/users", summary="Replace the API users: [{username, password}]; a changed password makes the next "
                             "call with the old one a 401")
    async def put_users(body: list[User]) -> Response:
        if not body:
            raise bad_request("At least one user is required.", ("body", "At least one user."))
        names = [u.username for u in body]
        if len(set(names)) != len(names):
            raise bad_request("Usernames must be unique.", ("username", "Duplicate username."))
        rt.users = {u.username: u.password for u in body}
        return json_response({"items": [{"username": u, "password": "***"} for u in rt.users]})

    @r.get("/quirks", summary="The production quirks (docs/wire.md)")
    async def quirks() -> Response:
        q = rt.settings.quirks
        return json_response({camel: getattr(q, snake) for camel, snake in QUIRK_FIELDS.items()})

    @r.put("/quirks", summary="Switch quirks: {transientErrors, pagePastEnd400, ordersListNeedsModifiedDate, "
                              "productsModifiedMissesNew} (fields left out keep their value)")
    async def put_quirks(body: Quirks) -> Response:
        current = rt.settings.quirks.model_dump()
        for camel, snake in QUIRK_FIELDS.items():
            value = getattr(body, camel)
            if value is not None:
                current[snake] = value
        rt.settings.quirks = QuirkSettings.model_validate(current)
        rt.reset_quirk_dice()
        return await quirks()

    @r.get("/journal", summary="Every API call and webhook delivery attempt, in order (docs/journal-format.md)")
    async def journal(
        kind: Annotated[str | None, Query(pattern="^(api|delivery)$")] = None,
        user: Annotated[str | None, Query(max_length=200)] = None,
        since: Annotated[int | None, Query(ge=0)] = None,
        path: Annotated[str | None, Query(max_length=2000)] = None,
        limit: Annotated[int | None, Query(ge=1)] = None,
        format: Annotated[str, Query(pattern="^(json|jsonl)$")] = "json",
    ) -> Response:
        lines = rt.journal.lines(kind=kind, user=user, since=since, path=path, limit=limit)
        if format == "jsonl":
            return Response(rt.journal.jsonl(lines), media_type="application/x-ndjson")
        return Response(rt.journal.json_page(lines), media_type="application/json; charset=utf-8")

    @r.get("/clock", summary="The fake's clock")
    async def clock() -> Response:
        return json_response({"now": iso_ms(rt.clock.now_ms()), "kind": "virtual" if rt.clock.is_virtual else "real"})

    @r.post("/clock/advance", summary="Virtual clock only: run every timer that falls due, in order, then return")
    async def advance(body: Advance) -> Response:
        if not rt.clock.is_virtual:
            raise DomainError(400, "The clock is real; start with --clock virtual to advance it.",
                              [FieldError("seconds", "The clock is real.")], "refused")
        await rt.timeloop.advance(int(body.seconds * 1000))
        return json_response({"now": iso_ms(rt.clock.now_ms())})

    return r
