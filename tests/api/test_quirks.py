"""Production quirks (docs/wire.md, "Quirks"), each switchable in the config and with PUT /_mock/quirks: transient
400s (seeded), CustomerOrders without modifiedDateFrom timing out. (Page past the end: test_paging.py; Products
missing new ones: test_reads.py.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import (
    Xtnd,
    assert_message,
    clock_now,
    customer_body,
    journal_since,
    last_seq,
    order_body,
    row,
    stocked,
    utc_param,
)

DEADLOCK = "was deadlocked on lock resources with another process and has been chosen as the deadlock victim. " \
           "Rerun the transaction."
TIMEOUT = "Execution Timeout Expired.  The timeout period elapsed prior to completion of the operation or the " \
          "server is not responding."


def test_the_quirks_are_on_by_default() -> None:
    with TestClient(create_app(Settings(clock="virtual", seed=1))) as c:
        assert c.get("/_mock/quirks").json() == {"transientErrors": 0.01, "pagePastEnd400": True,
                                                 "ordersListNeedsModifiedDate": True,
                                                 "productsModifiedMissesNew": True}


def _session(seed: int, rate: float = 0.3) -> list[tuple[int, str | None]]:
    """The same 60 calls (reads and writes) against a fresh fake: (status, Message) of each."""
    s = Settings(clock="virtual", seed=seed, quirks={"transient_errors": rate}, rate_limits={"default": 10_000})
    out: list[tuple[int, str | None]] = []
    with TestClient(create_app(s)) as c:
        api = Xtnd(c)
        for i in range(20):
            for r in (api.get("Products/100003"),
                      api.post("CustomerOrders", json=order_body([row("100003")], f"T-{i}")),
                      api.get("ProductAvailability", params={"warehouse": "1"})):
                out.append((r.status_code, r.json().get("Message") if r.status_code != 200 else None))
    return out


def test_transient_400s_are_seeded_and_carry_sql_servers_messages() -> None:
    first, again, other = _session(1), _session(1), _session(2)
    assert first == again, "one seed, the same calls fail with the same messages"
    failed = [i for i, (status, _) in enumerate(first) if status == 400]
    assert 5 < len(failed) < 40
    assert failed != [i for i, (status, _) in enumerate(other) if status == 400]
    messages = [m for status, m in first if status == 400]
    assert all(m is not None and (DEADLOCK in m or m == TIMEOUT) for m in messages), messages
    assert any(m is not None and m.startswith("Transaction (Process ID ") for m in messages)
    assert TIMEOUT in messages


def test_a_transient_failure_changes_nothing_and_is_labelled(fetch_truth: Callable[[], dict[str, Any]],
                                                            client: TestClient) -> None:
    api = Xtnd(client)
    pn = stocked(client)
    assert client.put("/_mock/quirks", json={"transientErrors": 1}).json()["transientErrors"] == 1
    before = fetch_truth()
    seq = last_seq(client)
    writes = [api.post("CustomerOrders", json=order_body([row(pn)], "TR-1")),
              api.post("Customers", json=customer_body()),
              api.put("Customers/10001", json=customer_body("Ny")),
              api.put("WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn, "balanceDifference": 5}),
              api.post("WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn, "balance": 5})]
    for r in writes:
        message = assert_message(r, 400)
        assert DEADLOCK in message or message == TIMEOUT
    assert fetch_truth() == before
    records = journal_since(client, seq)
    assert {r["quirk"] for r in records} <= {"transient-deadlock", "transient-timeout"}
    assert all(r["errorKind"] == "Transient" and r["fault"] is None and r["resultKey"] is None for r in records)
    # switched off again, the same order goes through: the failed attempt left nothing behind
    client.put("/_mock/quirks", json={"transientErrors": 0})
    assert api.create_order(order_body([row(pn)], "TR-1"))["orderHeader"]["orderNumber"] == "100001"


def test_bad_input_is_refused_as_such_before_any_transient_failure(client: TestClient) -> None:
    """A client must be able to tell a final 400 from a transient one: a body that is wrong stays wrong."""
    client.put("/_mock/quirks", json={"transientErrors": 1})
    r = Xtnd(client).post("CustomerOrders", json={"orderHeader": {}})
    assert r.json()["Message"] == "The request is invalid."


def test_the_orders_list_without_modified_date_times_out(client: TestClient) -> None:
    api = Xtnd(client)
    pn = stocked(client)
    since = utc_param(clock_now(client))
    made = api.create_order(order_body([row(pn)], "Q-1"))["orderHeader"]["orderNumber"]
    seq = last_seq(client)
    r = api.get("CustomerOrders")
    assert assert_message(r, 400) == TIMEOUT
    assert_message(api.get("CustomerOrders", params={"customerNumber": "10001", "pageCount": 10}), 400)
    records = journal_since(client, seq)
    assert [(x["quirk"], x["errorKind"]) for x in records] == [("orders-list-timeout", "Transient")] * 2
    # a real tenant answers these from an index
    assert [o["orderNumber"] for o in api.ok("GET", "CustomerOrders", params={"modifiedDateFrom": since})] == [made]
    assert [o["orderNumber"] for o in api.ok("GET", "CustomerOrders", params={"orderNumberExternal": "Q-1"})] == [made]
    assert [o["orderNumber"] for o in api.ok("GET", "CustomerOrders", params={"orderNumber": made})] == [made]
    client.put("/_mock/quirks", json={"ordersListNeedsModifiedDate": False})
    assert [o["orderNumber"] for o in api.ok("GET", "CustomerOrders")] == [made]


def test_the_orders_list_quirk_switched_off_in_the_config() -> None:
    s = Settings(clock="virtual", seed=1, quirks={"transient_errors": 0, "orders_list_needs_modified_date": False})
    with TestClient(create_app(s)) as c:
        assert Xtnd(c).ok("GET", "CustomerOrders") == []


def test_quirk_switches_are_validated_and_kept_apart(client: TestClient) -> None:
    r = client.put("/_mock/quirks", json={"pagePastEnd400": False})
    assert r.json() == {"transientErrors": 0.0, "pagePastEnd400": False, "ordersListNeedsModifiedDate": True,
                        "productsModifiedMissesNew": True}
    for bad in ({"transientErrors": 1.5}, {"ordersListNeedsModifiedDate": "no"}, {"unknownQuirk": True}):
        assert client.put("/_mock/quirks", json=bad).status_code == 400, bad
    assert client.get("/_mock/quirks").json() == r.json()
