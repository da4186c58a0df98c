"""Paths and tenant (docs/wire.md, "Base URL and tenant"): one company per fake, segments and query names in any
case, free-text keys URL-encoded, and a 404 that tells a lost client where the API is."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.xtnd_support import Xtnd, assert_message, journal_since, last_seq, quote_key
from tests.conftest import API, basic

HINT = "/RESTAPI/v1_0/demo/"


@pytest.mark.parametrize("path", [
    "/RESTAPI/v1_0/demo/Products/100003",
    "/restapi/v1_0/demo/products/100003",
    "/RESTAPI/V1_0/DEMO/PRODUCTS/100003",
    "/RestApi/v1_0/Demo/pRoDuCtS/100003/",  # one trailing slash is tolerated
])
def test_path_segments_match_in_any_case(client: TestClient, path: str) -> None:
    r = client.get(path, headers=basic())
    assert r.status_code == 200, r.text
    assert r.json()["productNumber"] == "100003"


def test_query_names_match_in_any_case(client: TestClient) -> None:
    lower = client.get(f"{API}/Products", headers=basic(), params={"pagecount": 3, "PAGEOFFSET": 1})
    canonical = client.get(f"{API}/Products", headers=basic(), params={"pageCount": 3, "pageOffset": 1})
    assert lower.status_code == canonical.status_code == 200
    assert len(lower.json()) == 3
    assert lower.json() == canonical.json()


def test_the_journal_records_the_canonical_path_and_query_names(client: TestClient) -> None:
    seq = last_seq(client)
    client.get("/restapi/V1_0/DEMO/productavailability/KM%201007/1", headers=basic(), params={"X": "1"})
    client.get("/restapi/v1_0/demo/products", headers=basic(), params={"PAGECOUNT": "2"})
    one, listing = journal_since(client, seq)
    assert one["path"] == f"{API}/ProductAvailability/KM 1007/1"
    assert one["route"] == "/RESTAPI/v1_0/{client}/ProductAvailability/{productNumber}/{warehouse}"
    assert (one["operation"], one["resource"], one["key"], one["warehouse"]) == (
        "ProductAvailability_GetSingleProductAvailability", "ProductAvailability", "KM 1007", "1")
    assert one["productNumbers"] == ["KM 1007"]
    assert listing["query"] == {"pageCount": ["2"]}


@pytest.mark.parametrize("company", ["other", "demo2", "dem"])
def test_another_company_is_a_404_naming_the_right_one(client: TestClient, company: str) -> None:
    r = client.get(f"/RESTAPI/v1_0/{company}/Products/100003", headers=basic())
    message = assert_message(r, 404, contains=company)
    assert HINT in message


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/Products"),
    ("POST", "/api/token"),
    ("GET", "/api/CustomerOrders/100001"),
    ("GET", "/RESTAPI/Products"),
    ("GET", "/RESTAPI/v2_0/demo/Products"),
    ("GET", "/v1_0/demo/Products"),
    ("GET", f"{API}/NoSuchResource"),
])
def test_a_wrong_base_path_is_a_404_with_a_hint_naming_the_right_one(client: TestClient, method: str,
                                                                     path: str) -> None:
    r = client.request(method, path, headers=basic())
    assert HINT in assert_message(r, 404)


def test_the_old_dialect_is_gone_entirely(client: TestClient) -> None:
    """No token endpoint and no bearer tokens: the old client's very first call fails with a hint."""
    r = client.post("/api/token", data={"grant_type": "client_credentials", "client_id": "demo",
                                        "client_secret": "demo-secret"})
    assert HINT in assert_message(r, 404)


@pytest.mark.parametrize(("key", "encoded"), [
    ("KM 1007", "KM%201007"),
    ("AB 00023/B", "AB%2000023%2FB"),
    ("AB 00123/A", "AB%2000123%2FA"),
])
def test_encoded_keys_with_spaces_and_slashes_work(client: TestClient, key: str, encoded: str) -> None:
    api = Xtnd(client)
    assert quote_key(key) == encoded
    product = api.ok("GET", f"Products/{encoded}")
    assert product["productNumber"] == key
    item = api.ok("GET", f"ProductAvailability/{encoded}/2")
    assert (item["productNumber"], item["warehouse"]) == (key, "2")
    listing = api.ok("GET", "Products", params={"productNumber": key})
    assert {r["productNumber"] for r in listing} == {key}
    assert sorted(r["warehouse"] for r in listing) == ["1", "2", "3"]


def test_an_unencoded_slash_in_a_key_is_a_404_that_names_the_encoding(client: TestClient) -> None:
    for path in ("Products/AB 00023/B", "ProductAvailability/AB 00023/B/1", "CustomerOrders/1/2"):
        r = client.get(f"{API}/{path}", headers=basic())
        assert "%2F" in assert_message(r, 404), path


def test_a_lower_case_escape_in_a_key_decodes_the_same(client: TestClient) -> None:
    r = client.get(f"{API}/Products/AB%2000023%2fB", headers=basic())
    assert r.status_code == 200, r.text
    assert r.json()["productNumber"] == "AB 00023/B"


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", "Products", "GET, POST"),  # Products takes POST (create) and, by number, PUT and DELETE (annul)
    ("POST", "Products/100003", "DELETE, GET, PUT"),
    ("DELETE", "Countries", "GET"),
    ("POST", "Currencies/SEK", "GET"),
    ("DELETE", "PurchaseOrders/1", "GET, PUT"),
    ("PUT", "ReturnOrders", "GET, POST"),
    ("DELETE", "Offers/1", "GET, PUT"),
    ("PUT", "ProductDescriptions/100003/Description/sv", "DELETE"),
    ("PATCH", "CustomerOrders/100001", "DELETE, GET, PUT"),
    ("POST", "CustomerOrders/100001", "DELETE, GET, PUT"),
    ("DELETE", "CustomerOrders", "GET, POST"),
    ("DELETE", "WarehouseStockLevels", "GET, POST, PUT"),
    ("PUT", "ProductAvailability/100003/1", "GET"),
    ("POST", "Customers/10001", "GET, PUT"),
])
def test_a_method_the_resource_does_not_take_is_a_405_with_allow(client: TestClient, method: str, path: str,
                                                                 allow: str) -> None:
    r = client.request(method, f"{API}/{path}", headers=basic(), json={})
    assert_message(r, 405, contains=method)
    assert r.headers["allow"] == allow


def test_the_journal_names_unknown_paths_without_a_route(client: TestClient) -> None:
    seq = last_seq(client)
    client.get("/api/Products", headers=basic())
    (rec,) = journal_since(client, seq)
    assert (rec["status"], rec["route"], rec["operation"], rec["errorKind"]) == (404, None, None, "Validation")
    assert HINT in rec["message"]


def test_a_customer_number_with_a_slash_is_reached_encoded(client: TestClient) -> None:
    api = Xtnd(client)
    body = {"customerNumber": "SHOP/7 A", "name": "Kund med snedstreck", "customerLogisticsSettings": {},
            "customerDeliveryAddress": {"address": {"address1": "A", "postalCode": "1", "city": "C", "country": "SE"}}}
    assert api.ok("POST", "Customers", json=body)["customerNumber"] == "SHOP/7 A"
    assert api.ok("GET", f"Customers/{quote_key('SHOP/7 A')}")["name"] == "Kund med snedstreck"
    assert api.ok("PUT", f"Customers/{quote_key('SHOP/7 A')}", json={**body, "name": "Ny"})["name"] == "Ny"
    assert "%2F" in assert_message(client.get(f"{API}/Customers/SHOP/7 A", headers=basic()), 404)
