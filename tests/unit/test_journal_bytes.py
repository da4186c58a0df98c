"""The journal is bounded in bytes as well as records (issue 12, item 2), and what it dropped is counted
(``dropped``, ``droppedBytes``). Before the fix it was bounded in records only: 150 requests with 1 MB bodies
kept 150 MB (the journal keeps each request's body)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.journal import Journal
from mock_xtnd.settings import Settings
from tests.support.xtnd import API, basic, order_body, row

MIB = 2**20


def record(i: int, size: int) -> dict[str, Any]:
    return {"kind": "api", "time": "2026-01-05T08:00:00.000Z", "user": "demo", "path": f"/x/{i}",
            "body": {"notations": "x" * size}}


def test_the_journal_keeps_about_its_byte_bound_and_counts_what_it_dropped() -> None:
    j = Journal(max_records=100_000, max_bytes=MIB)
    for i in range(300):
        j.append(record(i, 50_000 if i % 10 == 0 else 100))
    kept = j.lines()
    size = sum(len(line) for line in kept)
    assert size <= MIB * 1.2, size
    assert j.dropped == 300 - len(kept) and j.dropped > 0 and j.dropped_bytes > 0
    assert [orjson.loads(x)["seq"] for x in kept] == list(range(301 - len(kept), 301)), "the newest stay, in order"
    page = orjson.loads(j.json_page(j.lines(limit=1)))
    assert (page["dropped"], page["droppedBytes"], page["lastSeq"]) == (j.dropped, j.dropped_bytes, 300)


def test_small_records_still_go_by_count() -> None:
    j = Journal(max_records=1000, max_bytes=64 * MIB)
    for i in range(5000):
        j.append(record(i, 10))
    assert 1000 <= len(j) <= 1100 and j.dropped == 5000 - len(j)


def test_large_request_bodies_cannot_fill_the_journal() -> None:
    """Authenticated 500 KB bodies are journaled (the judge reads them) but only up to ``journal_max_bytes``;
    unauthenticated ones are never even read."""
    settings = Settings(clock="virtual", quirks={"transient_errors": 0}, journal_max_bytes=2 * MIB,
                        catalogue={"products": 20, "customers": 5})
    big = order_body("BIG", [row("100003", 1)], yourReference="r")
    big["orderHeader"]["notations"] = ["y" * 500_000]
    with TestClient(create_app(settings)) as c:
        for _ in range(20):
            assert c.post(f"{API}/CustomerOrders", headers=basic(), json=big).status_code in (200, 400)
            assert c.post(f"{API}/CustomerOrders", json=big).status_code == 401
        page = c.get("/_mock/journal").json()
    size = sum(len(orjson.dumps(item)) for item in page["items"])
    assert size <= 2.5 * MIB, size
    assert page["dropped"] > 0 and page["droppedBytes"] > 5 * MIB
    unauthenticated = [x for x in page["items"] if x["status"] == 401]
    assert unauthenticated and all(x["body"] is None and x["bodySha256"] is None for x in unauthenticated)
