"""The pure domain: stock ledger, order lifecycle (XTND's statuses), customers, unit of work, best price, paging
snapshots. No web layer here."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from mock_xtnd.domain.backend import Backend, CustomerInput, OrderInput, RowInput
from mock_xtnd.domain.clock import TenantDates, VirtualClock, iso_ms, parse_iso
from mock_xtnd.domain.errors import DomainError
from mock_xtnd.domain.ids import Ids
from mock_xtnd.domain.lifecycle import TRANSITIONS, can_move, check_move
from mock_xtnd.domain.models import Address, PriceList
from mock_xtnd.domain.paging import Pager
from mock_xtnd.domain.seed import SeedSizes, generate

START = parse_iso("2026-01-05T08:00:00.000Z")
HOUR = 3_600_000


class RecordingStore:
    def __init__(self) -> None:
        self.writes: list[tuple[list[tuple[str, str, Any]], dict[str, Any]]] = []

    def write(self, records: list[tuple[str, str, Any]], meta: dict[str, Any]) -> None:
        self.writes.append((records, meta))


@pytest.fixture
def backend() -> Backend:
    clock = VirtualClock(START)
    b = Backend(clock, Ids(1))
    b.state = generate(1, SeedSizes(products=60, warehouses=2, customers=12), START)
    b.store = RecordingStore()
    return b


def active_product(b: Backend, i: int = 0) -> str:
    """The i-th active product with nothing blocked in warehouse 1 (so available = on hand - allocated)."""
    return [p.number for p in b.state.products.values()
            if p.status == "Active" and b.stock_item(p.number, "1").blocked == 0][i]


def order(ext: str | None, lines: list[tuple[str, int]], warehouse: str = "1", customer: str = "10001") -> OrderInput:
    rows = [RowInput(pn, q, "st", f"order.orderRows[{i}]", unit_price=10.0, currency="SEK", warehouse=warehouse)
            for i, (pn, q) in enumerate(lines)]
    return OrderInput("order", customer, ext, None, rows)


def events(b: Backend) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    b.after_commit.append(lambda evs: out.extend((e.action, e.details) for e in evs))
    return out


def ledger(b: Backend) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    return {k: (s.on_hand, s.allocated, s.blocked, s.changed_at) for k, s in b.state.stock.items()}


def refused_with(e: pytest.ExceptionInfo[DomainError], field: str) -> DomainError:
    assert e.value.status == 400, e.value
    assert [fe.field for fe in e.value.errors] == [field], e.value.errors
    return e.value


# ---------------------------------------------------------------------------------------------- orders
def test_creating_an_order_allocates_and_fires_available_balance_changed(backend: Backend) -> None:
    pn = active_product(backend)
    backend.set_stock(pn, "1", on_hand=10)
    item = backend.state.stock[(pn, "1")]
    seen = events(backend)
    o = backend.create_order(order("E1", [(pn, 3)]))
    assert (o.number, o.status, o.external_number) == ("100001", "Created", "E1")
    assert [(r.status, r.allocation, r.quantity, r.unit_price) for r in o.rows] == [("Created", "Physical", 3, 10.0)]
    assert (item.on_hand, item.allocated, item.available) == (10, 3, 7)
    assert item.changed_at == START
    assert seen == [("OrderCreated", {"OrderNumber": "100001", "OrderNumberExternal": "E1", "Warehouse": "1"}),
                    ("AvailableBalanceChanged", {"ProductNumber": pn, "Warehouse": "1", "AvailableBalance": 7})]


def test_an_order_beyond_what_is_available_is_backordered(backend: Backend) -> None:
    pn = active_product(backend)
    backend.set_stock(pn, "1", on_hand=2)
    o = backend.create_order(order("E1", [(pn, 2), (pn, 1)]))
    assert [r.allocation for r in o.rows] == ["Physical", "NotAllocated"]  # the second row is not covered
    assert backend.state.stock[(pn, "1")].available == -1  # overselling is accepted by default


def test_one_unit_of_work_is_one_store_write(backend: Backend) -> None:
    pn1, pn2 = active_product(backend, 0), active_product(backend, 1)
    backend.create_order(order("E1", [(pn1, 1), (pn2, 2), (pn1, 4)]))
    store = backend.store
    assert isinstance(store, RecordingStore)
    assert len(store.writes) == 1
    kinds = sorted((k, key) for k, key, _ in store.writes[0][0])
    assert kinds == sorted([("order", "100001"), ("stock", f"{pn1}\x1f1"), ("stock", f"{pn2}\x1f1")])
    assert store.writes[0][1]["counters"]["order"] == 100001
    assert backend.state.stock[(pn1, "1")].allocated == 5, "two rows of one product allocate their sum"


@pytest.mark.parametrize(
    ("lines", "customer", "field", "kind"),
    [
        ([("P0", 1), ("NOPE", 1)], "10001", "order.orderRows[1].product.productNumber", "refused"),
        ([("P0", 0)], "10001", "order.orderRows[0].salesData.quantity", "invalid"),
        ([("P0", -2)], "10001", "order.orderRows[0].salesData.quantity", "invalid"),
        ([], "10001", "order.orderRows", "invalid"),
        ([("P0", 1)], "nobody", "order.orderHeader.customerNumber", "refused"),
    ],
)
def test_refused_orders_leave_no_trace(backend: Backend, lines: list[tuple[str, int]], customer: str, field: str,
                                       kind: str) -> None:
    pn = active_product(backend)
    before = ledger(backend)
    seen = events(backend)
    with pytest.raises(DomainError) as e:
        backend.create_order(order("BAD", [(pn if p == "P0" else p, q) for p, q in lines], customer=customer))
    assert refused_with(e, field).kind == kind
    assert ledger(backend) == before
    assert backend.state.orders == {} and seen == []
    assert isinstance(backend.store, RecordingStore) and backend.store.writes == []
    assert "order" not in backend.ids.counters, "no order number was used up"


def test_a_second_order_with_the_same_external_number_is_refused(backend: Backend) -> None:
    pn = active_product(backend)
    first = backend.create_order(order("E1", [(pn, 1)]))
    before = ledger(backend)
    with pytest.raises(DomainError) as e:
        backend.create_order(order("E1", [(pn, 2)]))
    err = refused_with(e, "order.orderHeader.orderNumberExternal")
    assert "E1" in err.message and first.number in err.message  # a client learns which order it already made
    assert ledger(backend) == before and list(backend.state.orders) == [first.number]
    assert backend.state.orders_by_external == {"E1": first.number}
    # orders without an external number never collide
    backend.create_order(order(None, [(pn, 1)]))
    backend.create_order(order(None, [(pn, 1)]))
    assert len(backend.state.orders) == 3


def test_duplicate_external_numbers_can_be_accepted_by_configuration(backend: Backend) -> None:
    backend.duplicate_external_order = "accept"
    pn = active_product(backend)
    a = backend.create_order(order("E1", [(pn, 1)]))
    b = backend.create_order(order("E1", [(pn, 2)]))
    assert a.number != b.number and backend.state.stock[(pn, "1")].allocated == 3
    assert backend.state.orders_by_external["E1"] == a.number  # a lookup finds the first


def test_lifecycle_table() -> None:
    assert set(TRANSITIONS) == {("Created", "Reserved"), ("Reserved", "Terminated"), ("Reserved", "PartiallyDelivered"),
                                ("PartiallyDelivered", "Terminated"), ("PartiallyDelivered", "PartiallyDelivered"),
                                ("Created", "Annulled"), ("Reserved", "Annulled")}
    assert can_move("Created", "Annulled", "webshop")
    assert not can_move("Reserved", "Annulled", "webshop"), "only the back office cancels a Reserved order"
    assert can_move("Reserved", "Annulled", "backoffice")
    assert not can_move("Terminated", "Annulled", "backoffice")
    assert not can_move("Created", "Reserved", "webshop")
    with pytest.raises(DomainError) as e:
        check_move("100001", "Reserved", "Annulled", "webshop")
    assert e.value.status == 400 and "can no longer be changed" in e.value.message


def test_cancel_releases_and_pick_ships(backend: Backend) -> None:
    pn = active_product(backend)
    backend.set_stock(pn, "1", on_hand=10)
    item = backend.state.stock[(pn, "1")]
    a = backend.create_order(order("A", [(pn, 4)]))
    b = backend.create_order(order("B", [(pn, 3)]))
    assert (item.on_hand, item.allocated) == (10, 7)
    backend.cancel_order(a.number, "webshop")
    assert a.status == "Annulled" and [r.status for r in a.rows] == ["Annulled"]
    assert (item.on_hand, item.allocated) == (10, 3)
    seen = events(backend)
    backend.pick_order(b.number)  # a Created order is reserved first, then picked
    assert (item.on_hand, item.allocated, item.available) == (7, 0, 7)
    assert b.status == "Terminated"
    assert [(r.status, r.allocation, r.picked) for r in b.rows] == [("Picked", "Delivered", 3)]
    (shipment,) = b.shipments
    assert b.rows[0].shipment_number == shipment.number and shipment.packages and shipment.forwarder
    assert len(b.invoice_numbers) == 1
    assert [x for x, _ in seen] == ["OrderReserved", "BalanceChanged", "OrderPicked", "CustomerInvoiceCreated"]
    assert seen[1][1] == {"ProductNumber": pn, "Warehouse": "1", "Balance": 7}
    assert seen[3][1] == {"InvoiceNumber": b.invoice_numbers[0], "OrderNumber": b.number}
    for actor in ("backoffice", "webshop"):
        with pytest.raises(DomainError):
            backend.cancel_order(b.number, actor)


def test_a_short_pick_ships_what_is_on_hand_and_the_rest_later(backend: Backend) -> None:
    pn = active_product(backend)
    backend.set_stock(pn, "1", on_hand=2)
    item = backend.state.stock[(pn, "1")]
    o = backend.create_order(order("S", [(pn, 3), (pn, 1)]))
    backend.pick_order(o.number)
    assert o.status == "PartiallyDelivered"
    assert [(r.picked, r.status) for r in o.rows] == [(2, "Reserved"), (0, "Reserved")]
    assert (item.on_hand, item.allocated) == (0, 2), "what was not shipped stays allocated"

    before = ledger(backend)
    with pytest.raises(DomainError) as e:  # nothing on hand: refused, nothing changes
        backend.pick_order(o.number)
    assert e.value.status == 400 and "on hand" in e.value.message
    assert ledger(backend) == before and len(o.shipments) == 1

    backend.set_stock(pn, "1", delta=5)
    backend.pick_order(o.number)
    assert o.status == "Terminated"
    assert [(r.picked, r.status, r.allocation) for r in o.rows] == [(3, "Picked", "Delivered"),
                                                                    (1, "Picked", "Delivered")]
    assert (item.on_hand, item.allocated) == (3, 0)
    assert len(o.shipments) == 2 and len(o.invoice_numbers) == 2


def test_cancelling_a_partly_shipped_order_annuls_the_rest(backend: Backend) -> None:
    pn = active_product(backend)
    backend.set_stock(pn, "1", on_hand=1)
    o = backend.create_order(order("P", [(pn, 3)]))
    backend.pick_order(o.number)
    seen = events(backend)
    backend.cancel_order(o.number, "backoffice")
    assert o.status == "Terminated", "part of it was shipped"
    assert [(r.picked, r.status) for r in o.rows] == [(1, "Annulled")]
    assert backend.state.stock[(pn, "1")].allocated == 0
    assert [a for a, _ in seen] == ["AvailableBalanceChanged", "OrderCancelled"]


def test_the_webshop_changes_an_order_only_while_it_is_created(backend: Backend) -> None:
    pn1, pn2 = active_product(backend, 0), active_product(backend, 1)
    o = backend.create_order(order("U", [(pn1, 4)]))
    seen = events(backend)
    change = order(None, [(pn2, 2)])
    change.asked_delivery_date = START + 5 * 24 * HOUR
    change.given = frozenset({"askedDeliveryDate"})
    backend.update_order(o.number, change)
    assert [(r.product_number, r.quantity) for r in o.rows] == [(pn2, 2)]
    assert backend.state.stock[(pn1, "1")].allocated == 0 and backend.state.stock[(pn2, "1")].allocated == 2
    assert [a for a, _ in seen] == ["AvailableBalanceChanged", "AvailableBalanceChanged", "OrderDeliveryDataChanged"]
    assert seen[-1][1] == {"OrderNumber": o.number, "OrderNumberExternal": "U", "Warehouse": "1",
                           "AskedDeliveryDate": iso_ms(START + 5 * 24 * HOUR)}

    # a refused change (an unknown product in the new rows) leaves the order exactly as it was
    rows_before = [asdict(r) for r in o.rows]
    with pytest.raises(DomainError) as e:
        backend.update_order(o.number, order(None, [(pn1, 1), ("NOPE", 1)]))
    refused_with(e, "order.orderRows[1].product.productNumber")
    assert [asdict(r) for r in o.rows] == rows_before

    backend.reserve_order(o.number)
    with pytest.raises(DomainError) as e:
        backend.update_order(o.number, order(None, [(pn1, 1)]))
    assert "Reserved" in refused_with(e, "orderNumber").message
    with pytest.raises(DomainError):
        backend.cancel_order(o.number, "webshop")
    assert [asdict(r) for r in o.rows] == [{**row, "status": "Reserved"} for row in rows_before]


# ---------------------------------------------------------------------------------------------- stock
def test_stock_moves_validate(backend: Backend) -> None:
    pn = active_product(backend)
    backend.set_stock(pn, "1", on_hand=5)
    before = ledger(backend)
    for kwargs, field in [({"delta": -6}, "balanceDifference"), ({"delta": 1, "on_hand": 1}, "balanceDifference"),
                          ({"blocked": -1}, "blockedBalance")]:
        with pytest.raises(DomainError) as e:
            backend.set_stock(pn, "1", **kwargs)
        refused_with(e, field)
    with pytest.raises(DomainError):
        backend.set_stock(pn, "99", delta=1)
    with pytest.raises(DomainError) as nf:
        backend.set_stock("NOPE", "1", delta=1)
    assert nf.value.kind == "not_found"
    assert ledger(backend) == before
    assert backend.set_stock(pn, "1", delta=-5).on_hand == 0


def test_blocking_stock_lowers_available_without_moving_on_hand(backend: Backend) -> None:
    pn = active_product(backend)
    backend.set_stock(pn, "1", on_hand=8)
    seen = events(backend)
    item = backend.set_stock(pn, "1", blocked=3)
    assert (item.on_hand, item.allocated, item.blocked, item.available) == (8, 0, 3, 5)
    assert seen == [("AvailableBalanceChanged", {"ProductNumber": pn, "Warehouse": "1", "AvailableBalance": 5})]


def test_oversell_refused_when_configured(backend: Backend) -> None:
    backend.allow_oversell = False
    pn = active_product(backend)
    backend.set_stock(pn, "1", on_hand=2)
    with pytest.raises(DomainError) as e:
        backend.create_order(order("O", [(pn, 2), (pn, 1)]))
    refused_with(e, "order.orderRows")
    backend.create_order(order("O", [(pn, 2)]))
    assert backend.state.stock[(pn, "1")].available == 0


# ---------------------------------------------------------------------------------------------- customers
def address() -> Address:
    return Address("Anna Svensson", "Storgatan 1", "11122", "Stockholm")


def test_customers_are_created_and_changed_with_their_extras(backend: Backend) -> None:
    seen = events(backend)
    c = backend.create_customer(CustomerInput("c", name=" Nordisk Handel AB ", email="a@example.com",
                                              delivery_address=address(), extra={"yourReference": "R1"}))
    assert c.number not in ("10001", "10012") and c.name == "Nordisk Handel AB"
    assert c.invoice_address == c.delivery_address and c.extra == {"yourReference": "R1"}
    backend.update_customer(c.number, CustomerInput("c", phone="070-1", extra={"notes": "n"},
                                                    given=frozenset({"phone"})))
    assert (c.phone, c.email, c.extra) == ("070-1", "a@example.com", {"yourReference": "R1", "notes": "n"})
    assert seen == [("CustomerCreated", {"CustomerNumber": c.number}), ("CustomerChanged", {"CustomerNumber": c.number})]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (CustomerInput("c", name=" ", delivery_address=Address("a", "b", "1", "c")), "c.name"),
        (CustomerInput("c", name="X"), "c.customerDeliveryAddress"),
        (CustomerInput("c", name="X", number="10001", delivery_address=Address("a", "b", "1", "c")),
         "c.customerNumber"),
        (CustomerInput("c", name="X", customer_group="NOPE", delivery_address=Address("a", "b", "1", "c")),
         "c.customerGroups[0].name"),
    ],
)
def test_refused_customers_leave_no_trace(backend: Backend, data: CustomerInput, field: str) -> None:
    before = {n: asdict(c) for n, c in backend.state.customers.items()}
    seen = events(backend)
    with pytest.raises(DomainError) as e:
        backend.create_customer(data)
    refused_with(e, field)
    assert {n: asdict(c) for n, c in backend.state.customers.items()} == before and seen == []


def test_a_refused_customer_change_leaves_it_as_it_was(backend: Backend) -> None:
    c = backend.state.customers["10001"]
    before = asdict(c)
    with pytest.raises(DomainError) as e:
        backend.update_customer("10001", CustomerInput("c", phone="1", customer_group="NOPE"))
    refused_with(e, "c.customerGroups[0].name")
    with pytest.raises(DomainError):
        backend.update_customer("10001", CustomerInput("c", name="", given=frozenset({"name"})))
    with pytest.raises(DomainError) as nf:
        backend.update_customer("99999", CustomerInput("c", phone="1"))
    assert nf.value.kind == "not_found"
    assert asdict(c) == before


# ---------------------------------------------------------------------------------------------- prices
def test_best_price_takes_the_minimum_over_active_sources_only(backend: Backend) -> None:
    pn = active_product(backend)
    product = backend.state.products[pn]
    customer = backend.state.customers["10001"]
    for pl in list(backend.state.price_lists.values()):
        if pl.kind == "Campaign":
            del backend.state.price_lists[pl.code]
    customer.customer_group, customer.price_list = "RETAIL", "STD"
    std = backend.state.price_lists["STD"].prices[pn]
    assert backend.best_price(customer, product, START).source == "PriceList"
    assert backend.best_price(customer, product, START).price == std
    backend.state.price_lists["C"] = PriceList("C", "c", "Campaign", "SEK", START + HOUR, START + 2 * HOUR,
                                               {pn: round(std / 2, 2)}, ["RETAIL"], START)
    before, during, at_end = (backend.best_price(customer, product, t) for t in (START, START + HOUR, START + 2 * HOUR))
    assert before.source == "PriceList"
    assert (during.source, during.price, during.valid_to) == ("Campaign", round(std / 2, 2), START + 2 * HOUR)
    assert at_end.source == "PriceList", "valid_to is exclusive"
    assert backend.price_changed_at_for(customer, pn, START) < START + HOUR
    assert backend.price_changed_at_for(customer, pn, START + 3 * HOUR) == START + 2 * HOUR
    customer.customer_group = "B2B-SILVER"
    assert backend.best_price(customer, product, START + HOUR).source != "Campaign", "campaign is for RETAIL only"


# ---------------------------------------------------------------------------------------------- paging, clock
def test_pager_fixes_a_passes_keys_at_its_first_page_for_its_ttl() -> None:
    pager = Pager(ttl_ms=1000)
    keys = list(range(25))
    calls: list[int] = []

    def select() -> list[int]:
        calls.append(1)
        return list(keys)

    assert list(pager.keys("q", True, 0, select)) == list(range(25))
    keys.remove(3)
    keys.append(99)
    assert list(pager.keys("q", False, 500, select)) == list(range(25))
    assert list(pager.keys("q", False, 1000, select)) == list(range(25))
    assert len(calls) == 1
    assert 99 in pager.keys("q", False, 1001, select), "expired: a fresh selection"
    assert 99 in pager.keys("other", False, 0, select), "another query has its own snapshot"
    assert 3 not in pager.keys("q", True, 1002, select), "a new first page starts a new pass"


def test_clock_formats_milliseconds_and_parses_inclusive_bounds() -> None:
    assert iso_ms(START) == "2026-01-05T08:00:00.000Z"
    assert iso_ms(START + 1) == "2026-01-05T08:00:00.001Z"
    assert parse_iso("2026-01-05T09:00:00+01:00") == START
    assert parse_iso("2026-01-05T08:00:00.123Z") == START + 123
    assert parse_iso(iso_ms(START + 987)) == START + 987
    clock = VirtualClock(START)
    with pytest.raises(ValueError):
        clock.set_ms(START - 1)
    for bad in ("", "yesterday", "2026-13-01T00:00:00Z", "x" * 50):
        with pytest.raises(ValueError):
            parse_iso(bad)


def test_tenant_dates_carry_the_local_offset_winter_and_summer() -> None:
    dates = TenantDates("Europe/Stockholm")
    assert dates.text(START) == "2026-01-05T09:00:00.000+01:00"
    assert dates.text(parse_iso("2026-07-01T10:00:00.042Z")) == "2026-07-01T12:00:00.042+02:00"
    assert parse_iso(dates.text(START + 7)) == START + 7
