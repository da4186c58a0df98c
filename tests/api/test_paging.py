"""Paging (docs/wire.md, "Paging"): scheme A (pageCount = size, pageOffset = page index, a bare array, a short page
is the last, a page past the end a 400 with the quirk on) and scheme B (pageNumber from 1, the list under its
schema's name with paginationInfo, an empty page past the end); live paging and the stable-snapshot option."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import (
    Xtnd,
    advance,
    assert_always_filled,
    assert_message,
    clock_now,
    journal_since,
    last_seq,
    order_body,
    row,
    stocked,
    utc_param,
)
from tests.support.xtnd import CONTROL

PRODUCTS, WAREHOUSES, PAGE_SIZE = 20, 3, 25


@pytest.fixture
def settings() -> Settings:
    return Settings(clock="virtual", seed=1, quirks={"transient_errors": 0},
                    catalogue={"products": PRODUCTS, "warehouses": WAREHOUSES, "customers": 60},
                    paging={"page_size": PAGE_SIZE})


@pytest.fixture
def api(client: TestClient) -> Xtnd:
    return Xtnd(client)


def keys(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["productNumber"], r["warehouse"]) for r in rows]


def walk_a(api: Xtnd, path: str, count: int, **params: Any) -> list[list[dict[str, Any]]]:
    """Scheme A as a production client pages: pageOffset 0, 1, 2 ... until a page is shorter than pageCount."""
    pages = []
    offset = 0
    while True:
        page = api.ok("GET", path, params={**params, "pageCount": count, "pageOffset": offset})
        assert isinstance(page, list)
        pages.append(page)
        if len(page) < count:
            return pages
        offset += 1


def walk_b(api: Xtnd, path: str, list_key: str, **params: Any) -> list[dict[str, Any]]:
    pages = []
    number = 1
    while True:
        page = api.ok("GET", path, params={**params, "pageNumber": number})
        assert set(page) == {list_key, "paginationInfo"}, set(page)
        pages.append(page)
        if number >= page["paginationInfo"]["totalPages"]:
            return pages
        number += 1


# ---------------------------------------------------------------------------------------------- scheme A
def test_scheme_a_pages_by_page_index_to_a_short_last_page(api: Xtnd) -> None:
    everything = api.ok("GET", "Products", params={"pageCount": 1000})
    assert len(everything) == PRODUCTS * WAREHOUSES
    assert keys(everything) == sorted(keys(everything))  # by product number, then warehouse
    pages = walk_a(api, "Products", 7)
    assert [len(p) for p in pages] == [7] * 8 + [4]
    assert [r for p in pages for r in p] == everything
    # pageOffset is the page index, not a row offset
    assert api.ok("GET", "Products", params={"pageCount": 7, "pageOffset": 2}) == everything[14:21]


def test_scheme_a_default_page_count_is_100(client: TestClient, api: Xtnd) -> None:
    seq = last_seq(client)
    assert len(api.ok("GET", "Products")) == 60  # all on one short page
    (rec,) = journal_since(client, seq)
    assert (rec["pageScheme"], rec["page"], rec["pageSize"], rec["rows"], rec["lastPage"]) == ("A", 0, 100, 60, True)
    assert rec["totalPages"] is None


def test_a_page_past_the_end_is_a_400_with_the_quirk_and_empty_without(client: TestClient, api: Xtnd) -> None:
    pages = [api.ok("GET", "Products", params={"pageCount": 20, "pageOffset": n}) for n in range(3)]
    assert [len(p) for p in pages] == [20, 20, 20]
    # a client that read three full pages asks for a fourth: the quirk answers 400 where an empty page belongs
    seq = last_seq(client)
    r = api.get("Products", params={"pageCount": 20, "pageOffset": 3})
    assert "pageOffset 3" in assert_message(r, 400)
    far = api.get("Products", params={"pageCount": 20, "pageOffset": 50})
    assert_message(far, 400)
    records = journal_since(client, seq)
    assert [(x["quirk"], x["errorKind"], x["page"]) for x in records] == [("page-past-end", "Validation", 3),
                                                                        ("page-past-end", "Validation", 50)]
    assert client.put("/_mock/quirks", json={"pagePastEnd400": False}).json()["pagePastEnd400"] is False
    assert api.ok("GET", "Products", params={"pageCount": 20, "pageOffset": 3}) == []
    assert api.ok("GET", "Products", params={"pageCount": 20, "pageOffset": 50}) == []


def test_the_first_page_of_nothing_is_an_empty_array_even_with_the_quirk(api: Xtnd) -> None:
    assert api.ok("GET", "Products", params={"productNumber": "NO SUCH"}) == []
    assert api.ok("GET", "Products", params={"productNumber": "NO SUCH", "pageOffset": 0, "pageCount": 5}) == []


def test_the_page_past_end_quirk_is_switchable_in_the_config() -> None:
    s = Settings(clock="virtual", seed=1, quirks={"transient_errors": 0, "page_past_end_400": False},
                 catalogue={"products": PRODUCTS, "warehouses": WAREHOUSES, "customers": 10})
    with TestClient(create_app(s)) as c:
        assert c.get("/_mock/quirks").json()["pagePastEnd400"] is False
        assert Xtnd(c).ok("GET", "Products", params={"pageCount": 30, "pageOffset": 2}) == []


def test_customer_orders_page_the_same_way(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client, at_least=5)
    since = utc_param(clock_now(client))
    numbers = [api.create_order(order_body([row(pn)], f"W{i}"))["orderHeader"]["orderNumber"] for i in range(5)]
    pages = walk_a(api, "CustomerOrders", 2, modifiedDateFrom=since)
    assert [[o["orderNumber"] for o in p] for p in pages] == [numbers[:2], numbers[2:4], numbers[4:]]
    r = api.get("CustomerOrders", params={"modifiedDateFrom": since, "pageCount": 5, "pageOffset": 1})
    assert_message(r, 400)


# ---------------------------------------------------------------------------------------------- scheme B
def test_scheme_b_pages_with_pagination_info(client: TestClient, api: Xtnd) -> None:
    seq = last_seq(client)
    pages = walk_b(api, "ProductAvailability", "productAvailabilityList")
    assert [len(p["productAvailabilityList"]) for p in pages] == [25, 25, 10]
    assert [p["paginationInfo"] for p in pages] == [
        {"currentPage": n, "totalPages": 3, "pageSize": 25, "totalResources": 60, "message": None} for n in (1, 2, 3)]
    items = [i for p in pages for i in p["productAvailabilityList"]]
    assert keys(items) == sorted(keys(items)) and len(set(keys(items))) == 60
    for p in pages:
        assert_always_filled(p["paginationInfo"], "PaginationInformation")
    assert [(r["pageScheme"], r["page"], r["pageSize"], r["rows"], r["totalPages"], r["lastPage"])
            for r in journal_since(client, seq)] == [("B", 1, 25, 25, 3, False), ("B", 2, 25, 25, 3, False),
                                                      ("B", 3, 25, 10, 3, True)]


def test_a_scheme_b_page_past_the_end_is_an_empty_list(api: Xtnd) -> None:
    page = api.ok("GET", "ProductAvailability", params={"pageNumber": 9})
    assert page == {"productAvailabilityList": [], "paginationInfo": {
        "currentPage": 9, "totalPages": 3, "pageSize": 25, "totalResources": 60, "message": None}}
    empty = api.ok("GET", "ProductAvailability", params={"productNumber": "NO SUCH"})
    assert empty["productAvailabilityList"] == []
    assert (empty["paginationInfo"]["totalPages"], empty["paginationInfo"]["totalResources"]) == (0, 0)


@pytest.mark.parametrize(("path", "list_key", "key", "params", "total"), [
    ("Customers", "customerList", "customerNumber", {}, 60),
    ("ProductPrices", "productPriceItemList", "productNumber", {"customerNumber": "10001"}, PRODUCTS),
    ("WarehouseStockLevels", "stockLevelItemList", "productNumber", {"warehouse": "2"}, PRODUCTS),
])
def test_every_scheme_b_list_pages_alike(api: Xtnd, path: str, list_key: str, key: str, params: dict[str, str],
                                         total: int) -> None:
    pages = walk_b(api, path, list_key, **params)
    items = [i for p in pages for i in p[list_key]]
    assert len(items) == total == pages[0]["paginationInfo"]["totalResources"]
    assert [len(p[list_key]) for p in pages[:-1]] == [PAGE_SIZE] * (len(pages) - 1)
    numbers = [i[key] for i in items]
    assert numbers == sorted(numbers) and len(set(numbers)) == total  # ordered by key, none on two pages
    past = api.ok("GET", path, params={**params, "pageNumber": len(pages) + 1})
    assert past[list_key] == [] and past["paginationInfo"]["currentPage"] == len(pages) + 1


# ---------------------------------------------------------------------------------------------- live paging
def _small_pages(**paging: Any) -> Settings:
    return Settings(clock="virtual", seed=1, quirks={"transient_errors": 0},
                    catalogue={"products": PRODUCTS, "warehouses": WAREHOUSES, "customers": 10},
                    paging={"page_size": 2} | paging)


def _move(c: TestClient, pn: str, wh: str = "1") -> None:
    r = c.post("/_mock/stock", json={"productNumber": pn, "warehouse": wh, "balanceDifference": 1})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("stable", [False, True])
def test_a_record_entering_the_filter_mid_pass_shifts_later_pages_unless_snapshots_are_on(stable: bool) -> None:
    with TestClient(create_app(_small_pages(stable_snapshots=stable))) as c:
        api = Xtnd(c)
        products = sorted({b["productNumber"] for b in c.get("/_mock/state").json()["balances"]})
        advance(c, 60)
        since = utc_param(clock_now(c))
        for pn in (products[3], products[5], products[7]):
            _move(c, pn)
        params = {"modifiedDateFrom": since}
        first = api.ok("GET", "ProductAvailability", params={**params, "pageNumber": 1})
        assert [i["productNumber"] for i in first["productAvailabilityList"]] == [products[3], products[5]]
        _move(c, products[1])  # enters the filter ahead of the pass's position
        second = api.ok("GET", "ProductAvailability", params={**params, "pageNumber": 2})
        got = [i["productNumber"] for i in second["productAvailabilityList"]]
        if stable:
            assert got == [products[7]], "the pass's result set is fixed at its first page"
        else:
            assert got == [products[5], products[7]], "live: the new record pushed products[5] onto page 2"
            assert second["paginationInfo"]["totalResources"] == 4


@pytest.mark.parametrize("stable", [False, True])
def test_a_record_leaving_the_filter_mid_pass_is_skipped_unless_snapshots_are_on(stable: bool) -> None:
    """Scheme A: an order reserved between page 0 and page 1 of a Created-orders walk hides the next one."""
    with TestClient(create_app(_small_pages(stable_snapshots=stable))) as c:
        api = Xtnd(c)
        pn = stocked(c, at_least=5)
        since = utc_param(clock_now(c))
        numbers = [api.create_order(order_body([row(pn)], f"L{i}"))["orderHeader"]["orderNumber"] for i in range(5)]
        params = {"modifiedDateFrom": since, "orderStatus": "Created", "pageCount": 2}
        page0 = api.ok("GET", "CustomerOrders", params={**params, "pageOffset": 0})
        assert [o["orderNumber"] for o in page0] == numbers[:2]
        assert c.post(f"/_mock/orders/{numbers[0]}/reserve", headers=CONTROL).status_code == 200
        page1 = api.ok("GET", "CustomerOrders", params={**params, "pageOffset": 1})
        got = [o["orderNumber"] for o in page1]
        assert got == (numbers[2:4] if stable else numbers[3:5])


def test_snapshots_expire_after_their_ttl() -> None:
    with TestClient(create_app(_small_pages(stable_snapshots=True, snapshot_ttl_seconds=30))) as c:
        api = Xtnd(c)
        products = sorted({b["productNumber"] for b in c.get("/_mock/state").json()["balances"]})
        advance(c, 60)
        since = utc_param(clock_now(c))
        for pn in products[4:7]:
            _move(c, pn)
        params = {"modifiedDateFrom": since}
        api.ok("GET", "ProductAvailability", params={**params, "pageNumber": 1})
        _move(c, products[1])
        advance(c, 31)
        second = api.ok("GET", "ProductAvailability", params={**params, "pageNumber": 2})
        assert [i["productNumber"] for i in second["productAvailabilityList"]] == [products[5], products[6]]


def test_two_filters_never_share_a_page() -> None:
    """With snapshots on, a pass is keyed by its query: another filter answers its own result set."""
    with TestClient(create_app(_small_pages(stable_snapshots=True, page_size=PAGE_SIZE))) as c:
        api = Xtnd(c)
        one = api.ok("GET", "ProductAvailability", params={"warehouse": "1"})
        two = api.ok("GET", "ProductAvailability", params={"warehouse": "2"})
        assert {i["warehouse"] for i in one["productAvailabilityList"]} == {"1"}
        assert {i["warehouse"] for i in two["productAvailabilityList"]} == {"2"}
        assert one["paginationInfo"]["totalResources"] == two["paginationInfo"]["totalResources"] == PRODUCTS
