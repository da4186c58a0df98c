"""CustomerInvoices and CustomerOrderInvoices (docs/wire.md, "CustomerInvoices"): a pick invoices what it shipped
(CustomerInvoiceCreated, listed under the order's customerInvoices), the back office moves an invoice along
(CustomerInvoiceChanged), CustomerOrderInvoices delivers and invoices a new order at once, and bad input is refused
without a trace."""

from __future__ import annotations

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
    order_body,
    row,
    stocked,
    utc_param,
)
from tests.support.xtnd import CONTROL

pytestmark = pytest.mark.capture  # every webhook action lands in the outbox (tests/api/conftest.py)




def pick(client: TestClient, number: str) -> None:
    r = client.post(f"/_mock/orders/{number}/pick", headers=CONTROL)
    assert r.status_code == 200, r.text


def invoices(api: Xtnd, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.ok("GET", "CustomerInvoices", params=params)["customerInvoiceList"]
    return items


def wrong_quantity(pn: str) -> dict[str, Any]:
    """An order row whose quantity is a word, not a number."""
    bad = row(pn, 1)
    bad["salesData"]["quantity"] = "two"
    return bad


def test_picking_an_order_creates_its_invoice(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    assert invoices(api) == []
    order = api.create_order(order_body([row(pn, 2, unit_price=99.5)]))["orderHeader"]["orderNumber"]
    before = fetch_truth()
    pick(client, order)
    created = [d for a, d in new_events(fetch_truth, before) if a == "CustomerInvoiceCreated"]
    assert created == [{"InvoiceNumber": "700001", "OrderNumber": order}]
    assert [i["invoiceNumber"] for i in api.order(order)["orderHeader"]["customerInvoices"]] == ["700001"]
    invoice = api.ok("GET", "CustomerInvoices/700001")
    assert_always_filled(invoice, "CustomerInvoice")
    head, (line,) = invoice["invoiceHeader"], invoice["invoiceRows"]
    assert (head["invoiceNumber"], head["customerNumber"], head["invoiceType"]) == ("700001", "10001", "OrderDebit")
    assert [o["orderNumber"] for o in head["orders"]] == [order]
    assert (line["product"]["productNumber"], line["salesData"]["quantity"], line["salesData"]["unitPrice"]) == (
        pn, 2, 99.5)
    assert line["salesData"]["rowSum"] == 199.0
    (listed,) = invoices(api)
    assert_always_filled(listed, "CustomerInvoiceListItem")
    assert (listed["invoiceNumber"], listed["orderNumber"], listed["orderNumberExternal"], listed["invoiceStatus"]) \
        == ("700001", order, "WEB-1", "Created")


def test_the_back_office_moves_an_invoice_sent_then_paid(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    order = api.create_order(order_body([row(stocked(client), 1)]))["orderHeader"]["orderNumber"]
    pick(client, order)
    statuses = []
    for _ in range(2):
        before = fetch_truth()
        advance(client, 60)
        r = client.post("/_mock/backoffice/invoices/700001/change", headers=CONTROL)
        assert r.status_code == 200, r.text
        assert new_events(fetch_truth, before) == [
            ("CustomerInvoiceChanged", {"InvoiceNumber": "700001", "OrderNumber": order})]
        listed = invoices(api, invoiceNumber="700001")[0]["invoiceStatus"]
        assert api.ok("GET", "CustomerInvoices/700001")["invoiceHeader"]["customerInvoiceStatus"] == listed
        statuses.append(listed)
    assert statuses == ["InvoiceSent", "Paid"]
    paid = fetch_truth()
    assert client.post("/_mock/backoffice/invoices/700001/change", headers=CONTROL).status_code == 400  # final
    assert fetch_truth() == paid
    assert api.ok("GET", "CustomerInvoices/700001")["invoiceHeader"]["payDate"] is not None


def test_the_list_filters(client: TestClient, api: Xtnd) -> None:
    a = stocked(client)
    start = clock_now(client)
    o1 = api.create_order(order_body([row(a, 1)], "W-1"))["orderHeader"]["orderNumber"]
    o2 = api.create_order(order_body([row(a, 1)], "W-2", customer="10002"))["orderHeader"]["orderNumber"]
    pick(client, o1)
    advance(client, 3600)
    middle = clock_now(client)
    pick(client, o2)
    client.post("/_mock/backoffice/invoices/700001/change", headers=CONTROL)

    def numbers(**params: Any) -> list[str]:
        return [i["invoiceNumber"] for i in invoices(api, **params)]

    assert numbers() == ["700001", "700002"]
    assert numbers(customerNumber="10002") == ["700002"]
    assert numbers(orderNumber=o1) == ["700001"]
    assert numbers(orderNumberExternal="W-2") == ["700002"]
    assert numbers(invoiceStatus="InvoiceSent") == ["700001"]
    assert numbers(changeDateFrom=utc_param(middle)) == ["700001", "700002"]
    assert numbers(changeDateTo=utc_param(start)) == []
    assert numbers(invoiceType="ReturnOrderCredit") == []
    assert numbers(invoiceDate=utc_param(start)) == ["700001", "700002"]  # the same UTC day
    due = api.ok("GET", "CustomerInvoices/700001")["invoiceHeader"]["dueDate"]
    assert numbers(dueDate=due[:10]) == ["700001", "700002"]
    assert numbers(dueDate=utc_param(start)) == []


def test_customer_order_invoices_delivers_and_invoices_at_once(client: TestClient, api: Xtnd,
                                                               fetch_truth: Truth) -> None:
    pn = stocked(client)
    a = api.availability(pn)
    before = fetch_truth()
    r = api.post("CustomerOrderInvoices", json=order_body([row(pn, 2)], "WEB-INV"))
    assert r.status_code == 200, r.text
    number = r.json()["invoiceNumber"]
    (order,) = api.ok("GET", "CustomerOrders", params={"orderNumberExternal": "WEB-INV"})
    ref = {"OrderNumber": order["orderNumber"], "OrderNumberExternal": "WEB-INV", "Warehouse": "1"}
    item = {"ProductNumber": pn, "Warehouse": "1"}
    assert new_events(fetch_truth, before) == [
        ("OrderCreated", ref), ("AvailableBalanceChanged", {**item, "AvailableBalance": a["availableBalanceNow"] - 2}),
        ("OrderReserved", ref), ("BalanceChanged", {**item, "Balance": a["physicalBalance"] - 2}),
        ("OrderPicked", ref), ("CustomerInvoiceCreated", {"InvoiceNumber": number, "OrderNumber": order["orderNumber"]})]
    fetched = api.order(order["orderNumber"])
    assert fetched["orderHeader"]["orderStatus"] == "Terminated"
    assert [i["invoiceNumber"] for i in fetched["orderHeader"]["customerInvoices"]] == [number]
    after = api.availability(pn)
    assert (after["physicalBalance"], after["orderedQuantity"]) == (a["physicalBalance"] - 2, a["orderedQuantity"])
    invoice = api.ok("GET", f"CustomerInvoices/{number}")
    assert [(x["product"]["productNumber"], x["salesData"]["quantity"]) for x in invoice["invoiceRows"]] == [(pn, 2)]


def test_customer_order_invoices_refuses_what_is_not_on_hand_and_bad_bodies(client: TestClient, api: Xtnd,
                                                                            fetch_truth: Truth) -> None:
    pn = stocked(client)
    on_hand = api.availability(pn)["physicalBalance"]
    before = fetch_truth()
    assert api.post("CustomerOrderInvoices", json=order_body([row(pn, on_hand + 1)], "WEB-X")).status_code == 400
    assert_invalid(api.post("CustomerOrderInvoices", json=order_body([wrong_quantity(pn)], "WEB-X")),
                   "customerOrder.orderRows[0].salesData.quantity")
    assert_invalid(api.post("CustomerOrderInvoices", json={"orderHeader": {"customerNumber": "10001"}}),
                   "customerOrder.orderRows")
    r = api.post("CustomerOrderInvoices", json=order_body([row("NO-SUCH", 1)], "WEB-X"))
    assert r.status_code == 400 and "NO-SUCH" in r.text
    r = api.post("CustomerOrderInvoices", json=order_body([row(pn, 1)], "WEB-X", customer="99999"))
    assert r.status_code == 400 and "99999" in r.text
    r = api.post("CustomerOrderInvoices", json=order_body([row(pn, 1, warehouse="99")], "WEB-X"))
    assert r.status_code == 400 and "99" in r.text
    assert fetch_truth() == before
    assert invoices(api) == []


def test_an_unknown_invoice_is_a_404(api: Xtnd) -> None:
    assert_message(api.get("CustomerInvoices/799999"), 404, contains="799999")
