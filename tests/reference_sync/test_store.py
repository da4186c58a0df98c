"""The SQLite store: apply-by-changeDate, pending reads that survive in-flight changes and restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reference_sync.store import IncompatibleDatabase, Store


def row(product: str, warehouse: str, balance: int, change_date: str | None) -> dict[str, object]:
    return {
        "productNumber": product,
        "warehouse": warehouse,
        "availableBalanceNow": balance,
        "changeDate": change_date,
    }


def test_an_older_answer_never_overwrites_a_newer_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.apply_balances([row("P1", "1", 5, "2026-01-05T09:00:02.000+01:00")])
    store.apply_balances([row("P1", "1", 9, "2026-01-05T08:00:01.000Z")])  # a slow, older answer lands late
    assert store.balances() == [("P1", "1", 5, "2026-01-05T09:00:02.000+01:00")]
    store.apply_balances([row("P1", "1", 3, "2026-01-05T08:00:03.000Z")])
    assert store.balances()[0][2] == 3


def test_a_row_listed_again_changes_nothing_and_is_counted_as_known(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.apply_balances([row("P1", "1", 5, "2026-01-05T08:00:02.000Z")]) == (1, 1)
    assert store.apply_balances([row("P1", "1", 5, "2026-01-05T09:00:02.000+01:00")]) == (1, 0)


def test_an_equal_change_date_with_another_balance_wins_because_it_was_read_later(tmp_path: Path) -> None:
    # Two changes inside one millisecond share a changeDate; only the later read has seen both.
    store = Store(tmp_path / "s.db")
    store.apply_balances([row("P1", "1", 5, "2026-01-05T08:00:02.000Z")])
    assert store.apply_balances([row("P1", "1", 4, "2026-01-05T08:00:02.000Z")]) == (1, 1)
    assert store.balances()[0][2] == 4


def test_a_row_without_change_date_is_taken_as_the_latest_read(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.apply_balances([row("P1", "1", 5, "2026-01-05T08:00:02.000Z")])
    store.apply_balances([row("P1", "1", 6, None)])
    assert store.balances()[0][2] == 6


def test_orders_keep_the_latest_read_and_a_first_copy_never_overwrites_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    header = {"orderNumber": "100001", "orderNumberExternal": "WEB-1", "orderStatus": "Reserved"}
    store.apply_order({"orderHeader": header, "orderRows": []})
    store.add_order_if_absent("100001", "WEB-1", "Created", {})  # e.g. the POST's answer, applied late
    store.apply_order({"orderHeader": {**header, "orderStatus": "Terminated"}, "orderRows": []})
    [(number, external, status, document)] = store.orders()
    assert (number, external, status) == ("100001", "WEB-1", "Terminated")
    assert document["orderHeader"]["orderStatus"] == "Terminated"


def test_a_change_announced_while_its_read_was_in_flight_stays_pending(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.accept_delivery("a" * 32, 0.0, [("P1", "1"), ("P2", "1")], [])
    mark = store.current_mark()  # a read of P1 and P2 starts now ...
    store.accept_delivery("b" * 32, 0.0, [("P1", "1")], [])  # ... and P1 changes again meanwhile
    store.clear_balances([("P1", "1"), ("P2", "1")], mark)
    assert [pair for pair, _ in store.pending_balances()] == [("P1", "1")]  # the answer may predate it
    store.clear_all_balances(store.current_mark())
    assert store.pending_balances() == []


def test_a_duplicate_delivery_id_records_nothing_new(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.accept_delivery("a" * 32, 0.0, [("P1", "1")], ["100001"]) is not None
    store.clear_all_balances(store.current_mark())
    store.clear_order("100001", store.current_mark())
    assert store.accept_delivery("a" * 32, 1.0, [("P1", "1")], ["100001"]) is None
    assert store.pending_balances() == []
    assert store.due_orders(10.0, 10) == []


def test_committed_state_survives_a_crash(tmp_path: Path) -> None:
    """kill -9 leaves the first connection unclosed; a new process opening the file sees every commit."""
    path = tmp_path / "s.db"
    crashed = Store(path)
    crashed.accept_delivery("a" * 32, 0.0, [("P1", "1")], ["100001"])
    with crashed.transaction():
        outgoing_id = crashed.add_outgoing("WEB-1", {"rows": [{"productNumber": "P1", "quantity": 1}]}, 0.0)
        crashed.set_body(outgoing_id, b"{}", 0.0)
        crashed.begin_post(outgoing_id, 0.0)
        crashed.save_cursor("orders", 1_767_600_000_000)
    restarted = Store(path)
    assert [pair for pair, _ in restarted.pending_balances()] == [("P1", "1")]
    assert [r.order_number for r in restarted.due_orders(1.0, 10)] == ["100001"]
    outgoing = restarted.outgoing("WEB-1")
    assert outgoing is not None and outgoing.in_doubt and outgoing.body == b"{}"
    assert restarted.cursor("orders") == 1_767_600_000_000
    assert restarted.current_mark() >= crashed.current_mark()  # marks keep rising across restarts


def test_deliveries_are_forgotten_after_the_retention(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.accept_delivery("a" * 32, 100.0, [], [])
    store.accept_delivery("b" * 32, 200.0, [], [])
    assert store.prune_deliveries(150.0) == 1
    assert store.accept_delivery("a" * 32, 300.0, [], []) is not None
    assert store.accept_delivery("b" * 32, 300.0, [], []) is None


def test_a_database_of_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE balances (product_number TEXT, warehouse_number TEXT)")
    with pytest.raises(IncompatibleDatabase):
        Store(path)
