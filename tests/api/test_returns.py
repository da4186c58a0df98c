"""ReturnOrders (docs/wire.md, "ReturnOrders"): list / POST / GET through the API, the goods expected back in
ProductAvailability (totalExpectedReceivingFromReturn) until the back office receives them, the credit that follows,
ReturnOrderRowCodes, and bad input refused without a trace."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.domain.reference import RETURN_ROW_CODES
from tests.api.xtnd_support import (
    Truth,
    Xtnd,
    assert_always_filled,
    assert_invalid,
    assert_message,
    new_events,
    order_body,
    row,
    stocked,
)
from tests.support.xtnd import CONTROL

pytestmark = pytest.mark.capture  # every webhook action lands in the outbox (tests/api/conftest.py)




def delivered_order(client: TestClient, api: Xtnd, rows: list[dict[str, Any]], external: str = "WEB-R") -> str:
    number: str = api.create_order(order_body(rows, external))["orderHeader"]["orderNumber"]
    assert client.post(f"/_mock/orders/{number}/pick", headers=CONTROL).status_code == 200
    return number


def product_return(pn: str, quantity: float, code: str = "DEFEKT", **header: Any) -> dict[str, Any]:
    return {"createAction": {"action": "ReturnProducts"},
            "header": {"customerNumber": "10001", **header},
            "rows": [{"productNumber": pn, "returnCode": code,
                      "salesData": {"quantity": quantity, "unit": "st", "unitPrice": 50.0}}]}


def expected_back(api: Xtnd, pn: str) -> tuple[int, int]:
    a = api.availability(pn)
    return a["physicalBalance"], a["totalExpectedReceivingFromReturn"]


def test_the_row_codes_are_the_seeded_ones(api: Xtnd) -> None:
    codes = api.ok("GET", "ReturnOrderRowCodes")
    items = codes if isinstance(codes, list) else next(v for v in codes.values() if isinstance(v, list))
    assert [(c["returnCode"], c["name"]) for c in items] == list(RETURN_ROW_CODES)
    for c in items:
        assert_always_filled(c, "ReturnOrderRowCode")


def test_returning_a_complete_order_expects_its_goods_until_received(client: TestClient, api: Xtnd,
                                                                    fetch_truth: Truth) -> None:
    a, b = stocked(client), stocked(client, skip=1)
    order = delivered_order(client, api, [row(a, 3), row(b, 1)])
    (pa, ra), (pb, rb) = expected_back(api, a), expected_back(api, b)
    assert (ra, rb) == (0, 0)
    before = fetch_truth()
    ret = api.ok("POST", "ReturnOrders", json={"createAction": {"action": "ReturnCompleteCustomerOrder",
                                                                 "orderNumber": order, "returnCode": "ANGER"}})
    head, rows = ret["header"], ret["rows"]
    assert (head["referenceOrderNumber"], head["customerNumber"], head["status"]) == (order, "10001", "Ordered")
    number = head["returnNumber"]
    assert sorted((r["productNumber"], r["salesData"]["quantity"], r["returnCode"]) for r in rows) == sorted(
        [(a, 3, "ANGER"), (b, 1, "ANGER")])
    assert api.ok("GET", f"ReturnOrders/{number}") == ret
    assert expected_back(api, a) == (pa, 3) and expected_back(api, b) == (pb, 1)
    assert new_events(fetch_truth, before) == []  # no hook for a registered return
    # nothing is left to return from that order
    locked = fetch_truth()
    r = api.post("ReturnOrders", json={"createAction": {"action": "ReturnCompleteCustomerOrder",
                                                        "orderNumber": order}})
    assert_message(r, 400, contains="left to return")
    assert fetch_truth() == locked

    # the back office receives it: back on hand, no longer expected, credited
    r = client.post(f"/_mock/backoffice/returns/{number}/receive", headers=CONTROL)
    assert r.status_code == 200, r.text
    assert expected_back(api, a) == (pa + 3, 0) and expected_back(api, b) == (pb + 1, 0)
    received = api.ok("GET", f"ReturnOrders/{number}")
    assert received["header"]["status"] == "Received"
    events = new_events(fetch_truth, locked)
    assert ("BalanceChanged", {"ProductNumber": a, "Warehouse": "1", "Balance": pa + 3}) in events
    assert ("BalanceChanged", {"ProductNumber": b, "Warehouse": "1", "Balance": pb + 1}) in events
    credits = [d for x, d in events if x == "CustomerInvoiceCreated"]
    assert len(credits) == 1
    invoice = api.ok("GET", f"CustomerInvoices/{credits[0]['InvoiceNumber']}")
    assert invoice["invoiceHeader"]["invoiceType"] == "ReturnOrderCredit"
    (listed,) = api.ok("GET", "ReturnOrders", params={"returnNumber": number})["returnOrderList"]
    assert (listed["isOpen"], listed["isReceived"], listed["invoiceNumber"]) == (
        False, True, credits[0]["InvoiceNumber"])


def test_returning_rows_of_an_order_returns_what_is_named(client: TestClient, api: Xtnd) -> None:
    a, b = stocked(client), stocked(client, skip=1)
    order = delivered_order(client, api, [row(a, 3), row(b, 2)])
    ret = api.ok("POST", "ReturnOrders", json={"createAction": {
        "action": "ReturnRowsFromCustomerOrder", "orderNumber": order,
        "orderRows": [{"position": 2, "subPosition": 0, "quantity": 1, "returnCode": "SKADAD"}]}})
    assert [(r["productNumber"], r["salesData"]["quantity"], r["returnCode"]) for r in ret["rows"]] == [
        (b, 1, "SKADAD")]
    assert expected_back(api, b)[1] == 1 and expected_back(api, a)[1] == 0


def test_returning_a_complete_order_returns_only_what_is_left(client: TestClient, api: Xtnd) -> None:
    """After a return of some rows, ReturnCompleteCustomerOrder returns the rest: what was delivered of the order
    and not yet returned (routes.py's notes)."""
    a, b = stocked(client), stocked(client, skip=1)
    order = delivered_order(client, api, [row(a, 2), row(b, 3)])
    api.ok("POST", "ReturnOrders", json={"createAction": {
        "action": "ReturnRowsFromCustomerOrder", "orderNumber": order,
        "orderRows": [{"position": 1, "subPosition": 0}, {"position": 2, "subPosition": 0, "quantity": 1}]}})
    rest = api.ok("POST", "ReturnOrders", json={"createAction": {"action": "ReturnCompleteCustomerOrder",
                                                                  "orderNumber": order}})
    assert [(r["productNumber"], r["salesData"]["quantity"], r["referenceOrderRowPosition"]) for r in rest["rows"]] \
        == [(b, 2, 2)]
    assert expected_back(api, a)[1] == 2 and expected_back(api, b)[1] == 3


def test_a_partial_receipt_keeps_the_rest_expected(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    physical, _ = expected_back(api, pn)
    number = api.ok("POST", "ReturnOrders", json=product_return(pn, 4))["header"]["returnNumber"]
    assert expected_back(api, pn) == (physical, 4)
    r = client.post(f"/_mock/backoffice/returns/{number}/receive", json={"quantity": 1})
    assert r.status_code == 200, r.text
    assert expected_back(api, pn) == (physical + 1, 3)
    assert api.ok("GET", f"ReturnOrders/{number}")["header"]["status"] == "PartiallyReceived"


@pytest.mark.parametrize("action", ["Immediate", "WhenReceived", "Manual", "Never"])
def test_the_credit_action_decides_when_a_return_is_credited(client: TestClient, api: Xtnd, fetch_truth: Truth,
                                                             action: str) -> None:
    """Immediate: credited for all it returns when registered; WhenReceived: once all has arrived; Manual and
    Never: no credit invoice (chosen by the mock, docs/wire.md "ReturnOrders")."""
    pn = stocked(client)
    before = fetch_truth()
    ret = api.ok("POST", "ReturnOrders", json=product_return(pn, 3, creditInvoiceAction=action))
    number = ret["header"]["returnNumber"]
    credits_at_registration = [d for x, d in new_events(fetch_truth, before) if x == "CustomerInvoiceCreated"]
    assert len(credits_at_registration) == (1 if action == "Immediate" else 0)
    middle = fetch_truth()
    for quantity in (1, 2):  # in two parts
        r = client.post(f"/_mock/backoffice/returns/{number}/receive", json={"quantity": quantity})
        assert r.status_code == 200, r.text
    credits_at_receipt = [d for x, d in new_events(fetch_truth, middle) if x == "CustomerInvoiceCreated"]
    assert len(credits_at_receipt) == (1 if action == "WhenReceived" else 0)
    (credit,) = credits_at_registration + credits_at_receipt or [None]
    (listed,) = api.ok("GET", "ReturnOrders", params={"returnNumber": number})["returnOrderList"]
    if credit is None:
        assert listed["invoiceNumber"] is None
        return
    assert listed["invoiceNumber"] == credit["InvoiceNumber"]
    invoice = api.ok("GET", f"CustomerInvoices/{credit['InvoiceNumber']}")
    assert invoice["invoiceHeader"]["invoiceType"] == "ReturnOrderCredit"
    assert [r["salesData"]["quantity"] for r in invoice["invoiceRows"]] == [-3]


def test_the_list_filters(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    order = delivered_order(client, api, [row(pn, 2)])
    r1 = api.ok("POST", "ReturnOrders", json=product_return(pn, 1))["header"]["returnNumber"]
    r2 = api.ok("POST", "ReturnOrders", json={"createAction": {"action": "ReturnCompleteCustomerOrder",
                                                                "orderNumber": order}})["header"]["returnNumber"]
    r3 = api.ok("POST", "ReturnOrders", json=product_return(pn, 1, warehouse="2", customerNumber="10002"))[
        "header"]["returnNumber"]
    client.post(f"/_mock/backoffice/returns/{r1}/receive", headers=CONTROL)

    def numbers(**params: Any) -> list[str]:
        return [x["returnNumber"] for x in api.ok("GET", "ReturnOrders", params=params)["returnOrderList"]]

    assert numbers() == [r1, r2, r3]
    assert numbers(referenceOrderNumber=order) == [r2]
    assert numbers(warehouse="2") == [r3]
    assert numbers(customerNumber="10002") == [r3]
    assert numbers(isReceived="true") == [r1]
    assert numbers(isOpen="true") == [r2, r3]
    for item in api.ok("GET", "ReturnOrders")["returnOrderList"]:
        assert_always_filled(item, "ReturnOrderListItem")


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_returns_are_refused_and_change_nothing(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    before = fetch_truth()
    good = product_return(pn, 1)
    wrong_type = {**good, "rows": [{**good["rows"][0], "salesData": {"quantity": "two", "unit": "st"}}]}
    assert_invalid(api.post("ReturnOrders", json=wrong_type), "newReturnOrder.rows[0].salesData.quantity")
    missing = {**good, "rows": [{"productNumber": pn, "returnCode": "DEFEKT"}]}
    assert_invalid(api.post("ReturnOrders", json=missing), "newReturnOrder.rows[0].salesData")
    bad_action = {**good, "createAction": {"action": "ReturnEverything"}}
    assert_invalid(api.post("ReturnOrders", json=bad_action), "newReturnOrder.createAction.action")
    r = api.post("ReturnOrders", json=product_return("NO-SUCH", 1))
    assert r.status_code == 400 and "NO-SUCH" in r.text
    r = api.post("ReturnOrders", json=product_return(pn, 1, customerNumber="99999"))
    assert r.status_code == 400 and "99999" in r.text
    r = api.post("ReturnOrders", json=product_return(pn, 1, warehouse="99"))
    assert r.status_code == 400 and "99" in r.text
    assert_invalid(api.post("ReturnOrders", json=product_return(pn, 1, code="NOPE")), "newReturnOrder.rows[0].returnCode")
    r = api.post("ReturnOrders", json={"createAction": {"action": "ReturnCompleteCustomerOrder",
                                                        "orderNumber": "999999"}})
    assert r.status_code == 400 and "999999" in r.text
    assert fetch_truth() == before
    assert api.ok("GET", "ReturnOrders")["returnOrderList"] == []
    assert expected_back(api, pn)[1] == 0


def test_an_order_not_yet_delivered_has_nothing_to_return(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    order = api.create_order(order_body([row(pn, 2)], "WEB-N"))["orderHeader"]["orderNumber"]
    before = fetch_truth()
    r = api.post("ReturnOrders", json={"createAction": {"action": "ReturnCompleteCustomerOrder",
                                                        "orderNumber": order}})
    assert_message(r, 400, contains=order)
    assert fetch_truth() == before


def test_an_unknown_return_is_a_404(api: Xtnd) -> None:
    assert_message(api.get("ReturnOrders/999999"), 404, contains="999999")
