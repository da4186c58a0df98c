"""Typed, read-only views of journal records (docs/journal-format.md) and how evidence is printed.

The rules read these views; the raw record is kept alongside so a violation can quote exactly what the fake
recorded. Parsing is lenient about what the judge does not need and strict about nothing: a journal from a newer
fake with extra keys must still be judged.
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

#: The list routes whose full re-read without ``changedSince`` is blind polling.
LIST_RESOURCES = frozenset({"Products", "Customers", "CustomerOrders"})
#: Query parameters that select a page of a pass rather than what the pass reads.
PAGING_PARAMS = frozenset({"page"})
#: Order hooks a webshop must follow with ``GET CustomerOrders/{n}`` (for orders it created).
ORDER_FOLLOW_ACTIONS = ("OrderReserved", "OrderPicked", "OrderCancelled", "OrderDeliveryDataChanged")
ORDER_ACTIONS = frozenset({*ORDER_FOLLOW_ACTIONS, "OrderCreated"})
#: The status a (forged) order hook claims the order has now.
ORDER_ACTION_STATUS = {"OrderReserved": "Reserved", "OrderPicked": "Picked", "OrderCancelled": "Cancelled"}


def parse_time(value: Any) -> float:
    """Seconds since the epoch for an ISO 8601 ``...Z`` string (or a number, taken as already converted)."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
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
    """SHA-256 hex of canonical JSON (sorted keys), the same digest the fake stores in ``BodySha256``."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class ApiCall:
    """One ``Kind: "api"`` record."""

    seq: int
    time: float
    client_id: str | None
    method: str
    path: str
    route: str | None
    resource: str | None
    key: str | None
    query: Mapping[str, tuple[str, ...]]
    product_numbers: tuple[str, ...]
    status: int
    error_type: str | None
    rate_group: str | None
    retry_after: float | None
    latency_ms: float
    fault: str | None
    body_sha256: str | None
    body: Mapping[str, Any] | None
    result_key: str | None
    total_pages: int | None
    raw: Record = field(repr=False, compare=False)

    @classmethod
    def from_record(cls, record: Record) -> ApiCall:
        body = record.get("Body")
        return cls(
            seq=int(record["Seq"]),
            time=parse_time(record["Time"]),
            client_id=_str_or_none(record.get("ClientId")),
            method=str(record.get("Method") or "").upper(),
            path=str(record.get("Path") or ""),
            route=_str_or_none(record.get("Route")),
            resource=_str_or_none(record.get("Resource")),
            key=_str_or_none(record.get("Key")),
            query=_normalise_query(record.get("Query")),
            product_numbers=tuple(str(p) for p in record.get("ProductNumbers") or ()),
            status=_int_or_none(record.get("Status")) or 0,
            error_type=_str_or_none(record.get("ErrorType")),
            rate_group=_str_or_none(record.get("RateGroup")),
            retry_after=_float_or_none(record.get("RetryAfter")),
            latency_ms=_float_or_none(record.get("LatencyMs")) or 0.0,
            fault=_str_or_none(record.get("Fault")) or None,
            body_sha256=_str_or_none(record.get("BodySha256")),
            body=body if isinstance(body, Mapping) else None,
            result_key=_str_or_none(record.get("ResultKey")),
            total_pages=_int_or_none(record.get("TotalPages")),
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
        return self.success and self.fault is None

    @property
    def page(self) -> int:
        values = self.query.get("page")
        if not values:
            return 1
        number = _int_or_none(values[0])
        return 1 if number is None else number

    @property
    def changed_since(self) -> str | None:
        values = self.query.get("changedSince")
        return values[0] if values else None

    @property
    def warehouses(self) -> frozenset[str]:
        return frozenset(self.query.get("warehouseNumber", ()))

    @property
    def is_availability(self) -> bool:
        return self.method == "GET" and self.resource == "ProductAvailability"

    @property
    def is_product_fetch(self) -> bool:
        """An availability query naming specific products and no change date: the shape polling takes."""
        return self.is_availability and bool(self.product_numbers) and self.changed_since is None

    @property
    def is_listing(self) -> bool:
        """A paged list answer: the three lists, ProductAvailability and ProductPrices."""
        if self.method != "GET" or self.route is None:
            return False
        if self.resource in LIST_RESOURCES:
            return self.key is None
        return self.resource in {"ProductAvailability", "ProductPrices"}

    @property
    def is_full_read(self) -> bool:
        """A list read that asks for everything: no ``changedSince`` and no product filter."""
        if not self.is_listing or self.changed_since is not None:
            return False
        if self.resource in {"ProductAvailability", "ProductPrices"}:
            return not self.query.get("productNumber")
        return True

    @property
    def is_write(self) -> bool:
        return self.method in {"POST", "PUT", "PATCH", "DELETE"} and self.resource not in {None, "Token"}

    @property
    def is_order_create(self) -> bool:
        return self.method == "POST" and self.resource == "CustomerOrders" and self.key is None

    @property
    def is_order_edit(self) -> bool:
        """``PUT CustomerOrders/{n}`` or ``POST CustomerOrders/{n}/cancel``."""
        if self.resource != "CustomerOrders" or self.key is None:
            return False
        return self.method == "PUT" or (self.method == "POST" and self.path.lower().endswith("/cancel"))

    @property
    def signature(self) -> tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...], str | None]:
        """What makes two requests identical (Method, Path, Query, BodySha256)."""
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
        if self.error_type:
            answer.append(self.error_type)
        if self.retry_after is not None:
            answer.append(f"Retry-After {self.retry_after:g}")
        if self.total_pages is not None and self.total_pages > 1 and self.is_listing:
            answer.append(f"TotalPages {self.total_pages}")
        if self.fault:
            answer.append(f"fault {self.fault}")
        return f"#{self.seq} {clock_text(self.time)} {self.method} {target} ({', '.join(answer)})"


@dataclass(frozen=True)
class Notification:
    action: str
    details: Mapping[str, Any]

    @property
    def product(self) -> str | None:
        return _str_or_none(self.details.get("ProductNumber"))

    @property
    def warehouse(self) -> str | None:
        return _str_or_none(self.details.get("WarehouseNumber"))

    @property
    def order(self) -> str | None:
        return _str_or_none(self.details.get("OrderNumber"))

    @property
    def external_order(self) -> str | None:
        return _str_or_none(self.details.get("ExternalOrderNumber"))

    def describe(self) -> str:
        if self.product is not None:
            where = f"@{self.warehouse}" if self.warehouse is not None else ""
            value = self.details.get("AvailableBalance", self.details.get("Balance"))
            return f"{self.action} {self.product}{where}" + (f"={value}" if value is not None else "")
        if self.order is not None:
            return f"{self.action} {self.order}"
        return self.action


@dataclass(frozen=True)
class Delivery:
    """One ``Kind: "delivery"`` record: a webhook delivery attempt."""

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
        for note in record.get("Notifications") or ():
            if isinstance(note, Mapping):
                details = note.get("Details")
                notes.append(
                    Notification(
                        str(note.get("Action") or ""), details if isinstance(details, Mapping) else {}
                    )
                )
        return cls(
            seq=int(record["Seq"]),
            time=parse_time(record["Time"]),
            delivery_id=str(record.get("DeliveryId") or f"seq-{record['Seq']}"),
            notification_id=_str_or_none(record.get("NotificationId")),
            url=_str_or_none(record.get("Url")),
            attempt=_int_or_none(record.get("Attempt")) or 1,
            notifications=tuple(notes),
            status=_int_or_none(record.get("Status")),
            error=_str_or_none(record.get("Error")),
            latency_ms=_float_or_none(record.get("LatencyMs")) or 0.0,
            outcome=_str_or_none(record.get("Outcome")),
            fault=_str_or_none(record.get("Fault")) or None,
            forged_flag=bool(record.get("Forged")),
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
