"""The committed contract (contracts/openapi.json) is what the fake serves, is valid OpenAPI, and says plainly which
points XTND documents and which the mock chose."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "contracts" / "openapi.json"
REGENERATE = "regenerate it with: .venv/bin/python scripts/export_openapi.py (and commit contracts/openapi.json)"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
OPERATION_IDS = {
    ("post", "/api/token"): "createToken",
    ("post", "/api/CustomerOrders"): "createCustomerOrder",
    ("get", "/api/CustomerOrders"): "listCustomerOrders",
    ("get", "/api/CustomerOrders/{orderNumber}"): "getCustomerOrder",
    ("put", "/api/CustomerOrders/{orderNumber}"): "updateCustomerOrder",
    ("post", "/api/CustomerOrders/{orderNumber}/cancel"): "cancelCustomerOrder",
    ("get", "/api/ProductAvailability"): "listProductAvailability",
    ("get", "/api/Products"): "listProducts",
    ("get", "/api/Products/{productNumber}"): "getProduct",
    ("get", "/api/Customers"): "listCustomers",
    ("get", "/api/Customers/{customerNumber}"): "getCustomer",
    ("post", "/api/Customers"): "createCustomer",
    ("get", "/api/ProductPrices"): "listProductPrices",
}


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    assert COMMITTED.exists(), f"{COMMITTED} is missing; {REGENERATE}"
    spec: dict[str, Any] = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return spec


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    with TestClient(create_app(Settings())) as c:
        r = c.get("/openapi.json")
        assert r.status_code == 200
        spec: dict[str, Any] = r.json()
        return spec


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items() if m in METHODS]


def texts(obj: Any) -> list[str]:
    """Every description, summary and title string in the document."""
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


def test_the_served_spec_equals_the_committed_file(committed: dict[str, Any], served: dict[str, Any]) -> None:
    if served != committed:
        changed = sorted({*served["paths"]} ^ {*committed["paths"]}) or [
            p for p in served["paths"] if served["paths"][p] != committed["paths"].get(p)]
        pytest.fail(f"contracts/openapi.json differs from the served /openapi.json (paths: {changed[:5]}); {REGENERATE}")


def test_the_committed_file_is_in_canonical_form(committed: dict[str, Any]) -> None:
    text = COMMITTED.read_text(encoding="utf-8")
    assert text == json.dumps(committed, sort_keys=True, indent=2, ensure_ascii=False) + "\n", REGENERATE


def test_the_export_script_check_mode_agrees() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "export_openapi.py"), "--check"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr


def test_the_spec_is_valid_openapi(committed: dict[str, Any]) -> None:
    validate(committed)
    assert committed["openapi"].startswith("3.")


def test_only_the_public_api_with_stable_operation_ids(committed: dict[str, Any]) -> None:
    assert all(p.startswith("/api/") for p in committed["paths"]), "the /_mock surface is not part of the contract"
    found = {(m, p): op.get("operationId") for m, p, op in operations(committed)}
    assert found == OPERATION_IDS, "operationIds are part of the contract: renaming one breaks clients' tooling"
    for m, p, op in operations(committed):
        if p == "/api/token":
            assert "security" not in op
        else:
            assert op["security"] == [{"oauth2": []}], (m, p)
            assert {"400", "401", "429", "500"} <= set(op["responses"]), (m, p)
    scheme = committed["components"]["securitySchemes"]["oauth2"]
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == "/api/token"


def test_error_responses_use_the_envelope(committed: dict[str, Any]) -> None:
    envelope = committed["components"]["schemas"]["ErrorEnvelope"]
    assert set(envelope["required"]) == {"ErrorType", "Message", "Errors", "TraceId"}
    assert envelope["properties"]["ErrorType"]["enum"] == ["Validation", "Throttled", "Internal", "Unauthorized"]
    for m, p, op in operations(committed):
        for code, resp in op["responses"].items():
            if code.startswith(("4", "5")):
                ref = resp["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorEnvelope"), (m, p, code)
    assert "HTTPValidationError" not in json.dumps(committed)


def test_links_for_stateful_testing_point_at_real_operations(committed: dict[str, Any]) -> None:
    ids = set(OPERATION_IDS.values())
    links = [(name, link) for _, _, op in operations(committed) for resp in op["responses"].values()
             for name, link in resp.get("links", {}).items()]
    assert len(links) >= 6
    assert all(link["operationId"] in ids for _, link in links), links
    created = committed["paths"]["/api/CustomerOrders"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in created.values()} >= {"getCustomerOrder", "updateCustomerOrder",
                                                                    "cancelCustomerOrder"}


def test_request_bodies_carry_examples(committed: dict[str, Any]) -> None:
    schemas = committed["components"]["schemas"]
    for name, fields in [("OrderIn", ["ExternalOrderNumber", "CustomerNumber"]),
                         ("OrderLineIn", ["ProductNumber", "Quantity", "UnitPrice", "Currency"]),
                         ("CustomerIn", ["ExternalCustomerNumber", "Name"])]:
        for field in fields:
            assert schemas[name]["properties"][field].get("examples"), f"{name}.{field} has no example"


# Every point §2 of the contract marks as chosen, with a pattern its description must contain.
CHOSEN_POINTS = {
    "base path /api": r"base\s+path\s+`?/api",
    "case-insensitive paths": r"case-insensitive",
    "OAuth2 client credentials at /api/token": r"client credentials.*?/api/token",
    "page parameter from 1": r"Page number, from 1",
    "pageSize default and max": r"default 100,?\s+max 1000",
    "paging envelope and stable snapshots": r"stable snapshots for 10 minutes",
    "ISO 8601 UTC with milliseconds": r"ISO 8601 UTC timestamps with\s+milliseconds",
    "changedSince inclusive": r"inclusive: records with ChangedAt >= changedSince",
    "repeated multi-value filters": r"repeated query parameters",
    "at most 200 product numbers": r"at most 200",
    "error envelope and status codes": r"error envelope",
    "rate-limit groups": r"Standard\s+300, List 60, Write 120",
    "rate-limit headers": r"rolling minute\) and their headers",
    "idempotency keys": r"ExternalOrderNumber`?/`?ExternalCustomerNumber",
    "identical retry 200, different body 409": r"identical retry 200, different body 409",
    "backorders": r"backorder",
    "webhook Details": r"webhook Details",
    "best-price ChangedAt": r"campaign began or expired",
}


@pytest.mark.parametrize(("point", "pattern"), CHOSEN_POINTS.items(), ids=list(CHOSEN_POINTS))
def test_every_chosen_point_is_labelled_chosen_by_the_mock(committed: dict[str, Any], point: str,
                                                           pattern: str) -> None:
    labelled = [t for t in texts(committed) if re.search(r"chosen by the mock", t, re.I)]
    assert any(re.search(pattern, t, re.S) for t in labelled), f"{point!r} is not described as chosen by the mock"


def test_operations_implementing_chosen_behaviour_say_so(committed: dict[str, Any]) -> None:
    paths = committed["paths"]
    for m, p in [("post", "/api/token"), ("post", "/api/CustomerOrders"), ("post", "/api/Customers"),
                 ("get", "/api/ProductAvailability"), ("get", "/api/ProductPrices"),
                 ("post", "/api/CustomerOrders/{orderNumber}/cancel")]:
        assert "chosen by the mock" in paths[p][m]["description"].lower(), (m, p)
    for m, p, op in operations(committed):
        for param in op.get("parameters", []):
            if param["name"] in ("page", "pageSize", "changedSince"):
                assert "chosen by the mock" in param["description"].lower(), (m, p, param["name"])
