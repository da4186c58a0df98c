"""PurchaseOrders (docs/wire.md, "PurchaseOrders"): list / POST / GET / PUT through the API, the expected receivings
ProductAvailability shows, the back office's arrivals (partial and whole) raising the physical balance with their
hooks, cancelling (PurchaseCancelled), and bad input refused without a trace."""

from __future__ import annotations

import json
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
    assert_local_date,
    assert_message,
    clock_now,
    new_events,
    stocked,
    utc_param,
)
from tests.support.xtnd import CONTROL

pytestmark = pytest.mark.capture  # every webhook action lands in the outbox (tests/api/conftest.py)

BACKOFFICE = "/_mock/backoffice/purchases"



def prow(pn: str, quantity: float | str, **extra: Any) -> dict[str, Any]:
    return {"productNumber": pn, "purchaseDataProductUnit": {"quantity": quantity, "unit": "st"}, **extra}


def purchase_body(rows: list[dict[str, Any]], **header: Any) -> dict[str, Any]:
    return {"header": {"supplier": {}, **header}, "rows": rows}


def receivings(api: Xtnd, pn: str, wh: str = "1") -> tuple[int, Any, Any, int]:
    a = api.availability(pn, wh)
    return a["physicalBalance"], a["nextReceivingDate"], a["quantityOnNextReceiving"], \
        a["totalExpectedReceivingFromPurchase"]


def create(api: Xtnd, rows: list[dict[str, Any]], **header: Any) -> dict[str, Any]:
    created: dict[str, Any] = api.ok("POST", "PurchaseOrders", json=purchase_body(rows, **header))
    return created


def receive(client: TestClient, number: str, quantity: int | None = None) -> dict[str, Any]:
    r = client.post(f"{BACKOFFICE}/{number}/receive", json={"quantity": quantity} if quantity else {})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


# ---------------------------------------------------------------------------------------------- POST and GET
def test_post_creates_an_ordered_purchase_that_availability_expects(client: TestClient, api: Xtnd,
                                                                    fetch_truth: Truth) -> None:
    pn = stocked(client)
    physical, nxt, qty, total = receivings(api, pn)
    assert (nxt, qty, total) == (None, None, 0)
    before = fetch_truth()
    po = create(api, [prow(pn, 5, expectedDeliveryDate="2026-01-20T10:00:00Z")], reference="PO-ref",
                externalOrderNumber="EXT-1")
    assert_always_filled(po, "PurchaseOrder")
    head, (line,) = po["header"], po["rows"]
    assert (head["purchaseNumber"], head["status"], head["warehouse"]) == ("400001", "Ordered", "1")
    assert (head["reference"], head["externalOrderNumber"]) == ("PO-ref", "EXT-1")  # kept and answered back
    assert (line["productNumber"], line["purchaseDataProductUnit"]["quantity"], line["position"]) == (pn, 5, 1)
    assert line["expectedDeliveryDate"] == "2026-01-20T11:00:00.000+01:00"
    assert api.ok("GET", "PurchaseOrders/400001") == po  # GET answers what POST answered
    after = api.availability(pn)
    assert (after["physicalBalance"], after["nextReceivingDate"], after["quantityOnNextReceiving"],
            after["totalExpectedReceivingFromPurchase"]) == (physical, "2026-01-20T11:00:00.000+01:00", 5, 5)
    assert after["avaiableOnNextReceiving"] == after["availableBalanceNow"] + 5
    assert new_events(fetch_truth, before) == []  # XTND has no hook for a new purchase


def test_without_a_date_the_goods_are_expected_in_seven_days(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    create(api, [prow(pn, 2)])
    expected = assert_local_date(api.availability(pn)["nextReceivingDate"])
    assert (expected - clock_now(client)).total_seconds() == 7 * 86400


def test_the_earliest_of_two_purchases_is_the_next_receiving(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    create(api, [prow(pn, 4, expectedDeliveryDate="2026-02-10T10:00:00Z")])
    create(api, [prow(pn, 3, expectedDeliveryDate="2026-01-25T10:00:00Z")])
    a = api.availability(pn)
    assert (a["nextReceivingDate"], a["quantityOnNextReceiving"], a["totalExpectedReceivingFromPurchase"]) == (
        "2026-01-25T11:00:00.000+01:00", 3, 7)


# ---------------------------------------------------------------------------------------------- arrivals
def test_a_partial_then_a_whole_arrival_raise_the_balance_with_their_hooks(client: TestClient, api: Xtnd,
                                                                           fetch_truth: Truth) -> None:
    pn = stocked(client)
    physical = api.availability(pn)["physicalBalance"]
    number = create(api, [prow(pn, 5)])["header"]["purchaseNumber"]
    before = fetch_truth()
    advance(client, 600)
    receive(client, number, 2)
    assert receivings(api, pn)[0] == physical + 2
    a = api.availability(pn)
    assert (a["quantityOnNextReceiving"], a["totalExpectedReceivingFromPurchase"]) == (3, 3)
    events = new_events(fetch_truth, before)
    assert ("PurchasePartiallyDelivered", {"PurchaseNumber": number, "Warehouse": "1"}) in events
    assert ("BalanceChanged", {"ProductNumber": pn, "Warehouse": "1", "Balance": physical + 2}) in events
    assert "PurchaseDelivered" not in [x for x, _ in events]
    po = api.ok("GET", f"PurchaseOrders/{number}")
    assert po["header"]["status"] == "PartiallyReceived"
    assert sum(u["quantity"] for u in po["rows"][0]["unitDetails"]) == 2
    (listed,) = api.ok("GET", "PurchaseOrders", params={"purchaseNumber": number})["purchaseOrderList"]
    assert (listed["isOpen"], listed["isReceived"]) == (True, False)

    middle = fetch_truth()
    receive(client, number)  # the rest
    assert receivings(api, pn) == (physical + 5, None, None, 0)
    events = new_events(fetch_truth, middle)
    assert ("PurchaseDelivered", {"PurchaseNumber": number, "Warehouse": "1"}) in events
    assert ("BalanceChanged", {"ProductNumber": pn, "Warehouse": "1", "Balance": physical + 5}) in events
    po = api.ok("GET", f"PurchaseOrders/{number}")
    assert po["header"]["status"] == "Received"
    assert sum(u["quantity"] for u in po["rows"][0]["unitDetails"]) == 5
    assert len(po["shipments"]) == 2  # each arrival is a shipment
    (listed,) = api.ok("GET", "PurchaseOrders", params={"purchaseNumber": number})["purchaseOrderList"]
    assert (listed["isOpen"], listed["isReceived"]) == (False, True)


# ---------------------------------------------------------------------------------------------- PUT
def test_put_replaces_quantities_and_moves_the_date(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    number = create(api, [prow(pn, 5)])["header"]["purchaseNumber"]
    r = api.put(f"PurchaseOrders/{number}",
                json=purchase_body([prow(pn, 8, expectedDeliveryDate="2026-03-01T09:00:00Z")], notes="more"))
    assert r.status_code == 200, r.text
    assert r.json() == {"Message": f"Purchase order {number} was updated.", "Information": number}
    po = api.ok("GET", f"PurchaseOrders/{number}")
    assert po["rows"][0]["purchaseDataProductUnit"]["quantity"] == 8
    assert po["header"]["notes"] == "more"
    a = api.availability(pn)
    assert (a["nextReceivingDate"], a["quantityOnNextReceiving"], a["totalExpectedReceivingFromPurchase"]) == (
        "2026-03-01T10:00:00.000+01:00", 8, 8)
    # never below what arrived
    receive(client, number, 6)
    before = fetch_truth()
    assert_message(api.put(f"PurchaseOrders/{number}", json=purchase_body([prow(pn, 5)])), 400)
    assert fetch_truth() == before


def test_put_leaving_a_row_out_removes_it_or_keeps_what_arrived(client: TestClient, api: Xtnd) -> None:
    a, b, c = stocked(client), stocked(client, skip=1), stocked(client, skip=2)
    number = create(api, [prow(a, 2), prow(b, 3), prow(c, 4)])["header"]["purchaseNumber"]
    receive(client, number, 3)  # taken row by row: all 2 of a, 1 of b
    r = api.put(f"PurchaseOrders/{number}", json=purchase_body([prow(b, 3)]))
    assert r.status_code == 200, r.text
    rows = {x["productNumber"]: x for x in api.ok("GET", f"PurchaseOrders/{number}")["rows"]}
    # a arrived in full and stays as received; c, of which nothing arrived, is gone rather than a 0 "Received" row
    assert sorted(rows) == sorted([a, b])
    assert (rows[a]["rowStatus"], rows[a]["purchaseDataProductUnit"]["quantity"]) == ("Received", 2)
    assert (rows[b]["rowStatus"], rows[b]["purchaseDataProductUnit"]["quantity"]) == ("Ordered", 3)
    assert api.availability(c)["totalExpectedReceivingFromPurchase"] == 0
    assert api.availability(b)["totalExpectedReceivingFromPurchase"] == 2


def test_put_status_cancelled_cancels_the_rest_with_its_hook(client: TestClient, api: Xtnd,
                                                              fetch_truth: Truth) -> None:
    pn = stocked(client)
    physical = api.availability(pn)["physicalBalance"]
    number = create(api, [prow(pn, 5)])["header"]["purchaseNumber"]
    receive(client, number, 1)
    before = fetch_truth()
    r = api.put(f"PurchaseOrders/{number}", json=purchase_body([prow(pn, 5)], status="Cancelled"))
    assert r.status_code == 200, r.text
    assert new_events(fetch_truth, before) == [("PurchaseCancelled", {"PurchaseNumber": number, "Warehouse": "1"})]
    assert receivings(api, pn) == (physical + 1, None, None, 0)  # what arrived stays, the rest is not expected
    po = api.ok("GET", f"PurchaseOrders/{number}")
    assert po["header"]["status"] == "Cancelled"
    (listed,) = api.ok("GET", "PurchaseOrders", params={"purchaseNumber": number})["purchaseOrderList"]
    assert listed["isOpen"] is False
    # a cancelled purchase changes no more
    locked = fetch_truth()
    assert_message(api.put(f"PurchaseOrders/{number}", json=purchase_body([prow(pn, 9)])), 400)
    assert fetch_truth() == locked


def test_the_back_office_cancels_a_purchase(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    number = create(api, [prow(pn, 5)])["header"]["purchaseNumber"]
    before = fetch_truth()
    assert client.post(f"{BACKOFFICE}/{number}/cancel", headers=CONTROL).status_code == 200
    assert new_events(fetch_truth, before) == [("PurchaseCancelled", {"PurchaseNumber": number, "Warehouse": "1"})]
    assert api.availability(pn)["totalExpectedReceivingFromPurchase"] == 0


def test_a_received_purchase_cannot_change(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    number = create(api, [prow(pn, 2)])["header"]["purchaseNumber"]
    receive(client, number)
    before = fetch_truth()
    assert_message(api.put(f"PurchaseOrders/{number}", json=purchase_body([prow(pn, 4)])), 400)
    assert fetch_truth() == before


# ---------------------------------------------------------------------------------------------- the list
def test_the_list_filters(client: TestClient, api: Xtnd) -> None:
    a, b = stocked(client), stocked(client, skip=1)
    p1 = create(api, [prow(a, 1)], externalOrderNumber="X-1")["header"]["purchaseNumber"]
    advance(client, 60)
    p2 = create(api, [prow(b, 1)], warehouse="2")["header"]["purchaseNumber"]
    p3 = create(api, [prow(a, 2)])["header"]["purchaseNumber"]
    receive(client, p3)

    def numbers(**params: Any) -> list[str]:
        return [p["purchaseNumber"] for p in api.ok("GET", "PurchaseOrders", params=params)["purchaseOrderList"]]

    assert numbers() == [p1, p2, p3]
    assert numbers(warehouse="2") == [p2]
    assert numbers(externalOrderNumber="X-1") == [p1]
    assert numbers(isOpen="true") == [p1, p2]
    assert numbers(isReceived="true") == [p3]
    assert numbers(purchaseNumber=p2) == [p2]
    assert numbers(createDateFrom=utc_param(clock_now(client))) == [p2, p3]
    assert numbers(createDateTo=utc_param(clock_now(client) - timedelta(seconds=1))) == [p1]
    supplier = api.ok("GET", f"PurchaseOrders/{p1}")["header"]["supplier"]["supplierNumber"]
    assert p1 in numbers(supplierNumber=supplier)
    assert numbers(supplierNumber="NO-SUCH-SUPPLIER") == []
    for item in api.ok("GET", "PurchaseOrders")["purchaseOrderList"]:
        assert_always_filled(item, "PurchaseOrderListItem")


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("body", "path"), [
    ({"header": {"supplier": {}}, "rows": [{"productNumber": "X", "purchaseDataProductUnit": {"quantity": "many"}}]},
     "newPurchaseOrder.rows[0].purchaseDataProductUnit.quantity"),
    ({"header": {"supplier": {}}, "rows": [{"productNumber": "X"}]}, "newPurchaseOrder.rows[0].purchaseDataProductUnit"),
    ({"header": {"supplier": {}}}, "newPurchaseOrder.rows"),
    ({"rows": []}, "newPurchaseOrder.header"),
    ({"header": {"supplier": {}}, "rows": [{"purchaseDataProductUnit": {"quantity": 1, "unit": "st"}}]},
     "newPurchaseOrder.rows[0].productNumber"),
    ({"header": {"supplier": {}}, "rows": [{"productNumber": "X", "purchaseDataProductUnit": {"quantity": 1.5,
                                                                                             "unit": "st"}}]},
     "newPurchaseOrder.rows[0].purchaseDataProductUnit.quantity"),
])
def test_malformed_posts_name_the_body_path_and_change_nothing(client: TestClient, api: Xtnd, fetch_truth: Truth,
                                                               body: dict[str, Any], path: str) -> None:
    body = json.loads(json.dumps(body).replace('"X"', json.dumps(stocked(client))))  # "X": a real product
    before = fetch_truth()
    assert_invalid(api.post("PurchaseOrders", json=body), path)
    assert fetch_truth() == before


def test_unknown_references_are_refused_and_change_nothing(client: TestClient, api: Xtnd,
                                                           fetch_truth: Truth) -> None:
    pn = stocked(client)
    before = fetch_truth()
    r = api.post("PurchaseOrders", json=purchase_body([prow("NO-SUCH-PRODUCT", 1)]))
    assert r.status_code == 400 and "NO-SUCH-PRODUCT" in r.text
    r = api.post("PurchaseOrders", json=purchase_body([prow(pn, 1)], warehouse="99"))
    assert r.status_code == 400 and "99" in r.text
    assert_invalid(api.post("PurchaseOrders", json=purchase_body([prow(pn, 1)], supplier={"supplierNumber": "NOPE"})),
                   "newPurchaseOrder.header.supplier.supplierNumber")
    assert fetch_truth() == before
    assert api.ok("GET", "PurchaseOrders")["purchaseOrderList"] == []


def test_unknown_numbers_put_400_and_get_404(api: Xtnd, client: TestClient, fetch_truth: Truth) -> None:
    pn = stocked(client)
    before = fetch_truth()
    assert_message(api.put("PurchaseOrders/499999", json=purchase_body([prow(pn, 1)])), 400, contains="499999")
    assert_message(api.get("PurchaseOrders/499999"), 404, contains="499999")
    assert fetch_truth() == before


def test_put_with_another_purchase_number_in_the_body_is_refused(client: TestClient, api: Xtnd,
                                                                  fetch_truth: Truth) -> None:
    pn = stocked(client)
    number = create(api, [prow(pn, 1)])["header"]["purchaseNumber"]
    before = fetch_truth()
    r = api.put(f"PurchaseOrders/{number}", json=purchase_body([prow(pn, 3)], purchaseNumber="400999"))
    assert r.status_code == 400 and "400999" in r.text
    assert_invalid(api.put(f"PurchaseOrders/{number}", json=purchase_body([prow(pn, "three")])),
                   "existingPurchaseOrder.rows[0].purchaseDataProductUnit.quantity")
    assert_invalid(api.put(f"PurchaseOrders/{number}", json={"rows": [prow(pn, 3)]}), "existingPurchaseOrder.header")
    r = api.put(f"PurchaseOrders/{number}", json=purchase_body([prow("NO-SUCH", 3)]))
    assert r.status_code == 400 and "NO-SUCH" in r.text
    r = api.put(f"PurchaseOrders/{number}", json=purchase_body([prow(pn, 3)], warehouse="2"))
    assert r.status_code == 400 and "warehouse" in r.text
    assert fetch_truth() == before


def test_availability_polled_by_change_date_sees_each_purchase_move(client: TestClient, api: Xtnd) -> None:
    """A client that polls ProductAvailability with modifiedDateFrom sees the expected receiving come, move and go."""
    pn = stocked(client)

    def changed_now() -> list[tuple[str, str]]:
        since = utc_param(clock_now(client))
        items = api.ok("GET", "ProductAvailability", params={"modifiedDateFrom": since})["productAvailabilityList"]
        return [(x["productNumber"], x["warehouse"]) for x in items]

    advance(client, 60)
    assert changed_now() == []
    number = create(api, [prow(pn, 3)])["header"]["purchaseNumber"]
    assert changed_now() == [(pn, "1")]
    advance(client, 60)
    api.ok("PUT", f"PurchaseOrders/{number}", json=purchase_body([prow(pn, 3, expectedDeliveryDate="2026-03-01")]))
    assert changed_now() == [(pn, "1")]
    advance(client, 60)
    api.ok("PUT", f"PurchaseOrders/{number}", json=purchase_body([prow(pn, 3)], status="Cancelled"))
    assert changed_now() == [(pn, "1")]
