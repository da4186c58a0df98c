"""Build journals by hand, for testing the rules (and for anyone writing a planted-bug client's expected trace).

``JournalBuilder`` writes records in the documented format (docs/journal-format.md) and derives what the fake
would derive (Route, Resource, Key, RateGroup, ProductNumbers, ErrorType, BodySha256). ``good_client`` builds the
trace of a well-behaved integration: initial paged reads, hooks followed by batched fetches, order hooks followed
by order GETs, ``changedSince`` reconciliation every minute, Retry-After respected, 500s retried with back-off,
forged hooks refused; its probe equals the truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .context import JudgeContext
from .model import canonical_sha256, parse_time

START = "2024-05-01T12:00:00.000Z"
HOOK_URL = "http://127.0.0.1:9999/xtnd/webhooks"
_OMIT = object()

_ERROR_TYPES = {400: "Validation", 404: "Validation", 409: "Validation", 413: "Validation", 422: "Validation"}
_ERROR_TYPES |= {401: "Unauthorized", 429: "Throttled", 503: "Throttled", 500: "Internal"}


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _route(method: str, path: str) -> tuple[str | None, str | None, str | None]:
    """(Route, Resource, Key) for a path under /api, as the fake records them."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0] != "api":
        return None, None, None
    resource = parts[1]
    if resource == "token":
        return "/api/token", "Token", None
    key_names = {"CustomerOrders": "orderNumber", "Products": "productNumber", "Customers": "customerNumber"}
    if len(parts) == 2:
        return f"/api/{resource}", resource, None
    key = parts[2]
    suffix = "/" + "/".join(parts[3:]) if len(parts) > 3 else ""
    return f"/api/{resource}/{{{key_names.get(resource, 'key')}}}{suffix}", resource, key


def _rate_group(method: str, resource: str | None, key: str | None) -> str | None:
    if resource in (None, "Token"):
        return None
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        return "Write"
    if resource in ("Products", "Customers", "CustomerOrders") and key is None:
        return "List"
    return "Standard"


class JournalBuilder:
    """Collects records at offsets (seconds) from ``start``; ``build()`` orders them by time and numbers them."""

    def __init__(self, client_id: str = "shop", start: str = START, url: str = HOOK_URL) -> None:
        self.client_id = client_id
        self.t0 = parse_time(start)
        self.url = url
        self._items: list[tuple[float, int, dict[str, Any]]] = []
        self._delivery_ids = 0

    def _add(self, at: float, record: dict[str, Any]) -> dict[str, Any]:
        record["Time"] = iso(self.t0 + at)
        self._items.append((at, len(self._items), record))
        return record

    def build(self) -> list[dict[str, Any]]:
        """The journal: records by time (insertion order breaks ties), ``Seq`` from 1."""
        out = []
        for seq, (_, _, record) in enumerate(sorted(self._items, key=lambda i: (i[0], i[1])), start=1):
            record["Seq"] = seq
            out.append({"Seq": seq, **{k: v for k, v in record.items() if k != "Seq"}})
        return out

    def end(self) -> float:
        return max((at for at, _, _ in self._items), default=0.0)

    # -- API calls ---------------------------------------------------------------------------------------------

    def api(
        self,
        at: float,
        method: str,
        path: str,
        *,
        query: Mapping[str, Sequence[str] | str] | None = None,
        status: int = 200,
        body: Mapping[str, Any] | None = None,
        latency_ms: float = 5.0,
        fault: str | None = None,
        retry_after: int | None = None,
        result_key: str | None = None,
        total_pages: Any = _OMIT,
        error_type: Any = _OMIT,
        client_id: Any = _OMIT,
    ) -> dict[str, Any]:
        route, resource, key = _route(method, path)
        q = {k: [v] if isinstance(v, str) else list(v) for k, v in sorted((query or {}).items())}
        products = list(q.get("productNumber", []))
        if resource == "Products" and key is not None:
            products = [key]
        if body and isinstance(body.get("Lines"), list):
            products = [str(line["ProductNumber"]) for line in body["Lines"]]
        record: dict[str, Any] = {
            "Kind": "api",
            "ClientId": self.client_id if client_id is _OMIT else client_id,
            "Method": method,
            "Path": path,
            "Route": route,
            "Resource": resource,
            "Key": key,
            "Query": q,
            "ProductNumbers": products,
            "Status": status,
            "ErrorType": _ERROR_TYPES.get(status) if error_type is _OMIT else error_type,
            "RateGroup": _rate_group(method, resource, key),
            "RetryAfter": retry_after,
            "LatencyMs": latency_ms,
            "Fault": fault,
            "BodySha256": canonical_sha256(body) if body is not None else None,
            "Body": dict(body) if body is not None else None,
            "ResultKey": result_key,
        }
        listing = method == "GET" and (
            (resource in ("Products", "Customers", "CustomerOrders") and key is None)
            or resource in ("ProductAvailability", "ProductPrices")
        )
        if total_pages is not _OMIT:
            record["TotalPages"] = total_pages
        elif listing:
            record["TotalPages"] = 1 if 200 <= status < 300 else None
        else:
            record["TotalPages"] = None
        return self._add(at, record)

    def token(self, at: float) -> dict[str, Any]:
        return self.api(at, "POST", "/api/token", error_type=None)

    def availability(
        self,
        at: float,
        *products: str,
        warehouses: Iterable[str] = (),
        changed_since: str | None = None,
        page: int | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        query: dict[str, Sequence[str] | str] = {}
        if products:
            query["productNumber"] = list(products)
        if warehouses:
            query["warehouseNumber"] = list(warehouses)
        if changed_since is not None:
            query["changedSince"] = changed_since
        if page is not None:
            query["page"] = str(page)
        return self.api(at, "GET", "/api/ProductAvailability", query=query, **kw)

    def list_read(
        self,
        at: float,
        resource: str,
        *,
        changed_since: str | None = None,
        page: int | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        query: dict[str, Sequence[str] | str] = dict(kw.pop("query", {}) or {})
        if changed_since is not None:
            query["changedSince"] = changed_since
        if page is not None:
            query["page"] = str(page)
        return self.api(at, "GET", f"/api/{resource}", query=query, **kw)

    def get_order(self, at: float, number: str, **kw: Any) -> dict[str, Any]:
        return self.api(at, "GET", f"/api/CustomerOrders/{number}", **kw)

    def create_order(
        self,
        at: float,
        external: str,
        lines: Sequence[tuple[str, int]],
        *,
        customer: str = "C-1",
        warehouse: str = "1",
        address: Mapping[str, Any] | None = None,
        status: int = 201,
        result_key: str | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        body = {
            "ExternalOrderNumber": external,
            "CustomerNumber": customer,
            "WarehouseNumber": warehouse,
            "DeliveryAddress": dict(
                address
                or {
                    "Name": "Ada",
                    "Street": "Storgatan 1",
                    "PostalCode": "11122",
                    "City": "Stockholm",
                    "CountryCode": "SE",
                }
            ),
            "DeliveryMethod": "Postnord",
            "Lines": [
                {"ProductNumber": p, "Quantity": q, "UnitPrice": 100.0, "Currency": "SEK"} for p, q in lines
            ],
        }
        return self.api(
            at, "POST", "/api/CustomerOrders", body=body, status=status, result_key=result_key, **kw
        )

    def edit_order(self, at: float, number: str, body: Mapping[str, Any], **kw: Any) -> dict[str, Any]:
        return self.api(at, "PUT", f"/api/CustomerOrders/{number}", body=body, **kw)

    def cancel_order(self, at: float, number: str, **kw: Any) -> dict[str, Any]:
        return self.api(at, "POST", f"/api/CustomerOrders/{number}/cancel", **kw)

    # -- deliveries --------------------------------------------------------------------------------------------

    def hook(
        self,
        at: float,
        action: str,
        details: Mapping[str, Any],
        *,
        status: int | None = 200,
        latency_ms: float = 8.0,
        forged: bool = False,
        attempt: int = 1,
        delivery_id: str | None = None,
        fault: str | None = None,
        error: str | None = None,
        outcome: str | None = None,
        extra: Sequence[tuple[str, Mapping[str, Any]]] = (),
    ) -> dict[str, Any]:
        if delivery_id is None:
            self._delivery_ids += 1
            delivery_id = f"{self._delivery_ids:032x}"
        if outcome is None:
            if status is not None and 200 <= status < 300:
                outcome = "delivered"
            elif status == 410:
                outcome = "gone"
            else:
                outcome = "retry" if attempt < 3 else "dead"
        record = {
            "Kind": "delivery",
            "DeliveryId": delivery_id,
            "NotificationId": f"00000000-0000-0000-0000-{int(delivery_id, 16) % 10**12:012d}",
            "Subscription": "shop",
            "Url": self.url,
            "Attempt": attempt,
            "Notifications": [{"Action": action, "Details": dict(details)}]
            + [{"Action": a, "Details": dict(d)} for a, d in extra],
            "Status": status,
            "Error": error,
            "LatencyMs": latency_ms,
            "Outcome": outcome,
            "Fault": fault,
            "Forged": forged,
        }
        return self._add(at, record)

    def balance_hook(
        self, at: float, product: str, warehouse: str = "1", balance: int = 5, **kw: Any
    ) -> dict[str, Any]:
        details = {"ProductNumber": product, "WarehouseNumber": warehouse, "AvailableBalance": balance}
        return self.hook(at, "AvailableBalanceChanged", details, **kw)

    def order_hook(
        self, at: float, action: str, order: str, external: str | None, warehouse: str = "1", **kw: Any
    ) -> dict[str, Any]:
        details = {"OrderNumber": order, "ExternalOrderNumber": external, "WarehouseNumber": warehouse}
        return self.hook(at, action, details, **kw)


@dataclass
class Run:
    """A built trace plus the client's probe and the truth, ready to judge."""

    builder: JournalBuilder
    truth: dict[str, Any]
    probe: dict[str, Any] | None
    webhooks_enabled: bool = True
    shop_orders_requested: list[dict[str, Any]] = field(default_factory=list)

    def context(self, **overrides: Any) -> JudgeContext:
        values: dict[str, Any] = {
            "records": self.builder.build(),
            "client_id": self.builder.client_id,
            "probe": self.probe,
            "truth": self.truth,
            "webhooks_enabled": self.webhooks_enabled,
            "shop_orders_requested": self.shop_orders_requested or None,
        }
        values.update(overrides)
        return JudgeContext(**values)

    def set_balance(self, product: str, warehouse: str, value: int, *, in_probe: bool = True) -> None:
        """Change the truth (and the probe, unless told otherwise) for one item."""
        for view in (self.truth, self.probe if in_probe else None):
            if view is None:
                continue
            for row in view["Balances"]:
                if row["ProductNumber"] == product and row["WarehouseNumber"] == warehouse:
                    row["AvailableBalance"] = value


PRODUCTS = ["P1", "P2", "P3", "P4", "P5", "P6", "P 7", "P8", "P9", "P10", "P11", "P12"]
WAREHOUSES = ["1", "2"]


def good_client(client_id: str = "shop") -> Run:
    """The trace of a well-behaved webshop integration over about four minutes."""
    b = JournalBuilder(client_id)
    since = iso(b.t0 - 3600)
    b.token(0.0)
    # initial load: lists with pagination followed
    b.list_read(0.5, "Products", query={"pageSize": "10"}, total_pages=2)
    b.list_read(0.7, "Products", query={"pageSize": "10"}, page=2, total_pages=2)
    b.list_read(1.0, "Customers")
    b.availability(1.5, total_pages=2)
    b.availability(1.7, page=2, total_pages=2)
    b.list_read(2.0, "CustomerOrders", changed_since=since)

    # reconciliation every 60 s, with changedSince
    for n, at in enumerate((60.0, 120.0, 180.0, 240.0)):
        cursor = iso(b.t0 + at - 61.0 if n else b.t0 + 2.0)
        b.availability(at, changed_since=cursor)
        b.list_read(at + 0.2, "CustomerOrders", changed_since=cursor)

    # balance hooks, batched into one fetch a second later
    b.balance_hook(10.0, "P1", "1", 7)
    b.balance_hook(10.1, "P2", "1", 3)
    b.balance_hook(10.2, "P3", "2", 0)
    b.availability(11.0, "P1", "P2", "P3")

    # an order the harness asked the shop for: created, then its reservation moves P4
    b.create_order(20.0, "EXT-1", [("P4", 2)], result_key="SO-1")
    b.balance_hook(20.3, "P4", "1", 8)
    b.availability(21.0, "P4")
    b.order_hook(40.0, "OrderReserved", "SO-1", "EXT-1")
    b.get_order(40.5, "SO-1")
    b.order_hook(70.0, "OrderPicked", "SO-1", "EXT-1")
    b.get_order(70.4, "SO-1")

    # a small storm on P5 and P6, coalesced
    for i in range(6):
        b.balance_hook(80.0 + 0.3 * i, "P5" if i % 2 else "P6", "1", 10 - i)
    b.availability(82.0, "P5", "P6")
    b.balance_hook(84.0, "P5", "1", 4)
    b.availability(85.0, "P5", "P6")

    # a harness-injected 429 window: Retry-After respected
    b.balance_hook(89.5, "P 7", "1", 6)
    b.availability(90.0, "P 7", status=429, retry_after=2, fault="status:429")
    b.availability(92.3, "P 7")

    # a 500 on an order fetch, retried with back-off
    b.order_hook(100.0, "OrderDeliveryDataChanged", "SO-1", "EXT-1")
    b.get_order(100.3, "SO-1", status=500, fault="status:500")
    b.get_order(101.3, "SO-1", status=500, fault="status:500")
    b.get_order(103.3, "SO-1")

    # a forged hook, refused and ignored
    b.balance_hook(110.0, "P8", "1", 999, status=401, forged=True)

    # a duplicate delivery of one hook (same Id): fetched once
    dup = b.balance_hook(120.0, "P9", "2", 12)
    b.balance_hook(120.4, "P9", "2", 12, delivery_id=dup["DeliveryId"], fault="duplicate")
    b.availability(121.0, "P9", warehouses=["2"])

    # a second order, and an order refused as invalid that is not resent
    b.create_order(130.0, "EXT-2", [("P10", 1)], result_key="SO-2")
    b.balance_hook(130.2, "P10", "2", 2)
    b.availability(131.0, "P10", warehouses=["2"])
    b.create_order(135.0, "EXT-3", [("NOPE", 1)], status=422)

    # another channel's order: no follow-up needed
    b.order_hook(150.0, "OrderCancelled", "SO-99", "WEB-77")

    # a hook the client answered 410 (it no longer wants that subscription's hooks): not a failure
    b.balance_hook(160.0, "P11", "1", 1, status=410)
    b.availability(161.0, "P11")

    truth_balances = []
    for i, product in enumerate(PRODUCTS):
        for warehouse in WAREHOUSES:
            value = (i * 3 + int(warehouse)) % 11
            truth_balances.append(
                {
                    "ProductNumber": product,
                    "WarehouseNumber": warehouse,
                    "OnHand": value + 1,
                    "Reserved": 1,
                    "AvailableBalance": value,
                }
            )
    truth = {
        "Balances": truth_balances,
        "Orders": [
            {"OrderNumber": "SO-1", "ExternalOrderNumber": "EXT-1", "Status": "Picked"},
            {"OrderNumber": "SO-2", "ExternalOrderNumber": "EXT-2", "Status": "Created"},
            {"OrderNumber": "SO-99", "ExternalOrderNumber": "WEB-77", "Status": "Cancelled"},
        ],
    }
    probe = {
        "Balances": [
            {k: row[k] for k in ("ProductNumber", "WarehouseNumber", "AvailableBalance")}
            for row in truth_balances
        ],
        "Orders": [{"OrderNumber": "SO-1", "Status": "Picked"}, {"OrderNumber": "SO-2", "Status": "Created"}],
    }
    shop_orders = [
        {"Lines": [{"ProductNumber": "P4", "Quantity": 2}], "WarehouseNumber": "1"},
        {"Lines": [{"ProductNumber": "P10", "Quantity": 1}], "WarehouseNumber": "1"},
    ]
    return Run(b, truth, probe, shop_orders_requested=shop_orders)
