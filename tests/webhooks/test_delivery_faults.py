"""Delivery faults as data, seeded and reproducible, set in the config and at /_mock/faults/deliveries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mock_xtnd.domain.clock import parse_iso
from mock_xtnd.settings import DeliveryFaultSettings
from tests.support.receiver import Received, Receiver
from tests.support.xtnd import CONTROL, order_body, row

from .conftest import (
    START,
    Fake,
    actions_of,
    assert_invalid,
    fake_settings,
    running,
    statuses,
    subscription,
    verifies,
)

BALANCE = ["BalanceChanged"]
NO_FAULTS = {"duplicate": 0.0, "reorderWindowSeconds": 0.0, "delaySeconds": 0.0, "jitterSeconds": 0.0,
             "drop": 0.0, "tamperSignature": 0.0, "batch": 1}


def seconds(iso: str) -> float:
    return (parse_iso(iso) - parse_iso(START)) / 1000


def refuse_bad_signatures(r: Received) -> int:
    return 204 if verifies(r) else 401


# ------------------------------------------------------------------------------------------------ the plan
def test_the_fault_plan_reads_and_updates_partially() -> None:
    with running(fake_settings()) as fake:
        assert fake.ok(fake.c.get("/_mock/faults/deliveries")) == NO_FAULTS
        assert fake.set_faults(duplicate=0.25, batch=3) == {**NO_FAULTS, "duplicate": 0.25, "batch": 3}
        assert fake.set_faults(drop=0.5) == {**NO_FAULTS, "duplicate": 0.25, "batch": 3, "drop": 0.5}
        assert fake.ok(fake.c.get("/_mock/faults/deliveries"))["drop"] == 0.5


def test_the_fault_plan_comes_from_the_config() -> None:
    plan = DeliveryFaultSettings(duplicate=0.5, reorder_window_seconds=30, tamper_signature=0.1, batch=2)
    with running(fake_settings(delivery_faults=plan)) as fake:
        assert fake.ok(fake.c.get("/_mock/faults/deliveries")) == {
            **NO_FAULTS, "duplicate": 0.5, "reorderWindowSeconds": 30.0, "tamperSignature": 0.1, "batch": 2}
        # a reset goes back to the config's plan
        fake.set_faults(duplicate=0)
        fake.ok(fake.c.post("/_mock/reset", headers=CONTROL))
        assert fake.ok(fake.c.get("/_mock/faults/deliveries"))["duplicate"] == 0.5


@pytest.fixture(scope="module")
def admin_only() -> Iterator[Fake]:
    with running(fake_settings()) as fake:
        yield fake


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"duplicates": 0.5}, "duplicates"),
        ({"Duplicate": 0.5}, "Duplicate"),  # the old PascalCase name is an unknown field now
        ({"drop": 1.5}, "drop"),
        ({"tamperSignature": -0.1}, "tamperSignature"),
        ({"batch": 0}, "batch"),
        ({"reorderWindowSeconds": "soon"}, "reorderWindowSeconds"),
    ],
)
def test_a_bad_fault_is_a_400_naming_the_field(admin_only: Fake, body: dict[str, Any], field: str) -> None:
    assert_invalid(admin_only.c.put("/_mock/faults/deliveries", json=body), 400, field)
    assert admin_only.ok(admin_only.c.get("/_mock/faults/deliveries")) == NO_FAULTS


# ------------------------------------------------------------------------------------------------ each fault
def test_duplicate_sends_every_attempt_twice_with_the_same_id(receiver: Receiver) -> None:
    receiver.policy = lambda _r: 500
    with running(fake_settings(subscription(receiver.url, triggers=BALANCE))) as fake:
        fake.set_faults(duplicate=1)
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(300)
        (d,) = fake.deliveries()
        assert d["status"] == "dead" and len(d["attempts"]) == 3
        journal = fake.journal()
        assert [(j["attempt"], j["fault"], j["outcome"]) for j in journal] == [
            (1, None, "retry"), (1, "duplicate", "retry"), (2, None, "retry"), (2, "duplicate", "retry"),
            (3, None, "dead"), (3, "duplicate", "dead")]
    envs = receiver.envelopes()
    assert [e["Attempt"] for e in envs] == [1, 1, 2, 2, 3, 3]
    assert {e["Id"] for e in envs} == {d["deliveryId"]}
    bodies = [r.body for r in receiver.received]
    assert bodies[0] == bodies[1] and bodies[2] == bodies[3] and bodies[4] == bodies[5]
    assert all(verifies(r) for r in receiver.received)


def test_duplicate_from_the_config_on_a_delivered_hook(receiver: Receiver) -> None:
    settings = fake_settings(subscription(receiver.url, triggers=BALANCE),
                             delivery_faults=DeliveryFaultSettings(duplicate=1))
    with running(settings) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(600)
        (d,) = fake.deliveries()
        assert d["status"] == "delivered" and len(d["attempts"]) == 1
    envs = receiver.envelopes()
    assert len(envs) == 2 and envs[0] == envs[1] and envs[0]["Attempt"] == 1


def test_drop_loses_the_attempt_on_the_wire_and_it_is_retried(receiver: Receiver) -> None:
    with running(fake_settings(subscription(receiver.url, triggers=BALANCE))) as fake:
        fake.set_faults(drop=1)
        fake.stock(fake.products()[0], "1", 1)
        fake.settle()
        assert receiver.received == []
        (d,) = fake.deliveries()
        assert d["status"] == "pending"
        assert [(a["attempt"], a["status"], a["fault"]) for a in d["attempts"]] == [(1, None, "drop")]
        (j,) = fake.journal()
        assert (j["attempt"], j["status"], j["fault"], j["outcome"]) == (1, None, "drop", "retry")

        fake.set_faults(drop=0)
        fake.advance(60)
        assert fake.delivery(d["deliveryId"])["status"] == "delivered"
        assert [(j["attempt"], j["fault"], j["outcome"]) for j in fake.journal()] == [
            (1, "drop", "retry"), (2, None, "delivered")]
    assert [(e["Id"], e["Attempt"]) for e in receiver.envelopes()] == [(d["deliveryId"], 2)]


def test_drop_on_every_attempt_dead_letters_with_nothing_sent(receiver: Receiver) -> None:
    settings = fake_settings(subscription(receiver.url, triggers=BALANCE),
                             delivery_faults=DeliveryFaultSettings(drop=1))
    with running(settings) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(300)
        assert [d["status"] for d in fake.deliveries()] == ["dead"]
        assert [j["fault"] for j in fake.journal()] == ["drop", "drop", "drop"]
    assert receiver.received == []


def test_tamper_signature_fails_verification_and_is_retried(receiver: Receiver) -> None:
    receiver.policy = refuse_bad_signatures
    with running(fake_settings(subscription(receiver.url, triggers=BALANCE))) as fake:
        fake.set_faults(tamperSignature=1)
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(60)
        (d,) = fake.deliveries()
        assert d["status"] == "pending"
        assert [(a["attempt"], a["status"], a["fault"]) for a in d["attempts"]] == [
            (1, 401, "tampered-signature"), (2, 401, "tampered-signature")]

        fake.set_faults(tamperSignature=0)
        fake.advance(240)
        assert fake.delivery(d["deliveryId"])["status"] == "delivered"
        assert [(j["attempt"], j["status"], j["fault"], j["outcome"]) for j in fake.journal()] == [
            (1, 401, "tampered-signature", "retry"), (2, 401, "tampered-signature", "retry"),
            (3, 204, None, "delivered")]
    received = receiver.received
    assert [r.json["Attempt"] for r in received] == [1, 2, 3]
    assert [verifies(r) for r in received] == [False, False, True]
    # tampered, not missing: a well-formed header that simply does not match
    assert all(r.headers["ms-signature"].startswith("sha256=") and len(r.headers["ms-signature"]) == 71
               for r in received)


def test_batch_sends_several_notifications_in_one_post(receiver: Receiver) -> None:
    with running(fake_settings(subscription(receiver.url))) as fake:
        fake.set_faults(batch=3)
        products = fake.products()[:4]
        fake.stock(products[0], "1", 1)  # one change, two events -> one POST
        fake.settle()
        assert len(receiver.received) == 1
        assert actions_of(receiver.received) == ["BalanceChanged", "AvailableBalanceChanged"]

        order = fake.api("POST", "CustomerOrders", json=order_body("WEB-BATCH", [row(p) for p in products]))
        number = order["orderHeader"]["orderNumber"]
        fake.settle()
        # OrderCreated + 4 x AvailableBalanceChanged = 5 notifications -> POSTs of 3 and 2
        order_posts = receiver.received[1:]
        assert sorted(len(r.json["Notifications"]) for r in order_posts) == [2, 3]
        notes = [n for r in order_posts for n in r.json["Notifications"]]
        assert sorted(n["Action"] for n in notes) == ["AvailableBalanceChanged"] * 4 + ["OrderCreated"]
        assert {n["Details"]["ProductNumber"] for n in notes if n["Action"] == "AvailableBalanceChanged"} == set(
            products)
        assert [n["Details"] for n in notes if n["Action"] == "OrderCreated"] == [
            {"OrderNumber": number, "OrderNumberExternal": "WEB-BATCH", "Warehouse": "1"}]
        assert all(verifies(r) for r in receiver.received)
        assert len({r.json["Id"] for r in receiver.received}) == 3
        assert sorted(len(d["actions"]) for d in fake.deliveries()) == [2, 2, 3]
        assert {j["fault"] for j in fake.journal()} == {"batched"}


def test_delay_and_jitter_push_every_attempt_later(receiver: Receiver) -> None:
    receiver.policy = statuses(500, 204)
    with running(fake_settings(subscription(receiver.url, triggers=BALANCE))) as fake:
        fake.set_faults(delaySeconds=5, jitterSeconds=2)
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(4.999)
        assert receiver.received == []
        fake.advance(3600)
        (d,) = fake.deliveries()
        t = [seconds(a["time"]) for a in d["attempts"]]
        assert len(t) == 2
        assert 5 <= t[0] <= 7
        assert 65 <= t[1] - t[0] <= 67
        assert [j["fault"] for j in fake.journal()] == ["delay", "delay"]


# ------------------------------------------------------------------------------------------------ reorder, seeded
def reorder_run(receiver: Receiver, seed: int) -> tuple[list[tuple[str, str, float]], list[str]]:
    """Ten stock moves at one instant under a 30 s reorder window: (Id, first action, first attempt time) per
    delivery in creation order, and the order the receiver saw the Ids in."""
    receiver.received.clear()
    settings = fake_settings(subscription(receiver.url, triggers=BALANCE), seed=seed,
                             delivery_faults=DeliveryFaultSettings(reorder_window_seconds=30))
    with running(settings) as fake:
        plan = _reorder_moves(fake)
    return plan, [e["Id"] for e in receiver.envelopes()]


def _reorder_moves(fake: Fake) -> list[tuple[str, str, float]]:
    products = fake.products()[:10]
    for p in products:
        fake.stock(p, "1", 1)
    fake.settle()
    created = fake.deliveries()
    assert len(created) == 10
    assert all(d["attempts"] == [] or seconds(d["attempts"][0]["time"]) == 0 for d in created)
    fake.advance(30)
    out = []
    for d in fake.deliveries():
        assert d["status"] == "delivered"
        (a,) = d["attempts"]
        out.append((d["deliveryId"], d["notifications"][0]["Details"]["ProductNumber"], seconds(a["time"])))
    assert {j["fault"] for j in fake.journal()} == {"reorder"}
    return out


def test_reorder_spreads_first_attempts_over_the_window(receiver: Receiver) -> None:
    plan, arrived = reorder_run(receiver, seed=1)
    times = [t for _, _, t in plan]
    assert all(0 <= t <= 30 for t in times)
    assert len(set(times)) == len(times), times  # seed 1: ten distinct instants
    # the virtual clock walks from one due instant to the next, so the receiver saw them in due order, which is
    # not the order the changes were made in
    by_due = [i for i, _, _ in sorted(plan, key=lambda x: x[2])]
    assert arrived == by_due
    assert [i for i, _, _ in plan] != by_due


def test_reorder_is_deterministic_per_seed(receiver: Receiver) -> None:
    first, _ = reorder_run(receiver, seed=7)
    again, _ = reorder_run(receiver, seed=7)
    other, _ = reorder_run(receiver, seed=8)
    assert first == again
    assert [t for _, _, t in first] != [t for _, _, t in other]
