"""Helpers shared by the API tests: a client that checks every answer's status against the facts, request bodies in
the facts' camelCase shapes, XTND's error bodies, and small readers of the truth (/_mock) and the journal."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi.testclient import TestClient

from tests.conftest import API, basic

UNAUTHORIZED = {"Message": "Authorization has been denied for this request."}
STOCKHOLM = ZoneInfo("Europe/Stockholm")
DATE_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
# Statuses any operation may answer beside its documented ones (docs/wire.md, "Errors"): no or wrong credentials,
# a body past the limit
ALWAYS_POSSIBLE = frozenset({401, 413})


# ---------------------------------------------------------------------------------------------- facts
@cache
def facts() -> dict[str, Any]:
    """The vendor Swagger's facts as the fake ships them (the same facts as ../shared/xtnd-api-facts.json)."""
    text = resources.files("mock_xtnd.api").joinpath("xtnd_facts.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


# Observed in a production client's request collection, not in the Swagger (docs/wire.md)
OBSERVED_OPS = [{"id": "ProductAvailability_GetSingleProductAvailability", "method": "GET",
                 "path": "/v1_0/{client}/ProductAvailability/{productNumber}/{warehouse}",
                 "statuses": [200, 400, 404, 429]}]


def operation(method: str, relative: str) -> dict[str, Any]:
    """The facts operation that ``METHOD Resource/...`` (a path relative to the company, keys encoded) names."""
    segments = relative.split("?", 1)[0].strip("/").split("/")
    for op in [*facts()["operations"], *OBSERVED_OPS]:
        parts = op["path"].strip("/").split("/")[2:]
        if op["method"] != method.upper() or len(parts) != len(segments):
            continue
        if all(p.startswith("{") or p.lower() == s.lower() for p, s in zip(parts, segments, strict=True)):
            return op
    raise AssertionError(f"no operation {method} {relative} in the facts")


def schema_fields(name: str) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = facts()["schemas"][name]
    return fields


def assert_always_filled(obj: dict[str, Any], schema: str) -> None:
    """Every field of the schema is present, and every ``Always`` field is non-null (docs/wire.md)."""
    missing = [f["name"] for f in schema_fields(schema) if f["name"] not in obj]
    assert not missing, f"{schema} lacks {missing}"
    nulls = [f["name"] for f in schema_fields(schema) if f["required"] == "Always" and obj[f["name"]] is None]
    assert not nulls, f"{schema}: Always fields null: {nulls}"


# ---------------------------------------------------------------------------------------------- the client
class Xtnd:
    """The API as a client sees it, relative to ``/RESTAPI/v1_0/demo``. Every answer's status is checked against
    what the facts document for the operation (plus 401 and 413, and whatever ``extra`` allows: 500 for an
    injected fault)."""

    def __init__(self, client: TestClient, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = headers if headers is not None else basic()

    def request(self, method: str, relative: str, *, extra: Iterable[int] = (), headers: dict[str, str] | None = None,
                **kwargs: Any) -> httpx.Response:
        r = self.client.request(method, f"{API}/{relative}", headers={**self.headers, **(headers or {})}, **kwargs)
        op = operation(method, relative)
        allowed = set(op["statuses"]) | ALWAYS_POSSIBLE | set(extra)
        assert r.status_code in allowed, (
            f"{method} {relative} answered {r.status_code}, which {op['id']} does not document "
            f"({sorted(op['statuses'])}): {r.text[:300]}")
        return r

    def get(self, relative: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", relative, **kwargs)

    def post(self, relative: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", relative, **kwargs)

    def put(self, relative: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", relative, **kwargs)

    def delete(self, relative: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", relative, **kwargs)

    # ------------------------------------------------------------------ common reads
    def ok(self, method: str, relative: str, **kwargs: Any) -> Any:
        r = self.request(method, relative, **kwargs)
        assert r.status_code == 200, f"{method} {relative}: {r.status_code} {r.text[:500]}"
        return r.json()

    def availability(self, product_number: str, warehouse: str = "1") -> dict[str, Any]:
        item: dict[str, Any] = self.ok("GET", f"ProductAvailability/{quote_key(product_number)}/{warehouse}")
        return item

    def order(self, number: str) -> dict[str, Any]:
        order: dict[str, Any] = self.ok("GET", f"CustomerOrders/{number}")
        return order

    def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.ok("POST", "CustomerOrders", json=body)
        return created


def quote_key(key: str) -> str:
    """A free-text key as a path segment (spaces and slashes encoded)."""
    from urllib.parse import quote

    return quote(key, safe="")


# ---------------------------------------------------------------------------------------------- errors
def assert_message(r: httpx.Response, status: int, contains: str | None = None) -> str:
    """``status`` with the plain ``{"Message": ...}`` body (no ModelState)."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:500]}"
    body = r.json()
    assert set(body) == {"Message"}, body
    assert isinstance(body["Message"], str) and body["Message"], body
    if contains is not None:
        assert contains.lower() in body["Message"].lower(), body
    message: str = body["Message"]
    return message


def assert_invalid(r: httpx.Response, *paths: str) -> dict[str, list[str]]:
    """400 ``{"Message": "The request is invalid.", "ModelState": {...}}`` naming each of ``paths``."""
    assert r.status_code == 400, f"expected 400, got {r.status_code}: {r.text[:500]}"
    body = r.json()
    assert set(body) == {"Message", "ModelState"}, body
    assert body["Message"] == "The request is invalid.", body
    state: dict[str, list[str]] = body["ModelState"]
    assert state and all(isinstance(v, list) and v and all(isinstance(m, str) and m for m in v)
                         for v in state.values()), state
    for path in paths:
        assert path in state, f"ModelState does not name {path!r}; it names {sorted(state)}"
    return state


# ---------------------------------------------------------------------------------------------- bodies
def row(product_number: str, quantity: float = 1, *, unit: str = "st", unit_price: float | None = 99.5,
        warehouse: str | None = "1", **extra: Any) -> dict[str, Any]:
    sales: dict[str, Any] = {"quantity": quantity, "unit": unit}
    if unit_price is not None:
        sales.update(unitPrice=unit_price, currency="SEK", vatPercent=25.0)
    out: dict[str, Any] = {"product": {"productNumber": product_number}, "salesData": sales}
    if warehouse is not None:
        out["warehouse"] = warehouse
    out.update(extra)
    return out


def order_body(rows: list[dict[str, Any]], external: str | None = "WEB-1", customer: str = "10001",
               **header: Any) -> dict[str, Any]:
    head: dict[str, Any] = {"customerNumber": customer}
    if external is not None:
        head["orderNumberExternal"] = external
    head.update(header)
    return {"orderHeader": head, "orderRows": rows}


def customer_body(name: str = "Nordisk Handel AB", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "customerLogisticsSettings": {"termsOfDelivery": "DAP"},
        "customerDeliveryAddress": {"address": {"address1": "Storgatan 1", "postalCode": "11122",
                                                "city": "Stockholm", "country": "SE"}},
    }
    body.update(extra)
    return body


# ---------------------------------------------------------------------------------------------- truth and journal
def state(client: TestClient, include_products: bool = False) -> dict[str, Any]:
    r = client.get("/_mock/state", params={"include": "products"} if include_products else None)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def stocked(client: TestClient, warehouse: str = "1", at_least: int = 20, skip: int = 0,
            match: Callable[[str], bool] = str.isdigit) -> str:
    """A sellable product with at least ``at_least`` available in ``warehouse`` (the ``skip``-th such)."""
    st = state(client, include_products=True)
    enabled = {p["productNumber"] for p in st["products"] if p["enabled"]}
    found = [b["productNumber"] for b in st["balances"]
             if b["warehouse"] == warehouse and b["productNumber"] in enabled and match(b["productNumber"])
             and b["availableBalanceNow"] >= at_least and b["blockedBalance"] == 0]
    assert len(found) > skip, f"fewer than {skip + 1} products with {at_least} available in {warehouse}"
    return found[skip]


def last_seq(client: TestClient) -> int:
    seq: int = client.get("/_mock/journal", params={"limit": 1}).json()["lastSeq"]
    return seq


def journal_since(client: TestClient, seq: int, kind: str = "api") -> list[dict[str, Any]]:
    r = client.get("/_mock/journal", params={"since": seq, "kind": kind})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def outbox_actions(truth: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every notification staged in the outbox, in order: (Action, Details)."""
    return [(n["Action"], n["Details"]) for d in truth["outbox"] for n in d["notifications"]]


# the ``fetch_truth`` fixture's type (tests/conftest.py): GET /_mock/truth now
Truth = Callable[[], dict[str, Any]]


def new_events(fetch_truth: Truth, before: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The notifications staged since the truth ``before`` was read."""
    return outbox_actions(fetch_truth())[len(outbox_actions(before)):]


def assert_local_date(text: str) -> datetime:
    """ISO 8601 with milliseconds and the Stockholm offset of that instant (+01:00 in winter, +02:00 in summer)."""
    assert isinstance(text, str) and DATE_MS.match(text), text
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == parsed.astimezone(STOCKHOLM).utcoffset(), f"{text}: not Stockholm's offset"
    return parsed


def utc_param(moment: datetime) -> str:
    """A filter value as XTND documents them: ``YYYY-MM-DDTHH:MM:SS`` meant as UTC."""
    from datetime import UTC

    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def clock_now(client: TestClient) -> datetime:
    text = client.get("/_mock/clock").json()["now"]
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def advance(client: TestClient, seconds: float) -> None:
    r = client.post("/_mock/clock/advance", json={"seconds": seconds})
    assert r.status_code == 200, r.text


# Subscription that captures every action in the outbox without ever sending (first attempt an hour away on a
# virtual clock; tests that compare the truth move it by less): the outbox then shows every event a request caused.
CAPTURE = {"name": "capture", "callback_url": "http://127.0.0.1:9/xtnd/webhooks", "secret": "s3cret",
           "triggers": ["OrderPicked", "OrderReserved", "OrderCancelled", "BalanceChanged", "AvailableBalanceChanged",
                        "OrderDeliveryDataChanged", "ProductCreated", "ProductChanged", "OrderCreated",
                        "CustomerCreated", "CustomerChanged", "CustomerInvoiceCreated"]}
CAPTURE_DELAY = {"delay_seconds": 3600}
