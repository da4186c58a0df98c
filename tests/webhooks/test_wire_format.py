"""The wire format, exactly: what a real HTTP receiver on loopback gets for each kind of change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.receiver import Received
from tests.support.xtnd import CONTROL, DETAILS, customer_body, order_body, row

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

# the kinds of change this module causes, with their Details keys (docs/wire.md, "Webhooks")
DETAILS_KEYS = {action: DETAILS[action] for action in (
    "AvailableBalanceChanged", "BalanceChanged", "OrderCreated", "OrderReserved", "OrderPicked", "OrderCancelled",
    "OrderDeliveryDataChanged", "CustomerCreated", "CustomerInvoiceCreated")}


def new_order(fake: Fake, external: str, product: str, quantity: int = 2) -> str:
    body = order_body(external, [row(product, quantity, unit_price=199.0)], deliveryMethod="Standard",
                      deliveryAddress={"name1": "Anna Svensson", "address1": "Storgatan 1", "postalCode": "11122",
                                       "city": "Stockholm", "countryCode": "SE"})
    number: str = fake.api("POST", "CustomerOrders", json=body)["orderHeader"]["orderNumber"]
    return number


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
    facts["plain_move"] = fake.stock(plain, "1", 50)
    a = new_order(fake, "WEB-A", plain)
    fake.ok(fake.c.post(f"/_mock/orders/{a}/delivery-date", json={"askedDeliveryDate": "2026-02-01"}))
    facts["a_dated"] = fake.api("GET", f"CustomerOrders/{a}")
    fake.ok(fake.c.post(f"/_mock/orders/{a}/reserve", headers=CONTROL))
    facts["a"] = fake.ok(fake.c.post(f"/_mock/orders/{a}/pick", headers=CONTROL))
    b = new_order(fake, "WEB-B", plain)
    facts["b"] = fake.ok(fake.c.post(f"/_mock/orders/{b}/cancel", headers=CONTROL))
    facts["customer"] = fake.api("POST", "Customers", json=customer_body("Anna Svensson"))
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

    a, b, spaced = facts["a"]["orderHeader"], facts["b"]["orderHeader"], facts["spaced"]
    move = facts["spaced_move"]
    assert the_one(received, "BalanceChanged", ProductNumber=spaced) == {
        "ProductNumber": spaced, "Warehouse": "2", "Balance": move["physicalBalance"]}
    assert the_one(received, "AvailableBalanceChanged", ProductNumber=spaced) == {
        "ProductNumber": spaced, "Warehouse": "2", "AvailableBalance": move["availableBalanceNow"]}
    assert a["orderStatus"] == "Terminated" and b["orderStatus"] == "Annulled"
    order_a = {"OrderNumber": a["orderNumber"], "OrderNumberExternal": "WEB-A", "Warehouse": "1"}
    for action in ("OrderCreated", "OrderReserved", "OrderPicked"):
        assert the_one(received, action, OrderNumber=a["orderNumber"]) == order_a
    # the date as the API writes it (midnight UTC of the day given, in the tenant's offset)
    asked = facts["a_dated"]["orderHeader"]["askedDeliveryDate"]
    assert asked == "2026-02-01T01:00:00.000+01:00"
    assert the_one(received, "OrderDeliveryDataChanged") == {**order_a, "AskedDeliveryDate": asked}
    assert the_one(received, "OrderCancelled") == {
        "OrderNumber": b["orderNumber"], "OrderNumberExternal": "WEB-B", "Warehouse": "1"}
    assert the_one(received, "CustomerCreated") == {"CustomerNumber": facts["customer"]["customerNumber"]}
    (invoice,) = a["customerInvoices"]
    assert invoice["invoiceNumber"]
    assert the_one(received, "CustomerInvoiceCreated") == {"InvoiceNumber": invoice["invoiceNumber"],
                                                           "OrderNumber": a["orderNumber"]}
    balances = [n["Details"]["Balance"] for r in received for n in r.json["Notifications"]
                if n["Action"] == "BalanceChanged" and n["Details"]["ProductNumber"] == facts["plain"]]
    on_hand = facts["plain_move"]["physicalBalance"]
    assert balances == [on_hand, on_hand - 2]  # the back-office move, then the pick of 2
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
