"""Every one of the 18 webhook actions, end to end as a real integration meets it: its real cause (an API call, or
the back office through /_mock), the signed delivery at a real HTTP receiver on 127.0.0.1 (``ms-signature`` checked
by hand over the exact body bytes), then the follow-up GET a client makes with the Details - and the record it
fetches shows the change.

The fake runs in-process on the virtual clock; ``POST /_mock/clock/advance`` (``settle``) returns after the attempts
that fell due have finished. Should a delivery still be in flight on a loaded machine, ``World.hook`` waits for it,
bounded, polling the receiver (no other waiting).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest

from mock_xtnd.domain.events import ACTIONS
from tests.support.receiver import Received, Receiver
from tests.support.xtnd import API, CONTROL, DETAILS, basic, customer_body, order_body, row

from .conftest import SECRET, Fake, fake_settings, hand_signature, running, serving, subscription, verifies

INTERNAL = API.replace("/v1_0/", "/internal_v1_0/")  # GTINs and ProductProperties
DELIVERY_WAIT_SECONDS = 30.0  # bounded: only spent if a delivery is still on its way after the clock settled
RETRY_AFTER_SECONDS = 61.0  # the sender retries a failed attempt after 1 minute (then 5) on the injected clock


def q(value: str) -> str:
    return quote(value, safe="")


@dataclass
class World:
    """One fake and one real receiver; ``hook`` finds the delivery a cause made, checks every signature."""

    fake: Fake
    receiver: Receiver
    mark: int = 0  # receiver.received[:mark] belong to earlier causes
    notes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # every (Action, Details) received
    enabled: list[str] = field(default_factory=list)

    def api(self, method: str, resource: str, **kw: Any) -> Any:
        return self.fake.api(method, resource, **kw)

    def get(self, resource: str) -> Any:
        """The follow-up fetch: must answer 200."""
        return self.fake.api("GET", resource)

    def internal(self, method: str, resource: str) -> Any:
        r = self.fake.c.request(method, f"{INTERNAL}/{resource}", headers=basic())
        assert r.status_code == 200, f"{method} {resource}: {r.status_code} {r.text[:300]}"
        return r.json()

    def mock(self, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
        if body is None:
            return self.fake.ok(self.fake.c.request(method, f"/_mock{path}", headers=CONTROL))
        return self.fake.ok(self.fake.c.request(method, f"/_mock{path}", json=body))

    def product(self, index: int) -> str:
        """The index-th seeded product that is enabled (so it may be ordered and purchased), by number."""
        if not self.enabled:
            listed = self.get("Products?pageCount=1000")
            self.enabled = sorted({p["productNumber"] for p in listed if p["enabled"] and p["productNumber"].isdigit()})
        return self.enabled[index]

    def new_order(self, external: str, product: str, quantity: int = 1) -> str:
        body = order_body(external, [row(product, quantity)])
        number: str = self.api("POST", "CustomerOrders", json=body)["orderHeader"]["orderNumber"]
        return number

    def hook(self, action: str, **match: Any) -> dict[str, Any]:
        """The one notification of ``action`` whose Details include ``match``, among the deliveries since the
        last call; every delivery received meanwhile must carry a valid ms-signature over its exact bytes."""
        self.fake.settle()
        deadline = time.monotonic() + DELIVERY_WAIT_SECONDS
        nudge = time.monotonic() + 1.0
        while True:
            new = list(self.receiver.received[self.mark:])
            # de-duplicated on the envelope Id, as a receiver should: a retried attempt is the same notification
            found = list({r.json["Id"]: n["Details"] for r in new for n in r.json["Notifications"]
                          if n["Action"] == action
                          and all(n["Details"].get(k) == v for k, v in match.items())}.values())
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # a real delivery still in flight: bounded wait
            if time.monotonic() > nudge:  # an attempt that timed out on a loaded machine: let its retry fall due
                self.fake.advance(RETRY_AFTER_SECONDS)
                nudge = time.monotonic() + 1.0
        for r in new:
            assert_signed(r)
            self.notes.extend((n["Action"], n["Details"]) for n in r.json["Notifications"])
        self.mark += len(new)
        assert len(found) == 1, f"{action} {match}: {found} (received: {[n for n, _ in self.notes[-20:]]})"
        details = found[0]
        assert set(details) == DETAILS[action], details
        return details


def assert_signed(r: Received) -> None:
    """XTND's ms-signature: sha256= + upper-case hex HMAC-SHA256 of the exact body bytes, keyed by the secret."""
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    assert verifies(r), (r.headers.get("ms-signature"), hand_signature(SECRET, r.body))
    assert r.json["Notifications"], r.body[:200]


# ---------------------------------------------------------------------------------------------- the follow-up
def follow_up(w: World, details: dict[str, Any]) -> list[tuple[str, Any]]:
    """What a real integration fetches for a hook's Details, generically: (resource, answer) per key it knows."""
    fetched: list[tuple[str, Any]] = []
    if "OrderNumber" in details and details["OrderNumber"] is not None:
        path = f"CustomerOrders/{q(details['OrderNumber'])}"
        fetched.append((path, w.get(path)))
    if "InvoiceNumber" in details:
        path = f"CustomerInvoices/{q(details['InvoiceNumber'])}"
        fetched.append((path, w.get(path)))
    if "PurchaseNumber" in details:
        path = f"PurchaseOrders/{q(details['PurchaseNumber'])}"
        fetched.append((path, w.get(path)))
    if "OfferNumber" in details:
        path = f"Offers/{q(details['OfferNumber'])}"
        fetched.append((path, w.get(path)))
    if "CustomerNumber" in details:
        path = f"Customers/{q(details['CustomerNumber'])}"
        fetched.append((path, w.get(path)))
    if "ProductNumber" in details:
        if "Warehouse" in details:
            path = f"ProductAvailability/{q(details['ProductNumber'])}/{q(details['Warehouse'])}"
        else:
            path = f"Products/{q(details['ProductNumber'])}"
        fetched.append((path, w.get(path)))
    assert fetched, f"no follow-up fetch for {details}"
    return fetched


def fetched(w: World, details: dict[str, Any], prefix: str) -> Any:
    (body,) = [body for path, body in follow_up(w, details) if path.startswith(prefix)]
    return body


# ---------------------------------------------------------------------------------------------- one cause per action
def order_created(w: World) -> None:
    pn = w.product(0)
    number = w.new_order("EVERY-CREATED", pn, 2)
    d = w.hook("OrderCreated", OrderNumber=number)
    assert d["OrderNumberExternal"] == "EVERY-CREATED" and d["Warehouse"] == "1"
    order = fetched(w, d, "CustomerOrders/")
    assert order["orderHeader"]["orderStatus"] == "Created"
    assert order["orderHeader"]["orderNumberExternal"] == "EVERY-CREATED"
    assert [(r["product"]["productNumber"], r["salesData"]["quantity"]) for r in order["orderRows"]] == [(pn, 2)]


def order_reserved(w: World) -> None:
    number = w.new_order("EVERY-RESERVED", w.product(1))
    w.mock(f"/orders/{number}/reserve")
    d = w.hook("OrderReserved", OrderNumber=number)
    assert fetched(w, d, "CustomerOrders/")["orderHeader"]["orderStatus"] == "Reserved"


def order_picked(w: World) -> None:
    pn = w.product(2)
    w.fake.stock(pn, "1", 5)
    number = w.new_order("EVERY-PICKED", pn, 2)
    w.mock(f"/orders/{number}/pick")
    d = w.hook("OrderPicked", OrderNumber=number)
    order = fetched(w, d, "CustomerOrders/")
    assert order["orderHeader"]["orderStatus"] == "Terminated"
    assert order["orderHeader"]["shipments"] and order["orderHeader"]["customerInvoices"]
    assert [r["orderRowStatus"] for r in order["orderRows"]] == ["Picked"]


def order_cancelled(w: World) -> None:
    number = w.new_order("EVERY-CANCELLED", w.product(3))
    w.api("DELETE", f"CustomerOrders/{number}")
    d = w.hook("OrderCancelled", OrderNumber=number)
    assert fetched(w, d, "CustomerOrders/")["orderHeader"]["orderStatus"] == "Annulled"


def order_delivery_data_changed(w: World) -> None:
    pn = w.product(4)
    number = w.new_order("EVERY-DATE", pn)
    body = order_body("EVERY-DATE", [row(pn, 1)], askedDeliveryDate="2026-03-02T00:00:00")
    w.api("PUT", f"CustomerOrders/{number}", json=body)
    d = w.hook("OrderDeliveryDataChanged", OrderNumber=number)
    order = fetched(w, d, "CustomerOrders/")
    assert d["AskedDeliveryDate"] == order["orderHeader"]["askedDeliveryDate"]
    assert order["orderHeader"]["askedDeliveryDate"].startswith("2026-03-02")


def _stock_move(w: World, pn: str, warehouse: str, delta: int) -> dict[str, Any]:
    before = w.get(f"ProductAvailability/{q(pn)}/{warehouse}")
    w.api("PUT", "WarehouseStockLevels", json={"warehouse": warehouse, "productNumber": pn,
                                                "balanceDifference": delta})
    return before


def balance_changed(w: World) -> None:
    pn = w.product(5)
    before = _stock_move(w, pn, "2", 7)
    d = w.hook("BalanceChanged", ProductNumber=pn, Warehouse="2")
    item = fetched(w, d, "ProductAvailability/")
    assert item["physicalBalance"] == d["Balance"] == before["physicalBalance"] + 7


def available_balance_changed(w: World) -> None:
    pn = w.product(6)
    before = _stock_move(w, pn, "3", 4)
    d = w.hook("AvailableBalanceChanged", ProductNumber=pn, Warehouse="3")
    item = fetched(w, d, "ProductAvailability/")
    assert item["availableBalanceNow"] == d["AvailableBalance"] == before["availableBalanceNow"] + 4


def _purchase(w: World, pn: str, quantity: int, warehouse: str = "2") -> str:
    body = {"header": {"warehouse": warehouse, "supplier": {"supplierNumber": "SA-HOME"}},
            "rows": [{"productNumber": pn, "purchaseDataProductUnit": {"quantity": quantity, "unit": "st"}}]}
    number: str = w.api("POST", "PurchaseOrders", json=body)["header"]["purchaseNumber"]
    return number


def purchase_partially_delivered(w: World) -> None:
    pn = w.product(7)
    on_hand = w.get(f"ProductAvailability/{q(pn)}/2")["physicalBalance"]
    number = _purchase(w, pn, 10)
    w.mock(f"/backoffice/purchases/{number}/receive", {"quantity": 4})
    d = w.hook("PurchasePartiallyDelivered", PurchaseNumber=number)
    assert d["Warehouse"] == "2"
    po = fetched(w, d, "PurchaseOrders/")
    assert po["header"]["status"] == "PartiallyReceived"
    assert [u["quantity"] for u in po["rows"][0]["unitDetails"]] == [4] and len(po["shipments"]) == 1
    item = w.get(f"ProductAvailability/{q(pn)}/2")
    assert item["physicalBalance"] == on_hand + 4 and item["totalExpectedReceivingFromPurchase"] == 6


def purchase_delivered(w: World) -> None:
    pn = w.product(8)
    number = _purchase(w, pn, 12)
    w.mock(f"/backoffice/purchases/{number}/receive", {"quantity": 5})
    w.mock(f"/backoffice/purchases/{number}/receive")
    d = w.hook("PurchaseDelivered", PurchaseNumber=number, Warehouse="2")
    po = fetched(w, d, "PurchaseOrders/")
    assert po["header"]["status"] == "Received" and len(po["shipments"]) == 2
    assert sum(u["quantity"] for u in po["rows"][0]["unitDetails"]) == 12
    assert w.get(f"ProductAvailability/{q(pn)}/2")["totalExpectedReceivingFromPurchase"] == 0


def purchase_cancelled(w: World) -> None:
    pn = w.product(9)
    number = _purchase(w, pn, 10)
    body = {"header": {"purchaseNumber": number, "warehouse": "2", "status": "Cancelled",
                       "supplier": {"supplierNumber": "SA-HOME"}},
            "rows": [{"productNumber": pn, "purchaseDataProductUnit": {"quantity": 10, "unit": "st"}}]}
    w.api("PUT", f"PurchaseOrders/{number}", json=body)
    d = w.hook("PurchaseCancelled", PurchaseNumber=number, Warehouse="2")
    assert fetched(w, d, "PurchaseOrders/")["header"]["status"] == "Cancelled"
    assert w.get(f"ProductAvailability/{q(pn)}/2")["totalExpectedReceivingFromPurchase"] == 0


def product_created(w: World) -> None:
    gtin = w.internal("GET", "GTINs")["gtiNumber"]
    w.api("POST", "Products", json={"productNumber": "EVERY 1/A",
                                     "productData": {"productName": "Kaffekopp Every", "productGTINumber": gtin}})
    d = w.hook("ProductCreated", ProductNumber="EVERY 1/A")
    product = fetched(w, d, "Products/")
    assert product["productNumber"] == "EVERY 1/A"
    assert product["productData"]["productName"] == "Kaffekopp Every"
    assert product["productData"]["productGTINumber"] == gtin


def product_changed(w: World) -> None:
    pn = w.product(10)
    w.api("PUT", f"Products/{pn}", json={"productNumber": pn, "productData": {"productName": "Omdöpt Every"}})
    d = w.hook("ProductChanged", ProductNumber=pn)
    assert fetched(w, d, "Products/")["productData"]["productName"] == "Omdöpt Every"


def customer_created(w: World) -> None:
    number = w.api("POST", "Customers", json=customer_body("Every Kund AB"))["customerNumber"]
    d = w.hook("CustomerCreated", CustomerNumber=number)
    assert fetched(w, d, "Customers/")["name"] == "Every Kund AB"


def customer_changed(w: World) -> None:
    w.api("PUT", "Customers/10002", json=customer_body("Ändrad Every"))
    d = w.hook("CustomerChanged", CustomerNumber="10002")
    assert fetched(w, d, "Customers/")["name"] == "Ändrad Every"


def offer_created(w: World) -> None:
    pn = w.product(11)
    number = w.mock("/backoffice/offers", {"customerNumber": "10003",
                                           "rows": [{"productNumber": pn, "quantity": 6}]})["offerNumber"]
    d = w.hook("OfferCreated", OfferNumber=number)
    offer = fetched(w, d, "Offers/")
    assert offer["offerHeader"]["offerStatus"] == "Created" and offer["offerHeader"]["customerNumber"] == "10003"
    assert [(r["product"]["productNumber"], r["salesData"]["quantity"]) for r in offer["offerRows"]] == [(pn, 6)]
    listed = w.get(f"Offers?offerNumber={number}")["offerItemList"]
    assert [o["offerNumber"] for o in listed] == [number]


def offer_changed(w: World) -> None:
    pn = w.product(12)
    number = w.mock("/backoffice/offers", {"customerNumber": "10004",
                                           "rows": [{"productNumber": pn, "quantity": 3}]})["offerNumber"]
    offer = w.get(f"Offers/{number}")
    header = {**offer["offerHeader"], "offerStatus": "Accepted"}
    rows = [{**r, "salesData": {**r["salesData"], "quantity": 9}} for r in offer["offerRows"]]
    w.api("PUT", f"Offers/{number}", json={"offerHeader": header, "offerRows": rows})
    d = w.hook("OfferChanged", OfferNumber=number)
    changed = fetched(w, d, "Offers/")
    assert changed["offerHeader"]["offerStatus"] == "Accepted"
    assert [r["salesData"]["quantity"] for r in changed["offerRows"]] == [9]


def customer_invoice_created(w: World) -> None:
    pn = w.product(13)
    w.fake.stock(pn, "1", 3)
    invoice = w.api("POST", "CustomerOrderInvoices", json=order_body("EVERY-INVOICE", [row(pn, 2)]))["invoiceNumber"]
    d = w.hook("CustomerInvoiceCreated", InvoiceNumber=invoice)
    body = fetched(w, d, "CustomerInvoices/")
    assert [o["orderNumber"] for o in body["invoiceHeader"]["orders"]] == [d["OrderNumber"]]
    assert body["invoiceHeader"]["customerInvoiceStatus"] == "Created"
    assert [(r["product"]["productNumber"], r["salesData"]["quantity"]) for r in body["invoiceRows"]] == [(pn, 2)]
    order = fetched(w, d, "CustomerOrders/")
    assert invoice in [i["invoiceNumber"] for i in order["orderHeader"]["customerInvoices"]]
    listed = w.get(f"CustomerInvoices?orderNumber={d['OrderNumber']}")["customerInvoiceList"]
    assert [i["invoiceNumber"] for i in listed] == [invoice]


def customer_invoice_changed(w: World) -> None:
    pn = w.product(14)
    w.fake.stock(pn, "1", 1)
    invoice = w.api("POST", "CustomerOrderInvoices", json=order_body("EVERY-PAID", [row(pn, 1)]))["invoiceNumber"]
    w.mock(f"/backoffice/invoices/{invoice}/change")
    d = w.hook("CustomerInvoiceChanged", InvoiceNumber=invoice)
    assert fetched(w, d, "CustomerInvoices/")["invoiceHeader"]["customerInvoiceStatus"] == "InvoiceSent"
    w.mock(f"/backoffice/invoices/{invoice}/change")
    d = w.hook("CustomerInvoiceChanged", InvoiceNumber=invoice)
    paid = fetched(w, d, "CustomerInvoices/")["invoiceHeader"]
    assert paid["customerInvoiceStatus"] == "Paid" and paid["payDate"] is not None


CAUSES: dict[str, Callable[[World], None]] = {
    "OrderPicked": order_picked,
    "OrderReserved": order_reserved,
    "OrderCancelled": order_cancelled,
    "BalanceChanged": balance_changed,
    "AvailableBalanceChanged": available_balance_changed,
    "OrderDeliveryDataChanged": order_delivery_data_changed,
    "PurchasePartiallyDelivered": purchase_partially_delivered,
    "PurchaseCancelled": purchase_cancelled,
    "PurchaseDelivered": purchase_delivered,
    "ProductCreated": product_created,
    "ProductChanged": product_changed,
    "OrderCreated": order_created,
    "CustomerCreated": customer_created,
    "CustomerChanged": customer_changed,
    "OfferCreated": offer_created,
    "OfferChanged": offer_changed,
    "CustomerInvoiceCreated": customer_invoice_created,
    "CustomerInvoiceChanged": customer_invoice_changed,
}


def test_every_action_has_a_cause_here() -> None:
    assert list(CAUSES) == list(ACTIONS)  # the same 18, nothing skipped, nothing extra
    assert len(ACTIONS) == 18


@pytest.fixture
def world() -> Iterator[World]:
    with serving() as receiver, running(fake_settings(subscription(receiver.url))) as fake:
        yield World(fake, receiver)


@pytest.mark.parametrize("action", list(ACTIONS))
def test_cause_hook_and_follow_up_fetch(world: World, action: str) -> None:
    CAUSES[action](world)
    assert action in {a for a, _ in world.notes}


def test_the_follow_up_fetch_answers_for_every_delivered_details() -> None:
    """All 18 causes against one fake: every notification that arrived (the causes' side effects included: balance
    hooks of picks and arrivals, OrderCreated of an invoiced order...) is signed, and the fetch its Details call for
    answers 200."""
    with serving() as receiver, running(fake_settings(subscription(receiver.url))) as fake:
        w = World(fake, receiver)
        for cause in CAUSES.values():
            cause(w)
        fake.settle()
        received = list(receiver.received)
        for r in received:
            assert_signed(r)
        notes = [(n["Action"], n["Details"]) for r in received for n in r.json["Notifications"]]
        assert {a for a, _ in notes} == set(ACTIONS)
        checked: set[str] = set()
        for action, details in notes:
            assert set(details) == DETAILS[action], (action, details)
            for path, body in follow_up(w, details):
                assert body, (action, path)
            checked.add(action)
    assert checked == set(ACTIONS)
    assert len(notes) > len(ACTIONS)
