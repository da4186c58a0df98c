"""Customers (list, create, read, change) and ProductPrices (the customer's net best price now): docs/wire.md."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.xtnd_support import (
    Truth,
    Xtnd,
    advance,
    assert_always_filled,
    assert_local_date,
    assert_message,
    clock_now,
    customer_body,
    journal_since,
    last_seq,
    outbox_actions,
    utc_param,
)

pytestmark = pytest.mark.capture  # every webhook action lands in the outbox (tests/api/conftest.py)


def customers(api: Xtnd, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    number = 1
    while True:
        page = api.ok("GET", "Customers", params={**params, "pageNumber": number})
        out += page["customerList"]
        if number >= page["paginationInfo"]["totalPages"]:
            return out
        number += 1


# ---------------------------------------------------------------------------------------------- Customers
def test_post_creates_a_customer_and_get_answers_it(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    before = fetch_truth()
    created = api.ok("POST", "Customers", json=customer_body())
    assert_always_filled(created, "Customer")
    number = created["customerNumber"]
    assert number == "10101"  # after the 100 seeded customers
    assert created["name"] == "Nordisk Handel AB"
    assert created["customerDeliveryAddress"]["address"] == {
        "address1": "Storgatan 1", "address2": None, "address3": None, "postalCode": "11122", "city": "Stockholm",
        "state": None, "country": "SE", "addressEAN": None}
    assert assert_local_date(created["createDate"]) == clock_now(client)
    assert api.ok("GET", f"Customers/{number}") == created
    assert outbox_actions(fetch_truth())[len(outbox_actions(before)):] == [
        ("CustomerCreated", {"CustomerNumber": number})]
    listed = api.ok("GET", "Customers", params={"customerNumber": number})["customerList"]
    assert [(c["customerNumber"], c["name"], c["deliveryCity"]) for c in listed] == [(number, created["name"],
                                                                                       "Stockholm")]
    assert_always_filled(listed[0], "CustomerListItem")


def test_a_given_customer_number_is_kept(api: Xtnd) -> None:
    created = api.ok("POST", "Customers", json=customer_body(customerNumber="WEB-C-1"))
    assert created["customerNumber"] == "WEB-C-1"
    assert api.ok("GET", "Customers/WEB-C-1")["name"] == created["name"]


def test_fields_the_fake_does_not_interpret_come_back(api: Xtnd) -> None:
    body = customer_body(
        vatNumber="SE556677889901", homepage="https://example.se", lastName="Svensson",
        customerLogisticsSettings={"termsOfDelivery": "DAP", "route": "R12", "planningRequired": True},
        customerDeliveryAddress={"address": {"address1": "Storgatan 1", "address2": "Port 3", "postalCode": "11122",
                                             "city": "Stockholm", "country": "SE"}, "doorCode": "1234"},
        customerContacts=[{"firstName": "Anna", "lastName": "Svensson", "EMAIL": "anna@example.se"}])
    number = api.ok("POST", "Customers", json=body)["customerNumber"]
    got = api.ok("GET", f"Customers/{number}")
    assert (got["vatNumber"], got["homepage"], got["lastName"]) == ("SE556677889901", "https://example.se", "Svensson")
    assert {k: got["customerLogisticsSettings"][k] for k in ("termsOfDelivery", "route", "planningRequired")} == {
        "termsOfDelivery": "DAP", "route": "R12", "planningRequired": True}
    assert got["customerDeliveryAddress"]["doorCode"] == "1234"
    assert got["customerDeliveryAddress"]["address"]["address2"] == "Port 3"
    (contact,) = got["customerContacts"]
    assert (contact["firstName"], contact["eMail"]) == ("Anna", "anna@example.se")  # names bind in any case
    # and the list filters see what the fake does interpret
    assert [c["customerNumber"] for c in customers(api, lastName="svens")] == [number]
    assert [c["customerNumber"] for c in customers(api, incoterms="DAP")] == [number]


def test_put_replaces_the_given_fields_and_keeps_the_rest(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    original = api.ok("GET", "Customers/10002")
    advance(client, 90)
    before = fetch_truth()
    body = customer_body("Maria Stenlund AB", phone="08-123 45 67", customerDeliveryAddress={
        "address": {"address1": "Nygatan 5", "postalCode": "41101", "city": "Göteborg", "country": "SE"}})
    changed = api.ok("PUT", "Customers/10002", json=body)
    assert changed == api.ok("GET", "Customers/10002")
    assert (changed["name"], changed["phone"]) == ("Maria Stenlund AB", "08-123 45 67")
    assert changed["customerDeliveryAddress"]["address"]["city"] == "Göteborg"
    assert changed["invoiceEmail"] == original["invoiceEmail"]  # not given: kept
    assert changed["createDate"] == original["createDate"]
    assert assert_local_date(changed["changeDate"]) == clock_now(client)
    assert outbox_actions(fetch_truth())[len(outbox_actions(before)):] == [
        ("CustomerChanged", {"CustomerNumber": "10002"})]
    listed = api.ok("GET", "Customers", params={"customerNumber": "10002"})["customerList"][0]
    assert (listed["name"], listed["deliveryCity"], listed["deliveryAddress1"]) == ("Maria Stenlund AB", "Göteborg",
                                                                                     "Nygatan 5")


def test_put_and_get_of_an_unknown_customer(api: Xtnd, fetch_truth: Truth) -> None:
    before = fetch_truth()
    assert_message(api.put("Customers/99999", json=customer_body()), 400, contains="99999")
    assert_message(api.get("Customers/99999"), 404, contains="99999")
    assert fetch_truth() == before


def test_customer_list_filters(api: Xtnd) -> None:
    everyone = customers(api)
    assert len(everyone) == 100
    target = everyone[41]
    assert [c["customerNumber"] for c in customers(api, customerNumber=target["customerNumber"])] == [
        target["customerNumber"]]
    assert {c["customerNumber"] for c in customers(api, customerNumberSearch="1009")} == {
        f"1009{i}" for i in range(10)}
    word = target["name"].split()[0]
    by_name = customers(api, name=word.upper())
    assert target["customerNumber"] in {c["customerNumber"] for c in by_name}
    assert all(word.lower() in c["name"].lower() for c in by_name)
    for param, field in (("email2", "email2"), ("phoneNumber2", "phoneNumber2"), ("deliveryCity", "deliveryCity"),
                         ("deliveryPostalCode", "deliveryPostalCode"), ("deliveryAddress1", "deliveryAddress1")):
        value = target[field]
        hits = customers(api, **{param: value[1:-1]})
        assert target["customerNumber"] in {c["customerNumber"] for c in hits}, param
        assert all(value[1:-1].lower() in (c[field] or "").lower() for c in hits), param
    with_org = next(c for c in everyone if c["organizationNumber"])
    assert with_org["customerNumber"] in {
        c["customerNumber"] for c in customers(api, organizationNumber=with_org["organizationNumber"])}


def test_changed_after_date_is_inclusive(client: TestClient, api: Xtnd) -> None:
    advance(client, 60)
    now = clock_now(client)
    api.ok("PUT", "Customers/10005", json=customer_body("Ändrad Kund"))
    assert [c["customerNumber"] for c in customers(api, changedAfterDate=utc_param(now))] == ["10005"]
    advance(client, 1)
    assert customers(api, changedAfterDate=utc_param(clock_now(client))) == []


# ---------------------------------------------------------------------------------------------- ProductPrices
def expected_prices(truth: dict[str, Any], customer_number: str, now_ms: int) -> dict[str, float]:
    """An independent model of the net best price (KB: the minimum over the customer's price list, its group's
    discount lists and the campaign price lists running now)."""
    records = truth["records"]
    customer = records["customer"][customer_number]
    group = customer["customer_group"]
    lists = records["price_list"]
    std = lists["STD"]["prices"]
    out = {}
    for pn, product in records["product"].items():
        candidates = [std[pn]]
        own = lists.get(customer["price_list"])
        if own is not None and own["code"] != "STD" and pn in own["prices"]:
            candidates.append(own["prices"][pn])
        for dl in records["discount_list"].values():
            pct = dl["percent_by_product_group"].get(product["group"])
            if dl["customer_group"] == group and pct:
                candidates.append(round(std[pn] * (1 - pct / 100), 2))
        for pl in lists.values():
            running = pl["valid_from"] <= now_ms < pl["valid_to"] if pl["kind"] == "Campaign" else False
            if running and (not pl["customer_groups"] or group in pl["customer_groups"]) and pn in pl["prices"]:
                candidates.append(pl["prices"][pn])
        out[pn] = round(min(candidates), 2)
    return out


def prices(api: Xtnd, customer: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    number = 1
    while True:
        page = api.ok("GET", "ProductPrices", params={"customerNumber": customer, **params, "pageNumber": number})
        out += page["productPriceItemList"]
        if number >= page["paginationInfo"]["totalPages"]:
            return out
        number += 1


@pytest.mark.parametrize("group", ["RETAIL", "WHOLESALE", "B2B-GOLD", "B2B-SILVER"])
def test_each_price_is_the_customers_best_price_now(client: TestClient, api: Xtnd, fetch_truth: Truth,
                                                    group: str) -> None:
    truth = fetch_truth()
    customer = min(n for n, c in truth["records"]["customer"].items() if c["customer_group"] == group)
    now_ms = int(clock_now(client).timestamp() * 1000)
    expected = expected_prices(truth, customer, now_ms)
    items = prices(api, customer)
    assert len(items) == 500
    std = truth["records"]["price_list"]["STD"]["prices"]
    for item in items:
        assert_always_filled(item, "ProductPriceItem")
        product = truth["records"]["product"][item["productNumber"]]
        assert item["price"] == expected[item["productNumber"]], item
        assert (item["listPrice"], item["fromQuantity"], item["currency"]) == (std[item["productNumber"]], 1, "SEK")
        assert (item["vatPercent"], item["salesUnit"]) == (product["vat_rate"], product["unit"])
    cheaper = sum(item["price"] < item["listPrice"] for item in items)
    assert cheaper > 20 if group != "RETAIL" else cheaper > 0  # retail: the winter campaign only


def test_a_campaign_that_ends_stops_lowering_the_price(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    truth = fetch_truth()
    flash = truth["records"]["price_list"]["CAMP-B2B-FLASH"]
    product = sorted(flash["prices"])[0]
    during = prices(api, "10008", productNumberList=product)[0]["price"]
    assert during == round(min(flash["prices"][product], expected_prices(truth, "10008", flash["valid_from"])[product]),
                           2)
    advance(client, 86_400 + 60)  # the 24 h flash campaign is over
    after_ms = int(clock_now(client).timestamp() * 1000)
    after = prices(api, "10008", productNumberList=product)[0]["price"]
    assert after == expected_prices(fetch_truth(), "10008", after_ms)[product]
    assert after > during
    # a retail customer never had the B2B flash price
    assert prices(api, "10001", productNumberList=product)[0]["price"] >= after


def test_product_number_list_picks_at_most_ten_and_skips_unknown(client: TestClient, api: Xtnd) -> None:
    wanted = ["100003", "KM 1007", "AB 00023/B", "NO SUCH", "100003"]
    seq = last_seq(client)
    items = prices(api, "10001", productNumberList=wanted)
    assert [i["productNumber"] for i in items] == ["100003", "KM 1007", "AB 00023/B"]
    assert journal_since(client, seq)[0]["productNumbers"] == wanted
    ten = [str(100000 + i) for i in range(10)]  # some of these numbers are not products
    known = {p["productNumber"] for p in client.get("/_mock/state", params={"include": "products"}).json()["products"]}
    assert [i["productNumber"] for i in prices(api, "10001", productNumberList=ten)] == [p for p in ten if p in known]
    eleven = api.get("ProductPrices", params={"customerNumber": "10001",
                                              "productNumberList": [str(100000 + i) for i in range(11)]})
    assert eleven.status_code == 400 and "productNumberList" in eleven.json()["ModelState"]


def test_currency_filters_prices(api: Xtnd) -> None:
    assert len(prices(api, "10001", currency="sek")) == 500
    assert prices(api, "10001", currency="EUR") == []
