"""Forged hooks (POST /_mock/webhooks/forge): the harness sends a hook with a bad or missing signature so a client's
verify-signatures can be judged. Same wire format, journalled with Forged true, never retried or redelivered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.receiver import Received, Receiver

from .conftest import (
    GUID,
    HEX32,
    SIGNATURE,
    Fake,
    assert_error,
    fake_settings,
    running,
    serving,
    subscription,
    verifies,
)

DETAILS = {"ProductNumber": "100000", "WarehouseNumber": "1", "AvailableBalance": 9999}


def refuse_bad_signatures(r: Received) -> int:
    return 204 if verifies(r) else 401


def forge(signature: str, **extra: Any) -> dict[str, Any]:
    return {"Action": "AvailableBalanceChanged", "Details": DETAILS, "Signature": signature, **extra}


@pytest.mark.parametrize("signature", ["bad", "missing"])
def test_a_forged_hook_arrives_unverifiable_and_is_never_retried(receiver: Receiver, signature: str) -> None:
    receiver.policy = refuse_bad_signatures
    with running(fake_settings(subscription(receiver.url))) as fake:
        r = fake.c.post("/_mock/webhooks/forge", json=forge(signature))
        assert r.status_code == 202, r.text
        (sent,) = r.json()["Items"]
        assert sent["Forged"] is True
        fake.settle()
        fake.advance(24 * 3600)

        d = fake.delivery(sent["Id"])
        assert d["Status"] == "dead"  # refused once, and that is the end of it
        assert [(a["Attempt"], a["Status"]) for a in d["Attempts"]] == [(1, 401)]
        (j,) = fake.journal()
        assert j["Forged"] is True
        assert (j["DeliveryId"], j["Attempt"], j["Status"], j["Outcome"]) == (sent["Id"], 1, 401, "dead")
        assert j["Notifications"] == [{"Action": "AvailableBalanceChanged", "Details": DETAILS}]
        assert_error(fake.c.post(f"/_mock/deliveries/{sent['Id']}/redeliver"), 409, "id")

    (got,) = receiver.received
    env = got.json
    assert HEX32.match(env["Id"]) and env["Id"] == sent["Id"] and env["Attempt"] == 1
    assert GUID.match(env["Properties"]["NotificationId"])
    assert env["Notifications"] == [{"Action": "AvailableBalanceChanged", "Details": DETAILS}]
    assert got.headers["content-type"] == "application/json; charset=utf-8"
    if signature == "bad":
        assert SIGNATURE.match(got.headers["ms-signature"])  # well-formed, but wrong
        assert not verifies(got)
    else:
        assert "ms-signature" not in got.headers


def test_a_forged_hook_that_is_accepted_is_still_never_retried(receiver: Receiver) -> None:
    with running(fake_settings(subscription(receiver.url))) as fake:
        (sent,) = fake.ok(fake.c.post("/_mock/webhooks/forge", json=forge("bad")))["Items"]
        fake.advance(3600)
        assert fake.delivery(sent["Id"])["Status"] == "delivered"
        (j,) = fake.journal()
        assert j["Forged"] is True and j["Status"] == 204
    assert len(receiver.received) == 1


def test_forge_goes_to_active_subscriptions_or_the_one_named(receiver: Receiver) -> None:
    base = f"http://127.0.0.1:{receiver.port}"
    subs = [subscription(f"{base}/a", "a"), subscription(f"{base}/b", "b"),
            subscription(f"{base}/off", "off", active=False)]
    with running(fake_settings(*subs)) as fake:
        fake.ok(fake.c.post("/_mock/webhooks/forge", json=forge("bad")))
        fake.settle()
        assert sorted(r.path for r in receiver.received) == ["/a", "/b"]
        fake.ok(fake.c.post("/_mock/webhooks/forge", json=forge("missing", Subscription="b")))
        fake.settle()
        assert sorted(r.path for r in receiver.received) == ["/a", "/b", "/b"]
        assert all(j["Forged"] for j in fake.journal())
        assert {d["Forged"] for d in fake.deliveries()} == {True}


@pytest.fixture(scope="module")
def refusing() -> Iterator[tuple[Fake, Receiver]]:
    with serving() as receiver, running(fake_settings(subscription(receiver.url))) as fake:
        yield fake, receiver


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (forge("bad", Action="StockMoved"), 400, "Action"),
        (forge("bad", Details="nope"), 400, "Details"),
        (forge("sometimes"), 400, "Signature"),
        (forge("bad", Subscription="nobody"), 404, "Subscription"),
    ],
)
def test_a_bad_forge_request_is_refused(refusing: tuple[Fake, Receiver], body: dict[str, Any], status: int,
                                        field: str) -> None:
    fake, receiver = refusing
    assert_error(fake.c.post("/_mock/webhooks/forge", json=body), status, field)
    fake.settle()
    assert fake.deliveries() == []
    assert receiver.received == []
