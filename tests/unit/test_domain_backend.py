"""The pure domain: stock ledger, order lifecycle, unit of work, best price, stable paging. No web layer here."""

from __future__ import annotations

from typing import Any

import pytest

from mock_xtnd.domain.backend import Backend, OrderInput, OrderLineInput, fingerprint
from mock_xtnd.domain.clock import VirtualClock, iso_ms, parse_iso
from mock_xtnd.domain.errors import DomainError
from mock_xtnd.domain.ids import Ids
from mock_xtnd.domain.lifecycle import TRANSITIONS, can_move, check_move
from mock_xtnd.domain.models import PriceList
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
    return [p.number for p in b.state.products.values() if p.status == "Active"][i]


def order(b: Backend, ext: str, lines: list[tuple[str, int]], warehouse: str = "1") -> OrderInput:
    return OrderInput(ext, "10001", warehouse, None, None, None,
                      [OrderLineInput(pn, q, 10.0, "SEK") for pn, q in lines])


def events(b: Backend) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    b.after_commit.append(lambda evs: out.extend((e.action, e.details) for e in evs))
    return out


def test_creating_an_order_reserves_and_fires_available_balance_changed(backend: Backend) -> None:
    pn = active_product(backend)
    item = backend.state.stock[(pn, "1")]
    on_hand, available = item.on_hand, item.available
    seen = events(backend)
    o, created = backend.create_order(order(backend, "E1", [(pn, 3)]), "fp")
    assert created and o.status == "Created"
    assert (item.on_hand, item.reserved, item.available) == (on_hand, 3, available - 3)
    assert item.changed_at == START
    assert [a for a, _ in seen] == ["OrderCreated", "AvailableBalanceChanged"]
    assert seen[1][1] == {"ProductNumber": pn, "WarehouseNumber": "1", "AvailableBalance": available - 3}
    assert "BalanceChanged" not in [a for a, _ in seen], "reserving does not move on-hand"


def test_one_unit_of_work_is_one_store_write(backend: Backend) -> None:
    pn1, pn2 = active_product(backend, 0), active_product(backend, 1)
    backend.create_order(order(backend, "E1", [(pn1, 1), (pn2, 2), (pn1, 4)]), "fp")
    store = backend.store
    assert isinstance(store, RecordingStore)
    assert len(store.writes) == 1
    kinds = sorted((k, key) for k, key, _ in store.writes[0][0])
    assert kinds == sorted([("order", "100001"), ("stock", f"{pn1}\x1f1"), ("stock", f"{pn2}\x1f1")])
    assert store.writes[0][1]["counters"]["order"] == 100001
    assert backend.state.stock[(pn1, "1")].reserved == 5, "two lines of one product reserve their sum"


def test_refused_requests_leave_no_trace(backend: Backend) -> None:
    pn = active_product(backend)
    snapshot = {k: (s.on_hand, s.reserved, s.changed_at) for k, s in backend.state.stock.items()}
    seen = events(backend)
    for bad, field in [([(pn, 1), ("NOPE", 1)], "Lines[1].ProductNumber"), ([(pn, 0)], "Lines[0].Quantity"),
                       ([(pn, -2)], "Lines[0].Quantity"), ([], "Lines")]:
        with pytest.raises(DomainError) as e:
            backend.create_order(order(backend, "BAD", bad), "fp")
        assert e.value.status == 422
        assert [fe.field for fe in e.value.errors] == [field]
    with pytest.raises(DomainError):
        backend.create_order(OrderInput("BAD", "nobody", None, None, None, None, [OrderLineInput(pn, 1, 1, "SEK")]), "f")
    assert {k: (s.on_hand, s.reserved, s.changed_at) for k, s in backend.state.stock.items()} == snapshot
    assert backend.state.orders == {} and seen == []
    assert isinstance(backend.store, RecordingStore) and backend.store.writes == []
    assert "order" not in backend.ids.counters, "no order number was used up"


def test_idempotency_by_fingerprint(backend: Backend) -> None:
    pn = active_product(backend)
    a, created = backend.create_order(order(backend, "E1", [(pn, 1)]), "fp-1")
    b, again = backend.create_order(order(backend, "E1", [(pn, 1)]), "fp-1")
    assert created and not again and a is b
    assert backend.state.stock[(pn, "1")].reserved == 1
    with pytest.raises(DomainError) as e:
        backend.create_order(order(backend, "E1", [(pn, 2)]), "fp-2")
    assert e.value.status == 409
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_lifecycle_table() -> None:
    assert set(TRANSITIONS) == {("Created", "Reserved"), ("Reserved", "Picked"), ("Created", "Cancelled"),
                                ("Reserved", "Cancelled")}
    assert can_move("Created", "Cancelled", "webshop")
    assert not can_move("Reserved", "Cancelled", "webshop"), "only the back office cancels a Reserved order"
    assert can_move("Reserved", "Cancelled", "backoffice")
    assert not can_move("Picked", "Cancelled", "backoffice")
    assert not can_move("Created", "Reserved", "webshop")
    with pytest.raises(DomainError) as e:
        check_move("100001", "Reserved", "Cancelled", "webshop")
    assert e.value.status == 422 and "locked" in e.value.message


def test_cancel_releases_and_pick_consumes(backend: Backend) -> None:
    pn = active_product(backend)
    backend.set_stock(pn, "1", delta=None, on_hand=10)
    item = backend.state.stock[(pn, "1")]
    a, _ = backend.create_order(order(backend, "A", [(pn, 4)]), "a")
    b, _ = backend.create_order(order(backend, "B", [(pn, 3)]), "b")
    assert (item.on_hand, item.reserved) == (10, 7)
    backend.cancel_order(a.number, "webshop")
    assert (item.on_hand, item.reserved) == (10, 3)
    seen = events(backend)
    backend.pick_order(b.number)  # a Created order is reserved first, then picked
    assert (item.on_hand, item.reserved, item.available) == (7, 0, 7)
    assert b.status == "Picked" and b.lines[0].picked_quantity == 3
    assert b.shipments[0].lines[0].quantity == 3 and b.invoice_number
    assert [x for x, _ in seen] == ["OrderReserved", "BalanceChanged", "OrderPicked", "CustomerInvoiceCreated"]
    with pytest.raises(DomainError):
        backend.cancel_order(b.number, "backoffice")


def test_short_pick_ships_what_is_on_hand_and_releases_the_whole_reservation(backend: Backend) -> None:
    pn = active_product(backend)
    backend.set_stock(pn, "1", delta=None, on_hand=2)
    o, _ = backend.create_order(order(backend, "S", [(pn, 3), (pn, 1)]), "s")
    backend.pick_order(o.number)
    item = backend.state.stock[(pn, "1")]
    assert [ln.picked_quantity for ln in o.lines] == [2, 0]
    assert (item.on_hand, item.reserved) == (0, 0)


def test_stock_moves_validate(backend: Backend) -> None:
    pn = active_product(backend)
    backend.set_stock(pn, "1", delta=None, on_hand=5)
    cases: list[tuple[int | None, int | None, int]] = [(-6, None, 422), (1, 1, 400), (None, None, 400)]
    for delta, on_hand, status in cases:
        with pytest.raises(DomainError) as e:
            backend.set_stock(pn, "1", delta=delta, on_hand=on_hand)
        assert e.value.status == status
    with pytest.raises(DomainError):
        backend.set_stock(pn, "99", delta=1, on_hand=None)
    assert backend.set_stock(pn, "1", delta=-5, on_hand=None).on_hand == 0


def test_oversell_refused_when_configured(backend: Backend) -> None:
    backend.allow_oversell = False
    pn = active_product(backend)
    backend.set_stock(pn, "1", delta=None, on_hand=2)
    with pytest.raises(DomainError) as e:
        backend.create_order(order(backend, "O", [(pn, 2), (pn, 1)]), "o")
    assert e.value.status == 422
    backend.create_order(order(backend, "O", [(pn, 2)]), "o")
    assert backend.state.stock[(pn, "1")].available == 0


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


def test_pager_fixes_the_key_set_on_page_one_for_its_ttl() -> None:
    pager = Pager(ttl_ms=1000)
    keys = list(range(25))
    calls: list[int] = []

    def select() -> list[int]:
        calls.append(1)
        return list(keys)

    p1 = pager.page("q", 1, 10, 0, select)
    assert (list(p1.keys), p1.total_count, p1.total_pages) == (list(range(10)), 25, 3)
    keys.remove(3)
    keys.append(99)
    assert list(pager.page("q", 2, 10, 500, select).keys) == list(range(10, 20))
    assert list(pager.page("q", 3, 10, 1000, select).keys) == [20, 21, 22, 23, 24]
    assert len(calls) == 1
    assert list(pager.page("q", 3, 10, 1001, select).keys) == [21, 22, 23, 24, 99], "expired: a fresh selection"
    assert list(pager.page("other", 2, 10, 0, select).keys)[0] == 11, "another query has its own snapshot"
    assert Pager().page("q", 1, 10, 0, list).total_pages == 0


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
