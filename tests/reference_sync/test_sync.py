"""The sync engine's steps against a double of XTND's wire behaviour: batching, apply-by-ChangedAt, orders,
errors by kind, the changedSince fallback and restarts. Each test drives steps directly with a manual clock."""

from __future__ import annotations

import orjson
import pytest

from reference_sync.app import Service
from reference_sync.clock import ManualClock
from reference_sync.webhooks import Delivery
from tests.reference_sync.rsync_doubles import DroppingTransport, ServiceFactory, XtndDouble, iso

pytestmark = pytest.mark.anyio


def hook(service: Service, delivery_id: str, *notifications: tuple[str, dict[str, object]]) -> bool:
    return service.sync.accept_delivery(
        Delivery(delivery_id, 1, [{"Action": a, "Details": d} for a, d in notifications])
    )


def balance(product: str, warehouse: str = "1") -> tuple[str, dict[str, object]]:
    return (
        "AvailableBalanceChanged",
        {"ProductNumber": product, "WarehouseNumber": warehouse, "AvailableBalance": 1},
    )


def order_event(action: str, number: str) -> tuple[str, dict[str, object]]:
    return (action, {"OrderNumber": number, "ExternalOrderNumber": "?", "WarehouseNumber": "1"})


def availability_calls(xtnd_double: XtndDouble) -> list[list[str]]:
    return [c.query.get("productNumber", []) for c in xtnd_double.calls_to("GET", "ProductAvailability")]


# ---------------------------------------------------------------------------------------------- balances


async def test_a_storm_of_hooks_is_fetched_in_calls_of_at_most_200_products(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    for i in range(450):
        xtnd_double.set_balance(f"P{i:03d}", "1", i, iso(1))
    for i in range(450):
        for repeat in range(3):  # three changes each: still one fetch each
            hook(service, f"{i:029d}{repeat:03d}", balance(f"P{i:03d}"))
    # Full calls are due at once; the remainder waits for its window rather than making a small call now.
    assert service.sync.coalescer.due_in() == 0
    assert await service.sync.flush_balances() == 2
    assert service.sync.coalescer.due_in() == pytest.approx(service.config.balance_window)
    clock.advance(service.config.balance_window)
    assert await service.sync.flush_balances() == 1
    assert [len(p) for p in availability_calls(xtnd_double)] == [200, 200, 50]
    assert all(c.query["warehouseNumber"] == ["1"] for c in xtnd_double.calls)
    assert len(service.store.balances()) == 450
    assert service.store.pending_balances() == []


async def test_a_change_during_the_fetch_is_fetched_again(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    xtnd_double.set_balance("P1", "1", 10, iso(1))
    hook(service, "a" * 32, balance("P1"))

    # The hook for the second change lands while the first ProductAvailability call is on its way.
    original = xtnd_double._get_productavailability

    def answer_then_change(key: str, query: dict[str, list[str]], body: bytes):  # type: ignore[no-untyped-def]
        response = original(key, query, body)
        if len(xtnd_double.calls) == 1:
            xtnd_double.set_balance("P1", "1", 9, iso(2))
            hook(service, "b" * 32, balance("P1"))
        return response

    xtnd_double._get_productavailability = answer_then_change  # type: ignore[method-assign]
    await service.sync.flush_balances()
    assert service.store.balances()[0][2] == 10
    assert service.store.pending_balances() == [("P1", "1")]  # still owed: the answer predates the change
    await service.sync.flush_balances()
    assert service.store.balances()[0][2] == 9
    assert service.store.pending_balances() == []


async def test_an_older_answer_does_not_overwrite_a_newer_row(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    service.store.apply_balances(
        [{"ProductNumber": "P1", "WarehouseNumber": "1", "AvailableBalance": 3, "ChangedAt": iso(5)}]
    )
    xtnd_double.set_balance("P1", "1", 8, iso(4))  # e.g. a lagging replica answers with an older row
    hook(service, "a" * 32, balance("P1"))
    await service.sync.flush_balances()
    assert service.store.balances()[0][2:] == (3, iso(5))


async def test_a_failing_fetch_keeps_its_pairs_pending_and_backs_off(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    xtnd_double.set_balance("P1", "1", 10, iso(1))
    xtnd_double.fail_next("GET ProductAvailability", 500, times=5)
    hook(service, "a" * 32, balance("P1"))
    await service.sync.flush_balances()
    assert len(xtnd_double.calls) == 5  # the client's own retries, then it gave up
    assert service.store.pending_balances() == [("P1", "1")]
    assert service.sync.coalescer.pending_products == 1
    # The next try is a new attempt after a cool-down, not a sixth retry in a row.
    assert service.sync.coalescer.due_in() == pytest.approx(service.config.internal_cooldown, abs=0.01)
    clock.advance(service.config.internal_cooldown)
    await service.sync.flush_balances()
    assert service.store.balances()[0][2] == 10


async def test_a_refused_batch_is_split_so_one_bad_product_does_not_block_the_rest(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    for p in ("P1", "P2", "P3"):
        xtnd_double.set_balance(p, "1", 1, iso(1))
    for i, p in enumerate(("P1", "BAD-9", "P2", "P3")):
        hook(service, f"{i:032d}", balance(p))
    await service.sync.flush_balances()
    assert {row[0] for row in service.store.balances()} == {"P1", "P2", "P3"}
    assert service.store.pending_balances() == []
    assert [(k, key) for k, key, *_ in service.store.parked()] == [("availability", "BAD-9@1")]
    calls = availability_calls(xtnd_double)
    assert len(calls) == len({tuple(c) for c in calls})  # no request was sent twice unchanged


# ---------------------------------------------------------------------------------------------- orders


async def push_order(service: Service, *lines: tuple[str, int], warehouse: str = "1") -> str:
    external = service.sync.take_shop_order(
        {"Lines": [{"ProductNumber": p, "Quantity": q} for p, q in lines], "WarehouseNumber": warehouse}
    )
    await service.sync.send_due_outgoing()
    return external


async def test_an_order_is_pushed_with_the_customers_prices_and_address(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    external = await push_order(service, ("P1", 2), ("KM 1007", 1))
    [post] = xtnd_double.calls_to("POST", "CustomerOrders")
    body = orjson.loads(post.body)
    assert body["ExternalOrderNumber"] == external == "WEB-T-000001"
    assert body["CustomerNumber"] == "10001"  # the first customer XTND lists
    assert body["DeliveryAddress"]["City"] == "Stockholm"
    assert [(line["ProductNumber"], line["UnitPrice"], line["Currency"]) for line in body["Lines"]] == [
        ("P1", xtnd_double.prices["P1"], "SEK"),
        ("KM 1007", xtnd_double.prices["KM 1007"], "SEK"),
    ]
    assert service.sync.probe()["Orders"] == [{"OrderNumber": "100001", "Status": "Created"}]
    assert service.store.outgoing(external).state == "sent"  # type: ignore[union-attr]


async def test_a_retry_after_500s_resends_the_identical_body(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    xtnd_double.fail_next("POST CustomerOrders", 500, times=5)
    external = await push_order(service, ("P1", 1))
    assert service.store.outgoing(external).state == "ready"  # type: ignore[union-attr]  # cooling down
    clock.advance(service.config.internal_cooldown)
    await service.sync.send_due_outgoing()
    posts = xtnd_double.calls_to("POST", "CustomerOrders")
    assert [p.status for p in posts] == [500] * 5 + [201]
    assert len({p.body for p in posts}) == 1  # byte for byte the same request every time
    assert len(xtnd_double.orders) == 1


async def test_an_answer_lost_after_commit_is_resent_identically_and_confirmed_once(
    make_service: ServiceFactory, xtnd_double: XtndDouble, transport: DroppingTransport
) -> None:
    service = make_service()
    transport.drop_after_commit("POST", "CustomerOrders")
    external = await push_order(service, ("P2", 3))
    posts = xtnd_double.calls_to("POST", "CustomerOrders")
    assert [p.status for p in posts] == [201, 200]  # committed, answer lost; the retry finds it: 200
    assert posts[0].body == posts[1].body
    assert len(xtnd_double.orders) == 1
    assert service.store.outgoing(external).result_key == "100001"  # type: ignore[union-attr]


async def test_a_refused_order_is_parked_and_never_resent(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    xtnd_double.prices["NOPE"] = 1.0  # priced, but XTND does not know the product: 422
    external = await push_order(service, ("NOPE", 1))
    clock.advance(3600)
    await service.sync.send_due_outgoing()
    assert len(xtnd_double.calls_to("POST", "CustomerOrders")) == 1
    assert service.store.outgoing(external).state == "parked"  # type: ignore[union-attr]
    [(kind, key, error_type, status, _)] = service.store.parked()
    assert (kind, key, error_type, status) == ("order", external, "Validation", 422)


async def test_an_order_without_a_price_is_parked_without_being_sent(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    external = await push_order(service, ("UNPRICED", 1))
    assert xtnd_double.calls_to("POST", "CustomerOrders") == []
    assert service.store.outgoing(external).state == "parked"  # type: ignore[union-attr]


async def test_a_taken_order_survives_a_crash_and_is_sent_once_with_its_original_number(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    before = make_service()
    external = before.sync.take_shop_order({"Lines": [{"ProductNumber": "P1", "Quantity": 1}]})
    after = make_service()  # kill -9 and restart on the same database
    await after.sync.send_due_outgoing()
    await after.sync.send_due_outgoing()
    [post] = xtnd_double.calls_to("POST", "CustomerOrders")
    assert orjson.loads(post.body)["ExternalOrderNumber"] == external
    assert after.sync.take_shop_order({"Lines": [{"ProductNumber": "P1", "Quantity": 1}]}) == "WEB-T-000002"


async def test_order_hooks_fetch_our_orders_and_record_status_and_tracking(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    await push_order(service, ("P1", 1))
    xtnd_double.orders["100001"].update(
        Status="Picked",
        ChangedAt=iso(30),
        Shipments=[
            {
                "ShipmentNumber": "SH500001",
                "Carrier": "PostNord",
                "TrackingNumber": "00370555",
                "ShippedAt": iso(30),
                "Lines": [],
            }
        ],
    )
    xtnd_double.orders["999999"] = {
        "OrderNumber": "999999",
        "ExternalOrderNumber": "OTHER-CHANNEL",
        "Status": "Created",
        "ChangedAt": iso(30),
    }
    hook(service, "a" * 32, order_event("OrderPicked", "100001"), order_event("OrderCreated", "999999"))
    await service.sync.fetch_due_records()
    gets = [c.path for c in xtnd_double.calls_to("GET", "CustomerOrders/")]
    assert gets == ["CustomerOrders/100001"]  # another sales channel's order is not this shop's business
    [(number, _, status, _, shipments)] = service.store.orders()
    assert (number, status) == ("100001", "Picked")
    assert shipments[0]["TrackingNumber"] == "00370555"


async def test_an_order_hook_that_beats_the_post_answer_is_still_followed(
    make_service: ServiceFactory, xtnd_double: XtndDouble, transport: DroppingTransport
) -> None:
    """The POST committed but its answer was lost, and XTND's OrderCreated hook arrives first: while one of our
    orders has no number, an unknown order number may be ours, so it is fetched and recognised."""
    service = make_service()
    transport.drop_after_commit("POST", "CustomerOrders", times=5)
    external = service.sync.take_shop_order({"Lines": [{"ProductNumber": "P1", "Quantity": 1}]})
    await service.sync.send_due_outgoing()
    assert service.store.outgoing(external).result_key is None  # type: ignore[union-attr]
    hook(service, "a" * 32, order_event("OrderCreated", "100001"))
    await service.sync.fetch_due_records()
    assert service.store.outgoing(external).result_key == "100001"  # type: ignore[union-attr]
    assert service.sync.probe()["Orders"] == [{"OrderNumber": "100001", "Status": "Created"}]


async def test_a_missing_order_is_parked_not_fetched_again(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    await push_order(service, ("P1", 1))
    del xtnd_double.orders["100001"]
    hook(service, "a" * 32, order_event("OrderCancelled", "100001"))
    await service.sync.fetch_due_records()
    clock.advance(3600)
    await service.sync.fetch_due_records()
    assert len(xtnd_double.calls_to("GET", "CustomerOrders/")) == 1
    assert service.store.parked()[0][:4] == ("order", "100001", "Validation", 404)


# ---------------------------------------------------------------------------------------------- fallback


async def test_fallback_lists_orders_since_the_cursor_then_fetches_ours_singly(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service(webhooks=False)
    await push_order(service, ("P1", 1))
    xtnd_double.orders["999999"] = {
        "OrderNumber": "999999",
        "ExternalOrderNumber": "OTHER",
        "Status": "Created",
        "ChangedAt": iso(40),
    }
    xtnd_double.orders["100001"].update(Status="Reserved", ChangedAt=iso(20))
    await service.sync.reconcile_orders()
    await service.sync.fetch_due_records()
    assert [c.path for c in xtnd_double.calls_to("GET", "CustomerOrders/")] == ["CustomerOrders/100001"]
    assert service.sync.probe()["Orders"] == [{"OrderNumber": "100001", "Status": "Reserved"}]
    assert service.store.cursor("orders") == iso(40)
    # Nothing changed: the next pass asks from the cursor (inclusive) and fetches nothing again.
    await service.sync.reconcile_orders()
    await service.sync.fetch_due_records()
    lists = xtnd_double.calls_to("GET", "CustomerOrders")
    assert [c.query["changedSince"] for c in lists if c.path == "CustomerOrders"] == [
        ["1970-01-01T00:00:00.000Z"],
        [iso(40)],
    ]
    assert len(xtnd_double.calls_to("GET", "CustomerOrders/")) == 1


async def test_fallback_availability_applies_the_listed_rows_and_moves_the_cursor(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service(webhooks=False)
    xtnd_double.set_balance("P1", "1", 5, iso(1))
    xtnd_double.set_balance("P2", "1", 6, iso(2))
    await service.sync.reconcile_availability()
    xtnd_double.set_balance("P1", "1", 4, iso(3))
    await service.sync.reconcile_availability()
    assert [b[:3] for b in service.store.balances()] == [("P1", "1", 4), ("P2", "1", 6)]
    assert [c.query["changedSince"] for c in xtnd_double.calls] == [["1970-01-01T00:00:00.000Z"], [iso(2)]]
    assert all("productNumber" not in c.query for c in xtnd_double.calls)  # never a per-product poll


async def test_pending_fetches_survive_a_restart(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    before = make_service()
    hook(before, "a" * 32, balance("P1"))
    xtnd_double.set_balance("P1", "1", 5, iso(1))
    after = make_service()  # acknowledged, then killed before the coalescing window closed
    assert after.sync.coalescer.pending_products == 1
    await after.sync.flush_balances()
    assert after.store.balances()[0][2] == 5
