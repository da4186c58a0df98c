"""Delivery semantics (ASP.NET WebHooks' defaults), the delivery log and the clock you drive.

3 attempts in all at t = 0, +60 s, +300 s; the same Id on every attempt with Attempt counting up and each attempt
re-signed; 2xx = delivered; 410 = stop; any other status, a refused connection or a timeout = retry; exhausted =
dead, listed, redeliverable by hand.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.domain.clock import parse_iso
from mock_xtnd.settings import DeliverySettings, Settings
from tests.support.receiver import Received, Receiver
from tests.support.xtnd import CONTROL

from .conftest import (
    START,
    Fake,
    assert_invalid,
    assert_message,
    fake_settings,
    running,
    serving,
    subscription,
    verifies,
)

BALANCE = ["BalanceChanged"]


def seconds_after_start(iso: str) -> float:
    return (parse_iso(iso) - parse_iso(START)) / 1000


def attempt_times(fake: Fake, delivery_id: str) -> list[float]:
    return [seconds_after_start(a["time"]) for a in fake.delivery(delivery_id)["attempts"]]


@pytest.fixture
def failing() -> Iterator[Receiver]:
    with serving(lambda _r: 500) as r:
        yield r


# ------------------------------------------------------------------------------------------------ the schedule
def test_three_attempts_at_0_60_300_seconds_same_id_re_signed(failing: Receiver) -> None:
    with running(fake_settings(subscription(failing.url, triggers=BALANCE))) as fake:
        fake.stock(fake.products()[0], "1", 4)
        fake.settle()
        (d,) = fake.deliveries()
        assert len(failing.received) == 1
        assert d["status"] == "pending" and d["nextAttemptAt"] == "2026-01-05T08:01:00.000Z"

        fake.advance(59.999)
        assert len(failing.received) == 1
        fake.advance(0.001)
        assert len(failing.received) == 2
        fake.advance(239.999)
        assert len(failing.received) == 2
        fake.advance(0.001)
        assert len(failing.received) == 3
        fake.advance(24 * 3600)
        assert len(failing.received) == 3

        d = fake.delivery(d["deliveryId"])
        assert d["status"] == "dead" and d["nextAttemptAt"] is None
        assert attempt_times(fake, d["deliveryId"]) == [0.0, 60.0, 300.0]
        assert [(a["attempt"], a["status"], a["error"]) for a in d["attempts"]] == [(1, 500, None), (2, 500, None),
                                                                                  (3, 500, None)]
        assert all(a["latencyMs"] >= 0 for a in d["attempts"])
        journal = fake.journal()
        assert [(j["attempt"], j["outcome"], j["time"]) for j in journal] == [
            (1, "retry", "2026-01-05T08:00:00.000Z"), (2, "retry", "2026-01-05T08:01:00.000Z"),
            (3, "dead", "2026-01-05T08:05:00.000Z")]

    envs = failing.envelopes()
    assert {e["Id"] for e in envs} == {d["deliveryId"]}
    assert {e["Properties"]["NotificationId"] for e in envs} == {d["notificationId"]}
    assert [e["Attempt"] for e in envs] == [1, 2, 3]
    assert len({r.body for r in failing.received}) == 3
    assert len({r.headers["ms-signature"] for r in failing.received}) == 3
    assert all(verifies(r) for r in failing.received)
    # the attempts differ only in Attempt
    assert len({str({k: v for k, v in e.items() if k != "Attempt"}) for e in envs}) == 1


def test_2xx_is_delivered_and_stops(receiver: Receiver) -> None:
    codes = [200, 201, 202, 204, 299]
    base = f"http://127.0.0.1:{receiver.port}"
    receiver.policy = lambda r: int(r.path.rsplit("/", 1)[1])  # /answer/<status>
    subs = [subscription(f"{base}/answer/{code}", f"s{code}", triggers=BALANCE) for code in codes]
    with running(fake_settings(*subs)) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(3600)
        for code in codes:
            (d,) = fake.deliveries(subscription=f"s{code}")
            assert d["status"] == "delivered", code
            assert [(a["attempt"], a["status"]) for a in d["attempts"]] == [(1, code)]
        assert [j["outcome"] for j in fake.journal()] == ["delivered"] * len(codes)
    assert sorted(r.path for r in receiver.received) == sorted(f"/answer/{code}" for code in codes)


def test_410_stops_immediately(receiver: Receiver) -> None:
    receiver.policy = lambda _r: 410
    with running(fake_settings(subscription(receiver.url, triggers=BALANCE))) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(3600)
        (d,) = fake.deliveries()
        assert d["status"] == "gone"
        assert [(a["attempt"], a["status"]) for a in d["attempts"]] == [(1, 410)]
        assert [j["outcome"] for j in fake.journal()] == ["gone"]
        assert [x["deliveryId"] for x in fake.deliveries(status="gone")] == [d["deliveryId"]]
    assert len(receiver.received) == 1


def test_any_other_status_retries(receiver: Receiver) -> None:
    codes = [301, 400, 401, 404, 408, 429, 500, 502, 503]
    base = f"http://127.0.0.1:{receiver.port}"

    def policy(r: Received) -> int:  # /answer/<status>: that status on attempt 1, then 204
        return int(r.path.rsplit("/", 1)[1]) if r.json["Attempt"] == 1 else 204

    receiver.policy = policy
    subs = [subscription(f"{base}/answer/{code}", f"s{code}", triggers=BALANCE) for code in codes]
    with running(fake_settings(*subs)) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.settle()
        assert [d["status"] for d in fake.deliveries()] == ["pending"] * len(codes)
        fake.advance(60)
        for code in codes:
            (d,) = fake.deliveries(subscription=f"s{code}")
            assert [(a["attempt"], a["status"]) for a in d["attempts"]] == [(1, code), (2, 204)], code
            assert d["status"] == "delivered"
    assert sorted(e["Attempt"] for e in receiver.envelopes()) == [1] * len(codes) + [2] * len(codes)


def test_a_refused_connection_retries_then_dead_letters(refused_url: str) -> None:
    with running(fake_settings(subscription(refused_url, triggers=BALANCE))) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(300)
        (d,) = fake.deliveries()
        assert d["status"] == "dead"
        assert [(a["attempt"], a["status"], a["error"]) for a in d["attempts"]] == [
            (1, None, "refused"), (2, None, "refused"), (3, None, "refused")]
        assert attempt_times(fake, d["deliveryId"]) == [0.0, 60.0, 300.0]
        journal = fake.journal()
        assert [(j["status"], j["error"], j["outcome"]) for j in journal] == [
            (None, "refused", "retry"), (None, "refused", "retry"), (None, "refused", "dead")]


def test_a_timeout_retries(receiver: Receiver) -> None:
    def slow_first(r: Received) -> int:
        if r.json["Attempt"] == 1:
            time.sleep(3.0)  # far longer than the sender's timeout; attempt 2 answers at once
        return 204

    receiver.policy = slow_first
    settings = fake_settings(subscription(receiver.url, triggers=BALANCE),
                             delivery=DeliverySettings(timeout_seconds=1.0))
    with running(settings) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.settle()
        (d,) = fake.deliveries()
        assert d["status"] == "pending"
        assert [(a["attempt"], a["status"], a["error"]) for a in d["attempts"]] == [(1, None, "timeout")]
        fake.advance(60)
        d = fake.delivery(d["deliveryId"])
        assert d["status"] == "delivered"
        assert [(a["attempt"], a["status"], a["error"]) for a in d["attempts"]] == [(1, None, "timeout"),
                                                                                  (2, 204, None)]
        assert [j["outcome"] for j in fake.journal()] == ["retry", "delivered"]


# ------------------------------------------------------------------------------------------------ dead letters
def test_dead_letters_are_listed_and_redelivered_by_hand(receiver: Receiver) -> None:
    receiver.policy = lambda _r: 503
    with running(fake_settings(subscription(receiver.url, triggers=BALANCE))) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(300)
        (dead,) = fake.deliveries(status="dead")
        assert len(dead["attempts"]) == 3

        receiver.policy = lambda _r: 204
        r = fake.c.post(f"/_mock/deliveries/{dead['deliveryId']}/redeliver", headers=CONTROL)
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "pending"
        fake.settle()
        d = fake.delivery(dead["deliveryId"])
        assert d["status"] == "delivered"
        assert [(a["attempt"], a["status"]) for a in d["attempts"]] == [(1, 503), (2, 503), (3, 503), (4, 204)]
        assert fake.deliveries(status="dead") == []
        assert [(j["attempt"], j["outcome"]) for j in fake.journal()][-1] == (4, "delivered")
    envs = receiver.envelopes()
    assert [e["Attempt"] for e in envs] == [1, 2, 3, 4]
    assert {e["Id"] for e in envs} == {dead["deliveryId"]}
    assert all(verifies(r) for r in receiver.received)


def test_a_redelivery_gets_a_fresh_budget_on_the_same_schedule(receiver: Receiver) -> None:
    receiver.policy = lambda _r: 500
    with running(fake_settings(subscription(receiver.url, triggers=BALANCE))) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(300)
        (dead,) = fake.deliveries(status="dead")
        fake.ok(fake.c.post(f"/_mock/deliveries/{dead['deliveryId']}/redeliver", headers=CONTROL))
        fake.advance(3600)
        d = fake.delivery(dead["deliveryId"])
        assert d["status"] == "dead"
        assert attempt_times(fake, d["deliveryId"]) == [0.0, 60.0, 300.0, 300.0, 360.0, 600.0]
    assert [e["Attempt"] for e in receiver.envelopes()] == [1, 2, 3, 4, 5, 6]


def test_redeliver_refuses_unknown_and_pending(receiver: Receiver) -> None:
    receiver.policy = lambda _r: 500
    with running(fake_settings(subscription(receiver.url, triggers=BALANCE))) as fake:
        assert_message(fake.c.post("/_mock/deliveries/" + "0" * 32 + "/redeliver", headers=CONTROL), 404, "0" * 32)
        assert_message(fake.c.get("/_mock/deliveries/" + "0" * 32), 404, "0" * 32)
        fake.stock(fake.products()[0], "1", 1)
        fake.settle()
        (pending,) = fake.deliveries(status="pending")
        assert_message(fake.c.post(f"/_mock/deliveries/{pending['deliveryId']}/redeliver", headers=CONTROL), 400, "pending")
        assert fake.delivery(pending["deliveryId"]) == pending  # refused: nothing sent, nothing planned anew


@pytest.mark.parametrize(("delays", "times"), [([1, 2], [0.0, 1.0, 3.0]), ([5], [0.0, 5.0]),
                                               ([0.25, 0.5, 10], [0.0, 0.25, 0.75, 10.75])])
def test_the_retry_schedule_is_configurable(failing: Receiver, delays: list[float], times: list[float]) -> None:
    settings = fake_settings(subscription(failing.url, triggers=BALANCE),
                             delivery=DeliverySettings(retry_delays_seconds=delays))
    with running(settings) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(3600)
        (d,) = fake.deliveries()
        assert d["status"] == "dead"
        assert attempt_times(fake, d["deliveryId"]) == times
    assert [e["Attempt"] for e in failing.envelopes()] == list(range(1, len(times) + 1))


def test_no_retry_delays_means_one_attempt(failing: Receiver) -> None:
    settings = fake_settings(subscription(failing.url, triggers=BALANCE),
                             delivery=DeliverySettings(retry_delays_seconds=[]))
    with running(settings) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.advance(3600)
        assert [d["status"] for d in fake.deliveries()] == ["dead"]
    assert len(failing.received) == 1


# ------------------------------------------------------------------------------------------------ delivery log
def test_delivery_log_filters_by_status_action_and_subscription(receiver: Receiver) -> None:
    base = f"http://127.0.0.1:{receiver.port}"
    receiver.policy = lambda r: 204 if r.path == "/ok" else 500
    subs = [subscription(f"{base}/ok", "ok", triggers=["BalanceChanged", "AvailableBalanceChanged"]),
            subscription(f"{base}/down", "down", triggers=["BalanceChanged"])]
    with running(fake_settings(*subs)) as fake:
        products = fake.products()
        fake.stock(products[0], "1", 1)
        fake.stock(products[1], "1", 1)
        fake.settle()

        everything = fake.deliveries()
        assert len(everything) == 6
        assert {(d["subscription"], d["actions"][0], d["status"]) for d in everything} == {
            ("ok", "BalanceChanged", "delivered"), ("ok", "AvailableBalanceChanged", "delivered"),
            ("down", "BalanceChanged", "pending")}
        assert {d["subscription"] for d in fake.deliveries(subscription="down")} == {"down"}
        assert len(fake.deliveries(subscription="down")) == 2
        assert len(fake.deliveries(subscription="ok")) == 4
        assert fake.deliveries(subscription="nobody") == []
        assert {tuple(d["actions"]) for d in fake.deliveries(action="AvailableBalanceChanged")} == {
            ("AvailableBalanceChanged",)}
        assert len(fake.deliveries(action="BalanceChanged")) == 4
        assert len(fake.deliveries(status="delivered")) == 4
        assert len(fake.deliveries(status="pending")) == 2
        assert fake.deliveries(status="dead") == []
        assert len(fake.deliveries(status="delivered", action="BalanceChanged", subscription="ok")) == 2
        assert fake.deliveries(status="delivered", subscription="down") == []
        assert len(fake.deliveries(limit="3")) == 3

        fake.advance(300)
        assert len(fake.deliveries(status="dead")) == 2
        assert len(fake.deliveries(status="dead", subscription="down", action="BalanceChanged")) == 2
        for d in fake.deliveries(status="dead"):
            assert [a["attempt"] for a in d["attempts"]] == [1, 2, 3]
            assert all(a["status"] == 500 and a["error"] is None and a["latencyMs"] >= 0 for a in d["attempts"])
        assert_invalid(fake.c.get("/_mock/deliveries", params={"status": "lost"}), 400, "status")


# ------------------------------------------------------------------------------------------------ the clock
def test_get_clock_and_advance_under_a_virtual_clock() -> None:
    with running(fake_settings()) as fake:
        assert fake.ok(fake.c.get("/_mock/clock")) == {"now": START, "kind": "virtual"}
        assert fake.advance(90.5) == "2026-01-05T08:01:30.500Z"
        assert fake.now() == "2026-01-05T08:01:30.500Z"
        assert_invalid(fake.c.post("/_mock/clock/advance", json={"seconds": -1}), 400, "seconds")
        assert fake.now() == "2026-01-05T08:01:30.500Z"


def test_advance_under_a_real_clock_is_refused() -> None:
    settings = Settings(clock="real", seed=1, catalogue=fake_settings().catalogue)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        assert c.get("/_mock/clock").json()["kind"] == "real"
        assert_message(c.post("/_mock/clock/advance", json={"seconds": 60}), 400, "virtual")


def test_advancing_runs_retries_in_due_order(failing: Receiver) -> None:
    with running(fake_settings(subscription(failing.url, triggers=BALANCE))) as fake:
        products = fake.products()
        made_at = [0, 7, 19, 33, 48, 59]  # all first attempts before the first retry falls due
        for i, at in enumerate(made_at):
            fake.advance(at - (made_at[i - 1] if i else 0))
            fake.stock(products[i], "1", 1)
        assert len(fake.journal()) == 6
        fake.advance(3600)  # one big step: all 12 retries fall due inside it, interleaved across deliveries
        journal = fake.journal()
        assert len(journal) == 6 * 3
        times = [parse_iso(j["time"]) for j in journal]
        assert times == sorted(times), [j["time"] for j in journal]
        assert [j["seq"] for j in journal] == sorted(j["seq"] for j in journal)
        for d in fake.deliveries():
            t = attempt_times(fake, d["deliveryId"])
            assert t[1] - t[0] == 60 and t[2] - t[1] == 240
        retry_times = sorted(seconds_after_start(j["time"]) for j in journal[6:])
        assert retry_times == sorted([at + 60 for at in made_at] + [at + 300 for at in made_at])
        assert fake.now() == "2026-01-05T09:00:59.000Z"  # 59 s of steps + 3600
