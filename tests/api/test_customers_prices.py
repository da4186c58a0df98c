"""Customers (create idempotent on ExternalCustomerNumber) and ProductPrices (the best net price right now)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.api.xtnd_support import assert_error

State = Callable[[], dict[str, Any]]


def customer_body(external: str = "WEBCUST-1", **extra: Any) -> dict[str, Any]:
    return {"ExternalCustomerNumber": external, "Name": "Anna Svensson", "Email": "anna@example.se",
            "DeliveryAddress": {"Name": "Anna Svensson", "Street": "Storgatan 1", "PostalCode": "11122",
                                "City": "Stockholm", "CountryCode": "SE"}, **extra}


def customer_of_group(client: TestClient, h: dict[str, str], group: str) -> str:
    """The first customer (in list order) of a customer group, found through the API as a client would."""
    for c in client.get("/api/Customers?pageSize=1000", headers=h).json()["Items"]:
        if client.get(f"/api/Customers/{c['CustomerNumber']}", headers=h).json()["CustomerGroup"] == group:
            number: str = c["CustomerNumber"]
            return number
    raise AssertionError(f"no customer in group {group}")


def prices(client: TestClient, h: dict[str, str], customer: str, **params: Any) -> dict[str, dict[str, Any]]:
    r = client.get("/api/ProductPrices", headers=h, params={"customerNumber": customer, "pageSize": 1000, **params})
    assert r.status_code == 200, r.text
    assert r.json()["TotalPages"] <= 1
    return {p["ProductNumber"]: p for p in r.json()["Items"]}


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_post_customers_is_idempotent_on_external_customer_number(client: TestClient,
                                                                  auth_headers: dict[str, str]) -> None:
    first = client.post("/api/Customers", headers=auth_headers, json=customer_body())
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["ExternalCustomerNumber"] == "WEBCUST-1"
    assert created["CustomerGroup"] == "RETAIL"
    assert created["CustomerNumber"] not in [str(10001 + i) for i in range(100)], "a seeded customer's number"
    retry = client.post("/api/Customers", headers=auth_headers, json={**customer_body(), "LoyaltyTier": "new field"})
    assert retry.status_code == 200
    assert retry.json() == created
    assert_error(client.post("/api/Customers", headers=auth_headers, json=customer_body(Name="Someone Else")), 409,
                 field="ExternalCustomerNumber")
    assert client.get(f"/api/Customers/{created['CustomerNumber']}", headers=auth_headers).json() == created
    listed = client.get("/api/Customers?pageSize=1000", headers=auth_headers).json()
    assert listed["TotalCount"] == 101
    assert listed["Items"][-1]["CustomerNumber"] == created["CustomerNumber"], "newest ChangedAt sorts last"


def test_post_customers_validation(client: TestClient, auth_headers: dict[str, str]) -> None:
    assert_error(client.post("/api/Customers", headers=auth_headers, json={"Name": "X"}), 400,
                 field="ExternalCustomerNumber")
    assert_error(client.post("/api/Customers", headers=auth_headers,
                             json=customer_body("C-2", CustomerGroup="NO-SUCH-GROUP")), 422, field="CustomerGroup")
    assert_error(client.post("/api/Customers", headers=auth_headers, json=customer_body("C-3", PriceList="NOPE")),
                 422, field="PriceList")
    assert_error(client.post("/api/Customers", headers=auth_headers, json=customer_body("C-4", Name=17)), 400,
                 field="Name")


def test_product_prices_requires_a_known_customer(client: TestClient, auth_headers: dict[str, str]) -> None:
    assert_error(client.get("/api/ProductPrices", headers=auth_headers), 400, field="customerNumber")
    assert_error(client.get("/api/ProductPrices?productNumber=100003", headers=auth_headers), 400,
                 field="customerNumber")
    assert_error(client.get("/api/ProductPrices?customerNumber=", headers=auth_headers), 400, field="customerNumber")
    assert_error(client.get("/api/ProductPrices?customerNumber=nobody", headers=auth_headers), 422,
                 field="customerNumber")


def test_best_price_is_the_minimum_and_never_above_the_standard_price(client: TestClient,
                                                                      auth_headers: dict[str, str]) -> None:
    retail = customer_of_group(client, auth_headers, "RETAIL")
    gold = customer_of_group(client, auth_headers, "B2B-GOLD")
    retail_prices, gold_prices = prices(client, auth_headers, retail), prices(client, auth_headers, gold)
    assert retail_prices.keys() == gold_prices.keys()
    assert all(gold_prices[pn]["Price"] <= retail_prices[pn]["Price"] for pn in retail_prices)
    assert {p["PriceSource"] for p in gold_prices.values()} >= {"PriceList", "Campaign"}
    assert all(p["CustomerNumber"] == gold and p["Currency"] == "SEK" for p in gold_prices.values())


def test_b2b_gold_flash_campaign_applies_while_active_and_changed_since_finds_its_end(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    gold = customer_of_group(client, auth_headers, "B2B-GOLD")
    retail = customer_of_group(client, auth_headers, "RETAIL")
    now = client.get("/_mock/clock").json()["Now"]
    day = 86_400_000
    before = prices(client, auth_headers, gold)
    # CAMP-B2B-FLASH is the 24-hour campaign for B2B-GOLD: its prices end within a day, unlike every other source
    flash = {pn: p for pn, p in before.items()
             if p["PriceSource"] == "Campaign" and ms(p["ValidTo"]) - ms(now) <= day}
    assert flash, "a B2B-GOLD customer gets the flash campaign price"
    retail_before = prices(client, auth_headers, retail)
    assert all(retail_before[pn]["Price"] > flash[pn]["Price"] for pn in flash), "the flash is for B2B-GOLD only"
    assert prices(client, auth_headers, gold, changedSince=now) == {}, "nothing has changed yet"

    assert client.post("/_mock/clock/advance", json={"Seconds": 90000}).status_code == 200
    token = client.post("/api/token", data={"grant_type": "client_credentials", "client_id": "demo",
                                            "client_secret": "demo-secret"}).json()["access_token"]
    auth_headers = {"Authorization": f"Bearer {token}"}  # 25 hours later the old token has expired
    after = prices(client, auth_headers, gold)
    for pn, p in flash.items():
        assert after[pn]["Price"] > p["Price"], f"{pn} kept its flash price after the campaign ended"
        assert after[pn]["ValidTo"] != p["ValidTo"]
    changed = prices(client, auth_headers, gold, changedSince=now)
    assert changed.keys() == flash.keys(), "changedSince finds exactly the prices the campaign's end changed"
    assert all(ms(p["ChangedAt"]) >= ms(now) for p in changed.values())
    assert prices(client, auth_headers, retail, changedSince=now) == {}
