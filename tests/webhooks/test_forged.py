"""Forged hooks (POST /_mock/webhooks/forge): the harness sends a hook with a bad or missing signature so a client's
verify-signatures can be judged. Same wire format, journalled with Forged true, never retried or redelivered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.receiver import Received, Receiver
from tests.support.xtnd import CONTROL

from .conftest import (
    GUID,
    HEX32,
    SIGNATURE,
    Fake,
    assert_invalid,
    assert_message,
    fake_settings,
    running,
    serving,
    subscription,
    verifies,
)

DETAILS = {"ProductNumber": "100000", "Warehouse": "1", "AvailableBalance": 9999}


def refuse_bad_signatures(r: Received) -> int:
    return 204 if verifies(r) else 401


def forge(signature: str, **extra: Any) -> dict[str, Any]:
    return {"action": "AvailableBalanceChanged", "details": DETAILS, "signature": signature, **extra}


@pytest.mark.parametrize("signature", ["bad", "missing"])
def test_a_forged_hook_arrives_unverifiable_and_is_never_retried(receiver: Receiver, signature: str) -> None:
    receiver.policy = refuse_bad_signatures
    with running(fake_settings(subscription(receiver.url))) as fake:
        r = fake.c.post("/_mock/webhooks/forge", json=forge(signature))
        assert r.status_code == 202, r.text
        (sent,) = r.json()["items"]
        assert sent["forged"] is True
        fake.settle()
        fake.advance(24 * 3600)

        d = fake.delivery(sent["deliveryId"])
        assert d["status"] == "dead"  # refused once, and that is the end of it
        assert [(a["attempt"], a["status"]) for a in d["attempts"]] == [(1, 401)]
        (j,) = fake.journal()
        assert j["forged"] is True
        assert (j["deliveryId"], j["attempt"], j["status"], j["outcome"]) == (sent["deliveryId"], 1, 401, "dead")
        assert j["notifications"] == [{"Action": "AvailableBalanceChanged", "Details": DETAILS}]
        assert_message(fake.c.post(f"/_mock/deliveries/{sent['deliveryId']}/redeliver", headers=CONTROL), 400, "forged")
        assert len(fake.delivery(sent["deliveryId"])["attempts"]) == 1

    (got,) = receiver.received
    env = got.json
    assert HEX32.match(env["Id"]) and env["Id"] == sent["deliveryId"] and env["Attempt"] == 1
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
        (sent,) = fake.ok(fake.c.post("/_mock/webhooks/forge", json=forge("bad")))["items"]
        fake.advance(3600)
        assert fake.delivery(sent["deliveryId"])["status"] == "delivered"
        (j,) = fake.journal()
        assert j["forged"] is True and j["status"] == 204
    assert len(receiver.received) == 1


def test_forge_goes_to_active_subscriptions_or_the_one_named(receiver: Receiver) -> None:
    base = f"http://127.0.0.1:{receiver.port}"
    subs = [subscription(f"{base}/a", "a"), subscription(f"{base}/b", "b"),
            subscription(f"{base}/off", "off", active=False)]
    with running(fake_settings(*subs)) as fake:
        fake.ok(fake.c.post("/_mock/webhooks/forge", json=forge("bad")))
        fake.settle()
        assert sorted(r.path for r in receiver.received) == ["/a", "/b"]
        fake.ok(fake.c.post("/_mock/webhooks/forge", json=forge("missing", subscription="b")))
        fake.settle()
        assert sorted(r.path for r in receiver.received) == ["/a", "/b", "/b"]
        assert all(j["forged"] for j in fake.journal())
        assert {d["forged"] for d in fake.deliveries()} == {True}


@pytest.fixture(scope="module")
def refusing() -> Iterator[tuple[Fake, Receiver]]:
    with serving() as receiver, running(fake_settings(subscription(receiver.url))) as fake:
        yield fake, receiver


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (forge("bad", action="StockMoved"), 400, "action"),
        (forge("bad", details="nope"), 400, "details"),
        (forge("sometimes"), 400, "signature"),
        (forge("bad", Action="StockMoved"), 400, "Action"),  # the old PascalCase name is an unknown field now
        (forge("bad", subscription="nobody"), 404, None),
    ],
)
def test_a_bad_forge_request_is_refused(refusing: tuple[Fake, Receiver], body: dict[str, Any], status: int,
                                        field: str | None) -> None:
    fake, receiver = refusing
    r = fake.c.post("/_mock/webhooks/forge", json=body)
    if field is None:
        assert_message(r, status, "nobody")  # an unknown subscription, named
    else:
        assert_invalid(r, status, field)
    fake.settle()
    assert fake.deliveries() == []
    assert receiver.received == []
