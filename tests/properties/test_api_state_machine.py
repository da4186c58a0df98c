"""The fake's public API beside a small model (zarr's testing/stateful.py idea), under hypothesis.

``LedgerAndOrders`` drives the real dialect - POST/PUT/DELETE CustomerOrders, PUT/POST WarehouseStockLevels - and
the back office's reserve / pick / cancel / delivery-date moves, refused requests included (a PUT or DELETE of a
locked or unknown order, rows with quantity 0 or an unknown product, a duplicate orderNumberExternal, a stock move
below zero). After every step the model's ledger (physicalBalance, orderedQuantity, availableBalanceNow) and order
statuses must equal ``/_mock/state``, every order's rows must equal the truth's, and every refused request must
have left ``/_mock/truth`` - every record, counter and outbox entry - exactly as it was.

``PagingWhileDataChanges`` pages ProductAvailability (scheme B, small pages) while stock keeps changing: an
unfiltered pass sees every item exactly once; a ``modifiedDateFrom`` pass (records only ever enter it) never misses
a record that matched when it began, though live paging may show one twice.

The hypothesis profile (conftest.py at the root: ``ci`` / ``nightly``) decides how many examples run; only the
number of steps per example is set here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
from fastapi.testclient import TestClient
from hypothesis import settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, precondition, rule

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import CAPTURE, CAPTURE_DELAY, Xtnd, order_body, row, utc_param
from tests.conftest import API
from tests.support.xtnd import CONTROL

PRODUCTS = 12
WAREHOUSES = ("1", "2")


def _fake(**extra: Any) -> TestClient:
    s = Settings(clock="virtual", seed=1, quirks={"transient_errors": 0},
                 catalogue={"products": PRODUCTS, "warehouses": 2, "customers": 4},
                 rate_limits={"default": 1_000_000}, subscriptions=[CAPTURE], delivery_faults=CAPTURE_DELAY,
                 **extra)
    client = TestClient(create_app(s), raise_server_exceptions=False)
    client.__enter__()
    return client


@dataclass
class ModelRow:
    product: str
    warehouse: str
    quantity: int
    picked: int = 0
    status: str = "Created"

    @property
    def outstanding(self) -> int:
        return 0 if self.status == "Annulled" else self.quantity - self.picked


@dataclass
class ModelOrder:
    external: str
    rows: list[ModelRow]
    status: str = "Created"
    shipments: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class LedgerAndOrders(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.client = _fake()
        self.api = Xtnd(self.client)
        state = self.client.get("/_mock/state", params={"include": "products"}).json()
        # [physicalBalance, orderedQuantity, blockedBalance]
        self.stock = {(b["productNumber"], b["warehouse"]): [b["physicalBalance"], b["orderedQuantity"],
                                                             b["blockedBalance"]] for b in state["balances"]}
        self.sellable = sorted(p["productNumber"] for p in state["products"] if p["enabled"])
        self.model: dict[str, ModelOrder] = {}

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)

    # ---------------------------------------------------------------- helpers
    def truth(self) -> dict[str, Any]:
        r = self.client.get("/_mock/truth")
        assert r.status_code == 200
        truth: dict[str, Any] = r.json()
        return truth

    def refused(self, method: str, relative: str, contains: str | None = None, **kwargs: Any) -> None:
        """The request is a 400 and the truth is exactly as it was."""
        before = self.truth()
        r = self.api.request(method, relative, **kwargs)
        assert r.status_code == 400, (method, relative, r.status_code, r.text)
        if contains is not None:
            assert contains in r.json()["Message"], r.text
        assert self.truth() == before, f"refused {method} {relative} changed the truth"

    def refused_move(self, number: str, move: str, **kwargs: Any) -> None:
        before = self.truth()
        r = self.client.post(f"/_mock/orders/{number}/{move}", headers=CONTROL, **kwargs)
        assert r.status_code == 400, (move, r.status_code, r.text)
        assert self.truth() == before, f"refused {move} changed the truth"

    def allocate(self, rows: list[ModelRow], sign: int) -> None:
        for r in rows:
            self.stock[(r.product, r.warehouse)][1] += sign * r.outstanding

    rows_strategy = st.lists(st.tuples(st.integers(0, PRODUCTS - 1), st.sampled_from(WAREHOUSES),
                                       st.integers(1, 6)), min_size=1, max_size=3)

    def build(self, spec: list[tuple[int, str, int]]) -> list[ModelRow]:
        return [ModelRow(self.sellable[i % len(self.sellable)], wh, q) for i, wh, q in spec]

    @staticmethod
    def body_rows(rows: list[ModelRow]) -> list[dict[str, Any]]:
        return [row(r.product, r.quantity, warehouse=r.warehouse, unit_price=10.0) for r in rows]

    # ---------------------------------------------------------------- the webshop
    @rule(target=orders, ext=st.sampled_from([f"WEB-{i}" for i in range(5)]), spec=rows_strategy)
    def post_order(self, ext: str, spec: list[tuple[int, str, int]]) -> Any:
        rows = self.build(spec)
        body = order_body(self.body_rows(rows), ext)
        if any(o.external == ext for o in self.model.values()):
            self.refused("POST", "CustomerOrders", "already exists", json=body)
            return multiple()
        created = self.api.create_order(body)
        number = created["orderHeader"]["orderNumber"]
        assert created["orderHeader"]["orderStatus"] == "Created"
        self.model[number] = ModelOrder(ext, rows)
        self.allocate(rows, +1)
        return number

    @rule(spec=rows_strategy, bad=st.sampled_from(["zero", "unknown", "fraction", "warehouse"]),
          at=st.integers(0, 2))
    def post_a_bad_order(self, spec: list[tuple[int, str, int]], bad: str, at: int) -> None:
        body = order_body(self.body_rows(self.build(spec)), "WEB-BAD")
        self._spoil(body, bad, at)
        self.refused("POST", "CustomerOrders", json=body)

    @staticmethod
    def _spoil(body: dict[str, Any], bad: str, at: int) -> None:
        target = body["orderRows"][at % len(body["orderRows"])]
        if bad == "zero":
            target["salesData"]["quantity"] = 0
        elif bad == "unknown":
            target["product"]["productNumber"] = "NO SUCH"
        elif bad == "fraction":
            target["salesData"]["quantity"] = 1.5
        else:
            target["warehouse"] = "77"

    @rule(number=orders, spec=rows_strategy)
    def put_order(self, number: str, spec: list[tuple[int, str, int]]) -> None:
        order = self.model[number]
        rows = self.build(spec)
        body = order_body(self.body_rows(rows), order.external, yourReference=f"r{len(spec)}")
        if order.status != "Created":
            self.refused("PUT", f"CustomerOrders/{number}", "can no longer be changed", json=body)
            return
        r = self.api.put(f"CustomerOrders/{number}", json=body)
        assert r.status_code == 200, r.text
        assert r.json() == {"Message": f"Order {number} was updated.", "Information": number}
        self.allocate(order.rows, -1)
        order.rows = rows
        self.allocate(rows, +1)

    @rule(number=orders, spec=rows_strategy, bad=st.sampled_from(["zero", "unknown", "fraction", "warehouse"]),
          at=st.integers(0, 2))
    def put_a_bad_order(self, number: str, spec: list[tuple[int, str, int]], bad: str, at: int) -> None:
        """A refused PUT leaves the order's rows exactly as they were (and so the allocation a later cancel
        releases)."""
        body = order_body(self.body_rows(self.build(spec)), self.model[number].external)
        self._spoil(body, bad, at)
        self.refused("PUT", f"CustomerOrders/{number}", json=body)

    @rule(number=orders)
    def delete_order(self, number: str) -> None:
        order = self.model[number]
        if order.status != "Created":
            self.refused("DELETE", f"CustomerOrders/{number}", "can no longer be changed")
            return
        r = self.api.delete(f"CustomerOrders/{number}")
        assert r.status_code == 200, r.text
        self.allocate(order.rows, -1)
        for r_ in order.rows:
            r_.status = "Annulled"
        order.status = "Annulled"

    @rule(number=st.sampled_from(["999999", "1"]), method=st.sampled_from(["PUT", "DELETE"]))
    def change_an_unknown_order(self, number: str, method: str) -> None:
        body = order_body([row(self.sellable[0])], "X") if method == "PUT" else None
        self.refused(method, f"CustomerOrders/{number}", number, json=body)

    # ---------------------------------------------------------------- stock
    @rule(product=st.integers(0, PRODUCTS - 1), warehouse=st.sampled_from(WAREHOUSES),
          delta=st.integers(-40, 40), absolute=st.booleans())
    def stock_move(self, product: int, warehouse: str, delta: int, absolute: bool) -> None:
        pn = sorted(p for p, _ in self.stock)[product]
        item = self.stock[(pn, warehouse)]
        target = delta if absolute else item[0] + delta
        body: dict[str, Any] = {"warehouse": warehouse, "productNumber": pn}
        body.update({"balance": delta} if absolute else {"balanceDifference": delta})
        method = "POST" if absolute else "PUT"
        if target < 0:
            self.refused(method, "WarehouseStockLevels", "below 0", json=body)
            return
        r = self.api.request(method, "WarehouseStockLevels", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["Information"] == str(target)
        item[0] = target

    # ---------------------------------------------------------------- the back office
    @rule(number=orders)
    def reserve(self, number: str) -> None:
        order = self.model[number]
        if order.status != "Created":
            self.refused_move(number, "reserve")
            return
        assert self.client.post(f"/_mock/orders/{number}/reserve", headers=CONTROL).status_code == 200
        order.status = "Reserved"
        for r in order.rows:
            r.status = "Reserved"

    @rule(number=orders)
    def pick(self, number: str) -> None:
        order = self.model[number]
        plan: list[tuple[ModelRow, int]] = []
        if order.status in ("Created", "Reserved", "PartiallyDelivered"):
            left: dict[tuple[str, str], int] = {}
            for r in order.rows:
                if not r.outstanding:
                    continue
                key = (r.product, r.warehouse)
                left.setdefault(key, max(0, self.stock[key][0]))
                take = min(r.outstanding, left[key])
                left[key] -= take
                if take:
                    plan.append((r, take))
        if not plan:
            self.refused_move(number, "pick")
            return
        answer = self.client.post(f"/_mock/orders/{number}/pick", headers=CONTROL)
        assert answer.status_code == 200, answer.text
        for r in order.rows:
            if r.status == "Created":
                r.status = "Reserved"
        for r, take in plan:
            r.picked += take
            self.stock[(r.product, r.warehouse)][0] -= take
            self.stock[(r.product, r.warehouse)][1] -= take
            if r.picked == r.quantity:
                r.status = "Picked"
        order.status = "PartiallyDelivered" if any(r.outstanding for r in order.rows) else "Terminated"
        order.shipments += 1
        assert len(answer.json()["orderHeader"]["shipments"]) == order.shipments

    @rule(number=orders)
    def backoffice_cancel(self, number: str) -> None:
        order = self.model[number]
        if order.status not in ("Created", "Reserved", "PartiallyDelivered"):
            self.refused_move(number, "cancel")
            return
        assert self.client.post(f"/_mock/orders/{number}/cancel", headers=CONTROL).status_code == 200
        self.allocate(order.rows, -1)
        for r in order.rows:
            if r.outstanding:
                r.status = "Annulled"
        order.status = "Terminated" if any(r.picked for r in order.rows) else "Annulled"

    @rule(number=orders, day=st.integers(6, 20))
    def move_delivery_date(self, number: str, day: int) -> None:
        body = {"askedDeliveryDate": f"2026-01-{day:02d}"}
        if self.model[number].status in ("Annulled", "Terminated"):
            self.refused_move(number, "delivery-date", json=body)
            return
        r = self.client.post(f"/_mock/orders/{number}/delivery-date", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["orderHeader"]["askedDeliveryDate"].startswith(f"2026-01-{day:02d}T01:00:00.000")

    @rule(seconds=st.integers(1, 90))
    def time_passes(self, seconds: int) -> None:
        assert self.client.post("/_mock/clock/advance", json={"seconds": seconds}).status_code == 200

    # ---------------------------------------------------------------- invariants
    @invariant()
    def the_ledger_and_statuses_match_the_model(self) -> None:
        state = self.client.get("/_mock/state").json()
        for b in state["balances"]:
            physical, ordered, blocked = self.stock[(b["productNumber"], b["warehouse"])]
            assert (b["physicalBalance"], b["orderedQuantity"], b["blockedBalance"]) == (physical, ordered, blocked), b
            assert b["availableBalanceNow"] == physical - ordered - blocked, b
        assert {o["orderNumber"]: (o["orderStatus"], o["orderNumberExternal"]) for o in state["orders"]} == {
            n: (o.status, o.external) for n, o in self.model.items()}

    @invariant()
    def every_orders_rows_match_the_model(self) -> None:
        if not self.model:
            return
        records = self.client.get("/_mock/truth").json()["records"].get("order", {})
        for number, order in self.model.items():
            got = [(r["product_number"], r["warehouse"], r["quantity"], r["picked"], r["status"])
                   for r in records[number]["rows"]]
            assert got == [(r.product, r.warehouse, r.quantity, r.picked, r.status) for r in order.rows], number


LedgerAndOrders.TestCase.settings = settings(stateful_step_count=20, deadline=None)
TestLedgerAndOrders = LedgerAndOrders.TestCase


class PagingWhileDataChanges(RuleBasedStateMachine):
    """Scheme B passes over ProductAvailability (pages of 5) while stock keeps changing and time passes."""

    def __init__(self) -> None:
        super().__init__()
        self.client = _fake(paging={"page_size": 5})
        self.api = Xtnd(self.client)
        self.products = sorted({b["productNumber"] for b in self.client.get("/_mock/state").json()["balances"]})
        self.params: dict[str, str] = {}
        self.expected: set[tuple[str, str]] | None = None  # what matched when the pass began
        self.seen: list[tuple[str, str]] = []
        self.next_page = 0
        self.total_pages = 0

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)

    def _page(self, number: int) -> dict[str, Any]:
        page: dict[str, Any] = self.api.ok("GET", "ProductAvailability", params={**self.params, "pageNumber": number})
        return page

    def _matching(self) -> set[tuple[str, str]]:
        since = self.params.get("modifiedDateFrom")
        items = []
        number = 1
        while True:  # read in one go (nothing changes meanwhile): the set that matches right now
            page = self._page(number)
            items += page["productAvailabilityList"]
            if number >= page["paginationInfo"]["totalPages"]:
                break
            number += 1
        keys = {(i["productNumber"], i["warehouse"]) for i in items}
        assert since is not None or len(keys) == PRODUCTS * len(WAREHOUSES)
        return keys

    @precondition(lambda self: self.expected is None)
    @rule(filtered=st.booleans(), back=st.integers(0, 120))
    def start_pass(self, filtered: bool, back: int) -> None:
        if filtered:
            now = self.client.get("/_mock/clock").json()["now"]
            from datetime import datetime, timedelta

            moment = datetime.fromisoformat(now.replace("Z", "+00:00")) - timedelta(seconds=back)
            self.params = {"modifiedDateFrom": utc_param(moment)}
        else:
            self.params = {}
        self.expected = self._matching()
        first = self._page(1)
        self.seen = [(i["productNumber"], i["warehouse"]) for i in first["productAvailabilityList"]]
        self.total_pages = first["paginationInfo"]["totalPages"]
        self.next_page = 2

    @precondition(lambda self: self.expected is not None)
    @rule()
    def read_next_page(self) -> None:
        assert self.expected is not None
        if self.next_page > self.total_pages:
            missed = self.expected - set(self.seen)
            assert not missed, f"records that matched when the pass began were never seen: {sorted(missed)}"
            if not self.params:  # membership never changes: exactly once each
                assert len(self.seen) == len(set(self.seen)), "a record was read twice in one pass"
            self.expected = None
            return
        page = self._page(self.next_page)
        self.seen += [(i["productNumber"], i["warehouse"]) for i in page["productAvailabilityList"]]
        # live: the client learns the new total as it goes (a record entering adds pages)
        self.total_pages = max(self.total_pages, page["paginationInfo"]["totalPages"])
        self.next_page += 1

    @rule(product=st.integers(0, PRODUCTS - 1), warehouse=st.sampled_from(WAREHOUSES), delta=st.integers(1, 9),
          seconds=st.integers(0, 30))
    def change_stock(self, product: int, warehouse: str, delta: int, seconds: int) -> None:
        if seconds:
            assert self.client.post("/_mock/clock/advance", json={"seconds": seconds}).status_code == 200
        r = self.api.put("WarehouseStockLevels", json={"productNumber": self.products[product],
                                                       "warehouse": warehouse, "balanceDifference": delta})
        assert r.status_code == 200, r.text


PagingWhileDataChanges.TestCase.settings = settings(stateful_step_count=30, deadline=None)
TestPagingWhileDataChanges = PagingWhileDataChanges.TestCase


def test_the_machines_take_their_example_count_from_the_profile() -> None:
    """``HYPOTHESIS_PROFILE=nightly`` must deepen these runs: nothing here pins max_examples."""
    assert TestLedgerAndOrders.settings.max_examples == settings.default.max_examples
    assert TestPagingWhileDataChanges.settings.max_examples == settings.default.max_examples
    assert API.endswith("/demo")
