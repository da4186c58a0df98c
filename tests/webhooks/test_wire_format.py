"""The wire format, exactly: what a real HTTP receiver on loopback gets for each kind of change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.receiver import Received

from .conftest import (
    GUID,
    HEX32,
    SECRET,
    SIGNATURE,
    Fake,
    fake_settings,
    hand_signature,
    running,
    serving,
    subscription,
)

DETAILS_KEYS = {
    "AvailableBalanceChanged": {"ProductNumber", "WarehouseNumber", "AvailableBalance"},
    "BalanceChanged": {"ProductNumber", "WarehouseNumber", "Balance"},
    "OrderCreated": {"OrderNumber", "ExternalOrderNumber", "WarehouseNumber"},
    "OrderReserved": {"OrderNumber", "ExternalOrderNumber", "WarehouseNumber"},
    "OrderPicked": {"OrderNumber", "ExternalOrderNumber", "WarehouseNumber"},
    "OrderCancelled": {"OrderNumber", "ExternalOrderNumber", "WarehouseNumber"},
    "OrderDeliveryDataChanged": {"OrderNumber", "ExternalOrderNumber", "WarehouseNumber", "ExpectedDeliveryDate"},
    "CustomerCreated": {"CustomerNumber"},
    "CustomerInvoiceCreated": {"InvoiceNumber", "OrderNumber"},
}


def order_body(external: str, product: str, quantity: int = 2) -> dict[str, Any]:
    return {
        "ExternalOrderNumber": external, "CustomerNumber": "10001", "WarehouseNumber": "1",
        "DeliveryAddress": {"Name": "Anna Svensson", "Street": "Storgatan 1", "PostalCode": "11122",
                            "City": "Stockholm", "CountryCode": "SE"},
        "DeliveryMethod": "Standard",
        "Lines": [{"ProductNumber": product, "Quantity": quantity, "UnitPrice": 199.0, "Currency": "SEK"}],
    }


def the_one(received: list[Received], action: str, **match: Any) -> dict[str, Any]:
    found = [r.json["Notifications"][0]["Details"] for r in received
             if r.json["Notifications"][0]["Action"] == action
             and all(r.json["Notifications"][0]["Details"].get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"{action} {match}: {found}"
    return found[0]


@pytest.fixture(scope="module")
def every_kind() -> tuple[list[Received], dict[str, Any]]:
    """Cause each documented kind of change once through the public surfaces; return what arrived and the facts."""
    with serving() as receiver, running(fake_settings(subscription(receiver.url))) as fake:
        facts = cause_every_kind(fake)
        fake.settle()
    return list(receiver.received), facts


def cause_every_kind(fake: Fake) -> dict[str, Any]:
    products = fake.products()
    spaced = next(p for p in products if " " in p)  # product numbers are free text and may contain spaces
    plain = next(p for p in products if p.isdigit())
    facts: dict[str, Any] = {"spaced": spaced, "plain": plain}
    facts["spaced_move"] = fake.stock(spaced, "2", 7)
    fake.stock(plain, "1", 50)
    a = fake.api("POST", "/api/CustomerOrders", json=order_body("WEB-A", plain))
    fake.ok(fake.c.post(f"/_mock/orders/{a['OrderNumber']}/delivery-date", json={"ExpectedDeliveryDate": "2026-02-01"}))
    fake.ok(fake.c.post(f"/_mock/orders/{a['OrderNumber']}/reserve"))
    facts["a"] = fake.ok(fake.c.post(f"/_mock/orders/{a['OrderNumber']}/pick"))
    b = fake.api("POST", "/api/CustomerOrders", json=order_body("WEB-B", plain))
    facts["b"] = fake.ok(fake.c.post(f"/_mock/orders/{b['OrderNumber']}/cancel"))
    facts["customer"] = fake.api("POST", "/api/Customers", json={"ExternalCustomerNumber": "WEBCUST-9",
                                                                  "Name": "Anna Svensson"})
    return facts


def test_every_kind_of_change_arrives_with_the_documented_details(
        every_kind: tuple[list[Received], dict[str, Any]]) -> None:
    received, facts = every_kind
    seen = {r.json["Notifications"][0]["Action"] for r in received}
    assert seen == set(DETAILS_KEYS)
    for r in received:
        (note,) = r.json["Notifications"]
        assert set(note) == {"Action", "Details"}
        assert set(note["Details"]) == DETAILS_KEYS[note["Action"]], note

    a, b, spaced = facts["a"], facts["b"], facts["spaced"]
    move = facts["spaced_move"]
    assert the_one(received, "BalanceChanged", ProductNumber=spaced) == {
        "ProductNumber": spaced, "WarehouseNumber": "2", "Balance": move["OnHand"]}
    assert the_one(received, "AvailableBalanceChanged", ProductNumber=spaced) == {
        "ProductNumber": spaced, "WarehouseNumber": "2", "AvailableBalance": move["AvailableBalance"]}
    order_a = {"OrderNumber": a["OrderNumber"], "ExternalOrderNumber": "WEB-A", "WarehouseNumber": "1"}
    for action in ("OrderCreated", "OrderReserved", "OrderPicked"):
        assert the_one(received, action, OrderNumber=a["OrderNumber"]) == order_a
    assert the_one(received, "OrderDeliveryDataChanged") == {**order_a, "ExpectedDeliveryDate": "2026-02-01"}
    assert the_one(received, "OrderCancelled") == {
        "OrderNumber": b["OrderNumber"], "ExternalOrderNumber": "WEB-B", "WarehouseNumber": "1"}
    assert the_one(received, "CustomerCreated") == {"CustomerNumber": facts["customer"]["CustomerNumber"]}
    assert a["InvoiceNumber"]
    assert the_one(received, "CustomerInvoiceCreated") == {"InvoiceNumber": a["InvoiceNumber"],
                                                           "OrderNumber": a["OrderNumber"]}
    balances = [n["Details"]["Balance"] for r in received for n in r.json["Notifications"]
                if n["Action"] == "BalanceChanged" and n["Details"]["ProductNumber"] == facts["plain"]]
    assert balances == [50, 48]  # the back-office move, then the pick of 2
    assert all(isinstance(v, int) for v in balances)


def test_envelope_headers_and_bytes_are_exact(every_kind: tuple[list[Received], dict[str, Any]]) -> None:
    received, _ = every_kind
    assert received
    ids = set()
    for r in received:
        assert r.path == "/xtnd/webhooks"
        env = r.json
        assert list(env) == ["Id", "Attempt", "Properties", "Notifications"]
        assert HEX32.match(env["Id"]), env["Id"]
        assert env["Attempt"] == 1 and type(env["Attempt"]) is int
        assert set(env["Properties"]) == {"NotificationId"}
        assert GUID.match(env["Properties"]["NotificationId"]), env["Properties"]
        ids.add(env["Id"])

        # indented JSON, 2 spaces: byte for byte what json.dumps(indent=2) makes of the parsed body
        text = r.body.decode("utf-8")
        assert r.body == json.dumps(env, indent=2, ensure_ascii=False).encode("utf-8")
        lines = text.splitlines()
        assert len(lines) > 5 and lines[0] == "{" and lines[-1] == "}"
        assert lines[1].startswith('  "Id": ')
        assert all((len(ln) - len(ln.lstrip(" "))) % 2 == 0 for ln in lines)
        assert "\t" not in text

        assert r.headers["content-type"] == "application/json; charset=utf-8"
        sig = r.headers["ms-signature"]
        assert SIGNATURE.match(sig), sig
        assert sig == hand_signature(SECRET, r.body)
    assert len(ids) == len(received)  # one envelope per notification (no batching by default)
