"""How the journal and the outbox keep what is finished: exactly what went in comes out, in order, and what is
kept long costs the garbage collector nothing.

The second part is a performance property with a functional test: full collections walk every object the collector
tracks, so records kept as dicts and lists made 50-130 ms pauses mid-storm (docs/benchmarks.md). The tests count
tracked objects, not time, so they cannot flake on a loaded machine.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

import orjson
import pytest

from mock_xtnd.journal import Journal
from mock_xtnd.webhooks.outbox import DEAD, DELIVERED, PENDING, Attempt, Delivery, Outbox


def api_record(i: int, user: str = "shop") -> dict[str, object]:
    return {"kind": "api", "user": user, "method": "GET", "path": f"/RESTAPI/v1_0/demo/Products/{i}",
            "query": {"pageCount": ["10"]}, "productNumbers": [str(i)], "status": 200}


def delivery_record(i: int, origin: str | None) -> dict[str, object]:
    return {"kind": "delivery", "deliveryId": f"{i:032x}", "notifications": [{"Action": "A", "Details": {"N": i}}],
            "origin": origin, "outcome": "delivered"}


def test_the_journal_numbers_records_and_returns_exactly_what_was_appended() -> None:
    j = Journal(max_records=1000)
    originals = []
    for i in range(2500):  # several sealed chunks and an open one
        rec = api_record(i) if i % 3 else delivery_record(i, "storm:S1" if i % 2 else None)
        assert j.append(rec) == i + 1
        originals.append(orjson.loads(orjson.dumps(rec)))
    assert j.last_seq == 2500
    kept = j.since(0)
    assert [r["seq"] for r in kept] == list(range(j.dropped + 1, 2501))
    assert kept == originals[j.dropped:]
    assert j.since(2490) == originals[2490:]
    assert j.since(2500) == [] and j.since(10**9) == []


def test_the_journal_drops_the_oldest_past_its_bound_and_counts_them() -> None:
    j = Journal(max_records=1000)
    for i in range(5000):
        j.append(api_record(i))
        assert len(j) <= 1100  # never more than 10% over
    assert len(j) >= 1000 and j.dropped == 5000 - len(j)
    assert j.since(0)[0]["seq"] == j.dropped + 1
    assert j.since(3)[0]["seq"] == j.dropped + 1  # asking from before the oldest kept gives what is kept


def test_the_journal_filters_by_kind_user_path_origin_and_limit() -> None:
    j = Journal(max_records=1000)
    for i in range(300):
        j.append(api_record(i, user="a" if i % 2 else "b"))
        j.append(delivery_record(i, "storm:S1" if i % 3 == 0 else "storm:S2"))
    assert len(j.lines(kind="delivery")) == 300
    assert {orjson.loads(x)["user"] for x in j.lines(user="a")} == {"a"}
    assert len(j.lines(user="a")) == 150
    # Path prefixes match case-insensitively, as the API's paths do.
    assert [orjson.loads(x)["path"] for x in j.lines(path="/restapi/V1_0/DEMO/products/29")] == [
        "/RESTAPI/v1_0/demo/Products/29", *(f"/RESTAPI/v1_0/demo/Products/{n}" for n in range(290, 300))]
    assert len(j.lines(kind="api", limit=7, since=100)) == 7
    assert {r["deliveryId"] for r in j.since(0, kind="delivery", origin="storm:S1")} == {
        f"{i:032x}" for i in range(0, 300, 3)}
    page = orjson.loads(j.json_page(j.lines(limit=2)))
    assert page == {"items": j.since(0)[:2], "dropped": 0, "droppedBytes": 0, "lastSeq": 600}
    assert j.jsonl(j.lines(limit=2)).count(b"\n") == 2


def tracked_objects() -> int:
    gc.collect()  # a tuple is untracked once the collector has seen that all it holds is untracked; a nested
    gc.collect()  # tuple can be seen after its holder in one pass, so a second pass settles the rest
    return len(gc.get_objects())


@pytest.mark.parametrize("records", [20_000])
def test_a_long_journal_adds_almost_nothing_for_the_garbage_collector_to_walk(records: int) -> None:
    j = Journal(max_records=200_000)
    before = tracked_objects()
    for i in range(records):
        j.append(api_record(i) if i % 2 else delivery_record(i, None))
    grown = tracked_objects() - before
    assert len(j) == records
    # A chunk list and the open chunk's few entries; with records as dicts of lists this was ~3 per record.
    assert grown < 1100, f"{grown} more tracked objects for {records} records"


def finished(i: int, status: str = DELIVERED) -> Delivery:
    d = Delivery(f"{i:032x}", f"guid-{i}", "shop", "http://127.0.0.1:1/hook",
                 [{"Action": "AvailableBalanceChanged", "Details": {"ProductNumber": str(i)}}], i, i)
    d.attempts.append(Attempt(1, i + 5, 204 if status == DELIVERED else 500, None, 1.5, None))
    d.status = status
    return d


def test_a_finished_delivery_comes_back_from_the_outbox_exactly_as_it_was() -> None:
    o = Outbox()
    live = finished(1)
    live.status = PENDING
    o.add(live)
    assert o.pending(live.id) is live and o.get(live.id) is live
    live.status = DEAD
    live.attempts.append(Attempt(2, 99, None, "refused", 0.0, "drop"))
    o.settle(live)
    assert o.pending(live.id) is None  # a finished delivery is no sender's work any more
    back = o.get(live.id)
    assert back is not None and back is not live and back == live
    assert o.created_at(live.id) == 1 and o.created_at("nope") is None and o.get("nope") is None


def test_the_outbox_keeps_creation_order_and_filters_without_decoding_everything() -> None:
    o = Outbox()
    for i in range(10):
        d = finished(i, DELIVERED if i % 2 else DEAD)
        if i == 4:
            d.status = PENDING  # still live, in the middle
        o.add(d)
    assert [d.created_at for d in o.query(None, None, None)] == list(range(10))
    assert [d.created_at for d in o.query("dead", None, None)] == [0, 2, 6, 8]
    assert [d.created_at for d in o.query("pending", "AvailableBalanceChanged", "shop")] == [4]
    assert list(o.query(None, "OrderCreated", None)) == [] and list(o.query(None, None, "other")) == []
    # A redelivery makes it live again in the same place.
    again = o.get(f"{2:032x}")
    assert again is not None
    again.status = PENDING
    o.add(again)
    assert [d.created_at for d in o.query("pending", None, None)] == [2, 4]
    assert len(o) == 10


def settle_finished(o: Outbox, count: int) -> None:
    """``count`` deliveries through their life in the outbox: added while pending, settled once delivered."""
    for i in range(count):
        d = finished(i)
        d.status = PENDING
        o.add(d)
        d.status = DELIVERED
        o.settle(d)


def allocated(work: Callable[[], object]) -> int:
    """Bytes still allocated after ``work()`` (tracemalloc: counted, not timed)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        work()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_finished_deliveries_add_almost_nothing_for_the_garbage_collector_to_walk() -> None:
    o = Outbox()
    before = tracked_objects()
    settle_finished(o, 10_000)
    grown = tracked_objects() - before
    assert len(o) == 10_000
    assert grown < 50, f"{grown} more tracked objects for 10,000 finished deliveries (live ones: ~6 each)"


def test_a_journal_record_costs_its_json_and_little_more_in_memory() -> None:
    """orjson's bytes keep the ~4 KB buffer they were written into; kept as they come, 200,000 records took 800 MB."""
    j = Journal(max_records=200_000)
    used = allocated(lambda: [j.append(api_record(i)) for i in range(5_000)])
    line_bytes = sum(len(x) for x in j.lines())
    assert used / 5_000 < 2.5 * line_bytes / 5_000 + 120, f"{used / 5_000:.0f} B per record for {line_bytes / 5_000:.0f} B of JSON"


def test_a_finished_delivery_costs_little_more_than_its_json_in_memory() -> None:
    o = Outbox()
    used = allocated(lambda: settle_finished(o, 2_000))
    assert used / 2_000 < 1_500, f"{used / 2_000:.0f} B per finished delivery"
