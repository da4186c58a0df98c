"""API faults the harness injects (POST /_mock/faults; docs/wire.md, "Quirks" and control-surface.md): each
answers or shapes the answer as documented, is labelled in the journal's ``fault``, and only a request actually
served counts against the rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import (
    Truth,
    Xtnd,
    advance,
    assert_message,
    journal_since,
    last_seq,
    order_body,
    row,
    stocked,
)
from tests.support.xtnd import CONTROL


def add(client: TestClient, **fault: Any) -> dict[str, Any]:
    r = client.post("/_mock/faults", json=fault)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


@pytest.fixture
def api(client: TestClient) -> Xtnd:
    return Xtnd(client)


@pytest.mark.parametrize(("message", "label", "text"), [
    ("deadlock", "transient-deadlock", "chosen as the deadlock victim. Rerun the transaction."),
    ("timeout", "transient-timeout", "Execution Timeout Expired."),
])
def test_a_transient_fault_answers_sql_servers_400_and_changes_nothing(client: TestClient, api: Xtnd,
                                                                       fetch_truth: Truth, message: str, label: str,
                                                                       text: str) -> None:
    pn = stocked(client)
    add(client, kind="transient", message=message, route="CustomerOrders", method="POST", times=1)
    before = fetch_truth()
    seq = last_seq(client)
    r = api.post("CustomerOrders", json=order_body([row(pn)], "F-1"))
    assert text in assert_message(r, 400)
    assert fetch_truth() == before
    (rec,) = journal_since(client, seq)
    assert (rec["fault"], rec["quirk"], rec["errorKind"], rec["rateFamily"]) == (label, None, "Transient", None)
    # times=1: the retry goes through
    assert api.post("CustomerOrders", json=order_body([row(pn)], "F-1")).status_code == 200


def test_status_faults_answer_429_with_retry_after_and_500(client: TestClient, api: Xtnd) -> None:
    add(client, kind="status", status=429, retryAfter=7, route="ProductAvailability*", times=1)
    add(client, kind="status", status=500, route="Products/*", times=1)
    seq = last_seq(client)
    throttled = api.get("ProductAvailability/100003/1")
    assert_message(throttled, 429, contains="Too many requests")
    assert throttled.headers["retry-after"] == "7"
    broken = api.get("Products/100003", extra=[500])
    assert broken.status_code == 500 and broken.json() == {"Message": "An error has occurred."}
    assert [(r["fault"], r["status"], r["errorKind"], r["retryAfter"]) for r in journal_since(client, seq)] == [
        ("status:429", 429, "Throttled", 7), ("status:500", 500, "Internal", None)]
    assert api.get("ProductAvailability/100003/1").status_code == 200
    assert api.get("Products/100003").status_code == 200


def test_latency_slows_the_answer_but_keeps_it(client: TestClient, api: Xtnd) -> None:
    add(client, kind="latency", latencyMs=5, route="Customers/*", times=1)
    seq = last_seq(client)
    assert api.get("Customers/10001").status_code == 200
    (rec,) = journal_since(client, seq)
    assert (rec["fault"], rec["status"], rec["errorKind"]) == ("latency", 200, None)


def test_a_dropped_connection_leaves_no_complete_answer_and_nothing_done(client: TestClient, api: Xtnd,
                                                                         fetch_truth: Truth) -> None:
    pn = stocked(client)
    add(client, kind="drop", route="CustomerOrders", method="POST", times=1)
    before = fetch_truth()
    seq = last_seq(client)
    r = client.post("/RESTAPI/v1_0/demo/CustomerOrders", headers=api.headers, json=order_body([row(pn)], "D-1"))
    assert len(r.content) < int(r.headers["content-length"]), "a complete answer arrived"
    assert fetch_truth() == before
    (rec,) = journal_since(client, seq)
    assert (rec["fault"], rec["status"], rec["errorKind"], rec["resultKey"]) == ("drop", 0, "Internal", None)
    assert api.ok("GET", "CustomerOrders", params={"orderNumberExternal": "D-1"}) == []


def test_commit_then_drop_makes_the_order_and_loses_the_answer(client: TestClient, api: Xtnd) -> None:
    """Why a client looks an unanswered POST up by orderNumberExternal before sending it again."""
    pn = stocked(client)
    add(client, kind="commit-then-drop", route="CustomerOrders", method="POST", times=1)
    seq = last_seq(client)
    body = order_body([row(pn, 2)], "CTD-1")
    r = client.post("/RESTAPI/v1_0/demo/CustomerOrders", headers=api.headers, json=body)
    assert len(r.content) < int(r.headers["content-length"])
    (rec,) = journal_since(client, seq)
    assert (rec["fault"], rec["status"], rec["resultKey"], rec["rateFamily"]) == ("commit-then-drop", 0, "100001",
                                                                                  "CustomerOrders")
    found = api.ok("GET", "CustomerOrders", params={"orderNumberExternal": "CTD-1"})
    assert [(o["orderNumber"], o["orderStatus"]) for o in found] == [("100001", "Created")]
    resent = api.post("CustomerOrders", json=body)
    assert "already exists (order 100001)" in assert_message(resent, 400)


def test_a_truncated_answer_is_cut_in_half_after_the_work_is_done(client: TestClient, api: Xtnd) -> None:
    add(client, kind="truncate", route="Customers", method="POST", times=1)
    seq = last_seq(client)
    r = client.post("/RESTAPI/v1_0/demo/Customers", headers=api.headers,
                    json={"name": "Kund", "customerLogisticsSettings": {},
                          "customerDeliveryAddress": {"address": {"address1": "A", "postalCode": "1", "city": "C",
                                                                  "country": "SE"}}})
    with pytest.raises(ValueError):
        r.json()
    (rec,) = journal_since(client, seq)
    assert (rec["fault"], rec["status"], rec["resultKey"]) == ("truncate", 200, "10101")
    assert api.ok("GET", "Customers/10101")["name"] == "Kund"


def test_an_outage_drops_every_call_for_its_window(client: TestClient, api: Xtnd) -> None:
    add(client, kind="outage", startsAfterSeconds=10, durationSeconds=30)
    assert api.get("Products/100003").status_code == 200  # not yet
    advance(client, 10)
    seq = last_seq(client)
    for path in ("Products/100003", "Customers/10001", "ProductAvailability/100003/1"):
        r = client.get(f"/RESTAPI/v1_0/demo/{path}", headers=api.headers)
        assert len(r.content) < int(r.headers["content-length"])
    assert {(x["fault"], x["status"], x["rateFamily"]) for x in journal_since(client, seq)} == {("outage", 0, None)}
    advance(client, 30)
    assert api.get("Products/100003").status_code == 200


def test_fault_dice_are_seeded() -> None:
    def statuses(seed: int) -> list[int]:
        s = Settings(clock="virtual", seed=seed, quirks={"transient_errors": 0}, rate_limits={"default": 10_000})
        with TestClient(create_app(s)) as c:
            add(c, kind="status", status=500, route="Products*", probability=0.4)
            return [Xtnd(c).get("Products/100003", extra=[500]).status_code for _ in range(40)]

    first = statuses(1)
    assert first == statuses(1)
    assert 5 < first.count(500) < 30
    assert first != statuses(3)


def test_faults_match_route_method_and_user_and_can_be_removed(client: TestClient, api: Xtnd) -> None:
    f = add(client, kind="status", status=500, route="ProductAvailability/*/2", method="GET")
    assert api.get("ProductAvailability/100003/1").status_code == 200
    assert api.get("ProductAvailability/100003/2", extra=[500]).status_code == 500
    other_user = add(client, kind="status", status=500, route="*", user="someone-else")
    assert api.get("Customers/10001").status_code == 200
    listed = client.get("/_mock/faults").json()["items"]
    assert [(x["id"], x["fired"]) for x in listed] == [(f["id"], 1), (other_user["id"], 0)]
    assert client.delete(f"/_mock/faults/{f['id']}", headers=CONTROL).json() == {"deleted": f["id"]}
    assert api.get("ProductAvailability/100003/2").status_code == 200
    assert client.delete("/_mock/faults", headers=CONTROL).json() == {"deleted": 1}
    assert client.delete("/_mock/faults/F99", headers=CONTROL).status_code == 404


def test_faults_from_the_config_apply_from_the_start() -> None:
    s = Settings(clock="virtual", seed=1, quirks={"transient_errors": 0},
                 api_faults=[{"kind": "transient", "route": "Customers*", "message": "timeout", "times": 2}])
    with TestClient(create_app(s)) as c:
        api = Xtnd(c)
        assert [api.get("Customers/10001").status_code for _ in range(3)] == [400, 400, 200]
