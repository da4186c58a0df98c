"""Reads (docs/wire.md, "Products, ProductAvailability, ..." and "Dates"): the shapes a client meets, one row per
product per warehouse, the single-item availability read, change filters read as UTC and inclusive, and dates
written with milliseconds and Stockholm's offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import (
    Xtnd,
    advance,
    assert_always_filled,
    assert_local_date,
    clock_now,
    journal_since,
    last_seq,
    quote_key,
    state,
    utc_param,
)


@pytest.fixture
def api(client: TestClient) -> Xtnd:
    return Xtnd(client)


def page_b(api: Xtnd, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a scheme B list."""
    items: list[dict[str, Any]] = []
    number = 1
    while True:
        page = api.ok("GET", path, params={**params, "pageNumber": number})
        items += next(v for k, v in page.items() if k != "paginationInfo")
        if number >= page["paginationInfo"]["totalPages"]:
            return items
        number += 1


def availability_list(api: Xtnd, **params: Any) -> list[dict[str, Any]]:
    return page_b(api, "ProductAvailability", **params)


# ---------------------------------------------------------------------------------------------- Products
def test_products_come_one_row_per_product_per_warehouse_with_the_observed_fields(client: TestClient,
                                                                                   api: Xtnd) -> None:
    rows = api.ok("GET", "Products", params={"pageCount": 1000})
    assert [(r["productNumber"], r["warehouse"]) for r in rows[:3]] == [("100000", "1"), ("100000", "2"),
                                                                        ("100000", "3")]
    st_ = state(client, include_products=True)
    enabled = {p["productNumber"]: p["enabled"] for p in st_["products"]}
    available = {(b["productNumber"], b["warehouse"]): b["availableBalanceNow"] for b in st_["balances"]}
    for r in rows:
        assert_always_filled(r, "ProductListItem")
        # observed on a real tenant beyond the Swagger's ProductListItem
        assert r["availableBalance"] == available[(r["productNumber"], r["warehouse"])]
        assert r["enabled"] is enabled[r["productNumber"]]
        assert_local_date(r["modifiedDate"])
        assert_local_date(r["createDate"])
        assert r["productGroupsAndCategories"]["productCategories"]
    assert any(r["enabled"] is False for r in rows)


def test_products_filter_by_number_name_and_warehouse(api: Xtnd) -> None:
    rows = api.ok("GET", "Products", params={"productNumber": "KM 1007"})
    assert [(r["productNumber"], r["warehouse"]) for r in rows] == [("KM 1007", w) for w in ("1", "2", "3")]
    name = rows[0]["productName"]
    word = name.split()[1].upper()
    by_name = api.ok("GET", "Products", params={"productName": word, "warehouse": "2", "pageCount": 1000})
    assert by_name and all(word.lower() in r["productName"].lower() and r["warehouse"] == "2" for r in by_name)
    assert "KM 1007" in {r["productNumber"] for r in by_name}


def test_a_single_product_answers_its_data_prices_warehouses_and_suppliers(api: Xtnd) -> None:
    product = api.ok("GET", f"Products/{quote_key('AB 00023/B')}")
    assert set(product) == {"productNumber", "productData", "productPrices", "productWarehouses", "productSuppliers"}
    assert_always_filled(product, "Product")
    assert product["productNumber"] == "AB 00023/B"
    assert [w["warehouse"] for w in product["productWarehouses"]] == ["1", "2", "3"]
    listed = api.ok("GET", "Products", params={"productNumber": "AB 00023/B"})[0]
    assert product["productData"]["productName"] == listed["productName"]
    rows = product["productPrices"][0]["productPriceListRows"]
    assert "STD" in {r["priceList"] for r in rows}
    assert_local_date(product["productData"]["productDates"]["changedDate"])


def test_products_modified_date_filters_are_inclusive_and_utc(api: Xtnd) -> None:
    rows = api.ok("GET", "Products", params={"pageCount": 1000, "warehouse": "1"})
    newest = max(rows, key=lambda r: r["modifiedDate"])
    changed = datetime.fromisoformat(newest["modifiedDate"])
    exact = changed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    got = api.ok("GET", "Products", params={"modifiedDateFrom": exact, "warehouse": "1"})
    assert newest["productNumber"] in {r["productNumber"] for r in got}
    later = (changed + timedelta(milliseconds=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert newest["productNumber"] not in {
        r["productNumber"] for r in api.ok("GET", "Products", params={"modifiedDateFrom": later, "warehouse": "1"})}
    to = api.ok("GET", "Products", params={"modifiedDateTo": exact, "warehouse": "1", "pageCount": 1000})
    assert len(to) == len(rows)  # the newest change is inclusive, so every product is modified by then
    earlier = (changed - timedelta(milliseconds=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    before = api.ok("GET", "Products", params={"modifiedDateTo": earlier, "warehouse": "1", "pageCount": 1000})
    assert {r["productNumber"] for r in before} == {r["productNumber"] for r in rows
                                                   if datetime.fromisoformat(r["modifiedDate"]) < changed}


def test_products_modified_since_misses_new_products_with_the_quirk(client: TestClient, api: Xtnd) -> None:
    since = utc_param(clock_now(client))
    created = client.post("/_mock/backoffice/products", json={"productName": "Ny termos", "physicalBalance": 4})
    assert created.status_code == 201, created.text
    number = created.json()["productNumber"]
    seq = last_seq(client)
    assert api.ok("GET", "Products", params={"modifiedDateFrom": since}) == []
    (rec,) = journal_since(client, seq)
    assert rec["quirk"] == "products-missing-new" and rec["status"] == 200
    # the separate pass a production client runs finds it: by number, or an unfiltered walk
    assert {r["productNumber"] for r in api.ok("GET", "Products", params={"productNumber": number})} == {number}
    walked = api.ok("GET", "Products", params={"pageCount": 1000, "pageOffset": 1})
    assert number in {r["productNumber"] for r in walked}
    client.put("/_mock/quirks", json={"productsModifiedMissesNew": False})
    rows = api.ok("GET", "Products", params={"modifiedDateFrom": since})
    assert [(r["productNumber"], r["warehouse"]) for r in rows] == [(number, w) for w in ("1", "2", "3")]
    assert rows[0]["availableBalance"] == 4


def test_products_quirk_switched_off_in_the_config() -> None:
    s = Settings(clock="virtual", seed=1, quirks={"transient_errors": 0, "products_modified_misses_new": False})
    with TestClient(create_app(s)) as c:
        since = utc_param(clock_now(c))
        number = c.post("/_mock/backoffice/products", json={"productName": "Ny pall"}).json()["productNumber"]
        rows = Xtnd(c).ok("GET", "Products", params={"modifiedDateFrom": since})
        assert {r["productNumber"] for r in rows} == {number}


# ---------------------------------------------------------------------------------------------- ProductAvailability
def test_the_single_availability_read_answers_the_list_item(api: Xtnd) -> None:
    listed = api.ok("GET", "ProductAvailability", params={"productNumber": "AB 00023/B"})
    items = listed["productAvailabilityList"]
    assert [i["warehouse"] for i in items] == ["1", "2", "3"]
    for item in items:
        single = api.availability("AB 00023/B", item["warehouse"])
        assert single == item
        assert_always_filled(single, "ProductAvailability")
        assert single["availableBalanceNow"] == (single["physicalBalance"] - single["orderedQuantity"]
                                                 - single["blockedBalance"])


def test_availability_filters_by_warehouse_and_product(api: Xtnd) -> None:
    items = availability_list(api, warehouse="3")
    assert len(items) == 500 and {i["warehouse"] for i in items} == {"3"}
    one = api.ok("GET", "ProductAvailability", params={"productNumber": "KM 1007", "warehouse": "2"})
    assert [(i["productNumber"], i["warehouse"]) for i in one["productAvailabilityList"]] == [("KM 1007", "2")]


def test_availability_modified_since_is_utc_and_inclusive(client: TestClient, api: Xtnd) -> None:
    """Filters are read as UTC: the local wall-clock time of a change (an hour later in January) misses it."""
    advance(client, 3600)
    now = clock_now(client)  # 09:00 UTC = 10:00 in Stockholm
    client.post("/_mock/stock", json={"productNumber": "100003", "warehouse": "2", "balanceDifference": 2})
    assert now == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert api.availability("100003", "2")["changeDate"] == "2026-01-05T10:00:00.000+01:00"

    def changed(since: str) -> list[tuple[str, str]]:
        return [(i["productNumber"], i["warehouse"]) for i in availability_list(api, modifiedDateFrom=since)]

    assert changed(utc_param(now)) == [("100003", "2")]  # inclusive, YYYY-MM-DDTHH:MM:SS as UTC
    assert changed(now.strftime("%Y-%m-%dT%H:%M:%SZ")) == [("100003", "2")]
    assert changed("2026-01-05T10:00:00+01:00") == [("100003", "2")]
    local_wall_clock = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert changed(local_wall_clock) == []
    assert changed((now + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")) == []
    assert changed(now.strftime("%Y-%m-%d")) == [("100003", "2")]  # a bare date is midnight UTC
    assert changed(utc_param(now - timedelta(seconds=1))) == [("100003", "2")]
    assert changed("2026-01-05T09:00:00.001Z") == []  # fractions honoured


def test_availability_shows_expected_receivings_from_purchases(client: TestClient, api: Xtnd) -> None:
    before = api.availability("100003", "1")
    r = client.post("/_mock/backoffice/purchases", json={"warehouse": "1", "rows": [
        {"productNumber": "100003", "quantity": 40}], "expectedInDays": 3})
    assert r.status_code == 201, r.text
    item = api.availability("100003", "1")
    assert item["physicalBalance"] == before["physicalBalance"]
    assert item["totalExpectedReceivingFromPurchase"] == 40
    assert item["quantityOnNextReceiving"] == 40
    assert item["avaiableOnNextReceiving"] == item["availableBalanceNow"] + 40  # the facts' own spelling
    assert assert_local_date(item["nextReceivingDate"]) == clock_now(client) + timedelta(days=3)


# ---------------------------------------------------------------------------------------------- dates
def test_every_date_answered_has_milliseconds_and_stockholms_offset_of_its_instant(api: Xtnd) -> None:
    items = availability_list(api, warehouse="1")
    offsets = {assert_local_date(i["changeDate"]).utcoffset() for i in items}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}, "the seed spans winter and summer"
    for c in page_b(api, "Customers"):
        assert_local_date(c["changeDate"])
    customer = api.ok("GET", "Customers/10001")
    assert_local_date(customer["createDate"])


def test_another_tenant_zone_writes_its_own_offset() -> None:
    s = Settings(clock="virtual", seed=1, quirks={"transient_errors": 0}, timezone="America/New_York")
    with TestClient(create_app(s)) as c:
        c.post("/_mock/stock", json={"productNumber": "100003", "warehouse": "1", "balanceDifference": 1})
        assert Xtnd(c).availability("100003")["changeDate"] == "2026-01-05T03:00:00.000-05:00"
