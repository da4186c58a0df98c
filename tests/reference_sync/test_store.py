"""The SQLite store: apply-by-ChangedAt, pending fetches that survive in-flight changes and restarts."""

from __future__ import annotations

from pathlib import Path

from reference_sync.store import Store


def row(product: str, warehouse: str, balance: int, changed_at: str) -> dict[str, object]:
    return {
        "ProductNumber": product,
        "WarehouseNumber": warehouse,
        "AvailableBalance": balance,
        "ChangedAt": changed_at,
    }


def test_an_older_answer_never_overwrites_a_newer_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.apply_balances([row("P1", "1", 5, "2026-01-05T08:00:02.000Z")])
    store.apply_balances([row("P1", "1", 9, "2026-01-05T08:00:01.000Z")])  # a slow, older answer lands late
    assert store.balances() == [("P1", "1", 5, "2026-01-05T08:00:02.000Z")]
    store.apply_balances([row("P1", "1", 3, "2026-01-05T08:00:03.000Z")])
    assert store.balances()[0][2] == 3


def test_an_answer_with_an_equal_changed_at_wins_because_it_was_fetched_later(tmp_path: Path) -> None:
    # Two changes inside one millisecond share a ChangedAt; only the later fetch has seen both.
    store = Store(tmp_path / "s.db")
    store.apply_balances([row("P1", "1", 5, "2026-01-05T08:00:02.000Z")])
    store.apply_balances([row("P1", "1", 4, "2026-01-05T08:00:02.000Z")])
    assert store.balances()[0][2] == 4


def test_orders_are_applied_by_changed_at_too(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    picked = {
        "OrderNumber": "100001",
        "ExternalOrderNumber": "WEB-1",
        "Status": "Picked",
        "ChangedAt": "2026-01-05T09:00:00.000Z",
        "Shipments": [
            {
                "ShipmentNumber": "SH1",
                "Carrier": "PostNord",
                "TrackingNumber": "00370123",
                "ShippedAt": "2026-01-05T09:00:00.000Z",
                "Lines": [],
            }
        ],
    }
    created = {**picked, "Status": "Created", "ChangedAt": "2026-01-05T08:00:00.000Z", "Shipments": []}
    store.apply_order(picked)
    store.apply_order(created)
    [(number, external, status, _, shipments)] = store.orders()
    assert (number, external, status) == ("100001", "WEB-1", "Picked")
    assert shipments[0]["TrackingNumber"] == "00370123"


def test_a_change_announced_while_its_fetch_was_in_flight_stays_pending(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.accept_delivery("a" * 32, 0.0, [("P1", "1"), ("P2", "1")], [])
    mark = store.current_mark()  # a fetch of P1 and P2 starts now ...
    store.accept_delivery("b" * 32, 0.0, [("P1", "1")], [])  # ... and P1 changes again meanwhile
    store.clear_balances([("P1", "1"), ("P2", "1")], mark)
    assert store.pending_balances() == [("P1", "1")]  # the answer may predate the second change


def test_a_duplicate_delivery_id_records_nothing_new(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.accept_delivery("a" * 32, 0.0, [("P1", "1")], [("order", "100001")]) is True
    store.clear_balances([("P1", "1")], store.current_mark())
    store.clear_record("order", "100001", store.current_mark())
    assert store.accept_delivery("a" * 32, 1.0, [("P1", "1")], [("order", "100001")]) is False
    assert store.pending_balances() == []
    assert store.due_records(10.0, 10) == []


def test_committed_state_survives_a_crash(tmp_path: Path) -> None:
    """kill -9 leaves the first connection unclosed; a new process opening the file sees every commit."""
    path = tmp_path / "s.db"
    crashed = Store(path)
    crashed.accept_delivery("a" * 32, 0.0, [("P1", "1")], [("order", "100001")])
    with crashed.transaction():
        crashed.add_outgoing("order", "WEB-1", {"Lines": [{"ProductNumber": "P1", "Quantity": 1}]}, 0.0)
        crashed.save_cursor("orders", "2026-01-05T08:00:00.000Z")
    restarted = Store(path)
    assert restarted.pending_balances() == [("P1", "1")]
    assert [(r.kind, r.key) for r in restarted.due_records(1.0, 10)] == [("order", "100001")]
    assert restarted.outgoing("WEB-1") is not None
    assert restarted.cursor("orders") == "2026-01-05T08:00:00.000Z"
    assert restarted.current_mark() >= crashed.current_mark()  # marks keep rising across restarts


def test_deliveries_are_forgotten_after_the_retention(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.accept_delivery("a" * 32, 100.0, [], [])
    store.accept_delivery("b" * 32, 200.0, [], [])
    assert store.prune_deliveries(150.0) == 1
    assert store.accept_delivery("a" * 32, 300.0, [], []) is True
    assert store.accept_delivery("b" * 32, 300.0, [], []) is False
