"""The back office: purchases, new products, other channels, offers, invoices, and the simulation that gives
every one of the 18 webhook actions a cause - on the virtual clock, advanced instead of slept on."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

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

ORDER = {"OrderNumber", "ExternalOrderNumber", "WarehouseNumber"}
PURCHASE = {"PurchaseOrderNumber", "WarehouseNumber"}
DETAIL_KEYS: dict[str, set[str]] = {  # the contract, §2
    "AvailableBalanceChanged": {"ProductNumber", "WarehouseNumber", "AvailableBalance"},
    "BalanceChanged": {"ProductNumber", "WarehouseNumber", "Balance"},
    "OrderCreated": ORDER, "OrderReserved": ORDER, "OrderPicked": ORDER, "OrderCancelled": ORDER,
    "OrderDeliveryDataChanged": ORDER | {"ExpectedDeliveryDate"},
    "ProductCreated": {"ProductNumber"}, "ProductChanged": {"ProductNumber"},
    "CustomerCreated": {"CustomerNumber"}, "CustomerChanged": {"CustomerNumber"},
    "PurchasePartiallyDelivered": PURCHASE, "PurchaseDelivered": PURCHASE, "PurchaseCancelled": PURCHASE,
    "OfferCreated": {"OfferNumber"}, "OfferChanged": {"OfferNumber"},
    "CustomerInvoiceCreated": {"InvoiceNumber", "OrderNumber"}, "CustomerInvoiceChanged": {"InvoiceNumber", "OrderNumber"},
}
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
    r = client.post("/_mock/clock/advance", json={"Seconds": seconds})
    assert r.status_code == 200, r.text


def token(client: TestClient) -> dict[str, str]:
    r = client.post("/api/token", data={"grant_type": "client_credentials", "client_id": "demo",
                                        "client_secret": "demo-secret"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def active_product(rt: Runtime, index: int = 0) -> str:
    return [p.number for p in rt.backend.state.products.values() if p.status == "Active"][index]


# ---------------------------------------------------------------------------------------------- purchases
def test_a_purchase_arrives_in_parts_and_stock_rises(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    pn = active_product(rt)
    before = rt.backend.state.stock[(pn, "2")].on_hand
    r = client.post("/_mock/backoffice/purchases",
                    json={"WarehouseNumber": "2", "Lines": [{"ProductNumber": pn, "Quantity": 30}]})
    assert r.status_code == 201, r.text
    number = r.json()["PurchaseOrderNumber"]
    assert r.json()["Status"] == "Open" and rec.events == []  # XTND has no hook for placing a purchase

    r = client.post(f"/_mock/backoffice/purchases/{number}/receive", json={"Quantity": 10})
    assert r.status_code == 200 and r.json()["Status"] == "PartiallyDelivered"
    assert rec.actions() == ["BalanceChanged", "AvailableBalanceChanged", "PurchasePartiallyDelivered"]
    assert rec.of("BalanceChanged")[0] == {"ProductNumber": pn, "WarehouseNumber": "2", "Balance": before + 10}
    assert rec.of("PurchasePartiallyDelivered")[0] == {"PurchaseOrderNumber": number, "WarehouseNumber": "2"}

    r = client.post(f"/_mock/backoffice/purchases/{number}/receive")  # the rest
    assert r.status_code == 200 and r.json()["Status"] == "Delivered"
    assert rec.actions()[-1] == "PurchaseDelivered"
    assert rt.backend.state.stock[(pn, "2")].on_hand == before + 30

    r = client.post(f"/_mock/backoffice/purchases/{number}/receive")
    assert r.status_code == 422 and r.json()["ErrorType"] == "Validation"


def test_a_cancelled_purchase_keeps_what_arrived(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    pn = active_product(rt, 1)
    number = client.post("/_mock/backoffice/purchases", json={
        "WarehouseNumber": "1", "Lines": [{"ProductNumber": pn, "Quantity": 5}, {"ProductNumber": pn, "Quantity": 5}]
    }).json()["PurchaseOrderNumber"]
    client.post(f"/_mock/backoffice/purchases/{number}/receive", json={"Quantity": 4})
    on_hand = rt.backend.state.stock[(pn, "1")].on_hand
    r = client.post(f"/_mock/backoffice/purchases/{number}/cancel")
    assert r.status_code == 200 and r.json()["Status"] == "Cancelled"
    assert r.json()["Lines"] == [{"ProductNumber": pn, "QuantityDue": 6}]
    assert rec.of("PurchaseCancelled") == [{"PurchaseOrderNumber": number, "WarehouseNumber": "1"}]
    assert rt.backend.state.stock[(pn, "1")].on_hand == on_hand
    assert client.post(f"/_mock/backoffice/purchases/{number}/cancel").status_code == 422


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/_mock/backoffice/purchases", {"WarehouseNumber": "9", "Lines": [{"ProductNumber": "100000", "Quantity": 1}]},
         422, "WarehouseNumber"),
        ("/_mock/backoffice/purchases", {"WarehouseNumber": "1", "Lines": [{"ProductNumber": "nope", "Quantity": 1}]},
         422, "Lines.ProductNumber"),
        ("/_mock/backoffice/purchases", {"WarehouseNumber": "1", "Lines": [{"ProductNumber": "100000", "Quantity": 0}]},
         422, "Lines.Quantity"),
        ("/_mock/backoffice/purchases", {"WarehouseNumber": "1", "Lines": []}, 422, "Lines"),
        ("/_mock/backoffice/purchases/123/receive", {}, 404, "purchaseOrderNumber"),
        ("/_mock/backoffice/purchases/123/cancel", None, 404, "purchaseOrderNumber"),
        ("/_mock/backoffice/products", {"Name": " "}, 422, "Name"),
        ("/_mock/backoffice/products", {"Name": "X", "ProductNumber": "100000"}, 409, "ProductNumber"),
        ("/_mock/backoffice/products", {"Name": "X", "Colour": "red"}, 400, "Colour"),
    ],
)
def test_refusals_speak_the_error_envelope(fake: tuple[TestClient, Runtime, Recorder], path: str,
                                           body: dict[str, Any] | None, status: int, field: str) -> None:
    client, _, rec = fake
    r = client.post(path, json=body) if body is not None else client.post(path)
    assert r.status_code == status, r.text
    envelope = r.json()
    assert envelope["ErrorType"] == "Validation"
    assert field in [e["Field"] for e in envelope["Errors"]], envelope
    assert rec.events == []


# ---------------------------------------------------------------------------------------------- products
def test_a_new_product_is_listed_in_every_warehouse(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    r = client.post("/_mock/backoffice/products", json={"Name": "Kaffemugg Ny", "ProductNumber": "NY 1/A",
                                                        "BasePrice": 129.0, "OnHand": 7})
    assert r.status_code == 201, r.text
    assert rec.actions()[0] == "ProductCreated" and rec.of("ProductCreated") == [{"ProductNumber": "NY 1/A"}]
    assert Counter(rec.actions()[1:]) == {"BalanceChanged": 3, "AvailableBalanceChanged": 3}
    headers = token(client)
    rows = client.get("/api/ProductAvailability", params={"productNumber": "NY 1/A"}, headers=headers).json()
    assert sorted((i["WarehouseNumber"], i["AvailableBalance"]) for i in rows["Items"]) == [
        ("1", 7), ("2", 7), ("3", 7)]
    listed = client.get("/api/Products", params={"pageSize": 1000}, headers=headers).json()["Items"]
    assert "NY 1/A" in {i["ProductNumber"] for i in listed}


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
    on_hand, reserved = item.on_hand, item.reserved
    r = client.post("/_mock/backoffice/channel-sales",
                    json={"ProductNumber": pn, "WarehouseNumber": "1", "Quantity": 2, "Mode": "reserve"})
    assert r.json()["HeldByChannel"] == 2 and rec.actions() == ["AvailableBalanceChanged"]
    r = client.post("/_mock/backoffice/channel-sales",
                    json={"ProductNumber": pn, "WarehouseNumber": "1", "Quantity": 3, "Mode": "release"})
    assert r.status_code == 422  # a channel releases only what it holds: the webshop's reservations are not its
    client.post("/_mock/backoffice/channel-sales", json={"ProductNumber": pn, "WarehouseNumber": "1", "Mode": "ship"})
    assert (item.on_hand, item.reserved) == (on_hand - 2, reserved)
    # on-hand and reserved fell together: available stays where the reservation took it, so no second hook
    assert rec.actions()[1:] == ["BalanceChanged"]


def test_offers_and_invoices(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    pn = active_product(rt)
    r = client.post("/_mock/backoffice/offers", json={"CustomerNumber": "10001",
                                                      "Lines": [{"ProductNumber": pn, "Quantity": 12}]})
    assert r.status_code == 201, r.text
    offer = r.json()["OfferNumber"]
    assert client.put(f"/_mock/backoffice/offers/{offer}", json={"Status": "Accepted"}).status_code == 200
    assert client.put(f"/_mock/backoffice/offers/{offer}", json={"Status": "Declined"}).status_code == 422
    assert rec.of("OfferCreated") == rec.of("OfferChanged") == [{"OfferNumber": offer}]

    with pytest.raises(DomainError):
        ops.change_invoice(rt.backend, "999999")
    headers = token(client)
    order = client.post("/api/CustomerOrders", headers=headers, json={
        "ExternalOrderNumber": "WEB-1", "CustomerNumber": "10001", "WarehouseNumber": "1",
        "Lines": [{"ProductNumber": pn, "Quantity": 1, "UnitPrice": 10.0, "Currency": "SEK"}]}).json()
    number = order["OrderNumber"]
    assert client.post(f"/_mock/backoffice/invoices/{number}/change").status_code == 404  # not invoiced
    invoice = client.post(f"/_mock/orders/{number}/pick").json()["InvoiceNumber"]
    assert client.post(f"/_mock/backoffice/invoices/{invoice}/change").status_code == 200
    assert rec.of("CustomerInvoiceChanged") == [{"InvoiceNumber": invoice, "OrderNumber": number}]


# ---------------------------------------------------------------------------------------------- the simulation
def test_a_webshop_order_moves_through_the_warehouse_on_its_own() -> None:
    config = SimulationSettings(cancel_share=0, delivery_date_share=0, jitter=0, orders_per_hour=0)
    app, rt, _ = wire(small(simulate=True), config)
    with TestClient(app) as client:
        headers = token(client)
        pn = next(p.number for p in rt.backend.state.products.values()
                  if p.status == "Active" and rt.backend.state.stock[(p.number, "1")].on_hand > 0)
        r = client.post("/api/CustomerOrders", headers=headers, json={
            "ExternalOrderNumber": "WEB-7", "CustomerNumber": "10001", "WarehouseNumber": "1",
            "Lines": [{"ProductNumber": pn, "Quantity": 1, "UnitPrice": 10.0, "Currency": "SEK"}]})
        number = r.json()["OrderNumber"]

        def status() -> str:
            result: str = client.get(f"/api/CustomerOrders/{number}", headers=headers).json()["Status"]
            return result

        advance(client, 119)
        assert status() == "Created"
        advance(client, 1)
        assert status() == "Reserved"  # after 2 minutes: picking started, the webshop can no longer change it
        advance(client, 479)
        assert status() == "Reserved"
        advance(client, 1)  # 10 minutes after creation: shipped
        picked = client.get(f"/api/CustomerOrders/{number}", headers=headers).json()
    assert picked["Status"] == "Picked" and picked["Shipments"][0]["TrackingNumber"]
    assert picked["InvoiceNumber"]


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
    # a sensible day: orders mostly picked, a few cancelled, a few dates moved
    assert seen["OrderPicked"] > 10 * seen["OrderCancelled"] > 0
    assert seen["OrderCreated"] >= seen["OrderReserved"] >= seen["OrderPicked"]
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
        r = client.post("/_mock/backoffice/tick")
        assert r.status_code == 200 and isinstance(r.json()["Actions"], dict)
        assert client.get("/_mock/backoffice").json()["Simulating"] is True
        assert client.post("/_mock/reset").status_code == 200
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
        headers = token(client)
        r = client.post("/api/CustomerOrders", headers=headers, json={
            "ExternalOrderNumber": "WEB-9", "CustomerNumber": "10001", "WarehouseNumber": "1",
            "Lines": [{"ProductNumber": active_product(rt), "Quantity": 1, "UnitPrice": 10.0, "Currency": "SEK"}]})
        number = r.json()["OrderNumber"]
        advance(client, 200)
        assert rt.backend.state.orders[number].status == "Reserved"
    rt.store.close()  # type: ignore[union-attr]

    app2, rt2, _ = wire(settings, config)  # the timers died with the process; the plan is made again
    with TestClient(app2) as client:
        advance(client, 600)
    assert rt2.backend.state.orders[number].status == "Picked"
