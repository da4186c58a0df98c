"""The order helpers (docs/wire.md, "Order helpers"): CustomerOrderATP (available-to-promise per row, consistent with
ProductAvailability), CustomerOrderCampaignProcessor (the prices ProductPrices' best-price logic gives),
AgreedOrderAvailability, CustomerOrderProjects, CustomerOrderReasonCodes. None of them changes anything."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.domain.reference import ORDER_PROJECTS, ORDER_REASON_CODES
from tests.api.xtnd_support import (
    Truth,
    Xtnd,
    assert_always_filled,
    assert_invalid,
    assert_local_date,
    clock_now,
    order_body,
    row,
    stocked,
)
from tests.support.xtnd import CONTROL

pytestmark = pytest.mark.capture  # every webhook action lands in the outbox (tests/api/conftest.py)

TOOLS = ("CustomerOrderATP", "CustomerOrderCampaignProcessor")


def atp(api: Xtnd, rows: list[dict[str, Any]], **header: Any) -> list[dict[str, Any]]:
    answer = api.ok("POST", "CustomerOrderATP", json=order_body(rows, **header))
    out: list[dict[str, Any]] = answer["orderRows"]
    return out


def best(api: Xtnd, customer: str, products: list[str]) -> dict[str, dict[str, Any]]:
    items = api.ok("GET", "ProductPrices", params={"customerNumber": customer, "productNumberList": products})
    return {i["productNumber"]: i for i in items["productPriceItemList"]}


def wrong_quantity(pn: str) -> dict[str, Any]:
    """An order row whose quantity is a word, not a number."""
    bad = row(pn, 1)
    bad["salesData"]["quantity"] = "two"
    return bad


# ---------------------------------------------------------------------------------------------- ATP
def test_atp_promises_from_stock_row_after_row_as_availability_says(client: TestClient, api: Xtnd,
                                                                   fetch_truth: Truth) -> None:
    pn = stocked(client)
    available = api.availability(pn)["availableBalanceNow"]
    before = fetch_truth()
    first, second = atp(api, [row(pn, available - 2), row(pn, 5)])
    assert (first["allocationStatus"], first["availableBalance"]) == ("Physical", available)
    assert (assert_local_date(first["expectedDeliveryDate"]) - clock_now(client)).total_seconds() == 2 * 86400
    # the second row gets what the first left: 2, not enough for 5, and nothing is expected
    assert (second["allocationStatus"], second["availableBalance"], second["expectedDeliveryDate"]) == (
        "NotAllocated", 2, None)
    assert fetch_truth() == before  # changes nothing


def test_atp_counts_orders_already_placed(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    api.create_order(order_body([row(pn, 4)], "WEB-A"))
    available = api.availability(pn)["availableBalanceNow"]
    (line,) = atp(api, [row(pn, 1)], external="WEB-B")
    assert line["availableBalance"] == available


def test_atp_promises_a_purchase_when_stock_is_short(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    available = api.availability(pn)["availableBalanceNow"]
    api.ok("POST", "PurchaseOrders", json={"header": {"supplier": {}}, "rows": [{
        "productNumber": pn, "purchaseDataProductUnit": {"quantity": 10, "unit": "st"},
        "expectedDeliveryDate": "2026-02-01T08:00:00Z"}]})
    next_receiving = api.availability(pn)["nextReceivingDate"]
    (covered,) = atp(api, [row(pn, available + 10)])
    assert (covered["allocationStatus"], covered["expectedDeliveryDate"]) == ("Purchase", next_receiving)
    (short,) = atp(api, [row(pn, available + 11)])
    assert (short["allocationStatus"], short["expectedDeliveryDate"]) == ("NotAllocated", None)


def test_atp_keeps_the_asked_date(client: TestClient, api: Xtnd) -> None:
    (line,) = atp(api, [row(stocked(client), 1)], askedDeliveryDate="2026-01-09T12:00:00Z")
    assert line["expectedDeliveryDate"] == "2026-01-09T13:00:00.000+01:00"


# ---------------------------------------------------------------------------------------------- campaigns
@pytest.mark.parametrize("customer", ["10001", "10008"])
def test_campaign_processor_prices_equal_product_prices(client: TestClient, api: Xtnd, fetch_truth: Truth,
                                                        customer: str) -> None:
    truth = fetch_truth()
    lists = truth["records"]["price_list"]
    winter = sorted(lists["CAMP-WINTER"]["prices"])[0]
    flash = sorted(lists["CAMP-B2B-FLASH"]["prices"])[0]
    plain = next(pn for pn in sorted(lists["STD"]["prices"])
                 if pn not in lists["CAMP-WINTER"]["prices"] and pn not in lists["CAMP-B2B-FLASH"]["prices"]
                 and truth["records"]["product"][pn]["status"] == "Active")
    products = [winter, flash, plain]
    expected = best(api, customer, products)
    answer = api.ok("POST", "CustomerOrderCampaignProcessor",
                    json=order_body([row(pn, 2, unit_price=None) for pn in products], customer=customer))
    assert answer["orderHeader"]["customerNumber"] == customer
    rows = answer["orderRows"]
    assert [r["product"]["productNumber"] for r in rows] == products
    for r in rows:
        item = expected[r["product"]["productNumber"]]
        assert (r["salesData"]["unitPrice"], r["salesData"]["vatPercent"], r["salesData"]["currency"]) == (
            item["price"], item["vatPercent"], item["currency"]), r
        promoted = r["rowPromotion"]["isResultOfPromotion"]
        assert promoted == (r["rowPromotion"]["promotionName"] is not None)
    by_pn = {r["product"]["productNumber"]: r for r in rows}
    # the winter campaign is for everyone and undercuts the list price
    assert by_pn[winter]["rowPromotion"] == {**by_pn[winter]["rowPromotion"], "isResultOfPromotion": True,
                                             "promotionName": "CAMP-WINTER"}
    # the flash campaign only for B2B-GOLD customers (10008)
    assert by_pn[flash]["rowPromotion"]["isResultOfPromotion"] is (customer == "10008")
    assert by_pn[plain]["rowPromotion"]["isResultOfPromotion"] is False
    assert fetch_truth() == truth  # changes nothing


def test_campaign_processor_ignores_the_price_sent(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    (line,) = api.ok("POST", "CustomerOrderCampaignProcessor",
                     json=order_body([row(pn, 1, unit_price=0.01)]))["orderRows"]
    assert line["salesData"]["unitPrice"] == best(api, "10001", [pn])[pn]["price"]


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("resource", TOOLS)
def test_bad_bodies_are_refused_and_change_nothing(client: TestClient, api: Xtnd, fetch_truth: Truth,
                                                   resource: str) -> None:
    pn = stocked(client)
    before = fetch_truth()
    assert_invalid(api.post(resource, json=order_body([wrong_quantity(pn)])),
                   "newCustomerOrder.orderRows[0].salesData.quantity")
    assert_invalid(api.post(resource, json={"orderHeader": {"customerNumber": "10001"}}), "newCustomerOrder.orderRows")
    assert_invalid(api.post(resource, json=order_body([row(pn, -1)])), "newCustomerOrder.orderRows[0].salesData.quantity")
    assert_invalid(api.post(resource, json=order_body([row(pn, 1, rowOperation="Inactive")])),
                   "newCustomerOrder.orderRows")
    assert_invalid(api.post(resource, json=order_body([{"salesData": {"quantity": 1, "unit": "st"}}])),
                   "newCustomerOrder.orderRows[0].product")
    r = api.post(resource, json=order_body([row("NO-SUCH", 1)]))
    assert r.status_code == 400 and "NO-SUCH" in r.text
    r = api.post(resource, json=order_body([row(pn, 1)], customer="99999"))
    assert r.status_code == 400 and "99999" in r.text
    r = api.post(resource, json=order_body([row(pn, 1, warehouse="99")]))
    assert r.status_code == 400 and "99" in r.text
    assert fetch_truth() == before


def test_the_campaign_processor_needs_a_customer(client: TestClient, api: Xtnd) -> None:
    body = order_body([row(stocked(client), 1)])
    del body["orderHeader"]["customerNumber"]
    assert_invalid(api.post("CustomerOrderCampaignProcessor", json=body), "newCustomerOrder.orderHeader.customerNumber")


# ---------------------------------------------------------------------------------------------- agreed orders
def test_agreed_order_availability_shows_agreed_and_delivered(client: TestClient, api: Xtnd) -> None:
    pn, other = stocked(client), stocked(client, skip=1)
    assert api.ok("GET", "AgreedOrderAvailability")["agreedOrderAvailabilityList"] == []
    agreed = api.create_order(order_body([row(pn, 5), row(other, 2)], "AG-1", orderType="AgreedOrder"))
    api.create_order(order_body([row(pn, 1)], "N-1"))  # a normal order is not listed
    number = agreed["orderHeader"]["orderNumber"]
    (item,) = api.ok("GET", "AgreedOrderAvailability")["agreedOrderAvailabilityList"]
    assert_always_filled(item, "AgreedOrderAvailability")
    assert item["customerNumber"] == "10001"
    (order,) = item["agreedOrders"]
    assert order["orderNumber"] == number
    assert [(r["productNumber"], r["salesData"]["quantity"], r["deliveryData"]["quantity"]) for r in order["rows"]] \
        == [(pn, 5, 0), (other, 2, 0)]
    api.ok("POST", "WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn, "balance": 3})
    assert client.post(f"/_mock/orders/{number}/pick", headers=CONTROL).status_code == 200  # partly delivered
    (item,) = api.ok("GET", "AgreedOrderAvailability", params={"customerNumber": "10001"})[
        "agreedOrderAvailabilityList"]
    assert [(r["productNumber"], r["deliveryData"]["quantity"]) for r in item["agreedOrders"][0]["rows"]] == [
        (pn, 3), (other, 2)]
    assert api.ok("GET", "AgreedOrderAvailability", params={"customerNumber": "10002"})[
        "agreedOrderAvailabilityList"] == []
    # delivered in full, the agreed order is no longer open and leaves the list
    api.ok("PUT", "WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn, "balanceDifference": 10})
    assert client.post(f"/_mock/orders/{number}/pick", headers=CONTROL).status_code == 200
    assert api.order(number)["orderHeader"]["orderStatus"] == "Terminated"
    assert api.ok("GET", "AgreedOrderAvailability")["agreedOrderAvailabilityList"] == []


# ---------------------------------------------------------------------------------------------- reference lists
def test_projects_and_reason_codes_are_the_seeded_ones(api: Xtnd) -> None:
    projects = api.ok("GET", "CustomerOrderProjects")["projectList"]
    assert [(p["project"], p["name"], p["description"], p["active"]) for p in projects] == list(ORDER_PROJECTS)
    for p in projects:
        assert_always_filled(p, "CustomerOrderProject")
    codes = api.ok("GET", "CustomerOrderReasonCodes")["reasonCodeList"]
    assert [(c["reasonCode"], c["name"], c["description"], c["active"]) for c in codes] == list(ORDER_REASON_CODES)
    for c in codes:
        assert_always_filled(c, "CustomerOrderReasonCode")


def test_campaign_processor_applies_a_group_discount_like_product_prices(client: TestClient, api: Xtnd,
                                                                        fetch_truth: Truth) -> None:
    truth = fetch_truth()
    customer = next(n for n, c in sorted(truth["records"]["customer"].items()) if c["customer_group"] == "WHOLESALE")
    campaigns = set(truth["records"]["price_list"]["CAMP-WINTER"]["prices"])
    kitchen = next(pn for pn, p in sorted(truth["records"]["product"].items())
                   if p["group"] == "KITCHEN" and p["status"] == "Active" and pn not in campaigns)
    expected = best(api, customer, [kitchen])[kitchen]
    assert expected["price"] == round(expected["listPrice"] * 0.85, 2)  # WHOLESALE-DISC: 15 % on KITCHEN
    (line,) = api.ok("POST", "CustomerOrderCampaignProcessor",
                     json=order_body([row(kitchen, 1, unit_price=None)], customer=customer))["orderRows"]
    assert line["salesData"]["unitPrice"] == expected["price"]
    assert (line["rowPromotion"]["isResultOfPromotion"], line["rowPromotion"]["promotionName"]) == (
        True, "WHOLESALE-DISC")


def test_atp_takes_the_first_purchase_that_covers_the_row(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    available = api.availability(pn)["availableBalanceNow"]
    for quantity, date in ((3, "2026-02-01T08:00:00Z"), (10, "2026-03-01T08:00:00Z")):
        api.ok("POST", "PurchaseOrders", json={"header": {"supplier": {}}, "rows": [{
            "productNumber": pn, "purchaseDataProductUnit": {"quantity": quantity, "unit": "st"},
            "expectedDeliveryDate": date}]})
    first, second = atp(api, [row(pn, available + 2)], external="A")[0], atp(api, [row(pn, available + 5)])[0]
    assert (first["allocationStatus"], first["expectedDeliveryDate"]) == ("Purchase", "2026-02-01T09:00:00.000+01:00")
    assert (second["allocationStatus"], second["expectedDeliveryDate"]) == ("Purchase",
                                                                          "2026-03-01T09:00:00.000+01:00")


def test_atp_reads_the_rows_warehouse(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client, warehouse="2")
    available = api.availability(pn, "2")["availableBalanceNow"]
    (line,) = atp(api, [row(pn, 1, warehouse="2")])
    assert (line["warehouse"], line["availableBalance"], line["allocationStatus"]) == ("2", available, "Physical")
