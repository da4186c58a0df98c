"""The read side of §2: case-insensitive paths, PascalCase JSON, paging envelope and limits, inclusive
changedSince, repeated multi-value filters, stable paging and free-text product numbers."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.api.xtnd_support import assert_error, order_body

PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LISTS = ["/api/Products", "/api/Customers", "/api/CustomerOrders", "/api/ProductAvailability",
         "/api/ProductPrices?customerNumber=10001"]


def pascal_keys(obj: Any, where: str = "$") -> list[str]:
    """Every JSON key that is not PascalCase, with where it is."""
    bad: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not PASCAL.match(k):
                bad.append(f"{where}.{k}")
            bad += pascal_keys(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            bad += pascal_keys(v, f"{where}[{i}]")
    return bad


def all_items(client: TestClient, h: dict[str, str], path: str, **params: Any) -> list[dict[str, Any]]:
    r = client.get(path, headers=h, params={"pageSize": 1000, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["TotalPages"] <= 1
    items: list[dict[str, Any]] = body["Items"]
    return items


@pytest.fixture
def order_number(client: TestClient, auth_headers: dict[str, str]) -> str:
    r = client.post("/api/CustomerOrders", headers=auth_headers, json=order_body("WEB-READ"))
    assert r.status_code == 201, r.text
    number: str = r.json()["OrderNumber"]
    return number


def test_paths_match_case_insensitively(client: TestClient, auth_headers: dict[str, str], order_number: str) -> None:
    pairs = [
        (f"/api/CustomerOrders/{order_number}", f"/api/customerorders/{order_number}"),
        ("/api/Products/100003", "/API/PRODUCTS/100003"),
        ("/api/Customers/10001", "/api/cUsToMeRs/10001"),
        ("/api/ProductAvailability?productNumber=100003", "/api/productavailability?productNumber=100003"),
        ("/api/ProductPrices?customerNumber=10001&productNumber=100003",
         "/api/productprices?customerNumber=10001&productNumber=100003"),
        ("/api/Products?pageSize=5", "/api/products?pageSize=5"),
    ]
    for canonical, other in pairs:
        a, b = client.get(canonical, headers=auth_headers), client.get(other, headers=auth_headers)
        assert a.status_code == b.status_code == 200, (canonical, a.text, b.text)
        assert a.content == b.content, other
    cancelled = client.post(f"/api/CUSTOMERORDERS/{order_number}/CANCEL", headers=auth_headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["Status"] == "Cancelled"


def test_every_response_is_pascal_case_json(client: TestClient, auth_headers: dict[str, str], order_number: str) -> None:
    paths = LISTS + ["/api/Products/100003", "/api/Customers/10001", f"/api/CustomerOrders/{order_number}"]
    for path in paths:
        r = client.get(path, headers=auth_headers)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-type"].startswith("application/json")
        assert pascal_keys(r.json()) == [], path
    one = client.get(f"/api/CustomerOrders/{order_number}", headers=auth_headers).json()
    for key in ("ChangedAt", "CreatedAt"):
        assert ISO_MS.match(one[key]), one[key]


@pytest.mark.parametrize("path", LISTS)
def test_every_list_has_the_paging_envelope_and_limits(client: TestClient, auth_headers: dict[str, str],
                                                       path: str) -> None:
    sep = "&" if "?" in path else "?"
    r = client.get(path, headers=auth_headers)
    body = r.json()
    assert set(body) == {"Items", "Page", "PageSize", "TotalCount", "TotalPages"}
    assert body["Page"] == 1
    assert body["PageSize"] == 100  # the default
    assert len(body["Items"]) == min(100, body["TotalCount"])
    second = client.get(f"{path}{sep}page=2&pageSize=7", headers=auth_headers).json()
    assert (second["Page"], second["PageSize"]) == (2, 7)
    assert second["TotalPages"] == -(-second["TotalCount"] // 7)
    assert client.get(f"{path}{sep}pageSize=1000", headers=auth_headers).status_code == 200
    for bad in ("pageSize=1001", "pageSize=0", "pageSize=-5", "pageSize=abc", "pageSize=99999999999999999999999"):
        assert_error(client.get(f"{path}{sep}{bad}", headers=auth_headers), 400, field="pageSize")
    assert_error(client.get(f"{path}{sep}page=0", headers=auth_headers), 400, field="page")
    assert_error(client.get(f"{path}{sep}changedSince=yesterday", headers=auth_headers), 400, field="changedSince")


def test_list_order_is_changed_at_then_key(client: TestClient, auth_headers: dict[str, str]) -> None:
    items = all_items(client, auth_headers, "/api/Products")
    keys = [(i["ChangedAt"], i["ProductNumber"]) for i in items]
    assert keys == sorted(keys)
    assert len(items) == 500


def test_a_configured_max_page_size_is_enforced() -> None:
    from mock_xtnd.app import create_app
    from mock_xtnd.settings import Settings

    app = create_app(Settings(clock="virtual", paging={"max_page_size": 50, "default_page_size": 20}))
    with TestClient(app) as c:
        token = c.post("/api/token", data={"grant_type": "client_credentials", "client_id": "demo",
                                           "client_secret": "demo-secret"}).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/Products", headers=h).json()["PageSize"] == 20
        assert c.get("/api/Products?pageSize=50", headers=h).status_code == 200
        body = assert_error(c.get("/api/Products?pageSize=51", headers=h), 400, field="pageSize")
        assert "50" in body["Message"]


@pytest.mark.parametrize(
    ("path", "key"),
    [("/api/Products", "ProductNumber"), ("/api/Customers", "CustomerNumber"),
     ("/api/ProductAvailability", "ProductNumber")],
)
def test_changed_since_is_inclusive(client: TestClient, auth_headers: dict[str, str], path: str, key: str) -> None:
    items = all_items(client, auth_headers, path, warehouseNumber="1") if "Availability" in path else \
        all_items(client, auth_headers, path)
    pivot = items[len(items) // 2]
    at = pivot["ChangedAt"]
    since = all_items(client, auth_headers, path, changedSince=at, **({"warehouseNumber": "1"} if "Availability" in path else {}))
    assert pivot[key] in [i[key] for i in since], "a record changed exactly at changedSince must be included"
    assert all(i["ChangedAt"] >= at for i in since)
    assert len(since) == sum(1 for i in items if i["ChangedAt"] >= at)
    one_ms_later = at[:-4] + f"{int(at[-4:-1]) + 1:03d}Z" if at[-4:-1] != "999" else None
    if one_ms_later:
        later = all_items(client, auth_headers, path, changedSince=one_ms_later,
                          **({"warehouseNumber": "1"} if "Availability" in path else {}))
        assert pivot[key] not in [i[key] for i in later]


def test_changed_since_on_orders_finds_new_and_changed_orders(client: TestClient, auth_headers: dict[str, str],
                                                             order_number: str) -> None:
    created = client.get(f"/api/CustomerOrders/{order_number}", headers=auth_headers).json()["ChangedAt"]
    client.post("/_mock/clock/advance", json={"Seconds": 10})
    assert all_items(client, auth_headers, "/api/CustomerOrders", changedSince=created)[0]["OrderNumber"] == order_number
    later = client.get("/_mock/clock").json()["Now"]
    assert all_items(client, auth_headers, "/api/CustomerOrders", changedSince=later) == []
    client.post(f"/_mock/orders/{order_number}/reserve")
    found = all_items(client, auth_headers, "/api/CustomerOrders", changedSince=later)
    assert [(o["OrderNumber"], o["Status"]) for o in found] == [(order_number, "Reserved")]
    assert all_items(client, auth_headers, "/api/CustomerOrders", status="Created") == []


def test_repeated_multi_value_filters(client: TestClient, auth_headers: dict[str, str]) -> None:
    r = client.get("/api/ProductAvailability?productNumber=100003&productNumber=100004&warehouseNumber=1"
                   "&warehouseNumber=3", headers=auth_headers)
    got = sorted((i["ProductNumber"], i["WarehouseNumber"]) for i in r.json()["Items"])
    assert got == [("100003", "1"), ("100003", "3"), ("100004", "1"), ("100004", "3")]
    prices = client.get("/api/ProductPrices?customerNumber=10001&productNumber=100003&productNumber=100004",
                        headers=auth_headers).json()["Items"]
    assert sorted(p["ProductNumber"] for p in prices) == ["100003", "100004"]
    assert_error(client.get("/api/ProductAvailability?warehouseNumber=99", headers=auth_headers), 422,
                 field="warehouseNumber")


@pytest.mark.parametrize("path", ["/api/ProductAvailability?", "/api/ProductPrices?customerNumber=10001&"])
def test_at_most_200_product_numbers_per_call(client: TestClient, auth_headers: dict[str, str], path: str) -> None:
    numbers = [str(100000 + i) for i in range(201)]
    ok = client.get(path + "&".join(f"productNumber={n}" for n in numbers[:200]), headers=auth_headers)
    assert ok.status_code == 200
    too_many = client.get(path + "&".join(f"productNumber={n}" for n in numbers), headers=auth_headers)
    assert_error(too_many, 400, field="productNumber")


def test_stable_paging_a_mid_pass_change_does_not_push_an_unchanged_record_off_its_page(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    """Walk ProductAvailability (warehouse 1, 30 products) in pages of 10. After page 1, the first record changes
    (its ChangedAt becomes the newest, so it sorts last). With plain offset paging the 11th record would slide
    onto the already-read page 1 and the client would never see it; stable paging keeps page 1's key set."""
    products = [i["ProductNumber"] for i in all_items(client, auth_headers, "/api/Products")[:30]]
    query = "/api/ProductAvailability?warehouseNumber=1&pageSize=10&" + "&".join(
        f"productNumber={quote(p, safe='')}" for p in products)
    page1 = client.get(query + "&page=1", headers=auth_headers).json()
    assert page1["TotalCount"] == 30
    first = page1["Items"][0]["ProductNumber"]
    client.post("/_mock/clock/advance", json={"Seconds": 5})
    moved = client.post("/_mock/stock", json={"ProductNumber": first, "WarehouseNumber": "1", "Delta": 7})
    assert moved.status_code == 200, moved.text
    # a record on a later page changes too: later pages come with current values
    page2 = client.get(query + "&page=2", headers=auth_headers).json()
    page3 = client.get(query + "&page=3", headers=auth_headers).json()
    seen = [i["ProductNumber"] for p in (page1, page2, page3) for i in p["Items"]]
    assert sorted(seen) == sorted(products), "every record seen exactly once in one pass"
    assert page2["TotalCount"] == 30
    # the contrast: a fresh query (a new page 1) now orders the changed record last, so offset paging would
    # have moved the old 11th record onto page 1 - exactly the record stable paging kept on page 2
    fresh = client.get(query + "&page=1", headers=auth_headers).json()["Items"]
    assert fresh[-1]["ProductNumber"] == page2["Items"][0]["ProductNumber"]
    assert first not in [i["ProductNumber"] for i in fresh]


def test_later_pages_carry_current_values(client: TestClient, auth_headers: dict[str, str]) -> None:
    products = [i["ProductNumber"] for i in all_items(client, auth_headers, "/api/Products")[:20]]
    query = "/api/ProductAvailability?warehouseNumber=1&pageSize=10&" + "&".join(
        f"productNumber={quote(p, safe='')}" for p in products)
    client.get(query + "&page=1", headers=auth_headers)
    snapshot_page2 = client.get(query + "&page=2", headers=auth_headers).json()["Items"]
    target = snapshot_page2[3]
    client.post("/_mock/stock", json={"ProductNumber": target["ProductNumber"], "WarehouseNumber": "1", "OnHand": 777})
    again = client.get(query + "&page=2", headers=auth_headers).json()["Items"]
    assert [i["ProductNumber"] for i in again] == [i["ProductNumber"] for i in snapshot_page2]
    assert again[3]["AvailableBalance"] == 777


def test_product_numbers_with_spaces_and_slashes_are_readable_url_encoded(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    numbers = [i["ProductNumber"] for i in all_items(client, auth_headers, "/api/Products")]
    spaced = [n for n in numbers if " " in n and "/" not in n]
    slashed = [n for n in numbers if "/" in n]
    assert "KM 1007" in spaced
    assert slashed and all(re.match(r"^AB \d{5}/[ABC]$", n) for n in slashed), slashed
    for number in [spaced[0], slashed[0], slashed[-1]]:
        encoded = quote(number, safe="")
        r = client.get(f"/api/Products/{encoded}", headers=auth_headers)
        assert r.status_code == 200, (number, r.text)
        assert r.json()["ProductNumber"] == number
        avail = client.get("/api/ProductAvailability", params={"productNumber": number}, headers=auth_headers)
        assert {i["ProductNumber"] for i in avail.json()["Items"]} == {number}
    # a literal percent sign is decoded once, never twice
    assert_error(client.get("/api/Products/KM%25201007", headers=auth_headers), 404, field="productNumber")


def test_single_records_and_404s(client: TestClient, auth_headers: dict[str, str], order_number: str) -> None:
    product = client.get("/api/Products/100003", headers=auth_headers).json()
    for key in ("ProductNumber", "Name", "Description", "Ean", "Unit", "WeightKg", "VatRate", "ProductGroup",
                "Status", "ChangedAt"):
        assert key in product
    customer = client.get("/api/Customers/10001", headers=auth_headers).json()
    for key in ("CustomerNumber", "Name", "CustomerGroup", "PriceList", "Salesperson", "InvoiceAddress",
                "DeliveryAddress", "ChangedAt"):
        assert key in customer
    assert set(customer["DeliveryAddress"]) == {"Name", "Street", "PostalCode", "City", "CountryCode"}
    order = client.get(f"/api/CustomerOrders/{order_number}", headers=auth_headers).json()
    assert order["Status"] == "Created"
    assert order["Lines"][0]["PickedQuantity"] == 0
    assert order["Shipments"] == []
    assert_error(client.get("/api/Products/NOPE-1", headers=auth_headers), 404, field="productNumber")
    assert_error(client.get("/api/Customers/99999", headers=auth_headers), 404, field="customerNumber")
    assert_error(client.get("/api/CustomerOrders/1", headers=auth_headers), 404, field="orderNumber")
