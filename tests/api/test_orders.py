"""CustomerOrders (docs/wire.md, "CustomerOrders" and "Order lifecycle"): create with allocation, prices kept
exactly, defaults, duplicate external numbers, recovery by orderNumberExternal, PUT and DELETE while Created, the
back office's reserve / pick / cancel / delivery-date moves, shipments and invoices on the order."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
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
    order_body,
    row,
    stocked,
    utc_param,
)
from tests.support.xtnd import CONTROL

pytestmark = pytest.mark.capture  # every webhook action lands in the outbox (tests/api/conftest.py)



def figures(api: Xtnd, pn: str, wh: str = "1") -> tuple[int, int, int]:
    a = api.availability(pn, wh)
    return a["physicalBalance"], a["orderedQuantity"], a["availableBalanceNow"]


def create(api: Xtnd, rows: list[dict[str, Any]], external: str | None = "WEB-1", **header: Any) -> dict[str, Any]:
    return api.create_order(order_body(rows, external, **header))


# ---------------------------------------------------------------------------------------------- POST
def test_post_creates_a_created_order_that_allocates_stock(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    physical, ordered, available = figures(api, pn)
    before = fetch_truth()
    order = create(api, [row(pn, 3)])
    head, rows = order["orderHeader"], order["orderRows"]
    assert_always_filled(order, "CustomerOrder")
    assert_always_filled(head, "CustomerOrderHeader")
    assert (head["orderNumber"], head["orderStatus"], head["orderNumberExternal"]) == ("100001", "Created", "WEB-1")
    (r,) = rows
    assert_always_filled(r, "CustomerOrderRow")
    assert (r["position"], r["orderRowStatus"], r["allocationStatus"], r["warehouse"]) == (1, "Created", "Physical", "1")
    assert r["product"]["productNumber"] == pn and r["product"]["productName"]
    assert r["salesData"]["quantity"] == 3
    assert r["availableBalance"] == available - 3
    assert figures(api, pn) == (physical, ordered + 3, available - 3)
    assert api.order("100001") == order  # GET answers what POST answered
    events = new_events(fetch_truth, before)
    assert [a for a, _ in events] == ["OrderCreated", "AvailableBalanceChanged"]
    assert events[0][1] == {"OrderNumber": "100001", "OrderNumberExternal": "WEB-1", "Warehouse": "1"}
    assert events[1][1] == {"ProductNumber": pn, "Warehouse": "1", "AvailableBalance": available - 3}


def test_order_numbers_count_up_from_100001_and_a_given_one_is_ignored(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    first = create(api, [row(pn)], "A", orderNumber="999")
    second = create(api, [row(pn)], "B")
    assert [first["orderHeader"]["orderNumber"], second["orderHeader"]["orderNumber"]] == ["100001", "100002"]


def test_dates_carry_milliseconds_and_the_stockholm_offset(client: TestClient, api: Xtnd) -> None:
    order = create(api, [row(stocked(client))], askedDeliveryDate="2026-06-10T12:00:00Z")
    head = order["orderHeader"]
    assert assert_local_date(head["orderDate"]).utcoffset().total_seconds() == 3600  # January: +01:00
    asked = assert_local_date(head["askedDeliveryDate"])
    assert head["askedDeliveryDate"] == "2026-06-10T14:00:00.000+02:00"  # June: +02:00, the same instant
    assert asked == clock_now(client).replace(2026, 6, 10, 12, 0, 0, 0)


def test_the_webshops_prices_are_kept_exactly(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    sales = {"quantity": 2, "unit": "st", "unitPrice": 0.1 + 0.2, "vatPercent": 6.0, "currency": "EUR"}
    order = create(api, [{"product": {"productNumber": pn}, "salesData": sales, "warehouse": "1"},
                         row(pn, 1, unit_price=0.0)])
    first, free = order["orderRows"]
    assert first["salesData"]["unitPrice"] == 0.30000000000000004
    assert (first["salesData"]["vatPercent"], first["salesData"]["currency"]) == (6.0, "EUR")
    assert free["salesData"]["unitPrice"] == 0.0
    listed = api.ok("GET", "CustomerOrders", params={"orderNumberExternal": "WEB-1"})
    assert listed[0]["totalPrice"] == round(2 * (0.1 + 0.2), 2)


def test_defaults_warehouse_price_currency_vat_and_address(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    customer = "10008"  # B2B-GOLD: its own price list
    body = order_body([{"product": {"productNumber": pn}, "salesData": {"quantity": 1, "unit": "st"}}],
                      "WEB-D", customer)
    r = create(api, body["orderRows"], "WEB-D", customerNumber=customer)
    (line,) = r["orderRows"]
    prices = api.ok("GET", "ProductPrices", params={"customerNumber": customer, "productNumberList": pn})
    (best,) = prices["productPriceItemList"]
    product = api.ok("GET", f"Products/{pn}")
    assert line["warehouse"] == "1"
    assert line["salesData"]["unitPrice"] == best["price"]
    assert line["salesData"]["currency"] == "SEK"
    assert line["salesData"]["vatPercent"] == best["vatPercent"] == product["productPrices"][0][
        "productPriceListRows"][0]["vatPercent"]
    cust = api.ok("GET", f"Customers/{customer}")
    addr = r["orderHeader"]["deliveryAddress"]
    assert (addr["address1"], addr["postalCode"], addr["city"]) == (
        cust["customerDeliveryAddress"]["address"]["address1"], cust["customerDeliveryAddress"]["address"]["postalCode"],
        cust["customerDeliveryAddress"]["address"]["city"])


def test_a_given_delivery_address_and_uninterpreted_fields_come_back(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    address = {"name1": "Anna Svensson", "address1": "Storgatan 1", "postalCode": "11122", "city": "Stockholm",
               "countryCode": "SE"}
    order = create(api, [row(pn, 1, notations={"notes": "gift wrap"}, batchNumber="B-7")],
                   deliveryAddress=address, yourReference="ref-42", notations={"notes": "leave at door"},
                   salesChannel="webshop", unknownField="ignored")
    fetched = api.order(order["orderHeader"]["orderNumber"])
    head, (line,) = fetched["orderHeader"], fetched["orderRows"]
    assert {k: head["deliveryAddress"][k] for k in address} == address
    assert (head["yourReference"], head["notations"]["notes"], head["salesChannel"]) == (
        "ref-42", "leave at door", "webshop")
    assert "unknownField" not in head
    assert (line["notations"]["notes"], line["batchNumber"]) == ("gift wrap", "B-7")


def test_the_unit_is_required(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    before = fetch_truth()
    r = api.post("CustomerOrders", json=order_body([{"product": {"productNumber": stocked(client)},
                                                      "salesData": {"quantity": 1}}]))
    assert_invalid(r, "newCustomerOrder.orderRows[0].salesData.unit")
    assert fetch_truth() == before


def test_more_than_available_is_accepted_and_backordered(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    physical, ordered, available = figures(api, pn)
    order = create(api, [row(pn, available + 5)])
    assert order["orderRows"][0]["allocationStatus"] == "NotAllocated"
    assert figures(api, pn) == (physical, ordered + available + 5, -5)


def test_with_allow_oversell_off_more_than_available_is_a_400() -> None:
    s = Settings(clock="virtual", seed=1, quirks={"transient_errors": 0}, allow_oversell=False)
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        api = Xtnd(c)
        pn = stocked(c)
        available = api.availability(pn)["availableBalanceNow"]
        before = c.get("/_mock/truth").content
        r = api.post("CustomerOrders", json=order_body([row(pn, available + 1)]))
        assert_message(r, 400, contains="not enough")
        assert c.get("/_mock/truth").content == before
        assert api.create_order(order_body([row(pn, available)]))["orderRows"][0]["allocationStatus"] == "Physical"


# ---------------------------------------------------------------------------------------------- duplicates
def test_a_duplicate_external_number_is_a_400_naming_the_order(client: TestClient, api: Xtnd,
                                                                fetch_truth: Truth) -> None:
    pn = stocked(client)
    create(api, [row(pn)], "WEB-DUP")
    before = fetch_truth()
    r = api.post("CustomerOrders", json=order_body([row(pn, 2)], "WEB-DUP"))
    assert assert_message(r, 400) == "An order with orderNumberExternal 'WEB-DUP' already exists (order 100001)."
    assert fetch_truth() == before


def test_duplicate_external_order_accept_makes_a_second_order() -> None:
    s = Settings(clock="virtual", seed=1, quirks={"transient_errors": 0}, duplicate_external_order="accept")
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        api = Xtnd(c)
        pn = stocked(c)
        a = api.create_order(order_body([row(pn)], "WEB-DUP"))
        b = api.create_order(order_body([row(pn)], "WEB-DUP"))
        assert (a["orderHeader"]["orderNumber"], b["orderHeader"]["orderNumber"]) == ("100001", "100002")
        found = api.ok("GET", "CustomerOrders", params={"orderNumberExternal": "WEB-DUP"})
        assert [o["orderNumber"] for o in found] == ["100001", "100002"]


def test_an_unanswered_post_is_recovered_by_orderNumberExternal(client: TestClient, api: Xtnd) -> None:
    """The quirk that makes an unfiltered order list time out does not stop this lookup."""
    pn = stocked(client)
    create(api, [row(pn)], "WEB-OTHER")
    assert api.ok("GET", "CustomerOrders", params={"orderNumberExternal": "WEB-LOST"}) == []
    order = create(api, [row(pn, 2)], "WEB-LOST")
    found = api.ok("GET", "CustomerOrders", params={"orderNumberExternal": "WEB-LOST"})
    assert [(o["orderNumber"], o["orderNumberExternal"], o["orderStatus"]) for o in found] == [
        (order["orderHeader"]["orderNumber"], "WEB-LOST", "Created")]
    assert_always_filled(found[0], "CustomerOrderListItem")


# ---------------------------------------------------------------------------------------------- PUT and DELETE
def test_put_replaces_rows_and_header_while_created(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    a, b = stocked(client), stocked(client, skip=1)
    order = create(api, [row(a, 4)], yourReference="first")
    number = order["orderHeader"]["orderNumber"]
    fa, fb = figures(api, a), figures(api, b)
    before = fetch_truth()
    body = order_body([row(b, 2, unit_price=10.0), row(a, 1, unit_price=5.0),
                       row(a, 9, rowOperation="Inactive")], "WEB-1", yourReference="second",
                      askedDeliveryDate="2026-01-20T10:00:00")
    r = api.put(f"CustomerOrders/{number}", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"Message": f"Order {number} was updated.", "Information": number}
    fetched = api.order(number)
    assert fetched["orderHeader"]["yourReference"] == "second"
    assert fetched["orderHeader"]["askedDeliveryDate"] == "2026-01-20T11:00:00.000+01:00"
    assert [(x["position"], x["product"]["productNumber"], x["salesData"]["quantity"], x["salesData"]["unitPrice"])
            for x in fetched["orderRows"]] == [(1, b, 2, 10.0), (2, a, 1, 5.0)]
    assert figures(api, a) == (fa[0], fa[1] - 3, fa[2] + 3)
    assert figures(api, b) == (fb[0], fb[1] + 2, fb[2] - 2)
    actions = [x for x, _ in new_events(fetch_truth, before)]
    assert sorted(actions) == ["AvailableBalanceChanged", "AvailableBalanceChanged", "OrderDeliveryDataChanged"]


def test_put_takes_the_whole_order_and_a_header_change_keeps_the_rows(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    order = create(api, [row(pn, 2)])
    number = order["orderHeader"]["orderNumber"]
    # orderRows is Always in the CustomerOrder schema: a PUT without it is refused, so a client sends the rows again
    r = api.put(f"CustomerOrders/{number}", json={"orderHeader": {"yourReference": "only-this"}})
    assert_invalid(r, "existingCustomerOrder.orderRows")
    same = order["orderRows"][0]
    r = api.put(f"CustomerOrders/{number}", json={"orderHeader": {"yourReference": "only-this"},
                                                   "orderRows": [{"product": same["product"],
                                                                  "salesData": same["salesData"]}]})
    assert r.status_code == 200, r.text
    fetched = api.order(number)
    assert fetched["orderHeader"]["yourReference"] == "only-this"
    assert fetched["orderRows"][0]["salesData"] == same["salesData"]


def test_put_of_the_same_rows_keeps_them_physically_allocated(client: TestClient, api: Xtnd) -> None:
    """A row covered by stock stays covered when it is sent again: the order's own allocation counts for it."""
    pn = stocked(client)
    available = api.availability(pn)["availableBalanceNow"]
    order = create(api, [row(pn, available)])
    number = order["orderHeader"]["orderNumber"]
    assert order["orderRows"][0]["allocationStatus"] == "Physical"
    assert api.put(f"CustomerOrders/{number}", json=order_body([row(pn, available)])).status_code == 200
    assert api.order(number)["orderRows"][0]["allocationStatus"] == "Physical"
    assert api.availability(pn)["availableBalanceNow"] == 0


def test_delete_cancels_a_created_order_and_releases_its_allocation(client: TestClient, api: Xtnd,
                                                                    fetch_truth: Truth) -> None:
    pn = stocked(client)
    start = figures(api, pn)
    number = create(api, [row(pn, 5), row(pn, 2)])["orderHeader"]["orderNumber"]
    before = fetch_truth()
    r = api.delete(f"CustomerOrders/{number}")
    assert r.status_code == 200, r.text
    assert r.json() == {"Message": f"Order {number} was cancelled.", "Information": number}
    fetched = api.order(number)
    assert fetched["orderHeader"]["orderStatus"] == "Annulled"
    assert {x["orderRowStatus"] for x in fetched["orderRows"]} == {"Annulled"}
    assert figures(api, pn) == start
    events = new_events(fetch_truth, before)
    assert sorted(a for a, _ in events) == ["AvailableBalanceChanged", "OrderCancelled"]
    assert ("AvailableBalanceChanged", {"ProductNumber": pn, "Warehouse": "1", "AvailableBalance": start[2]}) in events
    # an annulled order can be neither changed nor deleted again
    assert_message(api.delete(f"CustomerOrders/{number}"), 400, contains="can no longer be changed")


def test_put_and_delete_of_an_unknown_order_are_400s_and_get_is_a_404(api: Xtnd, fetch_truth: Truth) -> None:
    before = fetch_truth()
    assert_message(api.put("CustomerOrders/999999", json=order_body([row("100003")])), 400, contains="999999")
    assert_message(api.delete("CustomerOrders/999999"), 400, contains="999999")
    assert_message(api.get("CustomerOrders/999999"), 404, contains="999999")
    assert fetch_truth() == before


def test_put_may_not_change_the_customer_or_the_external_number(client: TestClient, api: Xtnd,
                                                                fetch_truth: Truth) -> None:
    pn = stocked(client)
    number = create(api, [row(pn)])["orderHeader"]["orderNumber"]
    before = fetch_truth()
    assert_message(api.put(f"CustomerOrders/{number}", json=order_body([row(pn)], "WEB-1", "10002")), 400,
                   contains="customer")
    assert_message(api.put(f"CustomerOrders/{number}", json=order_body([row(pn)], "WEB-2")), 400,
                   contains="orderNumberExternal")
    assert fetch_truth() == before


# ---------------------------------------------------------------------------------------------- lifecycle
def test_reserve_locks_the_order_against_put_and_delete(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    number = create(api, [row(pn, 2)])["orderHeader"]["orderNumber"]
    before = fetch_truth()
    r = client.post(f"/_mock/orders/{number}/reserve", headers=CONTROL)
    assert r.status_code == 200, r.text
    assert r.json()["orderHeader"]["orderStatus"] == "Reserved"
    fetched = api.order(number)
    assert fetched["orderHeader"]["orderStatus"] == "Reserved"
    assert [x["orderRowStatus"] for x in fetched["orderRows"]] == ["Reserved"]
    assert [a for a, _ in new_events(fetch_truth, before)] == ["OrderReserved"]
    locked = fetch_truth()
    expected = f"Order {number} is Reserved and can no longer be changed."
    assert assert_message(api.put(f"CustomerOrders/{number}", json=order_body([row(pn, 1)])), 400) == expected
    assert assert_message(api.delete(f"CustomerOrders/{number}"), 400) == expected
    assert fetch_truth() == locked


def test_a_pick_ships_the_order_with_a_shipment_and_an_invoice(client: TestClient, api: Xtnd,
                                                               fetch_truth: Truth) -> None:
    pn = stocked(client)
    physical, ordered, available = figures(api, pn)
    number = create(api, [row(pn, 3)])["orderHeader"]["orderNumber"]
    client.post(f"/_mock/orders/{number}/reserve", headers=CONTROL)
    before = fetch_truth()
    advance(client, 600)  # (less than the capture subscription's hour: its deliveries stay pending)
    r = client.post(f"/_mock/orders/{number}/pick", headers=CONTROL)
    assert r.status_code == 200, r.text
    order = api.order(number)
    head, (line,) = order["orderHeader"], order["orderRows"]
    assert head["orderStatus"] == "Terminated"
    (shipment,) = head["shipments"]
    assert_always_filled(shipment, "OrderHeaderShipment")
    assert shipment["shipmentNumber"] == "SH500001"
    assert shipment["forwarder"] and shipment["packages"] and shipment["numberPackages"] == len(shipment["packages"])
    assert assert_local_date(shipment["pickDate"]) == clock_now(client)
    (invoice,) = head["customerInvoices"]
    assert invoice["invoiceNumber"] == "700001"
    assert (line["orderRowStatus"], line["allocationStatus"], line["shipmentNumber"]) == (
        "Picked", "Delivered", "SH500001")
    assert line["deliveryData"]["quantity"] == 3
    assert figures(api, pn) == (physical - 3, ordered, available - 3)
    actions = [a for a, _ in new_events(fetch_truth, before)]
    assert actions.count("OrderPicked") == 1 and actions.count("BalanceChanged") == 1
    assert "CustomerInvoiceCreated" in actions
    assert "AvailableBalanceChanged" not in actions  # physical and allocated fall together
    locked = fetch_truth()
    assert_message(api.put(f"CustomerOrders/{number}", json=order_body([row(pn)])), 400,
                   contains="can no longer be changed")
    assert_message(api.delete(f"CustomerOrders/{number}"), 400, contains="can no longer be changed")
    assert fetch_truth() == locked


def test_a_short_pick_delivers_partially_and_a_second_pick_finishes(client: TestClient, api: Xtnd) -> None:
    short, full = stocked(client), stocked(client, skip=1)
    api.ok("POST", "WarehouseStockLevels", json={"warehouse": "1", "productNumber": short, "balance": 2})
    number = create(api, [row(full, 1), row(short, 5)])["orderHeader"]["orderNumber"]
    assert api.availability(short)["availableBalanceNow"] == -3
    client.post(f"/_mock/orders/{number}/pick", headers=CONTROL)  # a Created order is reserved first
    order = api.order(number)
    assert order["orderHeader"]["orderStatus"] == "PartiallyDelivered"
    first, second = order["orderRows"]
    assert (first["orderRowStatus"], first["deliveryData"]["quantity"]) == ("Picked", 1)
    assert (second["orderRowStatus"], second["deliveryData"]["quantity"]) == ("Reserved", 2)
    assert api.availability(short)["physicalBalance"] == 0
    assert api.availability(short)["orderedQuantity"] == 3
    # nothing on hand: a second pick now has nothing to ship
    assert client.post(f"/_mock/orders/{number}/pick", headers=CONTROL).status_code == 400
    api.ok("PUT", "WarehouseStockLevels", json={"warehouse": "1", "productNumber": short, "balanceDifference": 10})
    client.post(f"/_mock/orders/{number}/pick", headers=CONTROL)
    order = api.order(number)
    assert order["orderHeader"]["orderStatus"] == "Terminated"
    assert [x["orderRowStatus"] for x in order["orderRows"]] == ["Picked", "Picked"]
    assert order["orderRows"][1]["deliveryData"]["quantity"] == 5
    assert [s["shipmentNumber"] for s in order["orderHeader"]["shipments"]] == ["SH500001", "SH500002"]
    assert [i["invoiceNumber"] for i in order["orderHeader"]["customerInvoices"]] == ["700001", "700002"]
    assert (api.availability(short)["physicalBalance"], api.availability(short)["orderedQuantity"]) == (7, 0)


def test_cancelling_the_rest_of_a_partly_delivered_order_releases_exactly_the_rest(client: TestClient,
                                                                                  api: Xtnd) -> None:
    pn = stocked(client)
    api.ok("POST", "WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn, "balance": 4})
    number = create(api, [row(pn, 10)])["orderHeader"]["orderNumber"]
    client.post(f"/_mock/orders/{number}/pick", headers=CONTROL)
    assert figures(api, pn) == (0, 6, -6)
    r = client.post(f"/_mock/orders/{number}/cancel", headers=CONTROL)
    assert r.status_code == 200, r.text
    order = api.order(number)
    assert order["orderHeader"]["orderStatus"] == "Terminated"  # part was shipped
    assert order["orderRows"][0]["orderRowStatus"] == "Annulled"
    assert figures(api, pn) == (0, 0, 0)


def test_the_back_office_cancels_a_reserved_order(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    start = figures(api, pn)
    number = create(api, [row(pn, 3)])["orderHeader"]["orderNumber"]
    client.post(f"/_mock/orders/{number}/reserve", headers=CONTROL)
    before = fetch_truth()
    assert client.post(f"/_mock/orders/{number}/cancel", headers=CONTROL).status_code == 200
    order = api.order(number)
    assert order["orderHeader"]["orderStatus"] == "Annulled"
    assert [x["orderRowStatus"] for x in order["orderRows"]] == ["Annulled"]
    assert figures(api, pn) == start
    assert sorted(a for a, _ in new_events(fetch_truth, before)) == ["AvailableBalanceChanged", "OrderCancelled"]
    # nothing moves an annulled order any more
    for move in ("reserve", "pick", "cancel"):
        assert client.post(f"/_mock/orders/{number}/{move}", headers=CONTROL).status_code == 400, move


def test_the_delivery_date_moves_with_its_hook(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    number = create(api, [row(stocked(client))])["orderHeader"]["orderNumber"]
    client.post(f"/_mock/orders/{number}/reserve", headers=CONTROL)
    before = fetch_truth()
    r = client.post(f"/_mock/orders/{number}/delivery-date", json={"askedDeliveryDate": "2026-02-03"})
    assert r.status_code == 200, r.text
    assert api.order(number)["orderHeader"]["askedDeliveryDate"] == "2026-02-03T01:00:00.000+01:00"
    (event,) = new_events(fetch_truth, before)
    assert event == ("OrderDeliveryDataChanged", {"OrderNumber": number, "OrderNumberExternal": "WEB-1",
                                                  "Warehouse": "1",
                                                  "AskedDeliveryDate": "2026-02-03T01:00:00.000+01:00"})
    bad = client.post(f"/_mock/orders/{number}/delivery-date", json={"askedDeliveryDate": "soon"})
    assert bad.status_code == 400 and "askedDeliveryDate" in bad.json()["ModelState"]


@pytest.mark.parametrize("move", ["reserve", "pick", "cancel"])
def test_back_office_moves_of_an_unknown_order_are_refused(client: TestClient, move: str) -> None:
    r = client.post(f"/_mock/orders/999999/{move}", headers=CONTROL)
    assert r.status_code == 404 and "999999" in r.json()["Message"]


# ---------------------------------------------------------------------------------------------- the list
def test_the_list_filters_and_answers_list_items(client: TestClient, api: Xtnd) -> None:
    a, b = stocked(client), stocked(client, skip=1)
    start = clock_now(client)
    o1 = create(api, [row(a)], "W-1")["orderHeader"]["orderNumber"]
    advance(client, 60)
    o2 = create(api, [row(b, 1, warehouse="2")], "W-2", customerNumber="10002")["orderHeader"]["orderNumber"]
    advance(client, 60)
    o3 = create(api, [row(a), row(b)], "W-3")["orderHeader"]["orderNumber"]
    client.post(f"/_mock/orders/{o3}/reserve", headers=CONTROL)
    since = utc_param(start)

    def numbers(**params: Any) -> list[str]:
        return [o["orderNumber"] for o in api.ok("GET", "CustomerOrders", params={"modifiedDateFrom": since,
                                                                                   **params})]

    assert numbers() == [o1, o2, o3]
    assert numbers(orderStatus="Reserved") == [o3]
    assert numbers(orderStatus="created") == [o1, o2]  # enum names in any case
    assert numbers(orderStatus="3") == [o3]  # or the index, as ASP.NET binds enums (3: Reserved)
    assert numbers(customerNumber="10002") == [o2]
    assert numbers(productNumber=a) == [o1, o3]
    assert numbers(warehouse="2") == [o2]
    assert numbers(orderNumber=o2) == [o2]
    listed = api.ok("GET", "CustomerOrders", params={"modifiedDateFrom": since})
    for item in listed:
        assert_always_filled(item, "CustomerOrderListItem")
        assert_local_date(item["changeDate"])
    assert listed[2]["orderStatus"] == "Reserved" and listed[0]["customerName"]
