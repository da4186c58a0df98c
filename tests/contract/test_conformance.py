"""Conformance with the vendor's facts (../shared/xtnd-api-facts.json), for every implemented operation:

(a) the facts the fake vendored (mock_xtnd/api/xtnd_facts.json) are the shared facts: path, parameters (names, places,
    types, required), response type, statuses, and every schema and enum the operations reach, field for field;
(b) the OpenAPI document the fake serves says the same: paths, parameters and their types, request and response
    schemas, required flags, enums, statuses;
(c) live answers of every operation, driven on a seeded in-process fake (creating, reserving and picking what they
    need), match the same schemas: every Always field present and non-null, types right, enum values from the facts,
    dates ISO 8601 with milliseconds and an offset.

Each failure names the operation and the field that differs. The checks here are written from the facts file alone:
nothing in this file asks the fake's own validator or OpenAPI builder what a type means.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.api.routes import OBSERVED, ROUTES, Route
from mock_xtnd.app import create_app
from mock_xtnd.domain.reference import REPORTS
from mock_xtnd.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SHARED_FACTS = ROOT.parent / "shared" / "xtnd-api-facts.json"
VENDORED_FACTS = ROOT / "mock_xtnd" / "api" / "xtnd_facts.json"
PRIMITIVES = ("string", "int", "double", "bool", "DateTimeOffset", "Guid")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ROUTE_BY_ID = {r.op_id: r for r in ROUTES}


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        pytest.fail(f"{path} is missing: the conformance test reads the vendor's facts (CI has ../shared)",
                    pytrace=False)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


SHARED = _load(SHARED_FACTS)
VENDORED = _load(VENDORED_FACTS)
SHARED_OPS = {op["id"]: op for op in SHARED["operations"]}
VENDORED_OPS = {op["id"]: op for op in VENDORED["operations"]}
DOCUMENTED = [r.op_id for r in ROUTES if r.op_id not in OBSERVED]


def split(type_name: str) -> tuple[str, bool, bool]:
    """(base, nullable, array) of a facts type: ``int?``, ``X[]``, ``List<X>``, ``IEnumerable<X>``."""
    nullable = type_name.endswith("?")
    base = type_name.rstrip("?")
    if base.endswith("[]"):
        return base[:-2], nullable, True
    for prefix in ("List<", "IEnumerable<"):
        if base.startswith(prefix) and base.endswith(">"):
            return base[len(prefix):-1], nullable, True
    return base, nullable, False


def reachable(roots: list[str]) -> list[str]:
    """The shared facts' schemas and enums the given types reach."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        base = split(stack.pop())[0]
        if base in seen or (base not in SHARED["schemas"] and base not in SHARED["enums"]):
            continue
        seen.add(base)
        stack.extend(f["type"] for f in SHARED["schemas"].get(base, []))
    return sorted(seen)


def _facts_op(route: Route) -> dict[str, Any]:
    """The shared facts' operation; the observed one as the route table declares it (no facts to compare with)."""
    if route.op_id in SHARED_OPS:
        return SHARED_OPS[route.op_id]
    op = route.facts
    return {"id": op.id, "method": op.method, "path": op.path, "response": op.response, "statuses": list(op.statuses),
            "params": [{"name": p.name, "in": p.where, "type": p.type, "required": p.required} for p in op.params]}


ROOTS = [t for r in ROUTES for t in [_facts_op(r)["response"], *(p["type"] for p in _facts_op(r)["params"])] if t]
REACHED = reachable(ROOTS)


def _params(op: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    return [(p["name"], p["in"], p["type"], bool(p["required"])) for p in op["params"]]


# ---------------------------------------------------------------------------------------------- (a) vendored facts
@pytest.mark.parametrize("op_id", DOCUMENTED)
def test_vendored_operation_is_the_shared_one(op_id: str) -> None:
    shared, vendored = SHARED_OPS.get(op_id), VENDORED_OPS.get(op_id)
    assert shared is not None, f"{op_id} is in the route table but not in the vendor's facts"
    assert vendored is not None, f"{op_id} is missing from mock_xtnd/api/xtnd_facts.json"
    problems = [f"{op_id}: {key} is {vendored.get(key)!r} in the vendored facts, {shared.get(key)!r} in the shared"
                for key in ("method", "path", "response", "statuses") if vendored.get(key) != shared.get(key)]
    if _params(vendored) != _params(shared):
        problems.append(f"{op_id}: parameters (name, in, type, required) differ:\n  vendored {_params(vendored)}\n"
                        f"  shared   {_params(shared)}")
    assert not problems, "\n".join(problems)


def test_vendored_schemas_and_enums_are_the_shared_ones() -> None:
    problems = []
    for name in REACHED:
        if name in SHARED["enums"]:
            if VENDORED["enums"].get(name) != SHARED["enums"][name]:
                problems.append(f"enum {name}: vendored {VENDORED['enums'].get(name)} != shared {SHARED['enums'][name]}")
            continue
        shared = {f["name"]: f for f in SHARED["schemas"][name]}
        vendored = {f["name"]: f for f in VENDORED["schemas"].get(name, [])}
        for field in sorted(shared.keys() - vendored.keys()):
            problems.append(f"{name}.{field}: missing from the vendored facts")
        for field in sorted(vendored.keys() - shared.keys()):
            problems.append(f"{name}.{field}: in the vendored facts, not in the shared")
        for field in sorted(shared.keys() & vendored.keys()):
            for key in ("type", "required", "maxLength"):
                if shared[field].get(key) != vendored[field].get(key):
                    problems.append(f"{name}.{field}: {key} {vendored[field].get(key)!r} in the vendored facts, "
                                    f"{shared[field].get(key)!r} in the shared")
    assert len(REACHED) > 50, REACHED  # the implemented operations reach most of the order and customer models
    assert not problems, "\n".join(problems)


def test_observed_operations_answer_a_facts_schema() -> None:
    for op_id, op in OBSERVED.items():
        assert op_id not in SHARED_OPS, f"{op_id} is in the vendor's Swagger now: drop it from OBSERVED"
        assert op.response in SHARED["schemas"], f"{op_id} answers {op.response}, which the facts do not define"
        assert op.path.startswith("/v1_0/{client}/"), op.path
        assert all(p.type in PRIMITIVES for p in op.params), op.params


# ---------------------------------------------------------------------------------------------- (b) served OpenAPI
def expected_schema(type_name: str, required: bool) -> dict[str, Any]:
    """A facts type as OpenAPI 3.0 writes it (the vendor's own mapping)."""
    base, nullable, array = split(type_name)
    nullable = nullable or not required
    primitive = {"string": {"type": "string"}, "int": {"type": "integer", "format": "int32"},
                 "double": {"type": "number", "format": "double"}, "bool": {"type": "boolean"},
                 "DateTimeOffset": {"type": "string", "format": "date-time"},
                 "Guid": {"type": "string", "format": "uuid"}}
    item = dict(primitive[base]) if base in primitive else {"$ref": f"#/components/schemas/{base}"}
    if array:
        out: dict[str, Any] = {"type": "array", "items": item}
    elif "$ref" in item:
        return {"allOf": [item], "nullable": True} if nullable else item
    else:
        out = item
    if nullable:
        out["nullable"] = True
    return out


TYPE_KEYS = ("type", "format", "items", "$ref", "allOf", "nullable", "enum")


def _types(schema: dict[str, Any]) -> dict[str, Any]:
    """What a schema says about type (limits and words dropped)."""
    return {k: v for k, v in schema.items() if k in TYPE_KEYS}


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    with TestClient(create_app(Settings(clock="virtual"))) as c:
        r = c.get("/RESTAPI/swagger/docs/v1")
        assert r.status_code == 200, r.text
        spec: dict[str, Any] = r.json()
        return spec


def served_operation(spec: dict[str, Any], route: Route) -> tuple[str, dict[str, Any]]:
    """The served operation of a route and its full path template (server URL + path)."""
    facts_path = _facts_op(route)["path"]
    area = facts_path.strip("/").split("/")[0]
    relative = "/" + "/".join(facts_path.strip("/").split("/")[2:])
    item = spec["paths"].get(relative)
    assert item is not None, f"{route.op_id}: no path {relative} in the served document"
    servers = item.get("servers") or spec["servers"]
    url = servers[0]["url"]
    assert url == f"/RESTAPI/{area}/{{client}}", f"{route.op_id}: server {url}"
    operation = item.get(route.method.lower())
    assert operation is not None, f"{route.op_id}: no {route.method} at {relative}"
    return url + relative, operation


@pytest.mark.parametrize("op_id", [r.op_id for r in ROUTES])
def test_served_operation_says_what_the_facts_say(served: dict[str, Any], op_id: str) -> None:
    route = ROUTE_BY_ID[op_id]
    op = _facts_op(route)
    template, operation = served_operation(served, route)
    problems = []
    if "/RESTAPI" + op["path"] != template:
        problems.append(f"path: served {template}, facts /RESTAPI{op['path']}")
    if operation.get("operationId") != op_id:
        problems.append(f"operationId: {operation.get('operationId')}")
    given = {(p["name"], p["in"]): p for p in operation.get("parameters", [])}
    wanted = {(p["name"], p["in"]): p for p in op["params"] if p["in"] in ("query", "path") and p["name"] != "client"}
    for key in sorted(wanted.keys() - given.keys()):
        problems.append(f"parameter {key[0]} ({key[1]}): missing")
    for key in sorted(given.keys() - wanted.keys()):
        problems.append(f"parameter {key[0]} ({key[1]}): not in the facts")
    for key in sorted(wanted.keys() & given.keys()):
        p, s = wanted[key], given[key]
        if s.get("required", False) != (bool(p["required"]) or p["in"] == "path"):
            problems.append(f"parameter {p['name']}: required {s.get('required')}, facts {p['required']}")
        if _types(s["schema"]) != expected_schema(p["type"], required=True):
            problems.append(f"parameter {p['name']}: schema {_types(s['schema'])}, facts type {p['type']} = "
                            f"{expected_schema(p['type'], True)}")
    body = next((p for p in op["params"] if p["in"] == "body"), None)
    if body is not None:
        schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if schema != expected_schema(body["type"], required=True):
            problems.append(f"request body: {schema}, facts {body['type']}")
        if operation["requestBody"].get("required", False) != bool(body["required"]):
            problems.append(f"request body: required {operation['requestBody'].get('required', False)}, facts "
                            f"{body['required']}")
    elif "requestBody" in operation:
        problems.append("request body: the facts have none")
    ok = operation["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema")
    if ok != (expected_schema(op["response"], required=True) if op["response"] else None):
        problems.append(f"200: {ok}, facts {op['response']}")
    statuses = {int(s) for s in operation["responses"]}
    wanted_statuses = set(op["statuses"]) | {401} | ({413} if body is not None else set())
    if statuses != wanted_statuses:
        problems.append(f"statuses: served {sorted(statuses)}, facts {sorted(op['statuses'])} + 401"
                        + (" + 413" if body is not None else ""))
    assert not problems, f"{op_id}:\n  " + "\n  ".join(problems)


def test_served_components_are_the_facts_schemas(served: dict[str, Any]) -> None:
    components = served["components"]["schemas"]
    problems = []
    for name in REACHED:
        component = components.get(name)
        if component is None:
            problems.append(f"{name}: missing from components")
            continue
        if name in SHARED["enums"]:
            if component != {"type": "string", "enum": SHARED["enums"][name]}:
                problems.append(f"enum {name}: served {component}")
            continue
        fields = SHARED["schemas"][name]
        properties = component.get("properties", {})
        if list(properties) != [f["name"] for f in fields]:
            problems.append(f"{name}: properties {list(properties)}, facts {[f['name'] for f in fields]}")
        required = [f["name"] for f in fields if f["required"] == "Always"]
        if component.get("required", []) != required:
            problems.append(f"{name}: required {component.get('required', [])}, facts Always {required}")
        if component.get("additionalProperties", True) is not True:
            problems.append(f"{name}: must allow added fields (models only gain fields)")
        for f in fields:
            prop = properties.get(f["name"])
            if prop is None:
                continue
            wanted = expected_schema(f["type"], required=f["required"] == "Always")
            if _types(prop) != wanted:
                problems.append(f"{name}.{f['name']}: served {_types(prop)}, facts {f['type']} ({f['required']}) = "
                                f"{wanted}")
            if prop.get("maxLength") != f.get("maxLength"):
                problems.append(f"{name}.{f['name']}: maxLength {prop.get('maxLength')}, facts {f.get('maxLength')}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------- (c) live answers
def check(type_name: str, value: Any, where: str, problems: list[str]) -> None:
    """``value`` against a facts type; each problem names its path."""
    base, _, array = split(type_name)
    if value is None:
        return  # requiredness is the containing object's business
    if array:
        if not isinstance(value, list):
            problems.append(f"{where}: expected an array of {base}, got {value!r:.60}")
            return
        for i, v in enumerate(value):
            if v is None:
                problems.append(f"{where}[{i}]: null item")
            check(base, v, f"{where}[{i}]", problems)
        return
    if base in SHARED["schemas"]:
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object ({base}), got {value!r:.60}")
            return
        for f in SHARED["schemas"][base]:
            path = f"{where}.{f['name']}"
            if f["required"] == "Always" and value.get(f["name"]) is None:
                problems.append(f"{path}: Always, but {'null' if f['name'] in value else 'missing'}")
            if f["name"] in value:
                check(f["type"], value[f["name"]], path, problems)
                if f.get("maxLength") and isinstance(value[f["name"]], str) and len(value[f["name"]]) > f["maxLength"]:
                    problems.append(f"{path}: longer than maxLength {f['maxLength']}")
        return
    if base in SHARED["enums"]:
        if value not in SHARED["enums"][base]:
            problems.append(f"{where}: {value!r} is not a {base} (one of {SHARED['enums'][base]})")
        return
    ok: bool
    if base == "string":
        ok = isinstance(value, str)
    elif base == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31
    elif base == "double":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif base == "bool":
        ok = isinstance(value, bool)
    elif base == "DateTimeOffset":
        ok = isinstance(value, str) and DATE.match(value) is not None
    elif base == "Guid":
        ok = isinstance(value, str) and UUID.match(value) is not None
    else:
        problems.append(f"{where}: the facts type {base} is unknown to this test")
        return
    if not ok:
        problems.append(f"{where}: {value!r:.60} is not a {type_name}"
                        + (" (ISO 8601 with milliseconds and an offset)" if base == "DateTimeOffset" else ""))


def check_untyped(value: Any, where: str, problems: list[str]) -> None:
    """An answer the facts give no type (GenericReports): a JSON object, no null items in its lists, and every value
    of a ``...Date`` field written as the API writes dates (ISO 8601 with milliseconds and an offset)."""
    if where == "" and not isinstance(value, dict):
        problems.append(f"(the answer): expected a JSON object, got {value!r:.60}")
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            if v is None:
                problems.append(f"{where}[{i}]: null item")
            check_untyped(v, f"{where}[{i}]", problems)
    elif isinstance(value, dict):
        for key, v in value.items():
            path = f"{where}.{key}"
            if str(key).endswith("Date") and v is not None \
                    and not (isinstance(v, str) and DATE.match(v) is not None):
                problems.append(f"{path}: {v!r:.60} is not ISO 8601 with milliseconds and an offset")
            check_untyped(v, path, problems)


SETTINGS = Settings(clock="virtual", seed=1, quirks={"transient_errors": 0}, catalogue={"products": 30, "customers": 8})
USER = SETTINGS.users[0]
AUTH = {"ExtendBasicAuthorization": "Basic " + base64.b64encode(f"{USER.username}:{USER.password}".encode()).decode()}
API = f"/RESTAPI/v1_0/{SETTINGS.company}"
Answers = dict[str, list[tuple[str, Any]]]


class Driver:
    """Calls every implemented operation at least once, on records it makes where it needs them."""

    def __init__(self, client: TestClient) -> None:
        self.c = client
        self.answers: Answers = {}

    def call(self, op_id: str, method: str, path: str, area: str = "v1_0", **kwargs: Any) -> Any:
        base = API if area == "v1_0" else f"/RESTAPI/{area}/{SETTINGS.company}"
        r = self.c.request(method, base + path, headers={**AUTH, **kwargs.pop("headers", {})}, **kwargs)
        assert r.status_code == 200, f"{op_id}: {method} {path} answered {r.status_code} {r.text[:300]}"
        assert r.headers["content-type"].startswith("application/json"), (op_id, r.headers["content-type"])
        body = r.json()
        self.answers.setdefault(op_id, []).append((f"{method} {path}", body))
        return body

    def run(self) -> Answers:
        c = self.c
        customers = self.call("Customers_GetCustomers", "GET", "/Customers")["customerList"]
        customer = customers[0]["customerNumber"]
        self.call("Customers_GetCustomers", "GET", "/Customers", params={"pageNumber": 2})  # past the end
        availability = self.call("ProductAvailability_GetProductAvailability", "GET", "/ProductAvailability",
                                 params={"warehouse": SETTINGS.default_warehouse})["productAvailabilityList"]
        stocked = [a["productNumber"] for a in availability if a["availableBalanceNow"] > 5]
        assert len(stocked) >= 3, availability
        product, other = stocked[0], stocked[1]
        # a purchase on its way, so availability carries receiving dates and quantities
        r = c.post("/_mock/backoffice/purchases", json={"warehouse": SETTINGS.default_warehouse,
                                                          "rows": [{"productNumber": product, "quantity": 7}]})
        assert r.status_code == 201, r.text
        wh = SETTINGS.default_warehouse
        self.call("ProductAvailability_GetSingleProductAvailability", "GET",
                  f"/ProductAvailability/{quote(product, safe='')}/{wh}")
        self.call("ProductAvailability_GetProductAvailability", "GET", "/ProductAvailability",
                  params={"productNumber": product})
        self.call("Products_GetAllProducts", "GET", "/Products", params={"pageCount": 25})
        self.call("Products_GetProduct", "GET", f"/Products/{quote(product, safe='')}")
        self.call("ProductPrices_GetAllProductPrices", "GET", "/ProductPrices",
                  params={"customerNumber": customer, "productNumberList": [product, other]})
        self.call("ProductPrices_GetAllProductPrices", "GET", "/ProductPrices", params={"customerNumber": customer})
        self.call("WarehouseStockLevels_GetWarehouseStocklevels", "GET", "/WarehouseStockLevels",
                  params={"warehouse": wh})
        self.call("WarehouseStockLevels_AdjustBalance", "PUT", "/WarehouseStockLevels",
                  json={"warehouse": wh, "productNumber": other, "balanceDifference": 4})
        self.call("WarehouseStockLevels_SetBalance", "POST", "/WarehouseStockLevels",
                  json={"warehouse": wh, "productNumber": other, "balance": 40})

        created = self.call("Customers_PostNewCustomer", "POST", "/Customers", json={
            "name": "Conformance AB", "customerLogisticsSettings": {},
            "customerDeliveryAddress": {"address": {"address1": "Storgatan 1", "postalCode": "111 22",
                                                    "city": "Stockholm", "country": "SE"}},
            "customerContacts": [{"firstName": "Ada", "lastName": "Lind", "changeDate": "2026-01-02T03:04:05Z"}],
        })
        number = created["customerNumber"]
        read = self.call("Customers_GetCustomer", "GET", f"/Customers/{quote(number, safe='')}")
        self.call("Customers_PutExistingCustomer", "PUT", f"/Customers/{quote(number, safe='')}",
                  json={**read, "phone": "08-123 456"})

        def order(external: str, rows: list[tuple[str, float]]) -> str:
            body = self.call("CustomerOrders_PostNewOrder", "POST", "/CustomerOrders", json={
                "orderHeader": {"customerNumber": customer, "orderNumberExternal": external,
                                "askedDeliveryDate": "2026-02-01T10:00:00", "yourReference": "conformance",
                                "external": {"receivedDate": "2026-01-05T07:00:00Z"}},
                "orderRows": [{"product": {"productNumber": p}, "salesData": {"quantity": q, "unit": "st"},
                               "shipDate": "2026-01-20T12:00:00+01:00"} for p, q in rows]})
            number: str = body["orderHeader"]["orderNumber"]
            return number

        changed = order("C-1", [(product, 1.0)])
        cancelled = order("C-2", [(other, 2.0)])
        shipped = order("C-3", [(product, 1.0), (other, 1.0)])
        backordered = order("C-4", [(stocked[2], 100_000.0)])
        for n in (shipped, backordered):
            assert c.post(f"/_mock/orders/{n}/reserve", json={}).status_code == 200
            assert c.post(f"/_mock/orders/{n}/pick", json={}).status_code == 200
        current = self.call("CustomerOrders_GetOrder", "GET", f"/CustomerOrders/{changed}")
        current["orderHeader"]["yourReference"] = "changed"
        self.call("CustomerOrders_PutExistingOrder", "PUT", f"/CustomerOrders/{changed}", json=current)
        self.call("CustomerOrders_DeleteOrder", "DELETE", f"/CustomerOrders/{cancelled}")
        for n in (changed, cancelled, shipped, backordered):
            self.call("CustomerOrders_GetOrder", "GET", f"/CustomerOrders/{n}")
        self.call("CustomerOrders_GetAllOrders", "GET", "/CustomerOrders",
                  params={"modifiedDateFrom": "2000-01-01T00:00:00"})
        self.purchasing(customer, product, other, shipped)
        self.invoicing(customer, product, other)
        self.offers_and_order_tools(customer, product, other)
        self.master_data(product)
        self.reference(product)
        return self.answers

    # ------------------------------------------------------------------ the operations of issue 13
    def purchasing(self, customer: str, product: str, other: str, shipped: str) -> None:
        c, wh = self.c, SETTINGS.default_warehouse
        created = self.call("PurchaseOrders_PostNewPurchaseOrder", "POST", "/PurchaseOrders", json={
            "header": {"warehouse": wh, "externalOrderNumber": "EXT-PO-1", "reference": "conformance",
                       "supplier": {"supplierNumber": "SA-HOME"}},
            "rows": [{"productNumber": product, "purchaseDataProductUnit": {"quantity": 6, "unit": "st"},
                      "expectedDeliveryDate": "2026-02-01T08:00:00Z"},
                     {"productNumber": other, "purchaseDataProductUnit": {"quantity": 3.0, "unit": "st",
                                                                           "unitPrice": 12.5}}]})
        number = created["header"]["purchaseNumber"]
        read = self.call("PurchaseOrders_GetPurchaseOrder", "GET", f"/PurchaseOrders/{quote(number, safe='')}")
        read["rows"][0]["purchaseDataProductUnit"]["quantity"] = 8
        read["header"]["notes"] = "two more"
        self.call("PurchaseOrders_PutExistingPurchaseOrder", "PUT", f"/PurchaseOrders/{quote(number, safe='')}",
                  json=read)
        r = c.post(f"/_mock/backoffice/purchases/{number}/receive", json={"quantity": 2})
        assert r.status_code == 200, r.text
        self.call("PurchaseOrders_GetPurchaseOrder", "GET", f"/PurchaseOrders/{quote(number, safe='')}")
        self.call("PurchaseOrders_GetPurchaseOrderList", "GET", "/PurchaseOrders")
        self.call("PurchaseOrders_GetPurchaseOrderList", "GET", "/PurchaseOrders",
                  params={"warehouse": wh, "createDateFrom": "2000-01-01T00:00:00Z", "supplierNumber": "SA-HOME"})
        self.call("PurchaseOrders_GetPurchaseOrderList", "GET", "/PurchaseOrders", content=b"true",
                  headers={"content-type": "application/json"})
        self.call("PurchaseOrders_GetPurchaseOrderList", "GET", "/PurchaseOrders", params={"isReceived": "false"})

        codes = self.call("ReturnOrderRowCodes_GetAllReturnOrderRowCodes", "GET", "/ReturnOrderRowCodes")
        code = codes["returnOrderRowCodeList"][0]["returnCode"]
        whole = self.call("ReturnOrders_PostNewReturnOrder", "POST", "/ReturnOrders", json={
            "createAction": {"action": "ReturnCompleteCustomerOrder", "orderNumber": shipped, "returnCode": code},
            "header": {"reference": "conformance"}})
        loose = self.call("ReturnOrders_PostNewReturnOrder", "POST", "/ReturnOrders", json={
            "createAction": {"action": "ReturnProducts"},
            "header": {"warehouse": wh, "customerNumber": customer, "returnType": 0},
            "rows": [{"productNumber": product, "returnCode": code,
                      "salesData": {"quantity": 1, "unit": "st", "unitPrice": 10.0}}]})
        for ret in (whole, loose):
            self.call("ReturnOrders_GetReturnOrder", "GET", f"/ReturnOrders/{ret['header']['returnNumber']}")
        r = c.post(f"/_mock/backoffice/returns/{whole['header']['returnNumber']}/receive", json={})
        assert r.status_code == 200, r.text
        self.call("ReturnOrders_GetReturnOrder", "GET", f"/ReturnOrders/{whole['header']['returnNumber']}")
        self.call("ReturnOrders_GetReturnOrderList", "GET", "/ReturnOrders")
        self.call("ReturnOrders_GetReturnOrderList", "GET", "/ReturnOrders",
                  params={"customerNumber": customer, "referenceOrderNumber": shipped})
        self.call("ReturnOrders_GetReturnOrderList", "GET", "/ReturnOrders", params={"isOpen": "true"})

    def invoicing(self, customer: str, product: str, other: str) -> None:
        made = self.call("CustomerOrderInvoices_PostNewOrderToInvoice", "POST", "/CustomerOrderInvoices", json={
            "orderHeader": {"customerNumber": customer, "orderNumberExternal": "C-INV-1"},
            "orderRows": [{"product": {"productNumber": other}, "salesData": {"quantity": 2, "unit": "st"}}]})
        invoices = self.call("CustomerInvoices_GetCustomerInvoiceList", "GET", "/CustomerInvoices")
        assert invoices["customerInvoiceList"], invoices
        self.call("CustomerInvoices_GetCustomerInvoiceList", "GET", "/CustomerInvoices",
                  params={"customerNumber": customer, "invoiceType": "OrderDebit",
                          "changeDateFrom": "2000-01-01T00:00:00Z"})
        self.call("CustomerInvoices_GetCustomerInvoiceList", "GET", "/CustomerInvoices",
                  params={"orderNumberExternal": "C-INV-1"})
        self.call("CustomerInvoices_GetCustomerInvoiceList", "GET", "/CustomerInvoices",
                  params={"invoiceStatus": "Paid", "pageNumber": 3})  # an empty page
        for item in invoices["customerInvoiceList"]:
            self.call("CustomerInvoices_GetCustomerInvoice", "GET", f"/CustomerInvoices/{item['invoiceNumber']}")
        self.call("CustomerInvoices_GetCustomerInvoice", "GET", f"/CustomerInvoices/{made['invoiceNumber']}")

    def offers_and_order_tools(self, customer: str, product: str, other: str) -> None:
        offers = self.call("Offers_GetAllOffers", "GET", "/Offers")["offerItemList"]
        assert offers, "the seed has offers"
        self.call("Offers_GetAllOffers", "GET", "/Offers", params={"offerStatus": "Created",
                                                                    "offerDateFrom": "2000-01-01T00:00:00Z"})
        self.call("Offers_GetAllOffers", "GET", "/Offers", params={"pageNumber": 99})  # past the end
        for item in offers[:5]:
            self.call("Offers_GetOffer", "GET", f"/Offers/{item['offerNumber']}")
        open_offer = next(o["offerNumber"] for o in offers if o["offerStatus"] in ("Created", "Sent", "Resting"))
        read = self.call("Offers_GetOffer", "GET", f"/Offers/{open_offer}")
        read["offerRows"][0]["salesData"]["quantity"] = 3
        read["offerHeader"]["offerStatus"] = "Sent"
        self.call("Offers_PutExistingOffer", "PUT", f"/Offers/{open_offer}", json=read)
        self.call("Offers_GetOffer", "GET", f"/Offers/{open_offer}")

        order = {"orderHeader": {"customerNumber": customer, "askedDeliveryDate": "2026-02-03T10:00:00Z",
                                 "promotion": {"promotionCode": "WINTER"}},
                 "orderRows": [{"product": {"productNumber": product}, "salesData": {"quantity": 1, "unit": "st"}},
                               {"product": {"productNumber": other}, "salesData": {"quantity": 100000,
                                                                                   "unit": "st"}}]}
        self.call("CustomerOrderATP_PostNewOrderATP", "POST", "/CustomerOrderATP", json=order)
        self.call("CustomerOrderCampaignProcessor_CampaignProcessorPostNewOrder", "POST",
                  "/CustomerOrderCampaignProcessor", json=order)
        self.call("CustomerOrders_PostNewOrder", "POST", "/CustomerOrders", json={
            "orderHeader": {"customerNumber": customer, "orderNumberExternal": "C-AGREED", "orderType": "AgreedOrder"},
            "orderRows": [{"product": {"productNumber": product}, "salesData": {"quantity": 2, "unit": "st"}}]})
        agreed = self.call("AgreedOrderAvailability_GetAgreedOrderAvailabilityList", "GET",
                           "/AgreedOrderAvailability")
        assert agreed["agreedOrderAvailabilityList"], agreed
        self.call("AgreedOrderAvailability_GetAgreedOrderAvailabilityList", "GET", "/AgreedOrderAvailability",
                  params={"customerNumber": customer})
        self.call("CustomerOrderProjects_GetAllProjects", "GET", "/CustomerOrderProjects")
        self.call("CustomerOrderReasonCodes_GetAllReasonCode", "GET", "/CustomerOrderReasonCodes")

    def master_data(self, product: str) -> None:
        gtin = self.call("GTINs_GetNewGTIN", "GET", "/GTINs", area="internal_v1_0")["gtiNumber"]
        new = "CONF-100"
        self.call("Products_PostNewProduct", "POST", "/Products", json={
            "productNumber": new,
            "productData": {"productName": "Conformance mug", "productDescription": "A mug", "productUnit": "st",
                            "productGTINumber": gtin, "productGroupsAndCategories": {"productFamily": "KITCHEN"},
                            "productMeasurements": {"weight": 0.3}},
            "productPrices": [{"salesUnit": {"quantity": 1, "unit": "st"}, "productPriceListRows": [
                {"priceList": "STD", "numberSalesUnits": 1, "price": 99.0, "vatPercent": 25.0}]}]})
        read = self.call("Products_GetProduct", "GET", f"/Products/{new}")
        read["productData"]["productName"] = "Conformance mug, blue"
        self.call("Products_PutExistingProduct", "PUT", f"/Products/{new}", json=read)
        self.call("Products_GetProduct", "GET", f"/Products/{new}")
        self.call("Products_GetAllProducts", "GET", "/Products", params={"productNumber": new})

        texts = self.call("ProductDescriptions_GetProductDescriptions", "GET", "/ProductDescriptions",
                          params={"id": product})
        self.call("ProductDescriptions_PostNewProductDescription", "POST", "/ProductDescriptions", json={
            "productNumber": new, "productDescriptionItemList": [
                {"textType": "Description", "language": "en", "text": "A mug for conformance."},
                {"textType": "WebText", "language": "sv", "text": "En mugg."}]})
        self.call("ProductDescriptions_GetProductDescriptions", "GET", "/ProductDescriptions", params={"id": new})
        self.call("ProductDescriptions_DeleteProductDescriptions", "DELETE", f"/ProductDescriptions/{new}/WebText/sv")
        assert texts["productDescriptionItemList"], texts

        agreements = self.call("ProductSupplierAgreements_GetAllProductSupplierAgreements", "GET",
                               "/ProductSupplierAgreements")["productSupplierAgreementList"]
        assert agreements, "every product has its group's agreement"
        self.call("ProductSupplierAgreements_GetAllProductSupplierAgreements", "GET", "/ProductSupplierAgreements",
                  params={"productNumber": product})
        first = agreements[0]
        self.call("ProductSupplierAgreements_GetProductSupplierAgreement", "GET",
                  f"/ProductSupplierAgreements/{first['productNumber']}/{first['supplierAgreementNumber']}")
        agreement = {"productNumber": new, "supplierAgreementNumber": 50, "supplierAgreementName": "SA-EXTRA",
                     "country": "SE", "supplierProductNumber": "SUP-CONF-100", "supplierProductName": "Mug",
                     "price": 31.5, "vatPercent": 25, "inactive": False}
        self.call("ProductSupplierAgreements_PostNewProductSupplierAgreement", "POST", "/ProductSupplierAgreements",
                  json=agreement)
        read_agreement = self.call("ProductSupplierAgreements_GetProductSupplierAgreement", "GET",
                                   f"/ProductSupplierAgreements/{new}/50")
        self.call("ProductSupplierAgreements_PutExistingProductSupplierAgreement", "PUT",
                  f"/ProductSupplierAgreements/{new}/50", json={**read_agreement, "price": 29.0})
        self.call("ProductSupplierAgreements_GetAllProductSupplierAgreements", "GET", "/ProductSupplierAgreements",
                  params={"productNumber": new, "supplierAgreementNumber": 50})
        self.call("ProductSupplierAgreements_DeleteProductSupplier", "DELETE", f"/ProductSupplierAgreements/{new}/50")
        self.call("ProductUnits_GetAllProductUnits", "GET", "/ProductUnits")

        values = self.call("ProductProperties_GetAllProductProperties", "GET", "/ProductProperties",
                           area="internal_v1_0")
        self.call("ProductProperties_GetConnectedProductProperties", "GET", f"/ProductProperties/{product}",
                  area="internal_v1_0")
        value = values[0]["propertyValue"]
        self.call("ProductProperties_PostNewConnectedProductProperty", "POST", f"/ProductProperties/{new}/{value}",
                  area="internal_v1_0")
        self.call("ProductProperties_GetConnectedProductProperties", "GET", f"/ProductProperties/{new}",
                  area="internal_v1_0")
        self.call("ProductProperties_DeleteConnectedProductProperty", "DELETE", f"/ProductProperties/{new}/{value}",
                  area="internal_v1_0")
        self.call("Products_DeleteProduct", "DELETE", f"/Products/{new}")
        self.call("Products_GetProduct", "GET", f"/Products/{new}")

    def reference(self, product: str) -> None:
        wh = SETTINGS.default_warehouse
        self.call("BalanceAdjustments_GetBalanceAdjustment", "GET", "/BalanceAdjustments",
                  params={"warehouse": wh, "eventDateFrom": "2000-01-01T00:00:00Z"})
        self.call("BalanceAdjustments_GetBalanceAdjustment", "GET", "/BalanceAdjustments",
                  params={"warehouse": wh, "eventDateFrom": "2000-01-01T00:00:00Z", "productNumber": product})
        self.call("BalanceAdjustments_GetBalanceAdjustment", "GET", "/BalanceAdjustments",  # an empty page
                  params={"warehouse": wh, "eventDateFrom": "2099-01-01T00:00:00Z", "productNumber": product})
        self.call("Countries_GetAllCountries", "GET", "/Countries")
        currencies = self.call("Currencies_GetAllCurrencies", "GET", "/Currencies")
        self.call("Currencies_GetCurrency", "GET", f"/Currencies/{currencies[0]['currencyId']}")
        self.call("Currencies_GetCurrency", "GET", "/Currencies/eur")
        for report in REPORTS:
            self.call("GenericReports_GetList", "GET", "/GenericReports", params={"reportId": report.upper()})


@pytest.fixture(scope="module")
def answers() -> Iterator[Answers]:
    with TestClient(create_app(SETTINGS)) as client:
        yield Driver(client).run()


def test_every_operation_is_driven(answers: Answers) -> None:
    assert set(answers) == {r.op_id for r in ROUTES}, "add the missing operations to Driver.run"


@pytest.mark.parametrize("op_id", [r.op_id for r in ROUTES])
def test_live_answers_match_the_facts(answers: Answers, op_id: str) -> None:
    response_type = _facts_op(ROUTE_BY_ID[op_id])["response"]
    problems: list[str] = []
    for call, body in answers.get(op_id, []):
        found: list[str] = []
        if response_type is None:
            check_untyped(body, "", found)
        else:
            check(response_type, body, "", found)
        if body is None:
            found.append("the answer is null")
        problems += [f"{call} -> {p.lstrip('.') or '(the answer)'}" for p in found]
    assert answers.get(op_id), f"{op_id} was not driven"
    assert not problems, f"{op_id} answers differ from the facts ({response_type}):\n  " + "\n  ".join(problems)


def test_the_live_check_fails_on_what_it_should() -> None:
    """The checker itself: each kind of difference is reported with the field's path."""
    cases: list[tuple[str, Any, str]] = [
        ("StockLevel", {"warehouse": "1", "balance": 3}, ".warehouseName: Always, but missing"),
        ("StockLevel", {"warehouse": "1", "balance": None, "warehouseName": "x"}, ".balance: Always, but null"),
        ("StockLevel", {"warehouse": "1", "balance": 2.5, "warehouseName": "x"}, ".balance: 2.5 is not a int"),
        ("PaginationInformation", {"currentPage": True, "totalPages": 1, "pageSize": 1, "totalResources": 1},
         ".currentPage: True is not a int"),
        ("ProductAvailability[]", [{"changeDate": "2026-01-05T09:00:00+01:00"}], "[0].changeDate: '2026-01-05T0"),
        ("CustomerOrderListItem", {"orderStatus": "Shipped"}, ".orderStatus: 'Shipped' is not a "),
    ]
    for type_name, value, expected in cases:
        problems: list[str] = []
        check(type_name, value, "", problems)
        assert any(p.startswith(expected) for p in problems), (type_name, expected, problems)
    untyped: list[tuple[Any, str]] = [
        ([1], "(the answer): expected a JSON object"),
        ({"createDate": "2026-01-05T09:00:00Z"}, ".createDate: '2026-01-05T09:00:00Z' is not ISO 8601"),
        ({"rows": [{"a": 1}, None]}, ".rows[1]: null item"),
    ]
    for value, expected in untyped:
        problems = []
        check_untyped(value, "", problems)
        assert any(p.startswith(expected) for p in problems), (value, expected, problems)
    clean: list[str] = []
    check_untyped({"createDate": "2026-01-05T09:00:00.000+01:00", "rows": [{"x": None}]}, "", clean)
    check("PaginationInformation", {"currentPage": 1, "totalPages": 0, "pageSize": 100, "totalResources": 0,
                                    "message": None, "addedLater": [1]}, "", clean)
    assert clean == []



@pytest.mark.parametrize("resource", ["PurchaseOrders", "ReturnOrders"])
def test_a_gets_scalar_body_is_bound_as_the_facts_type_it(resource: str) -> None:
    """The facts put isOpen (bool?) in the body of GET PurchaseOrders and GET ReturnOrders: no body, null, true and
    false are answered; anything else is a 400 whose ModelState names isOpen, never a 200 or a 500."""
    headers = {**AUTH, "content-type": "application/json"}
    with TestClient(create_app(SETTINGS)) as c:
        for body in (b"", b"null", b"true", b"false", b" true "):
            r = c.request("GET", f"{API}/{resource}", headers=headers, content=body)
            assert r.status_code == 200, (body, r.text)
        for body in (b"1", b"\"maybe\"", b"{\"isOpen\": true}", b"[true]", b"tru", b"\x00"):
            r = c.request("GET", f"{API}/{resource}", headers=headers, content=body)
            assert r.status_code == 400, (body, r.status_code, r.text)
            assert list(r.json()["ModelState"]) == ["isOpen"], (body, r.text)
