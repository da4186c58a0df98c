"""Typed, read-only views of journal records (docs/journal-format.md) and how evidence is printed.

The rules read these views; the raw record is kept alongside so a violation can quote exactly what the fake
recorded. Parsing is lenient about what the judge does not need and strict about nothing: a journal from a newer
fake with extra keys must still be judged. Keys are camelCase (one vocabulary with the API); the webhook
``notifications`` keep the wire's PascalCase ``Action``/``Details``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson

Record = Mapping[str, Any]

#: The change filter of each list (xtnd-contract.md §1.1): re-reading the list without it is blind polling.
CHANGE_FILTERS: Mapping[str, str] = {
    "Products": "modifiedDateFrom",
    "CustomerOrders": "modifiedDateFrom",
    "ProductAvailability": "modifiedDateFrom",
    "Customers": "changedAfterDate",
}
#: Every "changed since" parameter a list may take (the journal names them in the operation's canonical case).
SINCE_PARAMS = ("modifiedDateFrom", "changedAfterDate", "createDateFrom", "changeDateFrom")
#: Query parameters that name one record (or a handful): a list asked with one is a lookup, not a full read.
KEY_FILTERS: Mapping[str, frozenset[str]] = {
    "Products": frozenset({"productNumber"}),
    "ProductAvailability": frozenset({"productNumber"}),
    "ProductPrices": frozenset({"productNumberList"}),
    "CustomerOrders": frozenset({"orderNumber", "orderNumberExternal"}),
    "Customers": frozenset({"customerNumber", "customerNumberSearch"}),
    "WarehouseStockLevels": frozenset({"productNumber"}),
}
#: Query parameters that select a page of a pass rather than what the pass reads.
PAGING_PARAMS = frozenset({"pageNumber", "pageOffset"})
#: Faults that cut or replaced the answer: the client did not get a good read even when ``status`` is 2xx.
CUT_FAULTS = frozenset({"drop", "truncate", "commit-then-drop", "outage"})
#: Order hooks a webshop must follow with ``GET CustomerOrders/{n}`` (for orders it created).
ORDER_FOLLOW_ACTIONS = ("OrderReserved", "OrderPicked", "OrderCancelled", "OrderDeliveryDataChanged")
ORDER_ACTIONS = frozenset({*ORDER_FOLLOW_ACTIONS, "OrderCreated"})
#: The header ``orderStatus`` values a (forged) order hook claims the order has now (docs/wire.md lifecycle).
ORDER_ACTION_STATUS: Mapping[str, frozenset[str]] = {
    "OrderReserved": frozenset({"Reserved"}),
    "OrderPicked": frozenset({"Terminated", "PartiallyDelivered"}),
    "OrderCancelled": frozenset({"Annulled"}),
}
#: The single-record reads (``GET <Resource>/{id}``) and what their key names.
SINGLE_READ_SUBJECT = {"Products": "productData", "CustomerOrders": "order", "Customers": "customer"}


def parse_time(value: Any) -> float:
    """Seconds since the epoch for an ISO 8601 string (``...Z``, an offset, or none: UTC, as XTND reads its
    filters), or a number taken as already converted."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def try_parse_time(value: Any) -> float | None:
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        return None


def clock_text(seconds: float) -> str:
    """``12:00:01.234`` (UTC), the short form used on evidence lines."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M:%S.%f")[:-3]


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _normalise_query(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        if isinstance(values, list | tuple):
            out[str(name)] = tuple(str(v) for v in values)
        elif values is not None:
            out[str(name)] = (str(values),)
    return dict(sorted(out.items()))


def query_string(query: Mapping[str, Iterable[str]]) -> str:
    parts = [f"{name}={quote(value, safe=':,@')}" for name, values in query.items() for value in values]
    return "&".join(parts)


def canonical_sha256(value: Any) -> str:
    """SHA-256 hex of canonical JSON (sorted keys), the same digest the fake stores in ``bodySha256``."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def lookup(mapping: Any, *path: str) -> Any:
    """``mapping[path[0]][path[1]]...`` or None; keys match case-insensitively (Json.NET binds them so)."""
    current = mapping
    for key in path:
        if not isinstance(current, Mapping):
            return None
        if key in current:
            current = current[key]
            continue
        lowered = key.lower()
        current = next((v for k, v in current.items() if str(k).lower() == lowered), None)
    return current


def order_external(body: Mapping[str, Any] | None) -> str | None:
    """``orderHeader.orderNumberExternal`` of a ``CustomerOrder`` body."""
    return _str_or_none(lookup(body, "orderHeader", "orderNumberExternal"))


def order_rows(body: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    rows = lookup(body, "orderRows")
    return [r for r in rows if isinstance(r, Mapping)] if isinstance(rows, list) else []


@dataclass(frozen=True)
class ApiCall:
    """One ``kind: "api"`` record."""

    seq: int
    time: float
    user: str | None
    #: the user the auth header named even when it was refused (journals before it: None)
    claimed_user: str | None
    method: str
    path: str
    route: str | None
    operation: str | None
    resource: str | None
    key: str | None
    warehouse: str | None
    query: Mapping[str, tuple[str, ...]]
    product_numbers: tuple[str, ...]
    status: int
    error_kind: str | None
    message: str | None
    rate_family: str | None
    retry_after: float | None
    latency_ms: float
    fault: str | None
    quirk: str | None
    body_sha256: str | None
    body: Mapping[str, Any] | None
    result_key: str | None
    page_scheme: str | None
    page_number: int | None
    page_size: int | None
    rows: int | None
    total_pages: int | None
    last_page: bool | None
    raw: Record = field(repr=False, compare=False)

    @classmethod
    def from_record(cls, record: Record) -> ApiCall:
        body = record.get("body")
        scheme = _str_or_none(record.get("pageScheme"))
        return cls(
            seq=int(record["seq"]),
            time=parse_time(record["time"]),
            user=_str_or_none(record.get("user")),
            claimed_user=_str_or_none(record.get("claimedUser")),
            method=str(record.get("method") or "").upper(),
            path=str(record.get("path") or ""),
            route=_str_or_none(record.get("route")),
            operation=_str_or_none(record.get("operation")),
            resource=_str_or_none(record.get("resource")),
            key=_str_or_none(record.get("key")),
            warehouse=_str_or_none(record.get("warehouse")),
            query=_normalise_query(record.get("query")),
            product_numbers=tuple(str(p) for p in record.get("productNumbers") or ()),
            status=_int_or_none(record.get("status")) or 0,
            error_kind=_str_or_none(record.get("errorKind")),
            message=_str_or_none(record.get("message")),
            rate_family=_str_or_none(record.get("rateFamily")),
            retry_after=_float_or_none(record.get("retryAfter")),
            latency_ms=_float_or_none(record.get("latencyMs")) or 0.0,
            fault=_str_or_none(record.get("fault")) or None,
            quirk=_str_or_none(record.get("quirk")) or None,
            body_sha256=_str_or_none(record.get("bodySha256")),
            body=body if isinstance(body, Mapping) else None,
            result_key=_str_or_none(record.get("resultKey")),
            page_scheme=scheme.upper() if scheme else None,
            page_number=_int_or_none(record.get("page")),
            page_size=_int_or_none(record.get("pageSize")),
            rows=_int_or_none(record.get("rows")),
            total_pages=_int_or_none(record.get("totalPages")),
            last_page=_bool_or_none(record.get("lastPage")),
            raw=record,
        )

    # -- what the call was -------------------------------------------------------------------------------------

    @property
    def answered_at(self) -> float:
        """When the answer left the fake (arrival time plus the time spent answering)."""
        return self.time + max(self.latency_ms, 0.0) / 1000.0

    @property
    def success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def ok(self) -> bool:
        """A 2xx answer the client really received (no injected fault cut or replaced it)."""
        return self.success and self.fault not in CUT_FAULTS

    @property
    def transient(self) -> bool:
        """A transient 400 (SQL deadlock or timeout): retry it after a wait (xtnd-contract.md §1.2)."""
        return self.error_kind == "Transient"

    @property
    def unauthorized(self) -> bool:
        return self.status == 401 or self.error_kind == "Unauthorized"

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def scheme(self) -> str | None:
        """The paging scheme: from the journal, else from the operation (lists of CustomerOrders and Products
        are scheme A, every other list scheme B)."""
        if self.page_scheme in ("A", "B"):
            return self.page_scheme
        if not self.is_listing:
            return None
        return "A" if self.resource in ("CustomerOrders", "Products") else "B"

    @property
    def page(self) -> int:
        """The page asked for: scheme A ``pageOffset`` (from 0), scheme B ``pageNumber`` (from 1)."""
        if self.page_number is not None:
            return self.page_number
        if self.scheme == "A":
            value = _int_or_none(self.param("pageOffset"))
            return 0 if value is None else value
        value = _int_or_none(self.param("pageNumber"))
        return 1 if value is None else value

    @property
    def first_page(self) -> int:
        return 0 if self.scheme == "A" else 1

    @property
    def is_first_page(self) -> bool:
        return self.page == self.first_page

    @property
    def is_first_page_or_single(self) -> bool:
        """A single-record read, or the first page of a list (later pages belong to the same read)."""
        return not self.is_listing or self.is_first_page

    @property
    def modified_from(self) -> str | None:
        """The list's "changed since" filter (``modifiedDateFrom``, ``changedAfterDate``, ...), if any."""
        for name in SINCE_PARAMS:
            value = self.param(name)
            if value is not None:
                return value
        return None

    @property
    def warehouses(self) -> frozenset[str]:
        """Warehouses the call is about (empty: all)."""
        return frozenset({self.warehouse}) if self.warehouse else frozenset(self.query.get("warehouse", ()))

    @property
    def is_availability(self) -> bool:
        return self.method == "GET" and self.resource == "ProductAvailability"

    @property
    def is_listing(self) -> bool:
        """A GET of a list (a collection, not ``<Resource>/{id}``)."""
        if self.method != "GET" or self.route is None or self.resource is None:
            return False
        if self.operation is not None:
            return not (self.operation.endswith(("_GetOrder", "_GetProduct", "_GetCustomer"))
                        or self.operation == "ProductAvailability_GetSingleProductAvailability")
        return self.key is None

    @property
    def is_lookup(self) -> bool:
        """A list asked with a filter naming records (``productNumber``, ``orderNumberExternal``, ...)."""
        keys = KEY_FILTERS.get(self.resource or "", frozenset())
        return self.is_listing and any(self.query.get(k) for k in keys)

    @property
    def is_change_list(self) -> bool:
        """A list read with its "changed since" filter."""
        return self.is_listing and self.modified_from is not None

    @property
    def is_full_read(self) -> bool:
        """A list read that asks for everything: no change filter and no filter naming records."""
        return self.is_listing and self.modified_from is None and not self.is_lookup

    @property
    def item_subjects(self) -> tuple[tuple[str, str], ...]:
        """What a single-item read is about: ``("product", P)`` (its availability), ``("productData", P)`` (``GET
        Products``), ``("order", N)``, ``("customer", C)``. Single-item
        reads are ``GET ProductAvailability/{pn}/{wh}``, ``GET ProductAvailability?productNumber=X`` (no change
        filter), ``GET Products/{id}``, ``GET Products?productNumber=X``, ``GET CustomerOrders/{id}``,
        ``GET Customers/{id}``. Empty for anything else."""
        if self.method != "GET" or self.resource is None:
            return ()
        if self.is_listing:
            if self.modified_from is not None:
                return ()
            if self.resource in ("ProductAvailability", "Products") and self.param("productNumber"):
                kind = "product" if self.resource == "ProductAvailability" else "productData"
                return tuple((kind, p) for p in dict.fromkeys(self.query["productNumber"]))
            return ()
        if self.key is None:
            return ()
        if self.resource == "ProductAvailability":
            return (("product", self.key),)
        single = SINGLE_READ_SUBJECT.get(self.resource)
        return ((single, self.key),) if single else ()

    @property
    def is_product_fetch(self) -> bool:
        """A single-item read of a product's availability (what hooks trigger and pollers repeat)."""
        return self.is_availability and any(kind == "product" for kind, _ in self.item_subjects)

    @property
    def is_write(self) -> bool:
        return self.method in {"POST", "PUT", "PATCH", "DELETE"} and self.resource is not None

    @property
    def is_order_create(self) -> bool:
        return self.method == "POST" and self.resource == "CustomerOrders" and self.key is None

    @property
    def is_order_edit(self) -> bool:
        """``PUT CustomerOrders/{id}`` or ``DELETE CustomerOrders/{id}``."""
        return self.resource == "CustomerOrders" and self.key is not None and self.method in ("PUT", "DELETE")

    @property
    def external_order(self) -> str | None:
        """The ``orderNumberExternal`` a POST CustomerOrders sent, or a lookup asked for."""
        if self.is_order_create:
            return order_external(self.body)
        if self.method == "GET" and self.resource == "CustomerOrders":
            return self.param("orderNumberExternal")
        return None

    @property
    def signature(self) -> tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...], str | None]:
        """What makes two requests identical (method, path, query, bodySha256)."""
        return (self.method, self.path.lower(), tuple(self.query.items()), self.body_sha256)

    @property
    def pass_key(self) -> tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]]:
        """The query a paged pass reads, whatever page this call asked for."""
        rest = tuple((k, v) for k, v in self.query.items() if k not in PAGING_PARAMS)
        return (self.method, self.path.lower(), rest)

    # -- evidence ----------------------------------------------------------------------------------------------

    def evidence_line(self) -> str:
        target = self.path + (f"?{query_string(self.query)}" if self.query else "")
        answer = [str(self.status)]
        if self.error_kind:
            answer.append(self.error_kind)
        if self.quirk:
            answer.append(f"quirk {self.quirk}")
        if self.retry_after is not None:
            answer.append(f"Retry-After {self.retry_after:g}")
        if self.is_listing and self.rows is not None:
            answer.append(f"{self.rows} rows")
        if self.is_listing and self.total_pages is not None and self.total_pages > 1:
            answer.append(f"totalPages {self.total_pages}")
        if self.fault:
            answer.append(f"fault {self.fault}")
        if self.result_key and self.is_write:
            answer.append(f"-> {self.result_key}")
        return f"#{self.seq} {clock_text(self.time)} {self.method} {target} ({', '.join(answer)})"


@dataclass(frozen=True)
class Notification:
    action: str
    details: Mapping[str, Any]

    def _detail(self, name: str) -> str | None:
        return _str_or_none(lookup(self.details, name))

    @property
    def product(self) -> str | None:
        return self._detail("ProductNumber")

    @property
    def warehouse(self) -> str | None:
        return self._detail("Warehouse")

    @property
    def order(self) -> str | None:
        return self._detail("OrderNumber")

    @property
    def external_order(self) -> str | None:
        return self._detail("OrderNumberExternal")

    @property
    def customer(self) -> str | None:
        return self._detail("CustomerNumber")

    @property
    def balance(self) -> Any:
        value = lookup(self.details, "AvailableBalance")
        return lookup(self.details, "Balance") if value is None else value

    def describe(self) -> str:
        if self.product is not None:
            where = f"@{self.warehouse}" if self.warehouse is not None else ""
            value = self.balance
            return f"{self.action} {self.product}{where}" + (f"={value}" if value is not None else "")
        if self.order is not None:
            return f"{self.action} {self.order}"
        if self.customer is not None:
            return f"{self.action} {self.customer}"
        return self.action


@dataclass(frozen=True)
class Delivery:
    """One ``kind: "delivery"`` record: a webhook delivery attempt."""

    seq: int
    time: float
    delivery_id: str
    notification_id: str | None
    url: str | None
    attempt: int
    notifications: tuple[Notification, ...]
    status: int | None
    error: str | None
    latency_ms: float
    outcome: str | None
    fault: str | None
    forged_flag: bool
    raw: Record = field(repr=False, compare=False)

    @classmethod
    def from_record(cls, record: Record) -> Delivery:
        notes = []
        for note in record.get("notifications") or ():
            if isinstance(note, Mapping):
                details = note.get("Details")
                notes.append(
                    Notification(
                        str(note.get("Action") or ""), details if isinstance(details, Mapping) else {}
                    )
                )
        return cls(
            seq=int(record["seq"]),
            time=parse_time(record["time"]),
            delivery_id=str(record.get("deliveryId") or f"seq-{record['seq']}"),
            notification_id=_str_or_none(record.get("notificationId")),
            url=_str_or_none(record.get("url")),
            attempt=_int_or_none(record.get("attempt")) or 1,
            notifications=tuple(notes),
            status=_int_or_none(record.get("status")),
            error=_str_or_none(record.get("error")),
            latency_ms=_float_or_none(record.get("latencyMs")) or 0.0,
            outcome=_str_or_none(record.get("outcome")),
            fault=_str_or_none(record.get("fault")) or None,
            forged_flag=bool(record.get("forged")),
            raw=record,
        )

    @property
    def forged(self) -> bool:
        """Sent with a bad or missing signature on purpose: a receiver must refuse it."""
        return self.forged_flag or self.fault == "tampered-signature"

    @property
    def delivered(self) -> bool:
        """The receiver answered 2xx."""
        if self.status is not None:
            return 200 <= self.status < 300
        return self.outcome == "delivered"

    def evidence_line(self) -> str:
        what = ", ".join(n.describe() for n in self.notifications) or "(no notifications)"
        answer = str(self.status) if self.status is not None else (self.error or "no answer")
        extras = [f"{self.latency_ms:.0f} ms"]
        if self.outcome:
            extras.append(self.outcome)
        if self.forged:
            extras.append("FORGED")
        if self.fault:
            extras.append(f"fault {self.fault}")
        return (
            f"#{self.seq} {clock_text(self.time)} hook {what} attempt {self.attempt} -> {answer} "
            f"({', '.join(extras)})"
        )


def evidence_line(item: ApiCall | Delivery) -> str:
    return item.evidence_line()
