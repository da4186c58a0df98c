"""The sync engine's steps against a double of XTND's wire behaviour: how balance hooks become reads (single items
for a trickle, one modifiedDateFrom pass for a storm), apply-by-changeDate, orders and their recovery by
orderNumberExternal, errors by kind, the no-webhook fallback and restarts. Each test drives steps directly with a
manual clock."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from reference_sync.app import Service
from reference_sync.clock import ManualClock
from reference_sync.webhooks import Delivery
from tests.reference_sync.rsync_doubles import (
    DEADLOCK,
    DroppingTransport,
    ServiceFactory,
    XtndDouble,
    iso,
)

pytestmark = pytest.mark.anyio


def hook(service: Service, delivery_id: str, *notifications: tuple[str, dict[str, object]]) -> bool:
    return service.sync.accept_delivery(
        Delivery(delivery_id, 1, [{"Action": a, "Details": d} for a, d in notifications])
    )


def balance(product: str, warehouse: str = "1") -> tuple[str, dict[str, object]]:
    return (
        "AvailableBalanceChanged",
        {"ProductNumber": product, "Warehouse": warehouse, "AvailableBalance": 1},
    )


def order_event(action: str, number: str, external: str) -> tuple[str, dict[str, object]]:
    return (action, {"OrderNumber": number, "OrderNumberExternal": external, "Warehouse": "1"})


def view(service: Service) -> dict[tuple[str, str], int]:
    return {(p, w): b for p, w, b, _ in service.store.balances()}


def catalogue(xtnd_double: XtndDouble, products: int, warehouses: str = "1", at: float = 0) -> None:
    for i in range(products):
        for w in warehouses:
            xtnd_double.set_balance(f"P{i:03d}", w, i, iso(at))


async def initial_load(service: Service, xtnd_double: XtndDouble) -> None:
    await service.sync.availability_pass()
    xtnd_double.calls.clear()


# ---------------------------------------------------------------------------------------------- balances


async def test_the_initial_load_reads_every_page_without_a_filter(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    catalogue(xtnd_double, 120, "12")
    assert await service.sync.availability_pass() == 3
    assert [c.query for c in xtnd_double.calls] == [{"pageNumber": [str(n)]} for n in (1, 2, 3)]
    assert len(view(service)) == 240
    assert service.store.cursor("availability") is not None


async def test_a_trickle_is_read_item_by_item_and_each_change_once(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    catalogue(xtnd_double, 10)
    await initial_load(service, xtnd_double)
    xtnd_double.set_balance("P001", "1", 50, iso(5))
    xtnd_double.set_balance("AB 00023/A", "2", 7, iso(5))
    hook(service, "a" * 32, balance("P001"))
    hook(service, "b" * 32, balance("P001"))  # a second change of the same item in the window: still one read
    hook(service, "c" * 32, balance("AB 00023/A", "2"))
    assert service.sync.coalescer.due_in() == pytest.approx(service.config.balance_quiet)
    clock.advance(service.config.balance_quiet)
    assert await service.sync.flush_balances() == 2
    assert [c.raw_path.rsplit("ProductAvailability/", 1)[1] for c in xtnd_double.calls] == [
        "P001/1",
        "AB%2000023%2FA/2",
    ]
    assert view(service)[("P001", "1")] == 50 and view(service)[("AB 00023/A", "2")] == 7
    assert service.store.pending_balances() == []
    assert service.sync.counters.rows_already_known == 0  # nothing was read that we had


async def test_a_storm_is_read_by_one_modified_date_pass_whatever_its_size(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    catalogue(xtnd_double, 150, "12", at=1)
    await initial_load(service, xtnd_double)
    for i in range(150):  # every item changes, many times
        for w in "12":
            xtnd_double.set_balance(f"P{i:03d}", w, 1000 + i, iso(10 + i / 100))
    first, n = clock.now(), 0
    while n == 0 or service.sync.coalescer.due_in():  # a storm never goes quiet ...
        hook(service, f"{n:032d}", balance(f"P{n % 150:03d}", "12"[n // 150 % 2]))
        clock.advance(0.001)
        n += 1
    # ... so the window closes at its maximum wait, not `balance_quiet` after the last hook.
    assert clock.now() - first == pytest.approx(service.config.balance_max_wait, abs=0.002)
    calls = await service.sync.flush_balances()
    assert calls == 3  # 300 changed items, 100 per page: 3 calls for 2,500 events
    assert all(c.path == "ProductAvailability" and "modifiedDateFrom" in c.query for c in xtnd_double.calls)
    assert view(service)[("P149", "2")] == 1149
    assert service.store.pending_balances() == []
    assert service.sync.coalescer.due_in() is None


async def test_the_filter_overlaps_the_cursor_and_is_sent_in_utc_seconds(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    xtnd_double.set_balance("P1", "1", 5, "2026-01-05T09:00:10.750+01:00")  # 08:00:10.750 UTC
    await service.sync.availability_pass()
    await service.sync.availability_pass()
    # 08:00:10.750 minus a 2 s overlap, rounded down to the second (the filter is inclusive: earlier is safe)
    assert xtnd_double.calls[1].query["modifiedDateFrom"] == ["2026-01-05T08:00:08"]
    assert service.sync.counters.rows_already_known == 1  # listed again, and skipped: same changeDate


async def test_the_cursor_never_passes_a_change_made_while_later_pages_were_read(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    """Paging is live: a row on page 1 that changes while page 3 is read is not listed again in this pass, and a
    row on page 3 may show a change made later still. Even with no overlap at all, the next pass finds it."""
    service = make_service(cursor_overlap=0.0)
    xtnd_double.page_size = 2
    for i in range(5):
        xtnd_double.set_balance(f"P{i}", "1", i, iso(10))
    original = xtnd_double._get_productavailability

    def serve(key: str, query: dict[str, list[str]], body: bytes) -> Any:
        if query.get("pageNumber") == ["2"] and len(xtnd_double.calls) == 2:
            clock.advance(2.0)  # the pass takes 2 s; meanwhile P0 (page 1) and then P4 (page 3) change
            xtnd_double.set_balance("P0", "1", 100, iso(11))
            xtnd_double.set_balance("P4", "1", 400, iso(12))
        return original(key, query, body)

    xtnd_double._get_productavailability = serve  # type: ignore[method-assign]
    await service.sync.availability_pass()
    assert view(service)[("P0", "1")] == 0  # page 1 was read before the change
    await service.sync.availability_pass()
    assert view(service)[("P0", "1")] == 100
    assert xtnd_double.calls[-1].query["modifiedDateFrom"] <= ["2026-01-05T08:00:11"]


async def test_a_hook_accepted_while_a_pass_runs_stays_pending(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service(single_reads_max=0)
    catalogue(xtnd_double, 3)
    await initial_load(service, xtnd_double)
    original = xtnd_double._get_productavailability

    def answer_then_change(key: str, query: dict[str, list[str]], body: bytes) -> Any:
        response = original(key, query, body)
        if len(xtnd_double.calls) == 1:  # the answer is on its way; meanwhile P001 changes and its hook lands
            xtnd_double.set_balance("P001", "1", 9, iso(20))
            hook(service, "b" * 32, balance("P001"))
        return response

    xtnd_double._get_productavailability = answer_then_change  # type: ignore[method-assign]
    xtnd_double.set_balance("P001", "1", 10, iso(10))
    hook(service, "a" * 32, balance("P001"))
    await service.sync.flush_balances()
    assert view(service)[("P001", "1")] == 10
    assert [pair for pair, _ in service.store.pending_balances()] == [
        ("P001", "1")
    ]  # owed: the answer predates it
    clock.advance(service.config.balance_quiet)
    await service.sync.flush_balances()
    assert view(service)[("P001", "1")] == 9
    assert service.store.pending_balances() == []


async def test_an_older_answer_does_not_overwrite_a_newer_row(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    service.store.apply_balances(
        [{"productNumber": "P1", "warehouse": "1", "availableBalanceNow": 3, "changeDate": iso(5)}]
    )
    xtnd_double.set_balance("P1", "1", 8, iso(4))  # e.g. a lagging replica answers with an older row
    hook(service, "a" * 32, balance("P1"))
    await service.sync.flush_balances()
    assert service.store.balances()[0][2:] == (3, iso(5))


async def test_a_failing_read_keeps_its_items_pending_and_backs_off(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    xtnd_double.set_balance("P1", "1", 10, iso(1))
    xtnd_double.fail_next("GET ProductAvailability/", 500, times=5)
    hook(service, "a" * 32, balance("P1"))
    await service.sync.flush_balances()
    assert len(xtnd_double.calls) == 5  # the client's own retries, then it gave up
    assert [pair for pair, _ in service.store.pending_balances()] == [("P1", "1")]
    # The next try is a new attempt after a cool-down, not a sixth retry in a row.
    assert service.sync.coalescer.due_in() == pytest.approx(service.config.internal_cooldown, abs=0.01)
    clock.advance(service.config.internal_cooldown)
    await service.sync.flush_balances()
    assert view(service)[("P1", "1")] == 10


async def test_a_transient_400_during_a_pass_is_retried_and_the_pass_completes(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    catalogue(xtnd_double, 150)
    xtnd_double.fail_next("GET ProductAvailability", 400, times=2, message=DEADLOCK)
    await service.sync.availability_pass()
    assert [c.status for c in xtnd_double.calls] == [400, 400, 200, 200]
    assert len(clock.sleeps) == 2  # waited before each retry
    assert len(view(service)) == 150


async def test_an_unknown_item_is_parked_and_not_read_again(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    xtnd_double.set_balance("P1", "1", 1, iso(1))
    hook(service, "a" * 32, balance("GONE"), balance("P1"))
    await service.sync.flush_balances()
    clock.advance(3600)
    await service.sync.flush_balances()
    assert [c.status for c in xtnd_double.calls] == [404, 200]
    assert [(k, key, status) for k, key, _, status, _ in service.store.parked()] == [
        ("availability", "GONE@1", 404)
    ]
    assert view(service) == {("P1", "1"): 1}


async def test_pending_reads_survive_a_restart(make_service: ServiceFactory, xtnd_double: XtndDouble) -> None:
    before = make_service()
    hook(before, "a" * 32, balance("P1"))
    xtnd_double.set_balance("P1", "1", 5, iso(1))
    after = make_service()  # acknowledged, then killed before the window closed
    assert after.sync.coalescer.pending_pairs == 1
    await after.sync.flush_balances()
    assert view(after)[("P1", "1")] == 5


# ---------------------------------------------------------------------------------------------- orders


async def push_order(service: Service, *rows: tuple[str, int], warehouse: str | None = "1") -> str:
    external = service.sync.take_shop_order(
        {"rows": [{"productNumber": p, "quantity": q} for p, q in rows], "warehouse": warehouse}
    )
    await service.sync.send_due_orders()
    return external


async def test_an_order_is_posted_in_xtnds_shape_with_the_customers_current_prices(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    external = await push_order(service, ("P1", 2), ("KM 1007", 1))
    [prices] = xtnd_double.calls_to("GET", "ProductPrices")
    assert prices.query["customerNumber"] == ["10001"]  # the first customer XTND lists
    assert sorted(prices.query["productNumberList"]) == ["KM 1007", "P1"]
    [post] = xtnd_double.calls_to("POST", "CustomerOrders")
    body = orjson.loads(post.body)
    assert body["orderHeader"] == {"orderNumberExternal": external, "customerNumber": "10001"}
    assert external == "WEB-T-000001"
    assert [
        (
            r["product"]["productNumber"],
            r["salesData"]["quantity"],
            r["salesData"]["unit"],
            r["salesData"]["unitPrice"],
        )
        for r in body["orderRows"]
    ] == [("P1", 2, "st", xtnd_double.prices["P1"]), ("KM 1007", 1, "st", xtnd_double.prices["KM 1007"])]
    assert all(r["warehouse"] == "1" and r["salesData"]["currency"] == "SEK" for r in body["orderRows"])
    assert service.sync.probe()["orders"] == [{"orderNumber": "100001", "orderStatus": "Created"}]
    assert service.store.outgoing(external).state == "sent"  # type: ignore[union-attr]


async def test_prices_are_asked_for_at_most_ten_products_per_call(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    extra = [f"X{i:02d}" for i in range(12)]
    xtnd_double.products |= set(extra)
    xtnd_double.prices |= dict.fromkeys(extra, 9.5)
    await push_order(service, *[(p, 1) for p in extra])
    assert [len(c.query["productNumberList"]) for c in xtnd_double.calls_to("GET", "ProductPrices")] == [
        10,
        2,
    ]
    assert len(xtnd_double.orders) == 1


async def test_an_answer_lost_after_commit_is_found_by_lookup_and_never_posted_twice(
    make_service: ServiceFactory, xtnd_double: XtndDouble, transport: DroppingTransport, clock: ManualClock
) -> None:
    service = make_service()
    transport.drop_after_commit("POST", "CustomerOrders")
    external = await push_order(service, ("P2", 3))
    assert service.store.outgoing(external).in_doubt  # type: ignore[union-attr]
    clock.advance(service.config.resend_backoff)
    await service.sync.send_due_orders()
    assert len(xtnd_double.calls_to("POST", "CustomerOrders")) == 1
    [lookup] = [c for c in xtnd_double.calls_to("GET", "CustomerOrders") if c.path == "CustomerOrders"]
    assert lookup.query["orderNumberExternal"] == [external]
    assert service.store.outgoing(external).order_number == "100001"  # type: ignore[union-attr]
    assert service.sync.counters.orders_found_by_lookup == 1
    assert len(xtnd_double.orders) == 1


async def test_a_500_is_looked_up_then_the_identical_body_is_sent_again(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    xtnd_double.fail_next("POST CustomerOrders", 500)
    external = await push_order(service, ("P1", 1))
    clock.advance(service.config.resend_backoff)
    await service.sync.send_due_orders()
    posts = xtnd_double.calls_to("POST", "CustomerOrders")
    assert [p.status for p in posts] == [500, 200]
    assert posts[0].body == posts[1].body  # byte for byte the same request
    methods = [(c.method, c.path) for c in xtnd_double.calls if c.path.startswith("CustomerOrders")]
    assert methods == [("POST", "CustomerOrders"), ("GET", "CustomerOrders"), ("POST", "CustomerOrders")]
    assert service.store.outgoing(external).state == "sent"  # type: ignore[union-attr]


async def test_unanswered_posts_back_off_and_then_alert_at_a_slower_pace(
    make_service: ServiceFactory,
    xtnd_double: XtndDouble,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = make_service()
    xtnd_double.fail_next("POST CustomerOrders", 500, times=100)
    external = await push_order(service, ("P1", 1))
    waits = []
    for _ in range(service.config.resend_attempts + 1):
        due = service.store.next_outgoing_due()
        assert due is not None
        waits.append(round(due - clock.now(), 3))
        clock.advance(due - clock.now())
        await service.sync.send_due_orders()
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0] and waits[4:] == [service.config.internal_cooldown] * 2
    assert any(r.levelname == "ERROR" and external in r.getMessage() for r in caplog.records)
    assert len(xtnd_double.orders) == 0


async def test_already_exists_means_look_it_up_not_resend(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    """A POST that timed out may still commit after the lookup found nothing; the resend then answers 400
    'already exists', and the shop links the order instead of parking or resending it."""
    service = make_service()
    external = service.sync.take_shop_order({"rows": [{"productNumber": "P1", "quantity": 1}]})
    xtnd_double.fail_next("POST CustomerOrders", 500)
    await service.sync.send_due_orders()
    late_commit = xtnd_double._post_customerorders

    def commit_late(key: str, query: dict[str, list[str]], body: bytes) -> Any:
        late_commit(key, query, body)  # the first request commits now, in the background
        return late_commit(key, query, body)  # and ours hits it

    xtnd_double._post_customerorders = commit_late  # type: ignore[method-assign]
    clock.advance(service.config.resend_backoff)
    await service.sync.send_due_orders()
    xtnd_double._post_customerorders = late_commit  # type: ignore[method-assign]
    await service.sync.send_due_orders()
    assert [p.status for p in xtnd_double.calls_to("POST", "CustomerOrders")] == [500, 400]
    assert service.store.outgoing(external).order_number == "100001"  # type: ignore[union-attr]
    assert service.store.parked() == []


async def test_a_transient_400_on_post_is_retried_without_a_lookup(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    xtnd_double.fail_next("POST CustomerOrders", 400, message=DEADLOCK)
    external = await push_order(service, ("P1", 1))
    assert [p.status for p in xtnd_double.calls_to("POST", "CustomerOrders")] == [400, 200]
    assert [c.path for c in xtnd_double.calls_to("GET", "CustomerOrders")] == []
    assert service.store.outgoing(external).state == "sent"  # type: ignore[union-attr]


async def test_a_refused_order_is_parked_and_never_resent(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    xtnd_double.prices["NOPE"] = 1.0  # priced, but XTND does not know the product: 400
    external = await push_order(service, ("NOPE", 1))
    clock.advance(3600)
    await service.sync.send_due_orders()
    assert len(xtnd_double.calls_to("POST", "CustomerOrders")) == 1
    assert service.store.outgoing(external).state == "parked"  # type: ignore[union-attr]
    [(kind, key, error_kind, status, message)] = service.store.parked()
    assert (kind, key, error_kind, status) == ("outgoing order", external, "Validation", 400)
    assert "NOPE" in message


async def test_an_order_without_a_price_is_parked_without_being_sent(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    external = await push_order(service, ("UNPRICED", 1))
    assert xtnd_double.calls_to("POST", "CustomerOrders") == []
    assert service.store.outgoing(external).state == "parked"  # type: ignore[union-attr]


async def test_a_crash_between_deciding_to_post_and_the_answer_is_recovered_by_lookup(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    before = make_service()
    external = before.sync.take_shop_order({"rows": [{"productNumber": "P1", "quantity": 1}]})
    outgoing = before.store.outgoing(external)
    assert outgoing is not None
    body = orjson.dumps(
        {
            "orderHeader": {"orderNumberExternal": external, "customerNumber": "10001"},
            "orderRows": [{"product": {"productNumber": "P1"}, "salesData": {"quantity": 1, "unit": "st"}}],
        }
    )
    with before.store.transaction():  # what _send commits just before the POST; then: kill -9
        before.store.set_body(outgoing.id, body, 0.0)
        before.store.begin_post(outgoing.id, 0.0)
    after = make_service()
    await after.sync.send_due_orders()
    assert [(c.method, c.path) for c in xtnd_double.calls][0] == ("GET", "CustomerOrders")  # looked up first
    assert len(xtnd_double.calls_to("POST", "CustomerOrders")) == 1


async def test_a_taken_order_survives_a_crash_and_is_sent_once_with_its_original_number(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    before = make_service()
    external = before.sync.take_shop_order({"rows": [{"productNumber": "P1", "quantity": 1}]})
    after = make_service()  # kill -9 and restart on the same database
    await after.sync.send_due_orders()
    await after.sync.send_due_orders()
    [post] = xtnd_double.calls_to("POST", "CustomerOrders")
    assert orjson.loads(post.body)["orderHeader"]["orderNumberExternal"] == external
    assert after.sync.take_shop_order({"rows": [{"productNumber": "P1", "quantity": 1}]}) == "WEB-T-000002"


async def test_order_hooks_read_our_orders_and_ignore_other_channels(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    external = await push_order(service, ("P1", 1))
    xtnd_double.set_order_status("100001", "Terminated", iso(30))
    xtnd_double.orders["100001"]["orderHeader"]["shipments"] = [
        {"shipmentNumber": "SH500001", "forwarder": "PostNord", "packages": ["00370555"]}
    ]
    xtnd_double.calls.clear()
    hook(
        service,
        "a" * 32,
        order_event("OrderPicked", "100001", external),
        order_event("OrderCreated", "999999", "OTHER-CHANNEL-1"),
    )
    await service.sync.read_due_orders()
    assert [c.path for c in xtnd_double.calls] == ["CustomerOrders/100001"]
    [(number, _, status, document)] = service.store.orders()
    assert (number, status) == ("100001", "Terminated")
    assert document["orderHeader"]["shipments"][0]["packages"] == ["00370555"]


async def test_an_order_hook_that_beats_the_post_answer_links_the_order(
    make_service: ServiceFactory, xtnd_double: XtndDouble, transport: DroppingTransport
) -> None:
    """The POST committed but its answer was lost, and XTND's OrderCreated hook arrives first: it names our
    orderNumberExternal, so the order is read and linked, and never posted again."""
    service = make_service()
    transport.drop_after_commit("POST", "CustomerOrders")
    external = await push_order(service, ("P1", 1))
    assert service.store.outgoing(external).order_number is None  # type: ignore[union-attr]
    hook(service, "a" * 32, order_event("OrderCreated", "100001", external))
    await service.sync.read_due_orders()
    assert service.store.outgoing(external).state == "sent"  # type: ignore[union-attr]
    assert service.sync.probe()["orders"] == [{"orderNumber": "100001", "orderStatus": "Created"}]
    assert await service.sync.send_due_orders() == 0


async def test_a_missing_order_is_parked_not_read_again(
    make_service: ServiceFactory, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    service = make_service()
    external = await push_order(service, ("P1", 1))
    del xtnd_double.orders["100001"]
    hook(service, "a" * 32, order_event("OrderCancelled", "100001", external))
    await service.sync.read_due_orders()
    clock.advance(3600)
    await service.sync.read_due_orders()
    assert len(xtnd_double.calls_to("GET", "CustomerOrders/")) == 1
    assert service.store.parked()[0][:4] == ("order", "100001", "Validation", 404)


# ---------------------------------------------------------------------------------------------- fallback


async def test_without_orders_of_ours_the_order_list_is_not_read(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service(webhooks=False)
    assert await service.sync.reconcile_orders() == 0
    assert xtnd_double.calls == []  # a tenant times out on an unfiltered list; nothing of ours to follow yet


async def test_fallback_lists_orders_by_modified_date_then_reads_ours_that_changed(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service(webhooks=False)
    xtnd_double.now = 20
    external = await push_order(service, ("P1", 1))
    other = xtnd_double._post_customerorders  # another sales channel's order, in the same list
    other(
        "",
        {},
        orjson.dumps(
            {
                "orderHeader": {"orderNumberExternal": "OTHER", "customerNumber": "10002"},
                "orderRows": [
                    {"product": {"productNumber": "P2"}, "salesData": {"quantity": 1, "unit": "st"}}
                ],
            }
        ),
    )
    xtnd_double.set_order_status("100001", "Reserved", iso(40))
    xtnd_double.calls.clear()
    await service.sync.reconcile_orders()
    await service.sync.read_due_orders()
    assert [c.path for c in xtnd_double.calls] == ["CustomerOrders", "CustomerOrders/100001"]
    # From the first order's date (08:00:20 UTC), with the overlap; never an unfiltered list.
    assert xtnd_double.calls[0].query["modifiedDateFrom"] == ["2026-01-05T08:00:18"]
    assert service.sync.probe()["orders"] == [{"orderNumber": "100001", "orderStatus": "Reserved"}]
    assert service.store.outgoing(external).state == "sent"  # type: ignore[union-attr]
    # Nothing changed: the next pass lists from the moved cursor and reads nothing again.
    xtnd_double.calls.clear()
    await service.sync.reconcile_orders()
    await service.sync.read_due_orders()
    assert [c.path for c in xtnd_double.calls] == ["CustomerOrders"]
    assert xtnd_double.calls[0].query["modifiedDateFrom"] == ["2026-01-05T08:00:38"]


async def test_fallback_availability_passes_apply_rows_and_never_read_per_product(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service(webhooks=False)
    xtnd_double.set_balance("P1", "1", 5, iso(1))
    xtnd_double.set_balance("P2", "1", 6, iso(2))
    await service.sync.availability_pass()
    xtnd_double.set_balance("P1", "1", 4, iso(30))
    await service.sync.availability_pass()
    assert view(service) == {("P1", "1"): 4, ("P2", "1"): 6}
    assert [c.query.get("modifiedDateFrom") for c in xtnd_double.calls] == [None, ["2026-01-05T08:00:00"]]
    assert all(c.path == "ProductAvailability" and "productNumber" not in c.query for c in xtnd_double.calls)
