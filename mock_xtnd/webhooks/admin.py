"""/_mock/webhooks (subscriptions), /_mock/deliveries (the delivery log), /_mock/faults/deliveries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Query
from starlette.responses import Response

from ..api.errors import json_response
from ..domain.errors import DomainError, FieldError, not_found
from .subscriptions import Subscription

if TYPE_CHECKING:
    from .service import Webhooks

SUBSCRIPTION_EXAMPLE = {
    "name": "webshop", "techContactEmail": "dev@example.com", "callbackUrl": "http://127.0.0.1:9000/xtnd/webhooks",
    "secret": "s3cret", "warehouseFilter": [], "active": True, "triggers": ["AvailableBalanceChanged", "OrderPicked"],
}


def router(w: Webhooks) -> APIRouter:
    r = APIRouter(tags=["Webhooks"])

    @r.get("/webhooks", summary="Subscriptions (secrets masked)")
    async def list_subscriptions() -> Response:
        # idEpoch: mixed into this run's webhook Ids, so they never repeat those of another run (docs/webhooks.md)
        return json_response({"items": [s.to_json() for s in w.subscriptions.values()], "idEpoch": w.rt.ids.epoch})

    @r.post("/webhooks", status_code=201, summary="Add a subscription")
    async def add(body: Annotated[dict[str, Any], Body(examples=[SUBSCRIPTION_EXAMPLE])]) -> Response:
        sub = Subscription.from_json(body)
        if sub.name in w.subscriptions:
            raise DomainError(400, f"A subscription named {sub.name!r} exists.", [FieldError("name", "Taken.")])
        w.save_subscription(sub.name, sub)
        return json_response(sub.to_json(), 201)

    @r.put("/webhooks/{name}", summary="Replace a subscription")
    async def replace(name: str, body: Annotated[dict[str, Any], Body(examples=[SUBSCRIPTION_EXAMPLE])]) -> Response:
        if name not in w.subscriptions:
            raise not_found("Subscription", name, "name")
        if "name" in body and body["name"] != name:
            raise DomainError(400, "A subscription cannot be renamed: name must match the path.",
                              [FieldError("name", f"Expected {name!r}.")], "invalid")
        sub = Subscription.from_json({**body, "name": name})
        w.save_subscription(name, sub)
        return json_response(sub.to_json())

    @r.delete("/webhooks/{name}", summary="Remove a subscription")
    async def remove(name: str) -> Response:
        if name not in w.subscriptions:
            raise not_found("Subscription", name, "name")
        w.save_subscription(name, None)
        return json_response({"deleted": name})

    @r.post("/webhooks/forge", summary="Send a hook with a bad or missing signature (for verify-signatures)")
    async def forge(body: Annotated[dict[str, Any], Body(examples=[{
        "action": "AvailableBalanceChanged", "signature": "bad",
        "details": {"ProductNumber": "100001", "Warehouse": "1", "AvailableBalance": 9999}}])]) -> Response:
        unknown = [k for k in body if k not in ("action", "details", "signature", "subscription")]
        if unknown:
            raise DomainError(400, f"Unknown field(s) {unknown}.", [FieldError(k, "Unknown field.") for k in unknown],
                              "invalid")
        details = body.get("details")
        if not isinstance(details, dict):
            raise DomainError(400, "details must be an object.", [FieldError("details", "Object required.")],
                              "invalid")
        sent = w.forge(str(body.get("action", "")), details, str(body.get("signature", "bad")),
                       body.get("subscription"))
        return json_response({"items": [w.delivery_json(d) for d in sent]}, 202)

    @r.get("/deliveries", summary="The delivery log: each attempt's time, status or error, latency")
    async def deliveries(
        status: Annotated[str | None, Query(pattern="^(pending|delivered|gone|dead)$")] = None,
        action: Annotated[str | None, Query()] = None,
        subscription: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    ) -> Response:
        items = []
        for d in w.query(status, action, subscription):
            items.append(w.delivery_json(d))
            if len(items) >= limit:
                break
        # what the outbox keeps and what retention dropped (counted by status): finished deliveries are bounded
        return json_response({"items": items, "outbox": w.outbox.stats()})

    @r.get("/deliveries/{delivery_id}", summary="One delivery with its attempts")
    async def delivery(delivery_id: str) -> Response:
        d = w.outbox.get(delivery_id)
        if d is None:
            raise not_found("Delivery", delivery_id, "id")
        return json_response(w.delivery_json(d))

    @r.post("/deliveries/{delivery_id}/redeliver", summary="Send a dead-lettered (or any finished) delivery again")
    async def redeliver(delivery_id: str) -> Response:
        return json_response(w.delivery_json(w.redeliver(delivery_id)), 202)

    @r.get("/faults/deliveries", summary="The delivery fault plan")
    async def get_faults() -> Response:
        return json_response(w.faults.to_json())

    @r.put("/faults/deliveries", summary="Change the delivery fault plan (fields as in GET; unknown -> 400)")
    async def put_faults(body: Annotated[dict[str, Any], Body(examples=[{"duplicate": 0.1, "batch": 1}])]) -> Response:
        w.faults.update(body)
        return json_response(w.faults.to_json())

    return r
