"""CustomerOrders: idempotent create, the lock after Reserved, and the stock ledger behind every move."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.xtnd_support import assert_error, assert_ledger_consistent, balance, line, order_body

State = Callable[[], dict[str, Any]]


def available(client: TestClient, h: dict[str, str], product: str, warehouse: str = "1") -> int:
    items = client.get("/api/ProductAvailability", headers=h,
                       params={"productNumber": product, "warehouseNumber": warehouse}).json()["Items"]
    assert len(items) == 1
    value: int = items[0]["AvailableBalance"]
    return value


def test_create_returns_201_with_the_full_order_and_keeps_prices(client: TestClient,
                                                                 auth_headers: dict[str, str]) -> None:
    body = order_body("WEB-1", lines=[line("100003", 2, 12.34), line("KM 1007", 1, 0.5)],
                      ExpectedDeliveryDate="2026-01-09")
    r = client.post("/api/CustomerOrders", headers=auth_headers, json=body)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["ExternalOrderNumber"] == "WEB-1"
    assert order["Status"] == "Created"
    assert order["ExpectedDeliveryDate"] == "2026-01-09"
    assert order["DeliveryAddress"] == body["DeliveryAddress"]
    assert [(ln["ProductNumber"], ln["Quantity"], ln["UnitPrice"]) for ln in order["Lines"]] == [
        ("100003", 2, 12.34), ("KM 1007", 1, 0.5)]
    assert client.get(f"/api/CustomerOrders/{order['OrderNumber']}", headers=auth_headers).json() == order


def test_identical_retry_is_200_with_the_same_order_even_with_unknown_fields(
    client: TestClient, auth_headers: dict[str, str], fetch_state: State
) -> None:
    body = order_body("WEB-2")
    first = client.post("/api/CustomerOrders", headers=auth_headers, json=body)
    assert first.status_code == 201
    before = fetch_state()
    # same body, keys in another order and fields XTND's models may grow: equal once parsed
    retry_body = {"FutureField": {"x": 1}, **dict(reversed(list(body.items()))),
                  "Lines": [{**body["Lines"][0], "LineComment": "new in v2"}]}
    retry = client.post("/api/CustomerOrders", headers=auth_headers, json=retry_body)
    assert retry.status_code == 200, retry.text
    assert retry.json() == first.json()
    assert fetch_state() == before, "a safe retry changes nothing"
    assert len([o for o in before["Orders"] if o["ExternalOrderNumber"] == "WEB-2"]) == 1


def test_same_external_number_with_a_different_body_is_409(client: TestClient, auth_headers: dict[str, str],
                                                            fetch_state: State) -> None:
    assert client.post("/api/CustomerOrders", headers=auth_headers, json=order_body("WEB-3")).status_code == 201
    before = fetch_state()
    changed = order_body("WEB-3", lines=[line("100003", 3)])
    assert_error(client.post("/api/CustomerOrders", headers=auth_headers, json=changed), 409,
                 field="ExternalOrderNumber")
    assert fetch_state() == before


def test_put_changes_lines_and_delivery_data_while_created(client: TestClient, auth_headers: dict[str, str],
                                                          fetch_state: State) -> None:
    order = client.post("/api/CustomerOrders", headers=auth_headers, json=order_body("WEB-4")).json()
    n = order["OrderNumber"]
    r = client.put(f"/api/CustomerOrders/{n}", headers=auth_headers,
                   json={"Lines": [line("100003", 5)], "ExpectedDeliveryDate": "2026-02-01", "Unknown": True})
    assert r.status_code == 200, r.text
    assert r.json()["Lines"][0]["Quantity"] == 5
    assert r.json()["ExpectedDeliveryDate"] == "2026-02-01"
    assert r.json()["DeliveryMethod"] == order["DeliveryMethod"], "fields not given are kept"
    assert balance(fetch_state(), "100003")["Reserved"] == 5


@pytest.mark.parametrize("move", ["reserve", "pick", "cancel"])
def test_put_and_cancel_are_refused_once_the_order_left_created(
    client: TestClient, auth_headers: dict[str, str], fetch_state: State, move: str
) -> None:
    n = client.post("/api/CustomerOrders", headers=auth_headers, json=order_body(f"WEB-L-{move}")).json()["OrderNumber"]
    assert client.post(f"/_mock/orders/{n}/{move}").status_code == 200
    before = fetch_state()
    for r in (client.put(f"/api/CustomerOrders/{n}", headers=auth_headers, json={"DeliveryMethod": "Express"}),
              client.post(f"/api/CustomerOrders/{n}/cancel", headers=auth_headers)):
        body = assert_error(r, 422, field="OrderNumber")
        assert "locked" in body["Message"]
    assert fetch_state() == before


def test_cancel_from_the_webshop_releases_the_reservation(client: TestClient, auth_headers: dict[str, str],
                                                          fetch_state: State) -> None:
    start = available(client, auth_headers, "100003")
    n = client.post("/api/CustomerOrders", headers=auth_headers,
                    json=order_body("WEB-5", lines=[line("100003", 4)])).json()["OrderNumber"]
    assert available(client, auth_headers, "100003") == start - 4
    r = client.post(f"/api/CustomerOrders/{n}/cancel", headers=auth_headers)
    assert r.status_code == 200
    assert r.json()["Status"] == "Cancelled"
    assert available(client, auth_headers, "100003") == start
    assert_error(client.post("/api/CustomerOrders/999999/cancel", headers=auth_headers), 404, field="orderNumber")


def test_stock_ledger_through_create_cancel_and_pick(client: TestClient, auth_headers: dict[str, str],
                                                     fetch_state: State) -> None:
    """on-hand - reserved = available for every item after every step; each step moves exactly what it should."""
    pn = "100003"
    assert client.post("/_mock/stock", json={"ProductNumber": pn, "WarehouseNumber": "1", "OnHand": 50}).status_code == 200
    s0 = fetch_state()
    assert_ledger_consistent(s0)
    b0 = balance(s0, pn)
    assert (b0["OnHand"], b0["Reserved"], b0["AvailableBalance"]) == (50, 0, 50)

    a = client.post("/api/CustomerOrders", headers=auth_headers, json=order_body("L-1", lines=[line(pn, 5)])).json()
    s1 = fetch_state()
    assert_ledger_consistent(s1)
    assert balance(s1, pn) == {**b0, "Reserved": 5, "AvailableBalance": 45}, "creating reserves"
    assert available(client, auth_headers, pn) == 45

    b = client.post("/api/CustomerOrders", headers=auth_headers, json=order_body("L-2", lines=[line(pn, 8)])).json()
    client.post(f"/api/CustomerOrders/{a['OrderNumber']}/cancel", headers=auth_headers)
    s2 = fetch_state()
    assert_ledger_consistent(s2)
    assert balance(s2, pn) == {**b0, "Reserved": 8, "AvailableBalance": 42}, "cancelling releases"

    picked = client.post(f"/_mock/orders/{b['OrderNumber']}/pick").json()
    s3 = fetch_state()
    assert_ledger_consistent(s3)
    assert balance(s3, pn) == {**b0, "OnHand": 42, "Reserved": 0, "AvailableBalance": 42}, "picking consumes"
    assert picked["Status"] == "Picked"
    assert picked["Lines"][0]["PickedQuantity"] == 8
    shipment = picked["Shipments"][0]
    assert shipment["Carrier"] and shipment["TrackingNumber"] and shipment["Lines"][0]["Quantity"] == 8
    seen = client.get(f"/api/CustomerOrders/{b['OrderNumber']}", headers=auth_headers).json()
    assert seen["Shipments"] == picked["Shipments"]
    # other items were not touched by any of it
    untouched = lambda s: [x for x in s["Balances"] if x["ProductNumber"] != pn]  # noqa: E731
    assert untouched(s3) == untouched(s0)


def test_ordering_more_than_available_backorders(client: TestClient, auth_headers: dict[str, str],
                                                 fetch_state: State) -> None:
    client.post("/_mock/stock", json={"ProductNumber": "100003", "WarehouseNumber": "1", "OnHand": 2})
    r = client.post("/api/CustomerOrders", headers=auth_headers, json=order_body("BO-1", lines=[line("100003", 5)]))
    assert r.status_code == 201
    b = balance(fetch_state(), "100003")
    assert (b["OnHand"], b["Reserved"], b["AvailableBalance"]) == (2, 5, -3)
    picked = client.post(f"/_mock/orders/{r.json()['OrderNumber']}/pick").json()
    assert picked["Lines"][0]["PickedQuantity"] == 2, "a short pick ships what is on hand"
    b = balance(fetch_state(), "100003")
    assert (b["OnHand"], b["Reserved"], b["AvailableBalance"]) == (0, 0, 0)


def test_oversell_can_be_refused_by_configuration() -> None:
    from mock_xtnd.app import create_app
    from mock_xtnd.settings import Settings

    with TestClient(create_app(Settings(clock="virtual", allow_oversell=False))) as c:
        token = c.post("/api/token", data={"grant_type": "client_credentials", "client_id": "demo",
                                           "client_secret": "demo-secret"}).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        c.post("/_mock/stock", json={"ProductNumber": "100003", "WarehouseNumber": "1", "OnHand": 2})
        assert_error(c.post("/api/CustomerOrders", headers=h, json=order_body("OS-1", lines=[line("100003", 3)])),
                     422, field="Lines")
        assert c.post("/api/CustomerOrders", headers=h,
                      json=order_body("OS-2", lines=[line("100003", 2)])).status_code == 201


def test_order_list_returns_summaries(client: TestClient, auth_headers: dict[str, str]) -> None:
    numbers = [client.post("/api/CustomerOrders", headers=auth_headers, json=order_body(f"LS-{i}")).json()["OrderNumber"]
               for i in range(3)]
    items = client.get("/api/CustomerOrders", headers=auth_headers).json()["Items"]
    assert [i["OrderNumber"] for i in items] == numbers
    assert set(items[0]) == {"OrderNumber", "ExternalOrderNumber", "Status", "ChangedAt"}
    assert len(set(numbers)) == 3
