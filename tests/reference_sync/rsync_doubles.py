"""A tiny test double of XTND's *wire behaviour* for the reference sync's unit tests.

It answers the way the contract says XTND answers (token, error envelope and kinds, Retry-After, rate-limit
headers, paging envelope, idempotent order POST) with a few records in dicts, and lets a test script failures
("the next GET ProductAvailability answers 500"). It is not the fake: integration tests use mock_xtnd itself.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mock_xtnd.webhooks.signing import sign
from reference_sync.app import Service

API = "http://xtnd.test/api"

# make_service(**config_overrides) -> Service (see conftest.py)
ServiceFactory = Callable[..., Service]
SECRET = "hook-secret"


@dataclass
class Call:
    method: str
    path: str  # below /api, decoded, e.g. "CustomerOrders/100001"
    raw_path: str  # as sent, still percent-encoded
    query: dict[str, list[str]]
    body: bytes
    status: int = 0


@dataclass
class Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


def envelope(error_type: str, message: str, *errors: tuple[str, str]) -> dict[str, Any]:
    return {
        "ErrorType": error_type,
        "Message": message,
        "Errors": [{"Field": f, "Message": m} for f, m in errors],
        "TraceId": "trace-1",
    }


def iso(n: int) -> str:
    """A ChangedAt n seconds after a fixed start."""
    return f"2026-01-05T08:{n // 60:02d}:{n % 60:02d}.000Z"


class XtndDouble:
    def __init__(self, *, page_size_limit: int = 1000) -> None:
        self.calls: list[Call] = []
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.token_lifetime = 3600
        self._token_ids = itertools.count(1)
        self._order_ids = itertools.count(100001)
        self.script: dict[str, deque[Scripted]] = {}
        self.page_size_limit = page_size_limit
        self.rate_remaining: int | None = None  # when set, every answer reports it (and x-ratelimit-reset: 1)
        # (ProductNumber, WarehouseNumber) -> (AvailableBalance, ChangedAt)
        self.balances: dict[tuple[str, str], tuple[int, str]] = {}
        self.orders: dict[str, dict[str, Any]] = {}  # OrderNumber -> full order
        self.order_bodies: dict[str, bytes] = {}  # ExternalOrderNumber -> canonical body
        self.customers: dict[str, dict[str, Any]] = {
            "10001": {
                "CustomerNumber": "10001",
                "Name": "Butik AB",
                "Currency": "SEK",
                "DeliveryAddress": {
                    "Name": "Butik AB",
                    "Street": "Storgatan 1",
                    "PostalCode": "11122",
                    "City": "Stockholm",
                    "CountryCode": "SE",
                },
                "ChangedAt": iso(0),
            }
        }
        self.products = {"P1", "P2", "P3", "KM 1007", "AB 00023/A"}
        self.prices = {p: 100.0 + i for i, p in enumerate(sorted(self.products))}
        self.hooks_on_commit: list[Callable[[dict[str, Any]], None]] = []

    # ------------------------------------------------------------------ test controls
    def fail_next(
        self,
        route: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        error_type: str | None = None,
    ) -> None:
        """``route``: e.g. "GET ProductAvailability", "POST CustomerOrders", "GET CustomerOrders/".
        The next ``times`` matching calls (after auth) answer ``status`` with XTND's envelope."""
        kind = error_type or {401: "Unauthorized", 429: "Throttled", 503: "Throttled", 500: "Internal"}.get(
            status, "Validation"
        )
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        queue = self.script.setdefault(route, deque())
        for _ in range(times):
            queue.append(Scripted(status, headers, envelope(kind, f"scripted {status}")))

    def calls_to(self, method: str, prefix: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.startswith(prefix)]

    def set_balance(self, product: str, warehouse: str, balance: int, changed_at: str) -> None:
        self.balances[(product, warehouse)] = (balance, changed_at)

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self._handle(request)
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = unquote(raw_path.decode().split("?")[0].removeprefix("/api/"))
        query: dict[str, list[str]] = {}
        for k, v in request.query_params.multi_items():
            query.setdefault(k, []).append(v)
        body = await request.body()
        if path == "token" and request.method == "POST":
            self.token_requests += 1
            token = f"tok-{next(self._token_ids)}"
            self.tokens.add(token)
            return self._json(
                {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
            )
        call = Call(request.method, path, raw_path.decode(), query, body)
        self.calls.append(call)
        response = self._route(request.method, path, query, body, request.headers.get("authorization", ""))
        call.status = response.status_code
        if self.rate_remaining is not None:
            response.headers["x-ratelimit-remaining"] = str(self.rate_remaining)
            response.headers["x-ratelimit-reset"] = "1"
        return response

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(
            orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
        )

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes, auth: str) -> Response:
        if auth.removeprefix("Bearer ") not in self.tokens:
            return self._json(envelope("Unauthorized", "The access token is not valid."), 401)
        resource, _, key = path.partition("/")
        for route in (f"{method} {path}", f"{method} {resource}/" if key else f"{method} {resource}"):
            queue = self.script.get(route)
            if queue:
                scripted = queue.popleft()
                return self._json(scripted.body, scripted.status, scripted.headers)
        handler = getattr(self, f"_{method.lower()}_{resource.lower()}", None)
        if handler is None:
            return self._json(envelope("Validation", "No such resource."), 404)
        result: Response = handler(key, query, body)
        return result

    # ------------------------------------------------------------------ resources
    def _page(self, items: list[dict[str, Any]], query: dict[str, list[str]]) -> Response:
        page = int(query.get("page", ["1"])[0])
        size = int(query.get("pageSize", ["100"])[0])
        if size > self.page_size_limit or page < 1:
            return self._json(envelope("Validation", "bad paging", ("pageSize", "too large")), 400)
        items.sort(key=lambda i: (i["ChangedAt"], str(i)))
        total_pages = -(-len(items) // size) if items else 0
        return self._json(
            {
                "Items": items[(page - 1) * size : page * size],
                "Page": page,
                "PageSize": size,
                "TotalCount": len(items),
                "TotalPages": total_pages,
            }
        )

    def _get_productavailability(self, key: str, query: dict[str, list[str]], body: bytes) -> Response:
        products = query.get("productNumber", [])
        if len(products) > 200:
            return self._json(envelope("Validation", "at most 200", ("productNumber", "too many")), 400)
        if any(p.startswith("BAD") for p in products):
            return self._json(envelope("Validation", "bad product number", ("productNumber", "bad")), 400)
        warehouses = query.get("warehouseNumber", [])
        since = query.get("changedSince", [None])[0]
        rows = [
            {"ProductNumber": p, "WarehouseNumber": w, "AvailableBalance": b, "ChangedAt": c, "NewField": 1}
            for (p, w), (b, c) in self.balances.items()
            if (not products or p in products)
            and (not warehouses or w in warehouses)
            and (since is None or c >= since)
        ]
        return self._page(rows, query)

    def _post_customerorders(self, key: str, query: dict[str, list[str]], body: bytes) -> Response:
        order = orjson.loads(body)
        external = order["ExternalOrderNumber"]
        canonical = orjson.dumps(order, option=orjson.OPT_SORT_KEYS)
        if external in self.order_bodies:
            if self.order_bodies[external] != canonical:
                return self._json(
                    envelope("Validation", "clash", ("ExternalOrderNumber", "different body")), 409
                )
            existing = next(o for o in self.orders.values() if o["ExternalOrderNumber"] == external)
            return self._json(existing, 200)
        for i, line in enumerate(order["Lines"]):
            if line["ProductNumber"] not in self.products:
                return self._json(
                    envelope("Validation", "unknown product", (f"Lines[{i}].ProductNumber", "?")), 422
                )
        number = str(next(self._order_ids))
        full = {**order, "OrderNumber": number, "Status": "Created", "Shipments": [], "ChangedAt": iso(1)}
        self.orders[number] = full
        self.order_bodies[external] = canonical
        for hook in self.hooks_on_commit:
            hook(full)
        return self._json(full, 201)

    def _get_customerorders(self, key: str, query: dict[str, list[str]], body: bytes) -> Response:
        if key:
            order = self.orders.get(key)
            if order is None:
                return self._json(envelope("Validation", "no such order", ("orderNumber", key)), 404)
            return self._json(order)
        since = query.get("changedSince", [""])[0]
        items = [
            {k: o[k] for k in ("OrderNumber", "ExternalOrderNumber", "Status", "ChangedAt")}
            for o in self.orders.values()
            if o["ChangedAt"] >= since
        ]
        return self._page(items, query)

    def _get_customers(self, key: str, query: dict[str, list[str]], body: bytes) -> Response:
        if key:
            customer = self.customers.get(key)
            if customer is None:
                return self._json(envelope("Validation", "no such customer", ("customerNumber", key)), 404)
            return self._json(customer)
        items = [
            {"CustomerNumber": c["CustomerNumber"], "ChangedAt": c["ChangedAt"]}
            for c in self.customers.values()
        ]
        return self._page(items, query)

    def _get_productprices(self, key: str, query: dict[str, list[str]], body: bytes) -> Response:
        customer = query.get("customerNumber", [None])[0]
        if customer not in self.customers:
            return self._json(
                envelope("Validation", "customerNumber is required", ("customerNumber", "?")), 400
            )
        products = query.get("productNumber") or sorted(self.prices)
        rows = [
            {
                "ProductNumber": p,
                "CustomerNumber": customer,
                "Price": self.prices[p],
                "Currency": "SEK",
                "PriceSource": "PriceList",
                "ValidTo": None,
                "ChangedAt": iso(0),
            }
            for p in products
            if p in self.prices
        ]
        return self._page(rows, query)


class DroppingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; for scripted routes the request reaches the server (and commits), then the connection
    drops before the answer arrives: the commit-then-drop case an idempotency key exists for."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.drops: dict[str, int] = {}

    def drop_after_commit(self, method: str, path: str, times: int = 1) -> None:
        self.drops[f"{method} {path}"] = times

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        key = f"{request.method} {request.url.path.removeprefix('/api/')}"
        if self.drops.get(key, 0) > 0:
            self.drops[key] -= 1
            await response.aread()
            raise httpx.ReadError("connection reset after the request was sent", request=request)
        return response


def signed_delivery(
    delivery_id: str, *notifications: tuple[str, dict[str, Any]], secret: str = SECRET, attempt: int = 1
) -> tuple[bytes, dict[str, str]]:
    """A webhook body the way XTND sends it (indented JSON, PascalCase), and its headers."""
    body = orjson.dumps(
        {
            "Id": delivery_id,
            "Attempt": attempt,
            "Properties": {"NotificationId": "00000000-0000-4000-8000-000000000000"},
            "Notifications": [{"Action": a, "Details": d} for a, d in notifications],
        },
        option=orjson.OPT_INDENT_2,
    )
    return body, {"ms-signature": sign(secret, body), "content-type": "application/json"}


def balance_hook(product: str, warehouse: str = "1", balance: int = 999) -> tuple[str, dict[str, Any]]:
    return (
        "AvailableBalanceChanged",
        {"ProductNumber": product, "WarehouseNumber": warehouse, "AvailableBalance": balance},
    )


def order_hook(action: str, order_number: str, external: str = "X") -> tuple[str, dict[str, Any]]:
    return (action, {"OrderNumber": order_number, "ExternalOrderNumber": external, "WarehouseNumber": "1"})


class SocketLikeASGITransport(httpx.AsyncBaseTransport):
    """``httpx.ASGITransport``, except that an app which never finishes its answer (the fake's "drop" and
    "commit-then-drop" faults) looks the way it does on a real socket: a transport error, not an assertion."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self.inner.handle_async_request(request)
        except AssertionError as error:  # ASGITransport: "response_complete" never set
            raise httpx.RemoteProtocolError(
                "the server closed the connection without an answer", request=request
            ) from error
