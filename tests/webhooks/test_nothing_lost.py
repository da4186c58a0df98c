"""Nothing lost: a receiver down for 10 minutes of virtual time while stock keeps moving. Once it is back every
event is delivered within the retry schedule or dead-lettered and visible, never silently gone; redelivering the
dead ones delivers them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.support.receiver import Received, Receiver
from tests.support.xtnd import CONTROL

from .conftest import fake_settings, running, subscription, verifies

MOVES = 20
STEP_S = 30  # one move every 30 s: 20 moves over the 10-minute outage
OUTAGE_S = 600


def test_receiver_down_for_ten_minutes_loses_nothing(receiver: Receiver) -> None:
    up = {"value": False}
    answered: list[tuple[str, int, int]] = []  # (Id, Attempt, status) the receiver answered

    def policy(r: Received) -> int:
        status = 204 if up["value"] else 503
        answered.append((r.json["Id"], r.json["Attempt"], status))
        return status

    receiver.policy = policy
    base = f"http://127.0.0.1:{receiver.port}"
    subs = [subscription(f"{base}/a", "a", triggers=["BalanceChanged", "AvailableBalanceChanged"]),
            subscription(f"{base}/b", "b", triggers=["BalanceChanged", "AvailableBalanceChanged"])]
    with running(fake_settings(*subs)) as fake:
        products = fake.products()
        expected: set[tuple[str, str, str, int]] = set()
        for i in range(MOVES):
            product = products[i % 5]  # the same products move again and again: every event still counts
            moved = fake.stock(product, "1", i + 1)
            for sub in ("a", "b"):
                expected.add((sub, "BalanceChanged", product, moved["physicalBalance"]))
                expected.add((sub, "AvailableBalanceChanged", product, moved["availableBalanceNow"]))
            fake.advance(STEP_S)
        assert fake.now() == "2026-01-05T08:10:00.000Z"
        assert all(status == 503 for _, _, status in answered)

        up["value"] = True  # back after 10 minutes
        fake.advance(300)  # the longest remaining retry wait

        deliveries = fake.deliveries(limit="100000")
        events_x_subs = MOVES * 2 * 2
        assert len(expected) == events_x_subs
        assert len(deliveries) == events_x_subs
        assert {facts(d) for d in deliveries} == expected  # one delivery per event and subscription

        by_status = Counter(d["status"] for d in deliveries)
        assert by_status["pending"] == 0 and by_status["gone"] == 0
        assert by_status["delivered"] + by_status["dead"] == events_x_subs
        dead = fake.deliveries(status="dead", limit="100000")
        assert len(dead) == by_status["dead"] > 0  # the early part of the outage outlives the schedule
        assert by_status["delivered"] > 0
        for d in dead:  # dead only after the whole budget, all answered 503
            assert [(a["attempt"], a["status"]) for a in d["attempts"]] == [(1, 503), (2, 503), (3, 503)]
        delivered_ids = {d["deliveryId"] for d in deliveries if d["status"] == "delivered"}
        assert delivered_ids == {i for i, _, status in answered if status == 204}
        # exactly what was made in the last 5 minutes of the outage (its last attempt after it) got through
        for d in deliveries:
            made_at = _seconds(d["createdAt"])
            assert (d["status"] == "delivered") == (made_at + 300 > OUTAGE_S), (made_at, d["status"])

        for d in dead:
            r = fake.c.post(f"/_mock/deliveries/{d['deliveryId']}/redeliver", headers=CONTROL)
            assert r.status_code == 202, r.text
        fake.settle()
        after = fake.deliveries(limit="100000")
        assert Counter(d["status"] for d in after) == {"delivered": events_x_subs}
        assert fake.deliveries(status="dead") == []

    got_204 = {i for i, _, status in answered if status == 204}
    assert got_204 == {d["deliveryId"] for d in after}
    assert all(verifies(r) for r in receiver.received)
    arrived = {(r.path.strip("/"), n["Action"], n["Details"]["ProductNumber"],
                n["Details"].get("Balance", n["Details"].get("AvailableBalance")))
               for r in receiver.received for n in r.json["Notifications"]}
    assert arrived == expected


def facts(d: dict[str, Any]) -> tuple[str, str, str, int]:
    (note,) = d["notifications"]
    details = note["Details"]
    value = details["Balance"] if note["Action"] == "BalanceChanged" else details["AvailableBalance"]
    return d["subscription"], note["Action"], details["ProductNumber"], value


def _seconds(iso: str) -> float:
    from mock_xtnd.domain.clock import parse_iso

    from .conftest import START

    return (parse_iso(iso) - parse_iso(START)) / 1000
