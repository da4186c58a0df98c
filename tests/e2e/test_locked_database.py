"""Apply on commit, with real processes (issue 12, item 1): another process holds a write lock on the ``--db`` file.
The fake refuses the write with a retryable answer, shows nothing of it (the full truth is unchanged), keeps
answering while the lock is held, takes the retry exactly once when the lock is gone, and after a ``kill -9`` and a
restart holds exactly what it acknowledged. Before the fix the order stayed in memory, a retry was answered with
"already exists", and the restart lost it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_durability import args, servers, truth, without_live_figures  # noqa: F401 (fixture)
from tests.e2e.xtnd_process import Served, serve
from tests.support.xtnd import CONTROL, order_body, row

pytestmark = pytest.mark.e2e

TIMEOUT = ("Execution Timeout Expired.  The timeout period elapsed prior to completion of the operation or the server "
           "is not responding.")


@contextmanager
def locked(db: Path) -> Iterator[None]:
    other = sqlite3.connect(str(db), isolation_level=None, timeout=10)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_locked_database_refuses_the_write_and_a_restart_keeps_exactly_what_was_acknowledged(
        tmp_path: Path, servers: list[Served]) -> None:  # noqa: F811
    first = serve(*args(tmp_path))
    servers.append(first)
    api = first.api()
    body = order_body("LOCKED-1", [row("KM 1007", 2, unit_price=10.5)])
    before = truth(first)
    with locked(tmp_path / "x.db"):
        refused = api.post("/CustomerOrders", json=body)
        assert refused.status_code == 400 and refused.json() == {"Message": TIMEOUT}, refused.text
        # the event loop is not stuck behind the lock: the fake answers, reads and refuses quickly
        assert httpx.get(f"{first.base_url}/_mock/clock", timeout=10).status_code == 200
        stock = httpx.post(f"{first.base_url}/_mock/stock", headers=CONTROL, timeout=10,
                           json={"productNumber": "KM 1007", "warehouse": "1", "balanceDifference": 5})
        assert stock.status_code == 400 and stock.json() == {"Message": TIMEOUT}
        assert truth(first) == before, "nothing of the refused writes shows"
        assert api.get("/CustomerOrders", params={"orderNumberExternal": "LOCKED-1"}).json() == []
    journal = httpx.get(f"{first.base_url}/_mock/journal", params={"kind": "api", "path": "/RESTAPI/v1_0/demo/Cust"},
                        timeout=10).json()["items"]
    assert [(r["status"], r["errorKind"]) for r in journal if r["method"] == "POST"] == [(400, "Transient")]

    made = api.post("/CustomerOrders", json=body)  # the client retries, as told by the transient 400
    assert made.status_code == 200, made.text
    number = made.json()["orderHeader"]["orderNumber"]
    again = api.post("/CustomerOrders", json=body)
    assert again.status_code == 400 and number in again.json()["Message"]
    assert [o["orderNumber"] for o in api.get("/CustomerOrders",
                                              params={"orderNumberExternal": "LOCKED-1"}).json()] == [number]
    acked = api.get(f"/CustomerOrders/{number}").json()
    after = truth(first)
    assert number == "100001" and after["counters"]["order"] == 100001  # the refused attempt used up no number
    first.kill9()

    second = serve(*args(tmp_path))
    servers.append(second)
    assert truth(second) == after, "every record, counter and the outbox as acknowledged"
    with second.api() as api2:
        assert without_live_figures(api2.get(f"/CustomerOrders/{number}").json()) == without_live_figures(acked)
        assert api2.get("/ProductAvailability/KM%201007/1").json()["orderedQuantity"] == 2
