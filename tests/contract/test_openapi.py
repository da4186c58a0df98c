"""The contract as a product: contracts/openapi.json is the document the fake serves at /RESTAPI/swagger/docs/v1,
derived from the route table (one route, one operation; nothing else), valid OpenAPI 3.0, honest about what XTND
documents and what the mock chose; and every document and docs page the app serves works offline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from starlette.routing import Mount, Route

from mock_xtnd.api.openapi import build_openapi, server
from mock_xtnd.api.routes import OBSERVED, ROUTES
from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "contracts" / "openapi.json"
REGENERATE = "regenerate it with: .venv/bin/python scripts/export_openapi.py (and commit contracts/openapi.json)"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
SPEC = "/RESTAPI/swagger/docs/v1"
UIS = {"/RESTAPI/swagger/ui/index": SPEC, "/_mock/docs": "/_mock/openapi.json"}
CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "fonts.googleapis.com", "fonts.gstatic.com",
             "fastapi.tiangolo.com", "validator.swagger.io", "petstore.swagger.io")


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings(clock="virtual"))


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    assert COMMITTED.exists(), f"{COMMITTED} is missing; {REGENERATE}"
    spec: dict[str, Any] = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return spec


@pytest.fixture(scope="module")
def served(client: TestClient) -> dict[str, Any]:
    r = client.get(SPEC)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    spec: dict[str, Any] = r.json()
    return spec


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items() if m in METHODS]


def texts(obj: Any) -> list[str]:
    """Every description and summary in the document."""
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("description", "summary") and isinstance(v, str):
                out.append(v)
            else:
                out += texts(v)
    elif isinstance(obj, list):
        for v in obj:
            out += texts(v)
    return out


# ---------------------------------------------------------------------------------------------- one document
def test_the_served_document_is_the_committed_file(committed: dict[str, Any], served: dict[str, Any]) -> None:
    if served != committed:
        changed = sorted({*served["paths"]} ^ {*committed["paths"]}) or [
            p for p in served["paths"] if served["paths"][p] != committed["paths"].get(p)] or ["(outside paths)"]
        pytest.fail(f"contracts/openapi.json differs from {SPEC} (paths: {changed[:5]}); {REGENERATE}")


def test_the_committed_file_is_the_generated_one_in_canonical_form() -> None:
    text = COMMITTED.read_text(encoding="utf-8")
    assert text == json.dumps(build_openapi(Settings()), sort_keys=True, indent=2, ensure_ascii=False) + "\n", \
        REGENERATE


def test_the_export_script_check_mode_agrees(tmp_path: Path) -> None:
    run = [sys.executable, str(ROOT / "scripts" / "export_openapi.py")]
    r = subprocess.run([*run, "--check"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n", encoding="utf-8")
    r = subprocess.run([*run, "--check", "--output", str(stale)], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 1 and "stale" in r.stderr


def test_the_document_is_valid_openapi_3_0(committed: dict[str, Any]) -> None:
    validate(committed)
    assert committed["openapi"].startswith("3.0.")


# ---------------------------------------------------------------------------------------------- the route table
def test_every_route_is_an_operation_and_nothing_else(committed: dict[str, Any]) -> None:
    found = {(m.upper(), p): op["operationId"] for m, p, op in operations(committed)}
    wanted = {(r.method, "/" + "/".join(r.facts.path.strip("/").split("/")[2:])): r.op_id for r in ROUTES}
    assert found == wanted, {"missing": sorted(wanted.keys() - found.keys()), "extra": sorted(found.keys() - wanted.keys())}
    assert len(set(found.values())) == len(ROUTES), "operationIds are the facts ids, one per route"


def test_a_route_in_another_area_would_get_its_own_server() -> None:
    internal = server("internal_v1_0", Settings(company="acme"))
    assert internal["url"] == "/RESTAPI/internal_v1_0/{client}"
    assert internal["variables"]["client"]["default"] == "acme"


def test_security_is_the_header_on_every_operation(committed: dict[str, Any]) -> None:
    scheme = committed["components"]["securitySchemes"]["ExtendBasicAuthorization"]
    assert {k: scheme[k] for k in ("type", "in", "name")} == {"type": "apiKey", "in": "header",
                                                               "name": "ExtendBasicAuthorization"}
    assert "Basic base64(username:password)" in scheme["description"]
    assert "Basic ZGVtbzpkZW1vLXNlY3JldA==" in scheme["description"]  # what to paste into Swagger UI's Authorize
    assert committed["security"] == [{"ExtendBasicAuthorization": []}]
    assert all("security" not in op for _, _, op in operations(committed)), "no operation opts out"
    assert len(committed["components"]["securitySchemes"]) == 1


def test_servers_carry_the_client_variable() -> None:
    for company in ("demo", "acme"):
        spec = build_openapi(Settings(company=company))
        (only,) = spec["servers"]
        assert only["url"] == "/RESTAPI/v1_0/{client}"
        assert only["variables"]["client"]["default"] == company
        assert "chosen by the mock" in only["variables"]["client"]["description"].lower()


def test_statuses_are_the_documented_ones_plus_401_and_413(committed: dict[str, Any]) -> None:
    by_id = {r.op_id: r for r in ROUTES}
    for m, p, op in operations(committed):
        route = by_id[op["operationId"]]
        with_body = route.facts.body is not None or route.scalar_body is not None  # a GET's scalar body too
        wanted = {str(s) for s in route.facts.statuses} | {"401"} | ({"413"} if with_body else set())
        assert set(op["responses"]) == wanted, (m, p)
        assert "500" not in op["responses"] and "only when the harness injects a fault" in op["description"]
        for code, response in op["responses"].items():
            if code == "200":
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == ("#/components/schemas/BadRequest" if code == "400" else "#/components/schemas/Error")
        if "429" in op["responses"]:
            assert op["responses"]["429"]["headers"]["Retry-After"]["required"] is True


def test_paging_parameters_carry_the_configured_limits() -> None:
    settings = Settings(paging={"max_page_count": 250, "default_page_count": 50, "page_size": 20},
                        max_price_products=7)
    spec = build_openapi(settings)

    def param(path: str, name: str) -> dict[str, Any]:
        return next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name)

    for path in ("/CustomerOrders", "/Products"):
        count = param(path, "pageCount")["schema"]
        assert (count["minimum"], count["maximum"], count["default"]) == (1, 250, 50)
        assert param(path, "pageOffset")["schema"]["minimum"] == 0
    for path in ("/ProductAvailability", "/ProductPrices", "/Customers", "/WarehouseStockLevels"):
        assert param(path, "pageNumber")["schema"]["minimum"] == 1
        assert "20 items a page" in param(path, "pageNumber")["description"]
    assert param("/ProductPrices", "productNumberList")["schema"]["maxItems"] == 7


# ---------------------------------------------------------------------------------------------- links
LINKS = {
    ("/CustomerOrders", "post"): {"CustomerOrders_GetOrder", "CustomerOrders_PutExistingOrder",
                                  "CustomerOrders_DeleteOrder"},
    ("/Customers", "post"): {"Customers_GetCustomer", "Customers_PutExistingCustomer",
                             "ProductPrices_GetAllProductPrices"},
    ("/CustomerOrders", "get"): {"CustomerOrders_GetOrder"},
    ("/Customers", "get"): {"Customers_GetCustomer"},
    ("/Products", "get"): {"Products_GetProduct"},
    ("/ProductAvailability", "get"): {"ProductAvailability_GetSingleProductAvailability"},
    ("/PurchaseOrders", "post"): {"PurchaseOrders_GetPurchaseOrder", "PurchaseOrders_PutExistingPurchaseOrder"},
    ("/PurchaseOrders", "get"): {"PurchaseOrders_GetPurchaseOrder"},
    ("/ReturnOrders", "post"): {"ReturnOrders_GetReturnOrder"},
    ("/ReturnOrders", "get"): {"ReturnOrders_GetReturnOrder"},
    ("/Products", "post"): {"Products_GetProduct", "Products_PutExistingProduct", "Products_DeleteProduct"},
    ("/ProductSupplierAgreements", "post"): {"ProductSupplierAgreements_GetProductSupplierAgreement",
                                             "ProductSupplierAgreements_PutExistingProductSupplierAgreement",
                                             "ProductSupplierAgreements_DeleteProductSupplier"},
    ("/ProductSupplierAgreements", "get"): {"ProductSupplierAgreements_GetProductSupplierAgreement"},
    ("/ProductDescriptions", "post"): {"ProductDescriptions_GetProductDescriptions",
                                       "ProductDescriptions_DeleteProductDescriptions"},
    ("/Offers", "get"): {"Offers_GetOffer", "Offers_PutExistingOffer"},
    ("/CustomerInvoices", "get"): {"CustomerInvoices_GetCustomerInvoice"},
}


def _pointer_resolves(spec: dict[str, Any], schema: dict[str, Any] | None, pointer: str) -> bool:
    """Whether a JSON pointer (``/orderHeader/orderNumber``, ``/0/productNumber``) names something the schema
    declares: a property of an object (through $ref and allOf) or an item of an array."""
    for token in [t for t in pointer.split("/") if t]:
        while schema is not None and ("$ref" in schema or "allOf" in schema):
            schema = (spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema
                      else schema["allOf"][0])
        if schema is None:
            return False
        if schema.get("type") == "array":
            if not token.isdigit():
                return False
            schema = schema["items"]
        else:
            schema = schema.get("properties", {}).get(token)
    return schema is not None


def _link_source(spec: dict[str, Any], operation: dict[str, Any], expression: str) -> bool:
    """Whether a link's runtime expression names something the source operation has."""
    if expression in ("$response.body", "$request.body"):
        return True
    if expression.startswith("$request.path."):
        return any(p["in"] == "path" and p["name"] == expression.removeprefix("$request.path.")
                   for p in operation.get("parameters", []))
    for prefix, schema in (("$response.body#", operation["responses"]["200"].get("content", {})),
                           ("$request.body#", operation.get("requestBody", {}).get("content", {}))):
        if expression.startswith(prefix):
            return _pointer_resolves(spec, schema.get("application/json", {}).get("schema"),
                                     expression.removeprefix(prefix))
    return False


def test_links_tie_created_and_listed_records_to_their_operations(committed: dict[str, Any]) -> None:
    ids = {r.op_id for r in ROUTES}
    links = {(p, m): op["responses"]["200"].get("links", {}) for m, p, op in operations(committed)}
    for key, wanted in LINKS.items():
        assert wanted <= {link["operationId"] for link in links[key].values()}, key
    targets = {op["operationId"]: op for _, _, op in operations(committed)}
    sources = {(p, m): op for m, p, op in operations(committed)}
    for key, by_name in links.items():
        for name, link in by_name.items():
            assert link["operationId"] in ids, (key, name)
            assert all(v.startswith(("$response.body#/", "$request.path.", "$response.body", "$request.body#/"))
                       for v in link["parameters"].values()), (key, name)
            # every value is read from something the source has, into a parameter the target takes, and a body
            # goes only to an operation that takes one
            target = targets[link["operationId"]]
            taken = {p["name"] for p in target.get("parameters", [])}
            assert set(link["parameters"]) <= taken, (key, name, sorted(taken))
            assert {p["name"] for p in target.get("parameters", []) if p["in"] == "path"} <= set(link["parameters"]), \
                (key, name, "every path parameter of the target is given")
            for value in [*link["parameters"].values(), *([link["requestBody"]] if "requestBody" in link else [])]:
                assert _link_source(committed, sources[key], value), (key, name, value)
            assert "requestBody" not in link or "requestBody" in target, (key, name)
    created = links[("/CustomerOrders", "post")]["GetCreatedOrder"]["parameters"]
    assert created == {"id": "$response.body#/orderHeader/orderNumber"}
    assert links[("/CustomerOrders", "get")]["GetFirstOrder"]["parameters"] == {"id": "$response.body#/0/orderNumber"}
    assert links[("/Customers", "get")]["GetFirstCustomer"]["parameters"] == \
        {"id": "$response.body#/customerList/0/customerNumber"}


# ---------------------------------------------------------------------------------------------- words
# Every point docs/wire.md marks as chosen, with a pattern a text labelled "chosen by the mock" must contain.
CHOSEN_POINTS = {
    "one company per fake, another client 404": r"one company per\s+fake.*another client answers 404",
    "case-insensitive paths and query names": r"match case-insensitively",
    "URL-encoded keys": r"URL-encoded",
    "wrong base path 404 naming the right one": r"wrong base path answers 404",
    "401 wording": r"Authorization has been denied for this request",
    "ASP.NET-style error bodies with ModelState": r"ASP\.NET Web API 2.*ModelState|ModelState.*ASP\.NET",
    "body binding rules": r"property names match\s+case-insensitively",
    "body limit 413": r"larger than \d+ bytes",
    "scheme B page size": r"100 items a page|page size 100",
    "scheme A maximum pageCount": r"at most 1000",
    "lists ordered by key, live paging": r"ordered by key, and paging is live",
    "time zone": r"Europe/Stockholm",
    "inclusive from-filters": r"from-filters are inclusive",
    "rate-limit window and default": r"rolling 60 s window, 300 calls",
    "500 only for injected faults": r"500 .*only when the harness injects a fault",
    "order lifecycle": r"POST makes a Created order",
    "availableBalanceNow formula": r"availableBalanceNow = physicalBalance - orderedQuantity - blockedBalance",
    "oversell": r"Overselling is accepted",
    "duplicate orderNumberExternal": r"orderNumberExternal that exists is refused",
    "filled fields": r"Default fields integrations use are filled",
}


@pytest.mark.parametrize(("point", "pattern"), CHOSEN_POINTS.items(), ids=list(CHOSEN_POINTS))
def test_every_chosen_point_is_labelled_chosen_by_the_mock(committed: dict[str, Any], point: str,
                                                           pattern: str) -> None:
    labelled = [t for t in texts(committed) if re.search(r"chosen by the mock", t, re.I)]
    assert any(re.search(pattern, t, re.S) for t in labelled), f"{point!r} is not described as chosen by the mock"


def test_each_operation_says_what_is_documented_observed_and_chosen(committed: dict[str, Any]) -> None:
    by_id = {r.op_id: r for r in ROUTES}
    for m, p, op in operations(committed):
        route = by_id[op["operationId"]]
        text = op["description"]
        source = "Observed:" if route.op_id in OBSERVED else "Documented:"
        assert text.startswith(source), (m, p)
        if route.notes:
            assert f"Chosen by the mock: {route.notes}" in text, (m, p)
        if route.paging:
            assert f"Paging scheme {route.paging}" in text, (m, p)
    observed = [op for _, _, op in operations(committed) if op["operationId"] in OBSERVED]
    assert observed and all(op.get("x-source") == "observed" for op in observed)


# ---------------------------------------------------------------------------------------------- offline docs
def _spec_routes(app: FastAPI) -> set[str]:
    """Every path the app answers with an OpenAPI document, mounted apps included."""
    found: set[str] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                walk(route.routes, prefix + route.path)
            elif isinstance(route, Route) and re.search(r"openapi\.json$|/swagger/docs/", route.path):
                found.add(prefix + route.path)

    walk(app.router.routes, "")
    return found


def test_every_document_the_app_serves_is_valid(app: FastAPI, client: TestClient) -> None:
    documents = _spec_routes(app)
    assert documents == {SPEC, "/_mock/openapi.json"}, documents
    for path in sorted(documents):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/json"), path
        validate(r.json())


def test_the_control_surface_document_lists_every_mock_route(client: TestClient) -> None:
    spec = client.get("/_mock/openapi.json").json()
    assert spec["info"]["title"] == "mock-xtnd control surface"
    for path in ("/reset", "/truth", "/orders/{orderNumber}/reserve", "/journal", "/quirks"):
        assert path in spec["paths"], path
    assert not any(p.startswith("/RESTAPI") for p in spec["paths"]), "XTND's API is not part of /_mock"


def _references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


@pytest.mark.parametrize("page", sorted(UIS))
def test_docs_pages_load_everything_from_the_app_itself(client: TestClient, page: str) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), page
    html = r.text
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", html), f"{page} loads from another host"
    assert re.search(r"url:\s*'" + re.escape(UIS[page]) + "'", html), f"{page} does not load {UIS[page]}"
    assert client.get(UIS[page]).status_code == 200
    assert '"validatorUrl": null' in html, "Swagger UI's default validator badge fetches from the validator's host"
    references = _references(html)
    assert {"swagger-ui-bundle.js", "swagger-ui.css"} <= {ref.rsplit("/", 1)[-1] for ref in references}, references
    for ref in references:
        asset = client.get(urljoin(page, ref))
        assert asset.status_code == 200 and asset.content, (page, ref, asset.status_code)
        body = asset.content.decode("utf-8", "replace")
        for host in CDN_HOSTS:
            assert host not in body or host == "validator.swagger.io" and ref.endswith(".js"), (ref, host)
        if ref.endswith(".css"):
            nested = [u.strip("'\"") for u in re.findall(r"url\(([^)]*)\)", body)]
            assert not any(re.match(r"(?:https?:)?//", u) for u in nested), (ref, nested)
            assert "@import" not in body, ref
            for u in nested:
                if not u.startswith("data:"):
                    assert client.get(urljoin(urljoin(page, ref), u)).status_code == 200, (ref, u)
        assert "sourceMappingURL" not in body, f"{ref} points at a source map the app does not serve"


def test_an_unknown_asset_is_a_404(client: TestClient) -> None:
    r = client.get("/RESTAPI/swagger/ui/nothing.js")
    assert r.status_code == 404 and r.json() == {"Message": "No such resource: /RESTAPI/swagger/ui/nothing.js."}


def test_the_root_names_the_documents(client: TestClient) -> None:
    root = client.get("/").json()
    for key in ("docs", "openapi", "controls"):
        assert client.get(root[key]).status_code == 200, key
