"""The back office: purchases, new products, other channels, offers, invoices, and the simulation that gives
every one of the 18 webhook actions a cause - on the virtual clock, advanced instead of slept on."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.domain import backoffice as ops
from mock_xtnd.domain.errors import DomainError
from mock_xtnd.domain.events import ACTIONS, DomainEvent
from mock_xtnd.runtime import Runtime
from mock_xtnd.settings import CatalogueSettings, Settings, SubscriptionSettings
from mock_xtnd.simulate.backoffice import BackOffice
from mock_xtnd.simulate.config import SimulationSettings
from tests.support.receiver import Receiver
from tests.support.xtnd import API, CONTROL, DETAILS, assert_invalid, assert_message, basic, order_body, row

DETAIL_KEYS = DETAILS  # the contract, §2 (docs/wire.md, "Webhooks")
DAY = 86_400


def wire(settings: Settings, config: SimulationSettings | None = None) -> tuple[FastAPI, Runtime, BackOffice]:
    """The app with a BackOffice part (create_app may already wire one; then that one is used)."""
    rt = Runtime(settings)
    app = create_app(runtime=rt)
    existing = [p for p in rt.parts if isinstance(p, BackOffice)]
    if existing:
        if config is not None:
            existing[0].config = config
        return app, rt, existing[0]
    bo = BackOffice(rt, config)
    rt.add_part(bo)
    admin = next(r.app for r in app.routes if getattr(r, "path", "") == "/_mock")  # type: ignore[attr-defined]
    for router in bo.admin_routers():
        admin.include_router(router)
    return app, rt, bo


def small(**extra: Any) -> Settings:
    extra.setdefault("catalogue", CatalogueSettings(products=40, warehouses=3, customers=10))
    extra.setdefault("quirks", {"transient_errors": 0})  # the transient-400 quirk is not what these tests are about
    return Settings(clock="virtual", seed=1, **extra)


class Recorder:
    def __init__(self, rt: Runtime) -> None:
        self.events: list[DomainEvent] = []
        rt.backend.after_commit.append(self.events.extend)

    def actions(self) -> list[str]:
        return [e.action for e in self.events]

    def of(self, action: str) -> list[dict[str, Any]]:
        return [e.details for e in self.events if e.action == action]


@pytest.fixture
def fake() -> Iterator[tuple[TestClient, Runtime, Recorder]]:
    app, rt, _ = wire(small())
    rec = Recorder(rt)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, rt, rec


def advance(client: TestClient, seconds: float) -> None:
    r = client.post("/_mock/clock/advance", json={"seconds": seconds})
    assert r.status_code == 200, r.text


def active_product(rt: Runtime, index: int = 0) -> str:
    return [p.number for p in rt.backend.state.products.values() if p.status == "Active"][index]


def post_order(client: TestClient, external: str, product: str, quantity: int = 1) -> str:
    """A webshop order through the API; its orderNumber."""
    r = client.post(f"{API}/CustomerOrders", headers=basic(), json=order_body(external, [row(product, quantity)]))
    assert r.status_code == 200, r.text
    number: str = r.json()["orderHeader"]["orderNumber"]
    return number


def order_header(client: TestClient, number: str) -> dict[str, Any]:
    r = client.get(f"{API}/CustomerOrders/{number}", headers=basic())
    assert r.status_code == 200, r.text
    header: dict[str, Any] = r.json()["orderHeader"]
    return header


# ---------------------------------------------------------------------------------------------- purchases
def test_a_purchase_arrives_in_parts_and_stock_rises(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    pn = active_product(rt)
    before = rt.backend.state.stock[(pn, "2")].on_hand
    r = client.post("/_mock/backoffice/purchases",
                    json={"warehouse": "2", "rows": [{"productNumber": pn, "quantity": 30}], "expectedInDays": 3})
    assert r.status_code == 201, r.text
    number = r.json()["purchaseNumber"]
    assert r.json()["status"] == "Open" and rec.events == []  # XTND has no hook for placing a purchase
    # ... but ProductAvailability shows what is expected, and when
    pa = client.get(f"{API}/ProductAvailability/{quote(pn, safe='')}/2", headers=basic()).json()
    assert (pa["totalExpectedReceivingFromPurchase"], pa["quantityOnNextReceiving"]) == (30, 30)
    assert pa["nextReceivingDate"] == rt.dates.text(rt.clock.now_ms() + 3 * DAY * 1000)

    r = client.post(f"/_mock/backoffice/purchases/{number}/receive", json={"quantity": 10})
    assert r.status_code == 200 and r.json()["status"] == "PartiallyDelivered"
    assert r.json()["rows"] == [{"productNumber": pn, "quantityDue": 20}]
    assert rec.actions() == ["BalanceChanged", "AvailableBalanceChanged", "PurchasePartiallyDelivered"]
    assert rec.of("BalanceChanged")[0] == {"ProductNumber": pn, "Warehouse": "2", "Balance": before + 10}
    assert rec.of("PurchasePartiallyDelivered")[0] == {"PurchaseNumber": number, "Warehouse": "2"}

    r = client.post(f"/_mock/backoffice/purchases/{number}/receive", headers=CONTROL)  # the rest
    assert r.status_code == 200 and r.json()["status"] == "Delivered"
    assert rec.actions()[-1] == "PurchaseDelivered"
    assert rt.backend.state.stock[(pn, "2")].on_hand == before + 30
    pa = client.get(f"{API}/ProductAvailability/{quote(pn, safe='')}/2", headers=basic()).json()
    assert (pa["totalExpectedReceivingFromPurchase"], pa["nextReceivingDate"]) == (0, None)

    seen = len(rec.events)
    assert_message(client.post(f"/_mock/backoffice/purchases/{number}/receive", headers=CONTROL), 400, "Delivered")
    assert len(rec.events) == seen


def test_a_cancelled_purchase_keeps_what_arrived(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    pn = active_product(rt, 1)
    number = client.post("/_mock/backoffice/purchases", json={
        "warehouse": "1", "rows": [{"productNumber": pn, "quantity": 5}, {"productNumber": pn, "quantity": 5}]
    }).json()["purchaseNumber"]
    client.post(f"/_mock/backoffice/purchases/{number}/receive", json={"quantity": 4})
    on_hand = rt.backend.state.stock[(pn, "1")].on_hand
    r = client.post(f"/_mock/backoffice/purchases/{number}/cancel", headers=CONTROL)
    assert r.status_code == 200 and r.json()["status"] == "Cancelled"
    assert r.json()["rows"] == [{"productNumber": pn, "quantityDue": 6}]
    assert rec.of("PurchaseCancelled") == [{"PurchaseNumber": number, "Warehouse": "1"}]
    assert rt.backend.state.stock[(pn, "1")].on_hand == on_hand
    assert_message(client.post(f"/_mock/backoffice/purchases/{number}/cancel", headers=CONTROL), 400, "Cancelled")


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/_mock/backoffice/purchases", {"warehouse": "1", "rows": [{"productNumber": "100000", "quantity": 0}]},
         400, "rows[0].quantity"),
        ("/_mock/backoffice/purchases", {"warehouse": "1", "rows": []}, 400, "rows"),
        ("/_mock/backoffice/purchases", {"warehouse": "1"}, 400, "rows"),
        ("/_mock/backoffice/purchases", {"WarehouseNumber": "1", "rows": [{"productNumber": "100000", "quantity": 1}]},
         400, "WarehouseNumber"),  # the old dialect's name is an unknown field now
        ("/_mock/backoffice/products", {"productName": " "}, 400, "productName"),
        ("/_mock/backoffice/products", {"productName": "X", "productNumber": " X"}, 400, "productNumber"),
        ("/_mock/backoffice/products", {"productName": "X", "price": -1}, 400, "price"),
        ("/_mock/backoffice/products", {"productName": "X", "colour": "red"}, 400, "colour"),
        ("/_mock/backoffice/customers", {"name": " "}, 400, "name"),
        ("/_mock/backoffice/channel-sales", {"productNumber": "100000", "warehouse": "1", "quantity": 0}, 400,
         "quantity"),
        ("/_mock/backoffice/offers", {"customerNumber": "10001", "rows": [{"productNumber": "100000", "quantity": 1}],
                                      "offerStatus": "Open"}, 400, "offerStatus"),
    ],
)
def test_bad_values_are_400s_naming_the_field(fake: tuple[TestClient, Runtime, Recorder], path: str,
                                              body: dict[str, Any], status: int, field: str) -> None:
    client, rt, rec = fake
    before = client.get("/_mock/truth").json()
    assert_invalid(client.post(path, json=body, headers=CONTROL), status, field)
    assert rec.events == []
    assert client.get("/_mock/truth").json() == before


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/_mock/backoffice/purchases", {"warehouse": "9", "rows": [{"productNumber": "100000", "quantity": 1}]},
         400, "'9'"),
        ("/_mock/backoffice/purchases", {"warehouse": "1", "rows": [{"productNumber": "nope", "quantity": 1}]},
         400, "'nope'"),
        ("/_mock/backoffice/purchases/123/receive", {}, 404, "123"),
        ("/_mock/backoffice/purchases/123/cancel", None, 404, "123"),
        ("/_mock/backoffice/products", {"productName": "X", "productNumber": "100000"}, 400, "already exists"),
        ("/_mock/backoffice/products", {"productName": "X", "productGroup": "TOYS"}, 400, "'TOYS'"),
        ("/_mock/backoffice/customers", {"name": "X", "customerGroup": "VIP"}, 400, "'VIP'"),
        ("/_mock/backoffice/offers", {"customerNumber": "99999", "rows": [{"productNumber": "100000", "quantity": 1}]},
         404, "99999"),
        ("/_mock/backoffice/channel-sales", {"productNumber": "100000", "warehouse": "1", "mode": "release"}, 400,
         "holds 0"),
        ("/_mock/backoffice/invoices/700999/change", None, 404, "700999"),
    ],
)
def test_refusals_say_what_is_wrong_and_change_nothing(fake: tuple[TestClient, Runtime, Recorder], path: str,
                                                       body: dict[str, Any] | None, status: int, says: str) -> None:
    client, _, rec = fake
    before = client.get("/_mock/truth").json()
    r = client.post(path, json=body, headers=CONTROL) if body is not None else client.post(path, headers=CONTROL)
    assert_message(r, status, says)
    assert rec.events == []
    assert client.get("/_mock/truth").json() == before


# ---------------------------------------------------------------------------------------------- products
def test_a_new_product_is_listed_in_every_warehouse(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    r = client.post("/_mock/backoffice/products", json={"productName": "Kaffemugg Ny", "productNumber": "NY 1/A",
                                                        "price": 129.0, "physicalBalance": 7})
    assert r.status_code == 201, r.text
    assert r.json()["productNumber"] == "NY 1/A" and r.json()["productData"]["productName"] == "Kaffemugg Ny"
    assert rec.actions()[0] == "ProductCreated" and rec.of("ProductCreated") == [{"ProductNumber": "NY 1/A"}]
    assert Counter(rec.actions()[1:]) == {"BalanceChanged": 3, "AvailableBalanceChanged": 3}
    rows = client.get(f"{API}/ProductAvailability", params={"productNumber": "NY 1/A"}, headers=basic()).json()
    assert sorted((i["warehouse"], i["availableBalanceNow"]) for i in rows["productAvailabilityList"]) == [
        ("1", 7), ("2", 7), ("3", 7)]
    listed = client.get(f"{API}/Products", params={"pageCount": 1000}, headers=basic()).json()
    assert sorted(i["warehouse"] for i in listed if i["productNumber"] == "NY 1/A") == ["1", "2", "3"]
    single = client.get(f"{API}/Products/{quote('NY 1/A', safe='')}", headers=basic()).json()
    assert single["productPrices"][0]["productPriceListRows"][0]["price"] == 129.0


def test_generated_product_numbers_never_collide(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    _, rt, rec = fake
    rng = random.Random(1)
    numbers = {ops.create_product(rt.backend, ops.ProductInput(name=f"P{i}"), rng).number for i in range(5)}
    assert len(numbers) == 5 and all(n.startswith("NP-") for n in numbers)
    assert len(rec.of("ProductCreated")) == 5


# ---------------------------------------------------------------------------------------------- other channels, offers, invoices
def test_other_channel_reserves_then_ships(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    pn = next(p.number for p in rt.backend.state.products.values() if rt.backend.state.stock[(p.number, "1")].on_hand >= 2)
    item = rt.backend.state.stock[(pn, "1")]
    on_hand, allocated = item.on_hand, item.allocated
    r = client.post("/_mock/backoffice/channel-sales",
                    json={"productNumber": pn, "warehouse": "1", "quantity": 2, "mode": "reserve"})
    assert r.json()["heldByChannel"] == 2 and rec.actions() == ["AvailableBalanceChanged"]
    assert r.json()["orderedQuantity"] == allocated + 2
    r = client.post("/_mock/backoffice/channel-sales",
                    json={"productNumber": pn, "warehouse": "1", "quantity": 3, "mode": "release"})
    # a channel releases only what it holds: the webshop's allocations are not its
    assert_message(r, 400, "holds 2")
    client.post("/_mock/backoffice/channel-sales", json={"productNumber": pn, "warehouse": "1", "mode": "ship"})
    assert (item.on_hand, item.allocated) == (on_hand - 2, allocated)
    # on-hand and reserved fell together: available stays where the reservation took it, so no second hook
    assert rec.actions()[1:] == ["BalanceChanged"]


def test_offers_and_invoices(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    pn = active_product(rt)
    r = client.post("/_mock/backoffice/offers", json={"customerNumber": "10001",
                                                      "rows": [{"productNumber": pn, "quantity": 12}]})
    assert r.status_code == 201, r.text
    offer = r.json()["offerNumber"]
    r = client.put(f"/_mock/backoffice/offers/{offer}", json={"offerStatus": "Accepted"})
    assert r.status_code == 200 and r.json()["offerStatus"] == "Accepted"
    assert_message(client.put(f"/_mock/backoffice/offers/{offer}", json={"offerStatus": "Declined"}), 400, "Accepted")
    assert rec.of("OfferCreated") == rec.of("OfferChanged") == [{"OfferNumber": offer}]

    with pytest.raises(DomainError):
        ops.change_invoice(rt.backend, "999999")
    rt.backend.set_stock(pn, "1", delta=1)  # so there is something to pick
    number = post_order(client, "WEB-1", pn)
    assert_message(client.post(f"/_mock/backoffice/invoices/{number}/change", headers=CONTROL), 404, number)  # not invoiced
    picked = client.post(f"/_mock/orders/{number}/pick", headers=CONTROL).json()["orderHeader"]
    (invoice,) = [i["invoiceNumber"] for i in picked["customerInvoices"]]
    r = client.post(f"/_mock/backoffice/invoices/{invoice}/change", headers=CONTROL)
    assert r.status_code == 200 and r.json() == {"invoiceNumber": invoice, "orderNumber": number,
                                                 "invoiceStatus": "InvoiceSent"}
    assert rec.of("CustomerInvoiceChanged") == [{"InvoiceNumber": invoice, "OrderNumber": number}]


# ---------------------------------------------------------------------------------------------- the simulation
def test_a_webshop_order_moves_through_the_warehouse_on_its_own() -> None:
    config = SimulationSettings(cancel_share=0, delivery_date_share=0, jitter=0, orders_per_hour=0)
    app, rt, _ = wire(small(simulate=True), config)
    with TestClient(app) as client:
        pn = next(p.number for p in rt.backend.state.products.values()
                  if p.status == "Active" and rt.backend.state.stock[(p.number, "1")].available > 0)
        number = post_order(client, "WEB-7", pn)

        def status() -> str:
            result: str = order_header(client, number)["orderStatus"]
            return result

        advance(client, 119)
        assert status() == "Created"
        advance(client, 1)
        assert status() == "Reserved"  # after 2 minutes: picking started, the webshop can no longer change it
        r = client.delete(f"{API}/CustomerOrders/{number}", headers=basic())
        assert_message(r, 400, "can no longer be changed")
        advance(client, 479)
        assert status() == "Reserved"
        advance(client, 1)  # 10 minutes after creation: shipped
        picked = order_header(client, number)
    assert picked["orderStatus"] == "Terminated" and picked["shipments"][0]["packages"]
    assert picked["customerInvoices"][0]["invoiceNumber"]


def test_an_order_short_of_stock_ships_what_is_on_hand_and_the_rest_once_it_arrives() -> None:
    quiet = SimulationSettings(cancel_share=0, delivery_date_share=0, jitter=0, orders_per_hour=0,
                               purchases_per_hour=0, channel_sales_per_hour=0, products_per_hour=0)
    app, rt, _ = wire(small(simulate=True), quiet)
    rec = Recorder(rt)
    with TestClient(app) as client:
        pn = active_product(rt)
        client.post("/_mock/stock", json={"productNumber": pn, "warehouse": "1", "physicalBalance": 2,
                                          "blockedBalance": 0})
        number = post_order(client, "WEB-SHORT", pn, 3)
        advance(client, 600)  # picked: 2 of 3 shipped
        header = order_header(client, number)
        assert header["orderStatus"] == "PartiallyDelivered" and len(header["shipments"]) == 1
        advance(client, 3600)  # picked again: nothing on hand, nothing changes
        assert order_header(client, number) == header
        client.post("/_mock/stock", json={"productNumber": pn, "warehouse": "1", "balanceDifference": 5})
        advance(client, 3600)  # the next pick ships the rest
        header = order_header(client, number)
        item = client.get(f"{API}/ProductAvailability/{quote(pn, safe='')}/1", headers=basic()).json()
    assert header["orderStatus"] == "Terminated"
    assert len(header["shipments"]) == len(header["customerInvoices"]) == 2
    assert (item["physicalBalance"], item["orderedQuantity"]) == (4, 0)
    assert [e.details["OrderNumber"] for e in rec.events if e.action == "OrderPicked"] == [number, number]


def simulate_day(seed: int = 1) -> list[DomainEvent]:
    app, rt, _ = wire(Settings(clock="virtual", seed=seed, simulate=True,
                               catalogue=CatalogueSettings(products=60, warehouses=3, customers=20)))
    rec = Recorder(rt)
    with TestClient(app) as client:
        advance(client, DAY)
    return rec.events


def test_one_simulated_day_causes_all_18_actions_with_the_contract_details() -> None:
    events = simulate_day()
    seen = Counter(e.action for e in events)
    assert set(seen) == set(ACTIONS), f"missing: {set(ACTIONS) - set(seen)}"
    for e in events:
        assert set(e.details) == DETAIL_KEYS[e.action], e
    # a sensible day: orders mostly picked, a few cancelled, a few dates moved (an order short of stock is picked
    # more than once: count orders, not picks)
    picked = {e.details["OrderNumber"] for e in events if e.action == "OrderPicked"}
    assert len(picked) > 10 * seen["OrderCancelled"] > 0
    assert seen["OrderCreated"] >= seen["OrderReserved"] >= len(picked)
    assert seen["OrderPicked"] == seen["CustomerInvoiceCreated"]  # one invoice per shipment
    assert 0 < seen["OrderDeliveryDataChanged"] < seen["OrderCreated"] / 4


def test_same_seed_same_day_other_seed_other_day() -> None:
    def signature(events: list[DomainEvent]) -> list[tuple[str, tuple[tuple[str, Any], ...], int]]:
        return [(e.action, tuple(sorted(e.details.items())), e.at_ms) for e in events]

    first = signature(simulate_day(1))
    assert first == signature(simulate_day(1))
    assert first != signature(simulate_day(2))


def test_a_round_by_hand_and_the_simulation_survive_a_reset() -> None:
    app, rt, _ = wire(small(simulate=True))
    rec = Recorder(rt)
    with TestClient(app) as client:
        r = client.post("/_mock/backoffice/tick", headers=CONTROL)
        assert r.status_code == 200 and isinstance(r.json()["actions"], dict)
        assert client.get("/_mock/backoffice").json()["simulating"] is True
        assert client.post("/_mock/reset", headers=CONTROL).status_code == 200
        rec.events.clear()
        advance(client, 6 * 3600)
    assert {"OrderCreated", "OrderPicked", "PurchaseDelivered"} <= set(rec.actions())


def test_every_action_is_delivered_signed_with_its_details() -> None:
    """The whole chain: simulated causes -> outbox -> a real receiver, all 18 actions with §2 Details."""
    busy = SimulationSettings(orders_per_hour=20, cancel_share=0.2, delivery_date_share=0.3,
                              invoice_change_share=0.5, invoice_change_after_seconds=600, products_per_hour=2,
                              customers_per_hour=2, purchases_per_hour=6, purchase_lead_seconds=1800,
                              offers_per_hour=4, offer_changes_per_hour=4, channel_sales_per_hour=10)
    with Receiver() as receiver:
        sub = SubscriptionSettings(name="shop", callback_url=receiver.url, secret="s3cret", triggers=list(ACTIONS))
        app, rt, _ = wire(small(simulate=True, subscriptions=[sub]), busy)
        with TestClient(app) as client:
            advance(client, 4 * 3600)
        notes = [n for env in receiver.envelopes() for n in env["Notifications"]]
    delivered = Counter(n["Action"] for n in notes)
    assert set(delivered) == set(ACTIONS), f"missing: {set(ACTIONS) - set(delivered)}"
    for n in notes:
        assert set(n["Details"]) == DETAIL_KEYS[n["Action"]], n


def test_orders_in_flight_move_on_after_a_restart_with_a_db(tmp_path: Any) -> None:
    settings = small(simulate=True, db=str(tmp_path / "state.db"))
    config = SimulationSettings(cancel_share=0, delivery_date_share=0, orders_per_hour=0, purchases_per_hour=0)
    app, rt, _ = wire(settings, config)
    with TestClient(app) as client:
        pn = active_product(rt)
        rt.backend.set_stock(pn, "1", delta=1)  # so the pick ships it whole
        number = post_order(client, "WEB-9", pn)
        advance(client, 200)
        assert rt.backend.state.orders[number].status == "Reserved"
    rt.store.close()  # type: ignore[union-attr]

    app2, rt2, _ = wire(settings, config)  # the timers died with the process; the plan is made again
    with TestClient(app2) as client:
        advance(client, 600)
    assert rt2.backend.state.orders[number].status == "Terminated"
