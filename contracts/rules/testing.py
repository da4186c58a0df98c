"""Build journals by hand, for testing the rules (and for anyone writing a planted-bug client's expected trace).

``JournalBuilder`` writes records in the documented format (docs/journal-format.md: camelCase keys, paths under
``/RESTAPI/v1_0/<company>``) and derives what the fake would derive (route, operation, resource, key,
warehouse, rateFamily, productNumbers, errorKind, bodySha256, the paging fields). ``good_client`` builds the trace
of a well-behaved integration: initial paged reads in both schemes, hooks followed by single-item reads or
``modifiedDateFrom`` lists, order hooks followed by order GETs, reconciliation by ``modifiedDateFrom`` every
minute, Retry-After respected, 500s retried with back-off, a transient 400 retried after a wait, refused
credentials met with back-off, forged hooks refused; its probe equals the truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .context import JudgeContext
from .model import canonical_sha256, parse_time

START = "2026-01-05T08:00:00.000Z"
COMPANY = "demo"
BASE = f"/RESTAPI/v1_0/{COMPANY}"
HOOK_URL = "http://127.0.0.1:9999/xtnd/webhooks"
_OMIT = object()

_ERROR_KINDS = {400: "Validation", 404: "Validation", 405: "Validation", 413: "Validation"}
_ERROR_KINDS |= {401: "Unauthorized", 429: "Throttled", 500: "Internal", 0: "Internal"}
DEADLOCK = (
    "Transaction (Process ID 71) was deadlocked on lock resources with another process and has been chosen as "
    "the deadlock victim. Rerun the transaction."
)
TIMEOUT = "Execution Timeout Expired.  The timeout period elapsed prior to completion of the operation."

#: (resource, has key, method) -> operation id, as the facts file names them.
OPERATIONS = {
    ("CustomerOrders", False, "GET"): "CustomerOrders_GetAllOrders",
    ("CustomerOrders", False, "POST"): "CustomerOrders_PostNewOrder",
    ("CustomerOrders", True, "GET"): "CustomerOrders_GetOrder",
    ("CustomerOrders", True, "PUT"): "CustomerOrders_PutExistingOrder",
    ("CustomerOrders", True, "DELETE"): "CustomerOrders_DeleteOrder",
    ("Products", False, "GET"): "Products_GetAllProducts",
    ("Products", True, "GET"): "Products_GetProduct",
    ("ProductAvailability", False, "GET"): "ProductAvailability_GetProductAvailability",
    ("ProductAvailability", True, "GET"): "ProductAvailability_GetSingleProductAvailability",
    ("ProductPrices", False, "GET"): "ProductPrices_GetAllProductPrices",
    ("Customers", False, "GET"): "Customers_GetCustomers",
    ("Customers", False, "POST"): "Customers_PostNewCustomer",
    ("Customers", True, "GET"): "Customers_GetCustomer",
    ("Customers", True, "PUT"): "Customers_PutExistingCustomer",
    ("WarehouseStockLevels", False, "GET"): "WarehouseStockLevels_GetWarehouseStocklevels",
    ("WarehouseStockLevels", False, "PUT"): "WarehouseStockLevels_AdjustBalance",
    ("WarehouseStockLevels", False, "POST"): "WarehouseStockLevels_SetBalance",
}
SCHEME_A = frozenset({"CustomerOrders", "Products"})


def _int(values: Sequence[str] | None, default: int) -> int:
    try:
        return int(values[0]) if values else default
    except ValueError:
        return default


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def filter_date(seconds: float) -> str:
    """A change filter as XTND wants it: ``YYYY-MM-DDTHH:MM:SS`` in UTC, no offset."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def route_of(method: str, path: str) -> dict[str, str | None]:
    """route, operation, resource, key and warehouse of a path under ``/RESTAPI/v1_0/<company>``."""
    parts = [p for p in path.split("/") if p]
    empty: dict[str, str | None] = {"route": None, "operation": None, "resource": None, "key": None,
                                     "warehouse": None}
    if len(parts) < 4 or parts[0] != "RESTAPI" or parts[1] != "v1_0":
        return empty
    resource, rest = parts[3], parts[4:]
    operation = OPERATIONS.get((resource, bool(rest), method))
    if operation is None:
        return empty
    template = f"/RESTAPI/v1_0/{{client}}/{resource}"
    key = warehouse = None
    # keys are URL-decoded in the journal's path, and product numbers may hold "/": the warehouse is the last
    # segment, the key everything between
    if resource == "ProductAvailability" and rest:
        if len(rest) < 2:
            return empty
        key, warehouse = "/".join(rest[:-1]), rest[-1]
        template += "/{productNumber}/{warehouse}"
    elif rest:
        key = "/".join(rest)
        template += "/{id}"
    return {"route": template, "operation": operation, "resource": resource, "key": key, "warehouse": warehouse}


def order_body(
    external: str,
    rows: Sequence[tuple[str, int]],
    *,
    customer: str = "10001",
    warehouse: str = "1",
    address: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``CustomerOrder`` as a webshop posts it."""
    return {
        "orderHeader": {
            "orderNumberExternal": external,
            "customerNumber": customer,
            "deliveryAddress": dict(
                address or {"name": "Ada", "address1": "Storgatan 1", "postalCode": "11122", "city": "Stockholm",
                            "countryCode": "SE"}
            ),
        },
        "orderRows": [
            {
                "product": {"productNumber": p},
                "salesData": {"quantity": q, "unit": "st", "unitPrice": 100.0, "currency": "SEK"},
                "warehouse": warehouse,
            }
            for p, q in rows
        ],
    }


class JournalBuilder:
    """Collects records at offsets (seconds) from ``start``; ``build()`` orders them by time and numbers them."""

    def __init__(self, user: str = "demo", start: str = START, url: str = HOOK_URL) -> None:
        self.user = user
        self.t0 = parse_time(start)
        self.url = url
        self._items: list[tuple[float, int, dict[str, Any]]] = []
        self._delivery_ids = 0

    def _add(self, at: float, record: dict[str, Any]) -> dict[str, Any]:
        record["time"] = iso(self.t0 + at)
        self._items.append((at, len(self._items), record))
        return record

    def build(self) -> list[dict[str, Any]]:
        """The journal: records by time (insertion order breaks ties), ``seq`` from 1."""
        out = []
        for seq, (_, _, record) in enumerate(sorted(self._items, key=lambda i: (i[0], i[1])), start=1):
            record["seq"] = seq
            out.append({"seq": seq, **{k: v for k, v in record.items() if k != "seq"}})
        return out

    def end(self) -> float:
        return max((at for at, _, _ in self._items), default=0.0)

    def since(self, at: float) -> str:
        """A ``modifiedDateFrom`` value for offset ``at``."""
        return filter_date(self.t0 + at)

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
        quirk: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
        result_key: str | None = None,
        rows: Any = _OMIT,
        total_pages: Any = _OMIT,
        last_page: Any = _OMIT,
        error_kind: Any = _OMIT,
        user: Any = _OMIT,
    ) -> dict[str, Any]:
        """One API call. ``path`` may be relative to the company (``"ProductAvailability/P1/1"``)."""
        if not path.startswith("/"):
            path = f"{BASE}/{path}"
        where = route_of(method, path)
        q = {k: [v] if isinstance(v, str) else list(v) for k, v in sorted((query or {}).items())}
        resource, key = where["resource"], where["key"]
        products = list(q.get("productNumber", [])) + list(q.get("productNumberList", []))
        if resource in ("Products", "ProductAvailability") and key is not None:
            products = [key]
        if body and isinstance(body.get("orderRows"), list):
            products = [str(r["product"]["productNumber"]) for r in body["orderRows"]]
        elif body and body.get("productNumber") is not None:
            products = [str(body["productNumber"])]
        if user is _OMIT:
            user = None if status == 401 else self.user
        kind = _ERROR_KINDS.get(status) if error_kind is _OMIT else error_kind
        if quirk in ("transient-deadlock", "transient-timeout", "orders-list-timeout") or (
            fault in ("transient-deadlock", "transient-timeout")
        ):
            kind = "Transient" if error_kind is _OMIT else error_kind
            if message is None:
                message = DEADLOCK if "deadlock" in (quirk or fault or "") else TIMEOUT
        record: dict[str, Any] = {
            "kind": "api",
            "user": user,
            "method": method,
            "path": path,
            **where,
            "warehouse": where["warehouse"] or (q["warehouse"][0] if q.get("warehouse") else None),
            "query": q,
            "productNumbers": products,
            "status": status,
            "errorKind": None if 200 <= status < 300 else kind,
            "message": message,
            "rateFamily": resource if user is not None and resource is not None else None,
            "retryAfter": retry_after,
            "latencyMs": latency_ms,
            "fault": fault,
            "quirk": quirk,
            "bodySha256": canonical_sha256(body) if body is not None else None,
            "body": dict(body) if body is not None else None,
            "resultKey": result_key,
            "pageScheme": None,
            "page": None,
            "pageSize": None,
            "rows": None,
            "totalPages": None,
            "lastPage": None,
        }
        listing = method == "GET" and resource is not None and where["operation"] is not None and (
            key is None
        )
        if listing:
            scheme = "A" if resource in SCHEME_A else "B"
            if scheme == "A":
                page = _int(q.get("pageOffset"), 0)
                size = _int(q.get("pageCount"), 100)
            else:
                page = _int(q.get("pageNumber"), 1)
                size = 100
            record.update({"pageScheme": scheme, "page": page, "pageSize": size})
            if 200 <= status < 300:
                n = 5 if rows is _OMIT else rows
                if scheme == "A":
                    last = (n is not None and n < size) if last_page is _OMIT else last_page
                    record.update({"rows": n, "lastPage": last})
                else:
                    total = 1 if total_pages is _OMIT else total_pages
                    last = (total is not None and page >= total) if last_page is _OMIT else last_page
                    record.update({"rows": n, "totalPages": total, "lastPage": last})
            else:
                for name, value in (("rows", rows), ("totalPages", total_pages), ("lastPage", last_page)):
                    if value is not _OMIT:
                        record[name] = value
        return self._add(at, record)

    def availability(
        self,
        at: float,
        product: str | None = None,
        *,
        warehouse: str | None = None,
        modified_from: str | None = None,
        page: int | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """``GET ProductAvailability`` (scheme B), filtered by one product, a warehouse and/or a change date."""
        query: dict[str, Sequence[str] | str] = {}
        if product is not None:
            query["productNumber"] = product
        if warehouse is not None:
            query["warehouse"] = warehouse
        if modified_from is not None:
            query["modifiedDateFrom"] = modified_from
        if page is not None:
            query["pageNumber"] = str(page)
        return self.api(at, "GET", "ProductAvailability", query=query, **kw)

    def item(self, at: float, product: str, warehouse: str = "1", **kw: Any) -> dict[str, Any]:
        """``GET ProductAvailability/{productNumber}/{warehouse}``: one item."""
        return self.api(at, "GET", f"ProductAvailability/{product}/{warehouse}", **kw)

    def list_read(
        self,
        at: float,
        resource: str,
        *,
        modified_from: str | None = None,
        page: int | None = None,
        page_count: int | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """A list: scheme A for CustomerOrders and Products (``pageOffset`` from 0, ``pageCount``), scheme B for
        the rest (``pageNumber`` from 1). ``modified_from`` becomes ``changedAfterDate`` for Customers."""
        query: dict[str, Sequence[str] | str] = dict(kw.pop("query", {}) or {})
        if modified_from is not None:
            query["changedAfterDate" if resource == "Customers" else "modifiedDateFrom"] = modified_from
        if resource in SCHEME_A:
            if page is not None:
                query["pageOffset"] = str(page)
            if page_count is not None:
                query["pageCount"] = str(page_count)
        elif page is not None:
            query["pageNumber"] = str(page)
        return self.api(at, "GET", resource, query=query, **kw)

    def get_order(self, at: float, number: str, **kw: Any) -> dict[str, Any]:
        return self.api(at, "GET", f"CustomerOrders/{number}", **kw)

    def find_order(self, at: float, external: str, **kw: Any) -> dict[str, Any]:
        """``GET CustomerOrders?orderNumberExternal=...``: did my unanswered POST make an order?"""
        return self.list_read(at, "CustomerOrders", query={"orderNumberExternal": external}, **kw)

    def create_order(
        self,
        at: float,
        external: str,
        rows: Sequence[tuple[str, int]],
        *,
        customer: str = "10001",
        warehouse: str = "1",
        address: Mapping[str, Any] | None = None,
        status: int = 200,
        result_key: str | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        body = order_body(external, rows, customer=customer, warehouse=warehouse, address=address)
        return self.api(at, "POST", "CustomerOrders", body=body, status=status, result_key=result_key, **kw)

    def edit_order(self, at: float, number: str, body: Mapping[str, Any], **kw: Any) -> dict[str, Any]:
        return self.api(at, "PUT", f"CustomerOrders/{number}", body=body, **kw)

    def cancel_order(self, at: float, number: str, **kw: Any) -> dict[str, Any]:
        return self.api(at, "DELETE", f"CustomerOrders/{number}", **kw)

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
            "kind": "delivery",
            "deliveryId": delivery_id,
            "notificationId": f"00000000-0000-0000-0000-{int(delivery_id, 16) % 10**12:012d}",
            "subscription": "shop",
            "url": self.url,
            "attempt": attempt,
            "notifications": [{"Action": action, "Details": dict(details)}]
            + [{"Action": a, "Details": dict(d)} for a, d in extra],
            "status": status,
            "error": error,
            "latencyMs": latency_ms,
            "outcome": outcome,
            "fault": fault,
            "forged": forged,
            "origin": None,
        }
        return self._add(at, record)

    def balance_hook(
        self, at: float, product: str, warehouse: str = "1", balance: int = 5, **kw: Any
    ) -> dict[str, Any]:
        details = {"ProductNumber": product, "Warehouse": warehouse, "AvailableBalance": balance}
        return self.hook(at, "AvailableBalanceChanged", details, **kw)

    def order_hook(
        self, at: float, action: str, order: str, external: str | None, warehouse: str = "1", **kw: Any
    ) -> dict[str, Any]:
        details = {"OrderNumber": order, "OrderNumberExternal": external, "Warehouse": warehouse}
        return self.hook(at, action, details, **kw)


def balance_row(product: str, warehouse: str, available: int) -> dict[str, Any]:
    """A truth row (``GET /_mock/state`` ``balances``)."""
    return {"productNumber": product, "warehouse": warehouse, "physicalBalance": available + 1,
            "orderedQuantity": 1, "blockedBalance": 0, "availableBalanceNow": available}


def probe_of(truth: Mapping[str, Any], own: Iterable[str]) -> dict[str, Any]:
    """The probe of a client that holds every balance and its own orders exactly as the truth has them."""
    mine = set(own)
    return {
        "balances": [{k: row[k] for k in ("productNumber", "warehouse", "availableBalanceNow")}
                     for row in truth["balances"]],
        "orders": [{"orderNumber": o["orderNumber"], "orderStatus": o["orderStatus"]}
                   for o in truth["orders"] if o["orderNumber"] in mine],
    }


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
            "user": self.builder.user,
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
            for row in view["balances"]:
                if row["productNumber"] == product and row["warehouse"] == warehouse:
                    row["availableBalanceNow"] = value


EMPTY: dict[str, Any] = {"balances": [], "orders": []}
PRODUCTS = ["P1", "P2", "P3", "P4", "P5", "P6", "P 7", "P8", "P9", "P10", "P11", "P12"]
WAREHOUSES = ["1", "2"]


def good_client(user: str = "demo") -> Run:
    """The trace of a well-behaved webshop integration over about four minutes."""
    b = JournalBuilder(user)
    since = b.since(-3600)
    # initial load: scheme A Products (pageCount 10: a full page, then a short one), scheme B Customers and
    # ProductAvailability, and the orders changed lately (scheme A; the page past the end answers 400, a quirk)
    b.list_read(0.5, "Products", page_count=10, rows=10)
    b.list_read(0.7, "Products", page_count=10, page=1, rows=4)
    b.list_read(1.0, "Customers")
    b.availability(1.5, total_pages=2)
    b.availability(1.7, page=2, total_pages=2)
    b.list_read(2.0, "CustomerOrders", modified_from=since, page_count=2, rows=2)
    b.list_read(2.2, "CustomerOrders", modified_from=since, page_count=2, page=1, status=400,
                quirk="page-past-end", message="The page is past the end of the result.")

    # reconciliation every 60 s, by modifiedDateFrom (the cursor overlaps the previous pass)
    for n, at in enumerate((60.0, 120.0, 180.0, 240.0)):
        cursor = b.since(at - 61.0 if n else 2.0)
        b.availability(at, modified_from=cursor)
        b.list_read(at + 0.2, "CustomerOrders", modified_from=cursor)

    # balance hooks, each followed by a single-item read a moment later
    b.balance_hook(10.0, "P1", "1", 7)
    b.balance_hook(10.1, "P2", "1", 3)
    b.balance_hook(10.2, "P3", "2", 0)
    b.item(11.0, "P1", "1")
    b.item(11.05, "P2", "1")
    b.item(11.1, "P3", "2")

    # an order the harness asked the shop for: created, then its allocation moves P4
    b.create_order(20.0, "EXT-1", [("P4", 2)], result_key="100001")
    b.balance_hook(20.3, "P4", "1", 8)
    b.item(21.0, "P4", "1")
    b.order_hook(40.0, "OrderReserved", "100001", "EXT-1")
    b.get_order(40.5, "100001")
    b.order_hook(70.0, "OrderPicked", "100001", "EXT-1")
    b.get_order(70.4, "100001")

    # a small storm on P5 and P6, coalesced into one modifiedDateFrom read
    for i in range(6):
        b.balance_hook(80.0 + 0.3 * i, "P5" if i % 2 else "P6", "1", 10 - i)
    b.availability(82.0, modified_from=b.since(79.0))
    b.balance_hook(84.0, "P5", "1", 4)
    b.item(85.0, "P5", "1")

    # a harness-injected 429 window: Retry-After respected
    b.balance_hook(89.5, "P 7", "1", 6)
    b.item(90.0, "P 7", "1", status=429, retry_after=2, fault="status:429")
    b.item(92.3, "P 7", "1")

    # a 500 on an order fetch, retried with back-off
    b.order_hook(100.0, "OrderDeliveryDataChanged", "100001", "EXT-1")
    b.get_order(100.3, "100001", status=500, fault="status:500")
    b.get_order(101.3, "100001", status=500, fault="status:500")
    b.get_order(103.3, "100001")

    # a forged hook, refused and ignored
    b.balance_hook(110.0, "P8", "1", 999, status=401, forged=True)

    # a duplicate delivery of one hook (same Id): read once
    dup = b.balance_hook(120.0, "P9", "2", 12)
    b.balance_hook(120.4, "P9", "2", 12, delivery_id=dup["deliveryId"], fault="duplicate")
    b.item(121.0, "P9", "2")

    # a second order; an order refused as invalid, not resent
    b.create_order(130.0, "EXT-2", [("P10", 1)], result_key="100002")
    b.balance_hook(130.2, "P10", "2", 2)
    b.availability(131.0, "P10", warehouse="2")
    b.create_order(135.0, "EXT-3", [("NOPE", 1)], status=400,
                   message="The request is invalid.")

    # another channel's order: no follow-up needed
    b.order_hook(150.0, "OrderCancelled", "100099", "WEB-77")

    # a hook the client answered 410 (it no longer wants that subscription's hooks): not a failure
    b.balance_hook(160.0, "P11", "1", 1, status=410)
    b.item(161.0, "P11", "1")

    # a transient 400 (a deadlock on XTND's side) on a read, retried after a wait
    b.balance_hook(165.0, "P12", "2", 4)
    b.item(165.5, "P12", "2", status=400, quirk="transient-deadlock")
    b.item(166.6, "P12", "2")

    # the password was changed for a while: the client backs off (1, 2, 4, 8 s), then carries on
    for at in (170.0, 171.0, 173.0, 177.0):
        b.availability(at, modified_from=b.since(119.0), status=401,
                       message="Authorization has been denied for this request.")
    b.availability(185.0, modified_from=b.since(119.0))

    truth_balances = []
    for i, product in enumerate(PRODUCTS):
        for warehouse in WAREHOUSES:
            truth_balances.append(balance_row(product, warehouse, (i * 3 + int(warehouse)) % 11))
    truth = {
        "now": iso(b.t0 + 250),
        "balances": truth_balances,
        "orders": [
            {"orderNumber": "100001", "orderNumberExternal": "EXT-1", "orderStatus": "Terminated"},
            {"orderNumber": "100002", "orderNumberExternal": "EXT-2", "orderStatus": "Created"},
            {"orderNumber": "100099", "orderNumberExternal": "WEB-77", "orderStatus": "Annulled"},
        ],
    }
    probe = probe_of(truth, ("100001", "100002"))
    shop_orders = [
        {"rows": [{"productNumber": "P4", "quantity": 2}], "warehouse": "1"},
        {"rows": [{"productNumber": "P10", "quantity": 1}], "warehouse": "1"},
    ]
    return Run(b, truth, probe, shop_orders_requested=shop_orders)
