"""Offers (docs/wire.md, "Offers"): the seeded offers and those the back office makes (OfferCreated), read through
list and GET, changed through PUT or the back office (OfferChanged), and bad input refused without a trace."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.xtnd_support import (
    Truth,
    Xtnd,
    advance,
    assert_always_filled,
    assert_invalid,
    assert_message,
    clock_now,
    new_events,
    stocked,
    utc_param,
)

pytestmark = pytest.mark.capture  # every webhook action lands in the outbox (tests/api/conftest.py)

OPEN = ("Created", "Sent", "Resting")



def offers(api: Xtnd, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.ok("GET", "Offers", params=params)["offerItemList"]
    return items


def make_offer(client: TestClient, customer: str, rows: list[tuple[str, int]]) -> str:
    r = client.post("/_mock/backoffice/offers", json={"customerNumber": customer, "rows": [
        {"productNumber": pn, "quantity": q} for pn, q in rows]})
    assert r.status_code == 201, r.text
    number: str = r.json()["offerNumber"]
    return number


def best_price(api: Xtnd, customer: str, pn: str) -> float:
    (item,) = api.ok("GET", "ProductPrices", params={"customerNumber": customer,
                                                     "productNumberList": pn})["productPriceItemList"]
    price: float = item["price"]
    return price


def open_offer(api: Xtnd) -> dict[str, Any]:
    number = next(o["offerNumber"] for o in offers(api) if o["offerStatus"] in OPEN)
    offer: dict[str, Any] = api.ok("GET", f"Offers/{number}")
    return offer


def put_body(offer: dict[str, Any], **header: Any) -> dict[str, Any]:
    return {"offerHeader": {**offer["offerHeader"], **header},
            "offerRows": [{"product": {"productNumber": r["product"]["productNumber"]}, "salesData": r["salesData"]}
                          for r in offer["offerRows"]]}


def test_seeded_offers_are_listed_and_readable(api: Xtnd) -> None:
    listed = offers(api)
    assert listed, "the tenant is seeded with offers"
    assert [o["offerNumber"] for o in listed] == sorted(o["offerNumber"] for o in listed)
    for item in listed:
        assert_always_filled(item, "OfferListItem")
        offer = api.ok("GET", f"Offers/{item['offerNumber']}")
        assert_always_filled(offer, "Offer")
        head = offer["offerHeader"]
        assert (head["offerNumber"], head["customerNumber"], head["offerStatus"]) == (
            item["offerNumber"], item["customerNumber"], item["offerStatus"])
        assert offer["offerRows"]


def test_the_back_office_makes_an_offer_priced_at_the_customers_best_price(client: TestClient, api: Xtnd,
                                                                           fetch_truth: Truth) -> None:
    pn = stocked(client)
    customer = "10008"
    before = fetch_truth()
    number = make_offer(client, customer, [(pn, 3)])
    assert new_events(fetch_truth, before) == [("OfferCreated", {"OfferNumber": number})]
    offer = api.ok("GET", f"Offers/{number}")
    (line,) = offer["offerRows"]
    assert (offer["offerHeader"]["customerNumber"], offer["offerHeader"]["offerStatus"]) == (customer, "Created")
    assert (line["product"]["productNumber"], line["salesData"]["quantity"]) == (pn, 3)
    assert line["salesData"]["unitPrice"] == best_price(api, customer, pn)
    assert [o["offerNumber"] for o in offers(api, customerNumber=customer)][-1] == number


def test_the_back_office_changes_an_offer(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    number = make_offer(client, "10001", [(stocked(client), 1)])
    before = fetch_truth()
    advance(client, 60)
    r = client.put(f"/_mock/backoffice/offers/{number}", json={"offerStatus": "Sent"})
    assert r.status_code == 200, r.text
    assert new_events(fetch_truth, before) == [("OfferChanged", {"OfferNumber": number})]
    assert api.ok("GET", f"Offers/{number}")["offerHeader"]["offerStatus"] == "Sent"


def test_put_replaces_rows_prices_status_and_validity(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    a, b = stocked(client), stocked(client, skip=1)
    number = make_offer(client, "10001", [(a, 1)])
    offer = api.ok("GET", f"Offers/{number}")
    body = put_body(offer, offerStatus="Sent", validToDate="2026-03-01T12:00:00Z", yourReference="ref-9")
    body["offerRows"] = [{"product": {"productNumber": b}, "salesData": {"quantity": 4, "unit": "st",
                                                                          "unitPrice": 12.5}},
                         {"product": {"productNumber": a}, "salesData": {"quantity": 2, "unit": "st"}}]
    before = fetch_truth()
    advance(client, 60)
    r = api.put(f"Offers/{number}", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"Message": f"Offer {number} was updated.", "Information": number}
    assert new_events(fetch_truth, before) == [("OfferChanged", {"OfferNumber": number})]
    got = api.ok("GET", f"Offers/{number}")
    head = got["offerHeader"]
    assert (head["offerStatus"], head["validToDate"], head["yourReference"]) == (
        "Sent", "2026-03-01T13:00:00.000+01:00", "ref-9")
    assert head["changeDate"] != offer["offerHeader"]["changeDate"]
    assert [(x["product"]["productNumber"], x["salesData"]["quantity"], x["salesData"]["unitPrice"])
            for x in got["offerRows"]] == [(b, 4, 12.5), (a, 2, best_price(api, "10001", a))]
    (listed,) = offers(api, offerNumber=number)
    assert listed["offerStatus"] == "Sent"


def test_a_closed_offer_cannot_change(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    number = make_offer(client, "10001", [(stocked(client), 1)])
    offer = api.ok("GET", f"Offers/{number}")
    assert api.put(f"Offers/{number}", json=put_body(offer, offerStatus="Accepted")).status_code == 200
    before = fetch_truth()
    assert_message(api.put(f"Offers/{number}", json=put_body(offer, offerStatus="Sent")), 400)
    assert fetch_truth() == before
    assert api.ok("GET", f"Offers/{number}")["offerHeader"]["offerStatus"] == "Accepted"


def test_the_list_filters(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    n1 = make_offer(client, "10001", [(pn, 1)])
    n2 = make_offer(client, "10002", [(pn, 1)])
    client.put(f"/_mock/backoffice/offers/{n2}", json={"offerStatus": "Resting"})
    assert [o["offerNumber"] for o in offers(api, customerNumber="10001")][-1:] == [n1]
    assert n2 in [o["offerNumber"] for o in offers(api, offerStatus="Resting")]
    assert n2 not in [o["offerNumber"] for o in offers(api, offerStatus="Created")]
    assert [o["offerNumber"] for o in offers(api, offerNumber=n1)] == [n1]
    assert [o["offerNumber"] for o in offers(api, offerDateFrom=utc_param(clock_now(client)))] == [n1, n2]
    seeded = [o["offerNumber"] for o in offers(api, offerDateTo=utc_param(clock_now(client) - timedelta(days=1)))]
    assert seeded and n1 not in seeded and n2 not in seeded
    name = api.ok("GET", "Customers/10002")["name"]
    assert n2 in [o["offerNumber"] for o in offers(api, customerName=name[1:4].upper())]


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_puts_are_refused_and_change_nothing(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    number = make_offer(client, "10001", [(stocked(client), 1)])
    offer = api.ok("GET", f"Offers/{number}")
    before = fetch_truth()
    wrong_type = put_body(offer)
    wrong_type["offerRows"][0]["salesData"] = {"quantity": "lots", "unit": "st"}
    assert_invalid(api.put(f"Offers/{number}", json=wrong_type), "existingOffer.offerRows[0].salesData.quantity")
    no_valid_to = put_body(offer)
    del no_valid_to["offerHeader"]["validToDate"]
    assert_invalid(api.put(f"Offers/{number}", json=no_valid_to), "existingOffer.offerHeader.validToDate")
    no_rows = {"offerHeader": offer["offerHeader"]}
    assert_invalid(api.put(f"Offers/{number}", json=no_rows), "existingOffer.offerRows")
    unknown_product = put_body(offer)
    unknown_product["offerRows"][0]["product"] = {"productNumber": "NO-SUCH"}
    r = api.put(f"Offers/{number}", json=unknown_product)
    assert r.status_code == 400 and "NO-SUCH" in r.text
    unknown_warehouse = put_body(offer)
    unknown_warehouse["offerRows"][0]["warehouse"] = "99"
    r = api.put(f"Offers/{number}", json=unknown_warehouse)
    assert r.status_code == 400 and "99" in r.text
    r = api.put(f"Offers/{number}", json=put_body(offer, customerNumber="10002"))
    assert r.status_code == 400, r.text
    r = api.put(f"Offers/{number}", json=put_body(offer, offerStatus="Maybe"))
    assert_invalid(r, "existingOffer.offerHeader.offerStatus")
    r = api.put(f"Offers/{number}", json=put_body(offer, offerNumber="600999"))
    assert r.status_code == 400 and "600999" in r.text
    assert fetch_truth() == before


def test_unknown_numbers_put_400_and_get_404(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    offer = open_offer(api)
    before = fetch_truth()
    assert_message(api.put("Offers/699999", json=put_body(offer, offerNumber=None)), 400, contains="699999")
    assert_message(api.get("Offers/699999"), 404, contains="699999")
    assert fetch_truth() == before
