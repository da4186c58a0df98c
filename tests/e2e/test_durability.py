"""Durability with real processes (issue 2, item 6): under ``--db`` a ``kill -9`` loses nothing that was
acknowledged, and numbering continues after a restart."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.xtnd_process import Served, serve

pytestmark = pytest.mark.e2e

ARGS = ("--seed", "3", "--products", "60")


def order(ext: str, lines: list[tuple[str, int]], customer: str = "10001") -> dict[str, Any]:
    return {"ExternalOrderNumber": ext, "CustomerNumber": customer, "WarehouseNumber": "1",
            "Lines": [{"ProductNumber": pn, "Quantity": q, "UnitPrice": 10.5, "Currency": "SEK"} for pn, q in lines]}


def truth(s: Served) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{s.base_url}/_mock/state", timeout=10).json()
    state.pop("Now")  # the real clock moved on; everything else must be identical
    return state


@pytest.fixture
def servers() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for s in started:
        s.stop()


def test_kill_9_after_acknowledged_writes_loses_nothing(tmp_path: Path, servers: list[Served]) -> None:
    db = str(tmp_path / "x.db")
    first = serve("--db", db, *ARGS)
    servers.append(first)
    h = first.token()
    api = httpx.Client(base_url=f"{first.base_url}/api", headers=h, timeout=10)
    active = [p["ProductNumber"] for p in api.get("/Products?status=Active&pageSize=1000").json()["Items"]
              if p["ProductNumber"].isdigit()][:4]

    acked: dict[str, dict[str, Any]] = {}
    for i, pn in enumerate(active[:3]):
        r = api.post("/CustomerOrders", json=order(f"DUR-{i}", [(pn, i + 1), ("KM 1007", 1)]))
        assert r.status_code == 201, r.text
        acked[r.json()["OrderNumber"]] = r.json()
    numbers = sorted(acked)
    r = api.put(f"/CustomerOrders/{numbers[0]}", json={"ExpectedDeliveryDate": "2026-03-01",
                                                       "Lines": [{"ProductNumber": active[0], "Quantity": 9,
                                                                  "UnitPrice": 1.25, "Currency": "SEK"}]})
    assert r.status_code == 200
    acked[numbers[0]] = r.json()
    acked[numbers[1]] = api.post(f"/CustomerOrders/{numbers[1]}/cancel").json()
    acked[numbers[2]] = httpx.post(f"{first.base_url}/_mock/orders/{numbers[2]}/pick", timeout=10).json()
    assert acked[numbers[2]]["Status"] == "Picked"
    customers = {}
    for ext in ("WEBCUST-A", "WEBCUST-B"):
        c = api.post("/Customers", json={"ExternalCustomerNumber": ext, "Name": f"Kund {ext}"})
        assert c.status_code == 201
        customers[c.json()["CustomerNumber"]] = c.json()
    moves = [{"ProductNumber": active[3], "WarehouseNumber": "2", "Delta": 17},
             {"ProductNumber": "KM 1007", "WarehouseNumber": "3", "OnHand": 4}]
    for move in moves:
        assert httpx.post(f"{first.base_url}/_mock/stock", json=move, timeout=10).status_code == 200
    before = truth(first)
    first.kill9()  # right after the last acknowledged response

    second = serve("--db", db, *ARGS)
    servers.append(second)
    api2 = httpx.Client(base_url=f"{second.base_url}/api", headers=second.token(), timeout=10)
    assert truth(second) == before, "balances and orders survive kill -9 exactly"
    for number, body in acked.items():
        assert api2.get(f"/CustomerOrders/{number}").json() == body
    for number, body in customers.items():
        assert api2.get(f"/Customers/{number}").json() == body
    assert [(b["OnHand"], b["Reserved"]) for b in before["Balances"]
            if (b["ProductNumber"], b["WarehouseNumber"]) in ((active[3], "2"), ("KM 1007", "3"))] == \
        [(b["OnHand"], b["Reserved"]) for b in truth(second)["Balances"]
         if (b["ProductNumber"], b["WarehouseNumber"]) in ((active[3], "2"), ("KM 1007", "3"))]

    # idempotency keys survive too: a retry of an acknowledged POST is the same order, not a second one
    retry = api2.post("/CustomerOrders", json=order("DUR-2", [(active[2], 3), ("KM 1007", 1)]))
    assert retry.status_code == 200 and retry.json()["OrderNumber"] == numbers[2]
    # and numbering continues: no order or customer number is reused
    new = api2.post("/CustomerOrders", json=order("DUR-NEW", [(active[0], 1)]))
    assert new.status_code == 201
    assert int(new.json()["OrderNumber"]) == int(numbers[-1]) + 1
    new_customer = api2.post("/Customers", json={"ExternalCustomerNumber": "WEBCUST-C", "Name": "Kund C"}).json()
    assert new_customer["CustomerNumber"] not in customers
    assert int(new_customer["CustomerNumber"]) > max(int(n) for n in customers)


def test_kill_9_in_the_middle_of_concurrent_writes(tmp_path: Path, servers: list[Served]) -> None:
    """Four writers post orders; the process is killed while requests are in flight. Every order whose 201 a
    writer received is there after the restart, byte for byte; unacknowledged ones may or may not be."""
    db = str(tmp_path / "x.db")
    first = serve("--db", db, *ARGS)
    servers.append(first)
    h = first.token()
    acked: dict[str, bytes] = {}
    lock = threading.Lock()
    enough = threading.Event()

    http = httpx.Client(base_url=f"{first.base_url}/api", headers=h, timeout=10)  # pooled, thread-safe

    def write(i: int) -> None:
        try:
            r = http.post("/CustomerOrders", json=order(f"BURST-{i}", [("KM 1007", 1)]))
        except httpx.TransportError:
            return  # killed before answering: not acknowledged
        if r.status_code == 201:
            with lock:
                acked[r.json()["OrderNumber"]] = r.content
                if len(acked) >= 10:
                    enough.set()

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(write, i) for i in range(40)]
        assert enough.wait(timeout=30), "the writers never got 10 answers"
        first.kill9()
        for f in futures:
            f.result()
    http.close()
    assert len(acked) >= 10

    second = serve("--db", db, *ARGS)
    servers.append(second)
    h2 = second.token()
    for number, body in acked.items():
        r = httpx.get(f"{second.base_url}/api/CustomerOrders/{number}", headers=h2, timeout=10)
        assert r.status_code == 200, f"acknowledged order {number} was lost"
        assert r.content == body
    state = truth(second)
    reserved = [b["Reserved"] for b in state["Balances"] if b["ProductNumber"] == "KM 1007" and b["WarehouseNumber"] == "1"]
    assert reserved == [len(state["Orders"])], "every surviving order's reservation survived with it"
