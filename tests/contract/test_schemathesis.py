"""schemathesis against the in-process fake, on all phases (examples, coverage, fuzzing, stateful), with two specs:
the project's own (served at /RESTAPI/swagger/docs/v1; its links drive the stateful phase) and the vendor's
(../shared/xtnd-vendor-openapi.json, cut down to the implemented operations, ``client`` pinned to the company).

Checks: every built-in one but ``use_after_free`` (XTND's DELETE CustomerOrders/{id} cancels: the order stays
readable, Annulled): no 5xx; status codes, content types, headers and bodies as the spec says; negative data
rejected with a 4xx; positive data answered 2xx or a documented 400/404 (a schema cannot say which customer numbers
exist); auth not ignored; a created record can be read back. Negative data is judged as XTND's ASP.NET binding
reads it (``negative_data_rejected_once_bound``): a value the binding turns into a valid one (``"5"`` for an int,
``5`` for a string, an enum by index or in another case, an empty query value for a nullable parameter) is not
negative by the time the server sees it, exactly as schemathesis already excuses values that become valid once
serialised. Rate limits and the transient-400 quirk are configured out of the fuzzer's way (tests/api covers them).
The state machines start every scenario from the seeded state, and turn a generated valid POST CustomerOrders into one
naming a seeded customer and products (``orderable``), so created orders are followed into GET, PUT and DELETE; the
creates of issue 13 (PurchaseOrders, ReturnOrders, Products, ProductSupplierAgreements, ProductDescriptions) likewise
(``acceptable``), and a third machine walks those records' resources alone. The stateful phase follows the documented
links only (the fake's, lent to the vendor's document, which has none), not links schemathesis guesses.

Depth: ``SCHEMATHESIS_EXAMPLES`` (default 15) is the fuzzing phase's examples per operation (positive and negative
together), ``SCHEMATHESIS_STATEFUL_EXAMPLES`` (default 20) the stateful scenarios. Both are passed to Hypothesis
explicitly: the Hypothesis profile conftest.py loads (max_examples=30) would otherwise override schemathesis'
setting, which is why the variable used to change nothing. test_the_depth_setting_is_what_ran checks it.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import hypothesis
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection

from mock_xtnd.api.openapi import build_openapi
from mock_xtnd.api.routes import ROUTES
from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))
STATEFUL_EXAMPLES = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "20"))
STATEFUL_STEPS = 8
IMPLEMENTED = {r.op_id for r in ROUTES}

SETTINGS = Settings(clock="virtual", seed=1, quirks={"transient_errors": 0},
                    rate_limits={"default": 1_000_000}, catalogue={"products": 40, "customers": 10})
APP = create_app(SETTINGS)
USER = SETTINGS.users[0]
AUTH = {"ExtendBasicAuthorization": "Basic " + base64.b64encode(f"{USER.username}:{USER.password}".encode()).decode()}


def _shared(name: str) -> dict[str, Any]:
    path = SHARED / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the fake is checked against the vendor's facts, which CI has in ../shared",
                    pytrace=False)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


FACTS = _shared("xtnd-api-facts.json")
VENDOR_IDS = {op["id"] for op in FACTS["operations"]}


def config(**extra: Any) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": 20260105,
        "headers": AUTH,
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        # the stateful phase follows the documented links only: schemathesis' dependency analysis guesses links
        # from field names, and guessed wrong for XTND (POST ReturnOrders -> GET ReturnOrders/{id} with a row's
        # returnOrderRowId for the returnNumber), then reported the fake's right 404 as a lost resource
        "phases": {"stateful": {"max-steps": STATEFUL_STEPS, "inference": {"algorithms": ["location-headers"]}}},
        "checks": {
            "enabled": True,
            "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404"]},
            "use_after_free": {"enabled": False},
            # replaced by negative_data_rejected_once_bound below
            "negative_data_rejection": {"enabled": False},
        },
        **extra,
    })


def vendor_spec() -> dict[str, Any]:
    """The vendor's document with only the implemented operations (a method the fake does not serve must not be
    expected in its Allow header either), ``{client}`` pinned to the company in the paths themselves (a config
    override does not reach every phase), and the fake's document's links (the vendor's has none; they name
    operations by operationId, which both documents share, and only steer the stateful phase: every request and
    answer is still judged by the vendor's schemas)."""
    raw = copy.deepcopy(_shared("xtnd-vendor-openapi.json"))
    links = {op["operationId"]: op["responses"]["200"]["links"] for item in build_openapi(SETTINGS)["paths"].values()
             for op in item.values() if isinstance(op, dict) and "links" in op.get("responses", {}).get("200", {})}
    paths: dict[str, Any] = {}
    for path, item in raw["paths"].items():
        kept = {m: op for m, op in item.items()
                if not (isinstance(op, dict) and "operationId" in op) or op["operationId"] in IMPLEMENTED}
        if not any(isinstance(op, dict) and "operationId" in op for op in kept.values()):
            continue
        for op in kept.values():
            if isinstance(op, dict) and op.get("operationId") in links:  # to operations the vendor documents
                op["responses"]["200"]["links"] = {name: copy.deepcopy(link)
                                                   for name, link in links[op["operationId"]].items()
                                                   if link["operationId"] in VENDOR_IDS}
            if isinstance(op, dict) and "parameters" in op:
                op["parameters"] = [p for p in op["parameters"] if not (p.get("in") == "path" and p["name"] == "client")]
        paths[path.replace("{client}", SETTINGS.company)] = kept
    raw["paths"] = paths
    return raw


own = schemathesis.openapi.from_asgi("/RESTAPI/swagger/docs/v1", APP, config=config())
vendor = schemathesis.openapi.from_dict(vendor_spec(), config=config())
vendor.app = APP


# ---------------------------------------------------------------------------------------------- binding
# How XTND's ASP.NET Web API reads a value of a facts type (Json.NET for bodies, model binding for the query), as
# docs/wire.md describes it. Written here from the facts file, independently of the fake's own validator.
OPS = {op["id"]: op for op in FACTS["operations"]}
SCHEMAS = {name: {f["name"].lower(): f for f in fields} for name, fields in FACTS["schemas"].items()}
ENUMS = {name: list(values) for name, values in FACTS["enums"].items()}
_INT = re.compile(r"^\s*[-+]?\d{1,12}\s*$")
_GUID = re.compile(r"^[{(]?[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}[)}]?$")


def _item(type_name: str) -> tuple[str, bool]:
    base = type_name.rstrip("?")
    if base.endswith("[]"):
        return base[:-2], True
    for prefix in ("List<", "IEnumerable<"):
        if base.startswith(prefix):
            return base[len(prefix):-1], True
    return base, False


def bind(type_name: str, value: Any) -> Any:
    """``value`` as the server reads it into ``type_name``; a value it cannot convert comes back unchanged."""
    base, array = _item(type_name)
    if value is None:
        return None
    if array:
        return [bind(base, v) for v in value] if isinstance(value, list) else value
    if base in SCHEMAS:
        if not isinstance(value, dict):
            return value
        fields = SCHEMAS[base]
        out: dict[str, Any] = {}
        for key, v in value.items():
            f = fields.get(str(key).lower())
            out[f["name"] if f else key] = bind(f["type"], v) if f else v
        return out
    if base in ENUMS:
        values = ENUMS[base]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(values):
            return values[value]
        if isinstance(value, str):
            return next((v for v in values if v.lower() == value.strip().lower()), value)
        return value
    if base == "string" and isinstance(value, bool):
        return str(value)
    if base == "string" and isinstance(value, int | float):
        return json.dumps(value)
    if base == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT.match(value):
            return int(value)
    if base == "double" and isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    if base == "bool" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if base == "DateTimeOffset" and isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return value
        return parsed.isoformat() if parsed.tzinfo else parsed.isoformat() + "+00:00"
    if base == "Guid" and isinstance(value, str) and _GUID.match(value.strip()):
        hexes = re.sub(r"[^0-9a-fA-F]", "", value)
        return f"{hexes[:8]}-{hexes[8:12]}-{hexes[12:16]}-{hexes[16:20]}-{hexes[20:]}".lower()
    return value


def bind_query(op_id: str, sent: list[tuple[str, str]]) -> dict[str, Any]:
    """The query string as sent (name, value pairs), bound to the operation's parameters."""
    params = {p["name"].lower(): p for p in OPS[op_id]["params"] if p["in"] == "query"}
    values: dict[str, list[str]] = {}
    for key, value in sent:
        values.setdefault(key, []).append(value)
    out: dict[str, Any] = {}
    for key, given in values.items():
        p = params.get(key.lower())
        if p is None:
            out[key] = given[0] if len(given) == 1 else given
            continue
        base, array = _item(p["type"])
        if array:
            out[p["name"]] = [v for v in given if v != ""]
        elif given[0] == "" and base != "string":
            continue  # an empty value binds null to a nullable parameter: as if it were not sent
        else:
            out[p["name"]] = bind(p["type"], given[0])  # a scalar binds the first of repeated values
    return out


def _valid_once_bound(case: Any, response: Any) -> bool:
    """Whether every negative part of ``case`` is valid once the server has bound it."""
    meta = case.meta
    op_id = case.operation.definition.raw.get("operationId")
    if meta is None or op_id not in OPS:
        return False
    negative = [loc for loc in ParameterLocation if meta.is_negative_at(loc)]
    if not negative:
        return False
    for location in negative:
        if location == ParameterLocation.BODY:
            body_param = next((p for p in OPS[op_id]["params"] if p["in"] == "body"), None)
            declared = case.operation.get_body_for_media_type(case.media_type)
            if body_param is None or declared is None or not isinstance(case.body, dict | list):
                return False
            if not declared.is_valid(bind(body_param["type"], case.body)):
                return False
        elif location == ParameterLocation.QUERY:
            sent = parse_qsl(urlsplit(response.request.url).query, keep_blank_values=True)
            container = case.operation.get_parameter_set(location)
            if not container.get_strict_validator().is_valid(bind_query(op_id, sent)):
                return False
        else:
            return False
    return True


@schemathesis.check
def negative_data_rejected_once_bound(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' negative_data_rejection on what the server reads: data that binding turns valid is not
    negative any more, so the fake (like XTND) may accept it; anything still invalid must be rejected."""
    if _valid_once_bound(case, response):
        return None
    return negative_data_rejection(ctx, response, case)


# ---------------------------------------------------------------------------------------------- the runs
CASES: Counter[tuple[str, str, str]] = Counter()  # (spec, operation, phase) -> cases run
RUN = hypothesis.settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(hypothesis.HealthCheck),
                          derandomize=True, database=None)


def _count(spec: str, case: Any) -> None:
    phase = case.meta.phase.name.value if case.meta is not None else "explicit"
    CASES[(spec, case.operation.label, str(phase))] += 1


@own.parametrize()
@RUN
def test_own_spec(case: Any) -> None:
    _count("own", case)
    case.call_and_validate()


@vendor.parametrize()
@RUN
def test_vendor_spec(case: Any) -> None:
    _count("vendor", case)
    case.call_and_validate()


def orderable(body: Any) -> Any:
    """A generated order made one the fake accepts: a seeded customer, seeded products in the default warehouse,
    whole quantities (the generated external number and row count are kept). Random customer and product numbers
    never exist and random dates, prices and warehouses are refused, so without this the stateful phase would never
    create an order to follow into GET, PUT and DELETE; the other phases send the random bodies."""
    state = APP.state.runtime.backend.state
    customers, products = sorted(state.customers), sorted(state.products)
    header = body.get("orderHeader") if isinstance(body, dict) else None
    external = header.get("orderNumberExternal") if isinstance(header, dict) else None
    rows = body.get("orderRows") if isinstance(body, dict) else None
    count = max(1, min(3, len(rows) if isinstance(rows, list) else 1))
    return {"orderHeader": {"customerNumber": customers[len(str(external)) % len(customers)],
                            "orderNumberExternal": external},
            "orderRows": [{"product": {"productNumber": products[i]}, "warehouse": SETTINGS.default_warehouse,
                           "salesData": {"quantity": float(1 + i), "unit": "st"}} for i in range(count)]}


def _text(value: Any, fallback: str) -> str:
    """A generated string kept where the fake would take it (non-blank, no surrounding spaces), else a fallback."""
    return value.strip()[:40] if isinstance(value, str) and value.strip() else fallback


def acceptable(path: str, body: Any) -> Any:
    """A generated body of one of issue 13's creates made one the fake accepts, as ``orderable`` does for orders:
    seeded products, customers and warehouse, whole quantities, a new product number; the generated free text is
    kept where it fits. None when ``path`` is not one of them (the body is sent as generated)."""
    state = APP.state.runtime.backend.state
    customers, products = sorted(state.customers), sorted(state.products)
    given = body if isinstance(body, dict) else {}
    pick = len(json.dumps(given, default=str)) % len(products)
    wh = SETTINGS.default_warehouse
    if path.endswith("/PurchaseOrders"):
        return {"header": {"warehouse": wh, "supplier": {}, "reference": _text(given.get("reference"), "stateful")},
                "rows": [{"productNumber": products[(pick + i) % len(products)],
                          "purchaseDataProductUnit": {"quantity": float(1 + i), "unit": "st"}} for i in range(2)]}
    if path.endswith("/ReturnOrders"):
        return {"createAction": {"action": "ReturnProducts"},
                "header": {"warehouse": wh, "customerNumber": customers[pick % len(customers)]},
                "rows": [{"productNumber": products[pick], "salesData": {"quantity": 1.0, "unit": "st"}}]}
    if path.endswith("/Products"):
        data: dict[str, Any] = given["productData"] if isinstance(given.get("productData"), dict) else {}
        return {"productNumber": f"ST-{len(state.products) + 1}",
                "productData": {"productName": _text(data.get("productName"), "Stateful product")}}
    if path.endswith("/ProductSupplierAgreements"):
        return {"productNumber": products[pick], "supplierAgreementNumber": 100 + pick,
                "supplierAgreementName": "SA-STATEFUL", "country": "SE",
                "supplierProductNumber": _text(given.get("supplierProductNumber"), "SP-1"), "price": 10.0,
                "vatPercent": 25}
    if path.endswith("/ProductDescriptions"):
        return {"productNumber": products[pick], "productDescriptionItemList": [
            {"textType": "WebText", "language": "en", "text": _text(given.get("productNumber"), "A text")}]}
    return None


class _SeededScenarios:
    spec = ""

    def setup(self) -> None:
        # every scenario starts from the seeded state, so a replayed scenario sees the same answers
        APP.state.runtime.reset()

    def step(self, input: Any) -> Any:
        case = input.case
        if case.method == "POST" and case.meta is not None and not case.meta.generation.mode.is_negative:
            if case.path.endswith("/CustomerOrders"):
                case.body = orderable(case.body)
            else:
                made = acceptable(case.path, case.body)
                if made is not None:
                    case.body = made
        output = super().step(input)  # type: ignore[misc]
        linked = "linked" if input.transition is not None and input.is_applied else "root"
        CASES[(self.spec, f"{input.case.operation.label} {output.response.status_code}", f"stateful-{linked}")] += 1
        return output


STATEFUL = hypothesis.settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS, deadline=None,
                               suppress_health_check=list(hypothesis.HealthCheck), derandomize=True, database=None)


class OwnStateMachine(_SeededScenarios, own.as_state_machine()):  # type: ignore[misc]
    spec = "own"


TestOwnStateful = OwnStateMachine.TestCase
TestOwnStateful.settings = STATEFUL


class VendorStateMachine(_SeededScenarios, vendor.as_state_machine()):  # type: ignore[misc]
    spec = "vendor"


TestVendorStateful = VendorStateMachine.TestCase
TestVendorStateful.settings = STATEFUL

# the orders on their own: among all 57 operations whether a scenario's 8 steps create an order and then follow its
# links depends on what schemathesis learnt earlier in the session (it passed alone and failed in the whole suite);
# among CustomerOrders' operations every session does (the links are the document's, unchanged)
class OrdersStateMachine(_SeededScenarios, own.include(tag=["CustomerOrders"]).as_state_machine()):  # type: ignore[misc]
    spec = "own-orders"


TestOrdersStateful = OrdersStateMachine.TestCase
TestOrdersStateful.settings = STATEFUL

# issue 13's records, on their own: among all 57 operations a scenario seldom creates one of them and then follows
# its links in 8 steps; among their own resources' operations it does (the links are the document's, unchanged)
RECORDS = ("PurchaseOrders", "ReturnOrders", "Products", "ProductSupplierAgreements", "ProductDescriptions", "Offers",
           "CustomerInvoices")


class RecordsStateMachine(_SeededScenarios, own.include(tag=list(RECORDS)).as_state_machine()):  # type: ignore[misc]
    spec = "own-records"


TestRecordsStateful = RecordsStateMachine.TestCase
TestRecordsStateful.settings = STATEFUL


def test_the_stateful_phase_followed_links_from_created_orders() -> None:
    """Runs after the state machines above (file order): a created order was read, changed or cancelled through a
    link, so the phase tested sequences and not only single calls."""
    ran = {op for (spec, op, phase) in CASES if spec == "own-orders" and phase.startswith("stateful")}
    if not ran:
        pytest.skip("the orders' state machine did not run in this session")
    assert {op for (spec, op, phase) in CASES if spec == "own" and phase.startswith("stateful")}, \
        "the whole own spec's state machine ran too"
    linked = {op for (spec, op, phase) in CASES if spec == "own-orders" and phase == "stateful-linked"}
    assert any(re.match(r"(GET|PUT|DELETE) /CustomerOrders/\{id\} ", op) for op in linked), sorted(linked)
    assert "POST /CustomerOrders 200" in ran, sorted(ran)


def test_the_stateful_phase_followed_links_across_issue_13s_records() -> None:
    """Runs after the records' state machine: most creates succeeded, and links led to successful calls on at least
    three of the records' resources. (Which ones varies with what ran before in the session: schemathesis learns
    from earlier answers.)"""
    ran = {op for (spec, op, phase) in CASES if spec == "own-records"}
    if not ran:
        pytest.skip("the records' state machine did not run in this session")
    linked = {op for (spec, op, phase) in CASES if spec == "own-records" and phase == "stateful-linked"}
    created = {op for op in ran if op.startswith("POST ") and op.endswith(" 200")}
    assert len(created) >= 3, sorted(ran)
    reached = {op.split()[1].split("/")[1] for op in linked if op.endswith(" 200")}
    assert len(reached & set(RECORDS)) >= 3, sorted(linked)


def test_the_stateful_phase_has_links_to_follow() -> None:
    """The stateful phase is only as deep as the links: without them it would silently test nothing."""
    bundles = set(own.as_state_machine().bundles)
    expected = {"POST /CustomerOrders -> 200", "POST /Customers -> 200", "GET /CustomerOrders/{id} -> 200",
                "GET /Customers/{id} -> 200", "GET /CustomerOrders -> 200", "GET /Products -> 200",
                "GET /ProductAvailability -> 200", "GET /Customers -> 200",
                # issue 13's records
                "POST /PurchaseOrders -> 200", "GET /PurchaseOrders -> 200", "GET /PurchaseOrders/{id} -> 200",
                "POST /ReturnOrders -> 200", "GET /ReturnOrders -> 200", "POST /Products -> 200",
                "GET /Products/{id} -> 200", "POST /ProductSupplierAgreements -> 200",
                "GET /ProductSupplierAgreements -> 200", "GET /ProductSupplierAgreements/{id}/{id2} -> 200",
                "POST /ProductDescriptions -> 200", "GET /Offers -> 200", "GET /Offers/{id} -> 200",
                "GET /CustomerInvoices -> 200"}
    assert expected <= bundles, sorted(bundles)


def test_the_binding_model_keeps_what_stays_invalid() -> None:
    """The negative check's excuse is narrow: only values the server's binding turns valid are excused."""
    assert bind("int", "5") == 5 and bind("int", 5.0) == 5 and bind("int", "five") == "five"
    assert bind("string", 12) == "12" and bind("string", False) == "False"
    assert bind("OrderStatus", 3) == "Reserved" and bind("OrderStatus", "reserved") == "Reserved"
    assert bind("OrderStatus", "Shipped") == "Shipped"
    assert bind("StockLevelAdjust", {"BalanceDifference": "7"}) == {"balanceDifference": 7}
    assert bind_query("Products_GetAllProducts", [("modifiedDateFrom", ""), ("PAGECOUNT", "x")]) == {"pageCount": "x"}
    assert bind_query("ProductPrices_GetAllProductPrices", [("productNumberList", "a"), ("productNumberList", "")]) \
        == {"productNumberList": ["a"]}


@pytest.fixture(autouse=True, scope="module")
def _app_stays_healthy() -> Iterator[None]:
    yield
    assert APP.state.runtime.errors == [], "the fake logged internal errors while being fuzzed"


def test_the_depth_setting_is_what_ran() -> None:
    """SCHEMATHESIS_EXAMPLES is how many cases the fuzzing phase runs per operation (it once stopped at 30 for every
    value: the conftest's Hypothesis profile won). Runs after the fuzzing tests above, in file order."""
    fuzzed = {op: n for (spec, op, phase), n in CASES.items() if spec == "own" and phase == "fuzzing"}
    if len(fuzzed) < len(ROUTES):
        pytest.skip("the own-spec fuzzing tests did not all run in this session")
    assert max(fuzzed.values()) <= EXAMPLES, fuzzed
    # an operation whose inputs are few may exhaust them sooner; most have far more than any budget
    at_depth = [op for op, n in fuzzed.items() if n == EXAMPLES]
    assert len(at_depth) >= len(fuzzed) // 2, fuzzed


@pytest.mark.slow
def test_a_deeper_run_stays_clean() -> None:
    """The same file ten times deeper (nightly): 100 fuzzing examples per operation, 100 stateful scenarios."""
    env = {**os.environ, "SCHEMATHESIS_EXAMPLES": "100", "SCHEMATHESIS_STATEFUL_EXAMPLES": "100"}
    r = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider", "-k",
                        "not deeper_run"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout[-6000:]
