"""One seed reproduces every answer byte for byte, every id (orders, rows, shipments, invoices, customers) and
every webhook envelope Id; another seed gives another catalogue."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import CAPTURE, CAPTURE_DELAY, customer_body, order_body, row
from tests.conftest import API, basic
from tests.support.xtnd import CONTROL

READS = [
    "Products?pageCount=1000",
    "Products?pageCount=50&pageOffset=2",
    "Products/100003",
    "Products/KM%201007",
    "Customers",
    "Customers/10001",
    "Customers/10042",
    "ProductPrices?customerNumber=10001&pageNumber=3",
    "ProductPrices?customerNumber=10008",
    "ProductAvailability?pageNumber=4",
    "ProductAvailability/AB%2000023%2FB/2",
    "WarehouseStockLevels?warehouse=2&pageNumber=2",
]


def run(seed: int) -> list[tuple[str, int, bytes]]:
    """The same session against a fresh fake: (what, status, exact answer bytes) of each step."""
    s = Settings(clock="virtual", seed=seed, quirks={"transient_errors": 0}, subscriptions=[CAPTURE],
                 delivery_faults=CAPTURE_DELAY)
    out: list[tuple[str, int, bytes]] = []
    h = basic()
    with TestClient(create_app(s)) as c:
        def keep(what: str, r: object) -> None:
            out.append((what, r.status_code, r.content))  # type: ignore[attr-defined]

        for path in READS:
            keep(path, c.get(f"{API}/{path}", headers=h))
        c.put("/_mock/quirks", json={"transientErrors": 0.3})
        for i in range(6):  # some of these meet a (seeded) transient failure
            keep(f"order {i}", c.post(f"{API}/CustomerOrders", headers=h,
                                      json=order_body([row("100003", 1 + i), row("KM 1007", 1)], f"DET-{i}")))
        c.put("/_mock/quirks", json={"transientErrors": 0})
        keep("customer", c.post(f"{API}/Customers", headers=h, json=customer_body()))
        keep("stock", c.put(f"{API}/WarehouseStockLevels", headers=h,
                            json={"warehouse": "1", "productNumber": "100003", "balanceDifference": 3}))
        orders = [o["orderNumber"] for o in c.get("/_mock/state").json()["orders"]]
        for number in orders:
            keep(f"pick {number}", c.post(f"/_mock/orders/{number}/pick", headers=CONTROL))  # forwarder, tracking numbers, invoice
        keep("orders", c.get(f"{API}/CustomerOrders", headers=h, params={"modifiedDateFrom": "2026-01-01"}))
        keep("deliveries", c.get("/_mock/deliveries"))
        keep("truth", c.get("/_mock/truth"))
        keep("journal", c.get("/_mock/journal", params={"format": "jsonl"}))
    return out


def test_the_same_seed_gives_byte_identical_answers_ids_and_webhook_ids() -> None:
    first, second = run(1), run(1)
    assert [(w, s) for w, s, _ in first] == [(w, s) for w, s, _ in second]
    for (what, _, a), (_, _, b) in zip(first, second, strict=True):
        if what == "journal":
            # latencyMs is wall-clock time; every other key of every record must match
            a, b = (b"\n".join(_strip_latency(line) for line in x.splitlines()) for x in (a, b))
        assert a == b, f"{what} differs between two runs with seed 1"
    statuses = [s for w, s, _ in first if w.startswith("order ")]
    assert 200 in statuses and 400 in statuses, statuses
    deliveries = json.loads(next(body for w, _, body in first if w == "deliveries"))["items"]
    assert len(deliveries) > 10 and all(len(d["deliveryId"]) == 32 for d in deliveries)


def _strip_latency(line: bytes) -> bytes:
    record = json.loads(line)
    record.pop("latencyMs", None)
    return json.dumps(record, sort_keys=True).encode()


def test_another_seed_gives_another_catalogue() -> None:
    first, other = run(1), run(2)
    differing = {w for (w, _, a), (_, _, b) in zip(first[:len(READS)], other[:len(READS)], strict=True) if a != b}
    assert differing == set(READS)
