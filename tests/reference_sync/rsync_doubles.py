"""A tiny test double of XTND's *wire behaviour* for the reference sync's unit tests.

It answers the way docs/wire.md says XTND answers (``/RESTAPI/v1_0/demo``, the ``ExtendBasicAuthorization``
header, camelCase bodies, paging schemes A and B, ``modifiedDateFrom`` inclusive on ``changeDate``, ``{"Message"}``
errors, 400 for a duplicate ``orderNumberExternal``, 429 with ``Retry-After``, rate-limit headers with an epoch
reset) with a few records in dicts, and lets a test script failures ("the next GET ProductAvailability answers a
deadlock 400"). It is not the fake: integration tests use mock_xtnd itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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

from reference_sync.app import Service
from reference_sync.timestamps import to_ms

ROOT = "/RESTAPI/v1_0/demo/"
API = "http://xtnd.test/RESTAPI/v1_0/demo"
USERNAME, PASSWORD = "demo", "demo-secret"
SECRET = "hook-secret"

DEADLOCK = (
    "Transaction (Process ID 57) was deadlocked on lock resources with another process and has been chosen as "
    "the deadlock victim. Rerun the transaction."
)
TIMEOUT = "Execution Timeout Expired.  The timeout period elapsed prior to completion of the operation."

# make_service(**config_overrides) -> Service (see conftest.py)
ServiceFactory = Callable[..., Service]


@dataclass
class Call:
    method: str
    path: str  # below the company root, decoded, e.g. "CustomerOrders/100001"
    raw_path: str  # as sent, still percent-encoded
    query: dict[str, list[str]]
    body: bytes
    status: int = 0


@dataclass
class Scripted:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


def iso(n: float) -> str:
    """A changeDate n seconds after 2026-01-05T08:00:00Z, as XTND writes it (Stockholm offset, milliseconds)."""
    ms = round(n * 1000)
    seconds, millis = divmod(ms, 1000)
    return f"2026-01-05T09:{seconds // 60:02d}:{seconds % 60:02d}.{millis:03d}+01:00"


def availability_row(product: str, warehouse: str, balance: int, change_date: str) -> dict[str, Any]:
    return {
        "warehouse": warehouse,
        "productNumber": product,
        "physicalBalance": balance,
        "availableBalanceNow": balance,
        "changeDate": change_date,
        "availableBalanceNowB": 0,
        "availableBalanceNowC": 0,
        "warehouseName": f"Lager {warehouse}",
        "orderedQuantity": 0,
        "blockedBalance": 0,
        "orderedQuantityMatchingReceiving": 0,
        "totalExpectedReceivingFromPurchase": 0,
        "totalExpectedReceivingFromWarehouseTransfer": 0,
        "totalExpectedReceivingFromReturn": 0,
        "someFieldAddedNextYear": 1,  # clients ignore fields they do not know
    }


class XtndDouble:
    def __init__(self, *, page_size: int = 100) -> None:
        self.calls: list[Call] = []
        self.script: dict[str, deque[Scripted]] = {}
        self.page_size = page_size
        self.now = 0.0  # server time, seconds after 2026-01-05T08:00:00Z (for changeDate and orderDate)
        self.rate_remaining: int | None = (
            None  # when set, every answer reports it (reset: 1 s from `epoch_now`)
        )
        self.epoch_now: Callable[[], float] = lambda: 0.0
        # (productNumber, warehouse) -> (availableBalanceNow, changeDate)
        self.balances: dict[tuple[str, str], tuple[int, str]] = {}
        self._order_numbers = itertools.count(100001)
        self.orders: dict[str, dict[str, Any]] = {}  # orderNumber -> CustomerOrder
        self.order_changes: dict[str, str] = {}  # orderNumber -> changeDate
        self.customers = {"10001": "Butik AB", "10002": "Annan AB"}
        self.products = {"P1", "P2", "P3", "KM 1007", "AB 00023/A"}
        self.prices = {p: 100.0 + i for i, p in enumerate(sorted(self.products))}
        self.on_commit: list[Callable[[dict[str, Any]], None]] = []

    # ------------------------------------------------------------------ test controls
    def fail_next(
        self,
        route: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        message: str | None = None,
    ) -> None:
        """``route``: e.g. "GET ProductAvailability", "POST CustomerOrders", "GET CustomerOrders/".
        The next ``times`` matching calls (after auth) answer ``status`` with ``{"Message"}``."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        queue = self.script.setdefault(route, deque())
        for _ in range(times):
            queue.append(Scripted(status, headers, {"Message": message or f"scripted {status}"}))

    def calls_to(self, method: str, prefix: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.startswith(prefix)]

    def set_balance(self, product: str, warehouse: str, balance: int, change_date: str) -> None:
        self.balances[(product, warehouse)] = (balance, change_date)

    def set_order_status(self, order_number: str, status: str, change_date: str) -> None:
        self.orders[order_number]["orderHeader"]["orderStatus"] = status
        self.order_changes[order_number] = change_date

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self._handle(request)
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response:
        raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode().split("?")[0]
        if not raw_path.startswith(ROOT):
            return self._json({"Message": f"No such path; the API lives under {ROOT}"}, 404)
        path = unquote(raw_path.removeprefix(ROOT))
        query: dict[str, list[str]] = {}
        for k, v in request.query_params.multi_items():
            query.setdefault(k, []).append(v)
        body = await request.body()
        call = Call(request.method, path, raw_path, query, body)
        self.calls.append(call)
        response = self._route(
            request.method, path, query, body, request.headers.get("extendbasicauthorization")
        )
        call.status = response.status_code
        if self.rate_remaining is not None and response.status_code != 401:
            response.headers["x-ratelimit-limit"] = "300"
            response.headers["x-ratelimit-remaining"] = str(self.rate_remaining)
            response.headers["x-ratelimit-reset"] = str(int(self.epoch_now()) + 1)
        return response

    @staticmethod
    def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(
            orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
        )

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, auth: str | None
    ) -> Response:
        expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        if auth is None or not hmac.compare_digest(auth, expected):
            return self._json({"Message": "Authorization has been denied for this request."}, 401)
        resource, _, key = path.partition("/")
        for route in (f"{method} {path}", f"{method} {resource}/" if key else f"{method} {resource}"):
            queue = self.script.get(route)
            if queue:
                scripted = queue.popleft()
                return self._json(scripted.body, scripted.status, scripted.headers)
        handler = getattr(self, f"_{method.lower()}_{resource.lower()}", None)
        if handler is None:
            return self._json({"Message": f"No HTTP resource was found for {path}."}, 404)
        result: Response = handler(key, query, body)
        return result

    # ------------------------------------------------------------------ paging
    def _scheme_b(self, list_key: str, items: list[dict[str, Any]], query: dict[str, list[str]]) -> Response:
        page = int(query.get("pageNumber", ["1"])[0])
        if page < 1:
            return self._json(
                {"Message": "The request is invalid.", "ModelState": {"pageNumber": ["< 1"]}}, 400
            )
        total_pages = -(-len(items) // self.page_size)
        return self._json(
            {
                list_key: items[(page - 1) * self.page_size : page * self.page_size],
                "paginationInfo": {
                    "currentPage": page,
                    "totalPages": total_pages,
                    "pageSize": self.page_size,
                    "totalResources": len(items),
                    "message": None,
                },
            }
        )

    def _scheme_a(self, items: list[dict[str, Any]], query: dict[str, list[str]]) -> Response:
        count = int(query.get("pageCount", ["100"])[0])
        offset = int(query.get("pageOffset", ["0"])[0])
        page = items[offset * count : (offset + 1) * count]
        if offset > 0 and not page:  # the production quirk: a page past the end is a 400
            return self._json({"Message": "The page requested does not exist."}, 400)
        return self._json(page)

    # ------------------------------------------------------------------ resources
    def _get_productavailability(self, key: str, query: dict[str, list[str]], body: bytes) -> Response:
        if key:
            # Two path segments, each URL-encoded by the client: product numbers hold spaces and slashes.
            segments = self.calls[-1].raw_path.removeprefix(ROOT + "ProductAvailability/").split("/")
            if len(segments) != 2:
                return self._json({"Message": f"No HTTP resource was found for {key}."}, 404)
            product, warehouse = map(unquote, segments)
            found = self.balances.get((product, warehouse))
            if found is None:
                return self._json({"Message": f"No availability for {product} in {warehouse}."}, 404)
            return self._json(availability_row(product, warehouse, *found))
        since = query.get("modifiedDateFrom", [None])[0]
        warehouse_filter = query.get("warehouse", [None])[0]
        product_filter = query.get("productNumber", [None])[0]
        rows = [
            availability_row(p, w, b, c)
            for (p, w), (b, c) in sorted(self.balances.items())
            if (since is None or to_ms(c) >= to_ms(since))
            and (warehouse_filter is None or w == warehouse_filter)
            and (product_filter is None or p == product_filter)
        ]
        return self._scheme_b("productAvailabilityList", rows, query)

    def _get_productprices(self, key: str, query: dict[str, list[str]], body: bytes) -> Response:
        customer = query.get("customerNumber", [None])[0]
        if customer not in self.customers:
            return self._json({"Message": f"Customer '{customer}' does not exist."}, 400)
        products = query.get("productNumberList", [])
        if len(products) > 10:
            return self._json(
                {"Message": "The request is invalid.", "ModelState": {"productNumberList": ["at most 10"]}},
                400,
            )
        rows = [
            {
                "productNumber": p,
                "salesUnit": "st",
                "fromQuantity": 1,
                "price": self.prices[p],
                "listPrice": self.prices[p] + 10,
                "vatPercent": 25.0,
                "currency": "SEK",
            }
            for p in (products or sorted(self.prices))
            if p in self.prices
        ]
        return self._scheme_b("productPriceItemList", rows, query)

    def _get_customers(self, key: str, query: dict[str, list[str]], body: bytes) -> Response:
        items = [
            {"customerNumber": n, "name": name, "changeDate": iso(0)}
            for n, name in sorted(self.customers.items())
        ]
        return self._scheme_b("customerList", items, query)

    def _post_customerorders(self, key: str, query: dict[str, list[str]], body: bytes) -> Response:
        order = orjson.loads(body)
        if not isinstance(order, dict) or "orderHeader" not in order or not order.get("orderRows"):
            model_state = {"newCustomerOrder": ["orderHeader and at least one of orderRows are required."]}
            return self._json({"Message": "The request is invalid.", "ModelState": model_state}, 400)
        header, rows = order["orderHeader"], order["orderRows"]
        external = header.get("orderNumberExternal")
        for number, existing in self.orders.items():
            if external and existing["orderHeader"]["orderNumberExternal"] == external:
                message = f"An order with orderNumberExternal '{external}' already exists (order {number})."
                return self._json({"Message": message}, 400)
        if header.get("customerNumber") not in self.customers:
            return self._json({"Message": f"Customer '{header.get('customerNumber')}' does not exist."}, 400)
        for i, row in enumerate(rows):
            if "unit" not in row["salesData"]:
                path = f"newCustomerOrder.orderRows[{i}].salesData.unit"
                return self._json(
                    {
                        "Message": "The request is invalid.",
                        "ModelState": {path: ["The unit field is required."]},
                    },
                    400,
                )
            if row["product"]["productNumber"] not in self.products:
                return self._json(
                    {"Message": f"Product '{row['product']['productNumber']}' does not exist."}, 400
                )
        number = str(next(self._order_numbers))
        stored = {
            "orderHeader": {
                **header,
                "orderNumber": number,
                "orderStatus": "Created",
                "orderDate": iso(self.now),
                "shipments": [],
            },
            "orderRows": [
                {**row, "orderRowStatus": "Created", "position": i + 1} for i, row in enumerate(rows)
            ],
        }
        self.orders[number] = stored
        self.order_changes[number] = iso(self.now)
        for hook in self.on_commit:
            hook(stored)
        return self._json(stored)

    def _get_customerorders(self, key: str, query: dict[str, list[str]], body: bytes) -> Response:
        if key:
            order = self.orders.get(key)
            if order is None:
                return self._json({"Message": f"Order {key} was not found."}, 404)
            return self._json(order)
        external = query.get("orderNumberExternal", [None])[0]
        since = query.get("modifiedDateFrom", [None])[0]
        if external is None and since is None:  # the production quirk: an unfiltered list times out
            return self._json({"Message": TIMEOUT}, 400)
        items = [
            {
                "orderNumber": n,
                "orderNumberExternal": o["orderHeader"]["orderNumberExternal"],
                "orderStatus": o["orderHeader"]["orderStatus"],
                "orderDate": o["orderHeader"]["orderDate"],
                "askedDeliveryDate": o["orderHeader"]["orderDate"],
                "customerNumber": o["orderHeader"]["customerNumber"],
                "customerName": "Butik AB",
                "totalPrice": 0.0,
                "changeDate": self.order_changes[n],
            }
            for n, o in sorted(self.orders.items())
        ]
        items = [
            i
            for i in items
            if (external is None or i["orderNumberExternal"] == external)
            and (since is None or to_ms(i["changeDate"]) >= to_ms(since))
        ]
        return self._scheme_a(items, query)


class DroppingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; for scripted routes the request reaches the server (and commits), then the connection
    drops before the answer arrives: a POST whose answer is lost."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.drops: dict[str, int] = {}

    def drop_after_commit(self, method: str, path: str, times: int = 1) -> None:
        self.drops[f"{method} {path}"] = times

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        key = f"{request.method} {request.url.path.removeprefix(ROOT)}"
        if self.drops.get(key, 0) > 0:
            self.drops[key] -= 1
            await response.aread()
            raise httpx.ReadError("connection reset after the request was sent", request=request)
        return response


def sign(secret: str, body: bytes) -> str:
    """The ``ms-signature`` value XTND sends (written here from the contract, not taken from the sync)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().upper()


def signed_delivery(
    delivery_id: str, *notifications: tuple[str, dict[str, Any]], secret: str = SECRET, attempt: int = 1
) -> tuple[bytes, dict[str, str]]:
    """A webhook body the way XTND sends it (indented JSON, PascalCase envelope), and its headers."""
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
        {"ProductNumber": product, "Warehouse": warehouse, "AvailableBalance": balance},
    )


def order_hook(action: str, order_number: str, external: str = "X") -> tuple[str, dict[str, Any]]:
    return (action, {"OrderNumber": order_number, "OrderNumberExternal": external, "Warehouse": "1"})


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
