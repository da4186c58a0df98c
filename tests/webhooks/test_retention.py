"""Bounded memory for what has finished (issue 12, item 5): finished deliveries are kept up to a count and a number
of bytes (``retention`` in the config), the oldest finished go first, in memory and on disk, and what went is
counted (``GET /_mock/deliveries`` -> ``outbox``). Pending deliveries are never dropped. Finished storms are kept up
to a count too. Before the fix every finished delivery was kept for ever (about 0.6 KB each, plus its journal
record): RSS 74 -> 703 MB after a few large storms."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.support.receiver import Receiver
from tests.webhooks.conftest import Fake, fake_settings, running, serving, subscription


def moves(fake: Fake, n: int) -> None:
    """``n`` stock moves, one BalanceChanged hook each."""
    product = fake.products()[0]
    for i in range(n):
        fake.stock(product, "1", 1 if i % 2 == 0 else -1)


def outbox(fake: Fake) -> dict[str, Any]:
    data: dict[str, Any] = fake.ok(fake.c.get("/_mock/deliveries", params={"limit": 1}))["outbox"]
    return data


def retained(receiver: Receiver, **retention: Any) -> Any:
    return fake_settings(subscription(receiver.url, triggers=["BalanceChanged"]), retention=retention)


def test_finished_deliveries_beyond_the_count_go_oldest_first_and_are_counted(receiver: Receiver) -> None:
    with running(retained(receiver, finished_deliveries=100)) as fake:
        moves(fake, 250)
        fake.settle()
        assert len(receiver.received) == 250
        kept = fake.deliveries(limit="1000")
        assert len(kept) == 100 and {d["status"] for d in kept} == {"delivered"}
        all_ids = [r.json["Id"] for r in receiver.received]
        assert {d["deliveryId"] for d in kept} <= set(all_ids[-110:]), "the newest are kept"
        stats = outbox(fake)
        assert stats["evicted"] == {"delivered": 150, "gone": 0, "dead": 0}
        assert (stats["finishedKept"], stats["pending"]) == (100, 0) and stats["evictedBytes"] > 0
        evicted = next(i for i in all_ids if i not in {d["deliveryId"] for d in kept})
        assert fake.c.get(f"/_mock/deliveries/{evicted}").status_code == 404


def test_pending_deliveries_are_never_dropped() -> None:
    with serving(lambda _r: 503) as down, running(retained(down, finished_deliveries=100)) as fake:
        moves(fake, 240)
        fake.settle()  # every first attempt failed: 240 pending, well past the count
        stats = outbox(fake)
        assert (stats["pending"], stats["finishedKept"], sum(stats["evicted"].values())) == (240, 0, 0)
        assert len(fake.deliveries(status="pending", limit="1000")) == 240
        fake.advance(60)
        fake.advance(240)  # the budget is spent: all dead now, and only the newest 100 kept
        stats = outbox(fake)
        assert (stats["pending"], stats["finishedKept"], stats["evicted"]["dead"]) == (0, 100, 140)


def test_finished_deliveries_are_bounded_in_bytes_too(receiver: Receiver) -> None:
    settings = fake_settings(subscription(receiver.url, triggers=["AvailableBalanceChanged"]),
                             retention={"finished_deliveries": 100_000, "finished_delivery_bytes": 2**20})
    with running(settings) as fake:
        fake.ok(fake.c.post("/_mock/storm", json={"rate": 100_000, "count": 2500}))
        fake.advance(1)
        stats = outbox(fake)
        assert stats["finishedBytes"] <= 2**20 and stats["evictedBytes"] > 0
        assert stats["finishedKept"] + stats["evicted"]["delivered"] == 2500
        assert 2**20 / stats["finishedKept"] < 1500, "a kept delivery costs well under 1.5 KB"


def test_retention_reaches_the_database_and_the_counts_survive_a_restart(receiver: Receiver, tmp_path: Path) -> None:
    settings = retained(receiver, finished_deliveries=100)
    settings.db = str(tmp_path / "x.db")
    with running(settings) as fake:
        moves(fake, 180)
        fake.settle()
        fake.advance(1)  # one more flush
        before = outbox(fake)
    conn = sqlite3.connect(settings.db)
    on_disk = conn.execute("SELECT count(*) FROM records WHERE kind = 'delivery'").fetchone()[0]
    conn.close()
    assert on_disk == 100
    with running(settings) as fake:
        after = outbox(fake)
        assert len(fake.deliveries(limit="1000")) == 100
    assert (after["evicted"], after["finishedKept"]) == (before["evicted"], 100) == ({"delivered": 80, "gone": 0,
                                                                                     "dead": 0}, 100)


def test_finished_storms_beyond_the_count_go_and_are_counted(receiver: Receiver) -> None:
    with running(retained(receiver, storms=2)) as fake:
        ids = []
        for _ in range(4):
            ids.append(fake.ok(fake.c.post("/_mock/storm", json={"rate": 100, "count": 3}))["stormId"])
            fake.advance(1)
        listed = fake.ok(fake.c.get("/_mock/storm"))
        assert [s["stormId"] for s in listed["items"]] == ids[-2:] and listed["evicted"] == 2
        assert fake.c.get(f"/_mock/storm/{ids[0]}").status_code == 404
