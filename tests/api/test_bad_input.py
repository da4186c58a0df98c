"""Bad input (issue 2, item 9): each is a 4xx in XTND's error envelope naming the field, never a 5xx, and the
truth (GET /_mock/state) is byte-identical before and after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import ENVELOPE_KEYS, assert_error, line, order_body

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def c() -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One fake for the module (every test compares the truth before and after itself); a 2 KiB body limit."""
    settings_ = Settings(clock="virtual", max_body_bytes=2048,
                         rate_limits={"standard": 100_000, "list": 100_000, "write": 100_000})
    with TestClient(create_app(settings_), raise_server_exceptions=False) as client:
        token = client.post("/api/token", data={"grant_type": "client_credentials", "client_id": "demo",
                                                "client_secret": "demo-secret"}).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}


def raw(body: str) -> bytes:
    return body.encode()


GOOD_LINE = '{"ProductNumber":"100003","Quantity":1,"UnitPrice":1.5,"Currency":"SEK"}'


def order_json(line_json: str = GOOD_LINE, ext: str = '"WEB-X"', customer: str = '"10001"') -> bytes:
    return raw(f'{{"ExternalOrderNumber":{ext},"CustomerNumber":{customer},"Lines":[{line_json}]}}')


BAD_ORDER_POSTS: list[tuple[str, bytes, int, str]] = [
    ("malformed JSON", raw('{"ExternalOrderNumber": "W1",'), 400, "body"),
    ("not JSON at all", raw("ExternalOrderNumber=W1"), 400, "body"),
    ("empty body", b"", 400, "body"),
    ("invalid UTF-8", b"\xff\xfe{", 400, "body"),
    ("a JSON array", raw("[1, 2]"), 400, "body"),
    ("a JSON string", raw('"order"'), 400, "body"),
    ("missing everything", raw("{}"), 400, "ExternalOrderNumber"),
    ("missing lines", raw('{"ExternalOrderNumber":"W","CustomerNumber":"10001"}'), 400, "Lines"),
    ("empty lines", raw('{"ExternalOrderNumber":"W","CustomerNumber":"10001","Lines":[]}'), 400, "Lines"),
    ("number for a string", order_json(ext="17"), 400, "ExternalOrderNumber"),
    ("null customer", order_json(customer="null"), 400, "CustomerNumber"),
    ("string quantity", order_json(GOOD_LINE.replace('"Quantity":1', '"Quantity":"1"')), 400, "Lines[0].Quantity"),
    ("float quantity", order_json(GOOD_LINE.replace('"Quantity":1', '"Quantity":1.5')), 400, "Lines[0].Quantity"),
    ("bool quantity", order_json(GOOD_LINE.replace('"Quantity":1', '"Quantity":true')), 400, "Lines[0].Quantity"),
    ("quantity beyond 64 bits", order_json(GOOD_LINE.replace('"Quantity":1', '"Quantity":1' + "0" * 30)), 400,
     "Lines[0].Quantity"),
    ("NaN price", order_json(GOOD_LINE.replace("1.5", "NaN")), 400, "Lines[0].UnitPrice"),
    ("infinite price", order_json(GOOD_LINE.replace("1.5", "1e999")), 400, "Lines[0].UnitPrice"),
    ("string price", order_json(GOOD_LINE.replace("1.5", '"1.5"')), 400, "Lines[0].UnitPrice"),
    ("bad currency", order_json(GOOD_LINE.replace("SEK", "kronor")), 400, "Lines[0].Currency"),
    ("line is not an object", order_json("7"), 400, "Lines[0]"),
    ("bad date", raw('{"ExternalOrderNumber":"W","CustomerNumber":"10001","ExpectedDeliveryDate":"2026-02-30",'
                     f'"Lines":[{GOOD_LINE}]}}'), 400, "ExpectedDeliveryDate"),
    ("address without name", raw('{"ExternalOrderNumber":"W","CustomerNumber":"10001","DeliveryAddress":{},'
                                 f'"Lines":[{GOOD_LINE}]}}'), 400, "DeliveryAddress.Name"),
    ("unknown product", order_json(GOOD_LINE.replace("100003", "NO SUCH")), 422, "Lines[0].ProductNumber"),
    ("unknown customer", order_json(customer='"99999"'), 422, "CustomerNumber"),
    ("zero quantity", order_json(GOOD_LINE.replace('"Quantity":1', '"Quantity":0')), 422, "Lines[0].Quantity"),
    ("negative quantity", order_json(GOOD_LINE.replace('"Quantity":1', '"Quantity":-3')), 422, "Lines[0].Quantity"),
    ("negative price", order_json(GOOD_LINE.replace("1.5", "-1")), 422, "Lines[0].UnitPrice"),
    ("blank external number", order_json(ext='"   "'), 422, "ExternalOrderNumber"),
    ("unknown warehouse", raw('{"ExternalOrderNumber":"W","CustomerNumber":"10001","WarehouseNumber":"77",'
                              f'"Lines":[{GOOD_LINE}]}}'), 422, "WarehouseNumber"),
]


@pytest.mark.parametrize(("case", "body", "status", "field"), BAD_ORDER_POSTS, ids=[b[0] for b in BAD_ORDER_POSTS])
def test_bad_order_bodies_are_refused_naming_the_field_and_change_nothing(
    c: tuple[TestClient, dict[str, str]], case: str, body: bytes, status: int, field: str
) -> None:
    client, h = c
    before = client.get("/_mock/state").content
    r = client.post("/api/CustomerOrders", headers={**h, **JSON}, content=body)
    assert_error(r, status, field=field)
    assert client.get("/_mock/state").content == before, case


def test_the_second_bad_line_is_named_and_nothing_of_the_first_is_kept(c: tuple[TestClient, dict[str, str]]) -> None:
    client, h = c
    before = client.get("/_mock/state").content
    body = order_body("W-2", lines=[line("100003", 1), line("NO SUCH", 1)])
    assert_error(client.post("/api/CustomerOrders", headers=h, json=body), 422, field="Lines[1].ProductNumber")
    assert client.get("/_mock/state").content == before


def test_oversized_bodies_are_413_and_change_nothing(c: tuple[TestClient, dict[str, str]]) -> None:
    client, h = c
    before = client.get("/_mock/state").content
    big = order_body("W-BIG", Note="x" * 3000)
    for r in (client.post("/api/CustomerOrders", headers=h, json=big),
              client.put("/api/CustomerOrders/100001", headers=h, json=big),
              client.post("/api/Customers", headers=h, json={"ExternalCustomerNumber": "X", "Name": "y" * 5000})):
        assert_error(r, 413, field="body")
    assert client.get("/_mock/state").content == before
    # a body under the limit goes through
    assert client.post("/api/CustomerOrders", headers=h, json=order_body("W-SMALL")).status_code == 201


def test_bad_put_and_cancel_requests(c: tuple[TestClient, dict[str, str]]) -> None:
    client, h = c
    n = client.post("/api/CustomerOrders", headers=h, json=order_body("W-P")).json()["OrderNumber"]
    before = client.get("/_mock/state").content
    assert_error(client.put(f"/api/CustomerOrders/{n}", headers={**h, **JSON}, content=b"{"), 400, field="body")
    assert_error(client.put(f"/api/CustomerOrders/{n}", headers=h, json={"Lines": []}), 400, field="Lines")
    assert_error(client.put(f"/api/CustomerOrders/{n}", headers=h, json={"Lines": [line(quantity=0)]}), 422,
                 field="Lines[0].Quantity")
    assert_error(client.put(f"/api/CustomerOrders/{n}", headers=h, json={"Lines": [line("NOPE")]}), 422,
                 field="Lines[0].ProductNumber")
    assert_error(client.put(f"/api/CustomerOrders/{n}", headers=h, json={"ExpectedDeliveryDate": "soon"}), 400,
                 field="ExpectedDeliveryDate")
    assert_error(client.put("/api/CustomerOrders/404404", headers=h, json={}), 404, field="orderNumber")
    assert client.get("/_mock/state").content == before


ODD_PATHS = [
    ("/api/Products/%00", 404, "productNumber"),
    ("/api/Products/%E2%98%83%20%F0%9F%A6%86", 404, "productNumber"),
    ("/api/Products/%ff%fe", 404, "productNumber"),
    ("/api/Products/" + "A" * 4000, 404, "productNumber"),
    ("/api/Products/..%2F..%2Fetc%2Fpasswd", 404, "productNumber"),
    ("/api/Products/%25", 404, "productNumber"),
    ("/api/Products/a%3Fb%23c", 404, "productNumber"),
    ("/api/Customers/%00", 404, "customerNumber"),
    ("/api/Customers/%E2%98%83", 404, "customerNumber"),
    ("/api/Customers/" + "9" * 4000, 404, "customerNumber"),
    ("/api/CustomerOrders/%00", 404, "orderNumber"),
    ("/api/CustomerOrders/%F0%9F%A6%86", 404, "orderNumber"),
    ("/api/CustomerOrders/" + "1" * 4000, 404, "orderNumber"),
    ("/api/CustomerOrders/a%2Fb", 404, "orderNumber"),  # an encoded slash is part of the key
    ("/api/NoSuchResource", 404, "path"),
    ("/api/Products/100003/extra", 404, "productNumber"),
    ("/api/CustomerOrders/100001/explode", 404, "path"),
    ("/api", 404, "path"),
    ("/api/token/x", 404, "path"),
    ("/nothing-here", 404, "path"),
    ("/api/Products?changedSince=%00", 400, "changedSince"),
    ("/api/Products?changedSince=2026-13-45T99:00:00Z", 400, "changedSince"),
    ("/api/Products?changedSince=" + "2" * 500, 400, "changedSince"),
    ("/api/Products?status=Gone", 400, "status"),
    ("/api/CustomerOrders?status=%00", 400, "status"),
    ("/api/Products?page=99999999999999999999999999", 400, "page"),
    ("/api/Products?pageSize=1e3", 400, "pageSize"),
    ("/api/ProductAvailability?warehouseNumber=%00", 422, "warehouseNumber"),
    ("/api/ProductPrices?customerNumber=%00", 422, "customerNumber"),
]


@pytest.mark.parametrize(("path", "status", "field"), ODD_PATHS, ids=[p[0][:50] for p in ODD_PATHS])
def test_odd_paths_and_queries_are_4xx_in_the_envelope(c: tuple[TestClient, dict[str, str]], path: str, status: int,
                                                       field: str) -> None:
    client, h = c
    before = client.get("/_mock/state").content
    assert_error(client.get(path, headers=h), status, field=field)
    assert client.get("/_mock/state").content == before


def test_unknown_methods_are_405_in_the_envelope(c: tuple[TestClient, dict[str, str]]) -> None:
    client, h = c
    for method, path in [("DELETE", "/api/Products/100003"), ("PATCH", "/api/CustomerOrders/100001"),
                         ("PUT", "/api/Products"), ("GET", "/api/token")]:
        assert_error(client.request(method, path, headers=h), 405, field="path")


def test_product_numbers_in_queries_may_be_anything(c: tuple[TestClient, dict[str, str]]) -> None:
    client, h = c
    for odd in ["\x00", "☃", "%", "a&b", " ", "x" * 1000]:
        r = client.get("/api/ProductAvailability", params={"productNumber": odd}, headers=h)
        assert r.status_code == 200 and r.json()["Items"] == [], odd


# ------------------------------------------------------------------ hypothesis: random JSON-ish order bodies
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_values = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                              st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=8)
product_numbers = st.sampled_from(["100003", "KM 1007", "AB 00023/B", "100000", "", "NOPE", "100001"])
lines_ = st.lists(st.fixed_dictionaries(
    {"ProductNumber": st.one_of(product_numbers, json_values),
     "Quantity": st.one_of(st.integers(min_value=-3, max_value=5), st.integers(), json_values),
     "UnitPrice": st.one_of(st.floats(min_value=0, max_value=1e6), json_values),
     "Currency": st.one_of(st.just("SEK"), json_values)},
    optional={"Extra": json_values}), max_size=3)
order_like = st.fixed_dictionaries(
    {},
    optional={"ExternalOrderNumber": st.one_of(st.sampled_from(["H-1", "H-2"]), json_values),
              "CustomerNumber": st.one_of(st.sampled_from(["10001", "10002", "99999"]), json_values),
              "WarehouseNumber": st.one_of(st.sampled_from(["1", "2", "9"]), json_values),
              "ExpectedDeliveryDate": st.one_of(st.just("2026-01-09"), json_values),
              "DeliveryMethod": json_values,
              "Lines": st.one_of(lines_, json_values),
              "Unknown": json_values},
)
bodies = st.one_of(order_like.map(json.dumps), json_values.map(json.dumps),
                   st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
                   order_like.map(lambda d: json.dumps(d)[:-1]))


@pytest.fixture
def fuzz() -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One fake for every example (state carries over, as it would for a real client), limits out of the way."""
    app = create_app(Settings(clock="virtual", rate_limits={"write": 100_000}))
    with TestClient(app, raise_server_exceptions=False) as client:
        token = client.post("/api/token", data={"grant_type": "client_credentials", "client_id": "demo",
                                                "client_secret": "demo-secret"}).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=bodies)
def test_random_order_bodies_never_break_the_fake(fuzz: tuple[TestClient, dict[str, str]], body: str) -> None:
    client, auth_headers = fuzz
    before = client.get("/_mock/state").content
    r = client.post("/api/CustomerOrders", headers={**auth_headers, **JSON}, content=body.encode("utf-8", "replace"))
    assert r.status_code < 500, r.text
    after = client.get("/_mock/state").content
    if r.status_code == 201:
        created: dict[str, Any] = r.json()
        assert created["Status"] == "Created"
        assert after != before
    elif r.status_code == 200:
        assert after == before, "a safe retry changes nothing"
    else:
        assert 400 <= r.status_code < 500
        assert set(r.json()) == ENVELOPE_KEYS
        assert r.json()["ErrorType"] == "Validation"
        assert r.json()["Errors"], "an error names what is wrong"
        assert after == before, f"a refused request ({r.status_code}) changed state"
