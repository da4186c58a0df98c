"""The fake's public API beside a simple model (zarr's testing/stateful.py idea), under hypothesis.

Invariants after every step: stock is conserved (on-hand - reserved = available for every item, and both equal the
model's), the order lifecycle never makes an illegal move, retried order posts make exactly one order per
ExternalOrderNumber. A separate machine proves paging never misses a record that changed before its pass began.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
from fastapi.testclient import TestClient
from hypothesis import settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, precondition, rule

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings

PRODUCTS = 12
LEGAL = {("Created", "Reserved"), ("Reserved", "Picked"), ("Created", "Cancelled"), ("Reserved", "Cancelled")}


def _app() -> tuple[TestClient, dict[str, str]]:
    s = Settings(clock="virtual", catalogue={"products": PRODUCTS, "warehouses": 2, "customers": 4},
                 rate_limits={"standard": 100_000, "list": 100_000, "write": 100_000})
    client = TestClient(create_app(s))
    client.__enter__()
    token = client.post("/api/token", data={"grant_type": "client_credentials", "client_id": "demo",
                                            "client_secret": "demo-secret"}).json()["access_token"]
    return client, {"Authorization": f"Bearer {token}"}


class LedgerAndOrders(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.client, self.h = _app()
        state = self.client.get("/_mock/state", params={"include": "products"}).json()
        self.stock = {(b["ProductNumber"], b["WarehouseNumber"]): [b["OnHand"], b["Reserved"]] for b in state["Balances"]}
        self.sellable = sorted(p["ProductNumber"] for p in state["Products"] if p["Status"] == "Active")
        self.status: dict[str, str] = {}  # order number -> status (model)
        self.lines: dict[str, list[tuple[str, int]]] = {}
        self.warehouse: dict[str, str] = {}
        self.by_external: dict[str, tuple[str, Any]] = {}  # external number -> (order number, body)

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)

    # ---------------------------------------------------------------- steps
    @rule(target=orders, ext=st.sampled_from([f"WEB-{i}" for i in range(6)]), data=st.data(),
          warehouse=st.sampled_from(["1", "2"]), retries=st.integers(1, 3), extra=st.booleans())
    def post_order(self, ext: str, data: st.DataObject, warehouse: str, retries: int, extra: bool) -> Any:
        products = data.draw(st.lists(st.sampled_from(self.sellable), min_size=1, max_size=3))
        qtys = data.draw(st.lists(st.integers(1, 5), min_size=len(products), max_size=len(products)))
        body: dict[str, Any] = {"ExternalOrderNumber": ext, "CustomerNumber": "10001", "WarehouseNumber": warehouse,
                                "Lines": [{"ProductNumber": p, "Quantity": q, "UnitPrice": 10.0, "Currency": "SEK"}
                                          for p, q in zip(products, qtys, strict=True)]}
        statuses = []
        for i in range(retries):
            sent = {**body, "SomeNewerField": i} if extra else body  # unknown fields are ignored by "identical"
            r = self.client.post("/api/CustomerOrders", json=sent, headers=self.h)
            statuses.append(r.status_code)
        if ext in self.by_external:
            number, first_body = self.by_external[ext]
            expected = 200 if first_body == body else 409
            assert statuses == [expected] * retries, (statuses, expected)
            return number
        assert statuses == [201] + [200] * (retries - 1), statuses
        number = self.client.get("/_mock/state").json()["Orders"][-1]["OrderNumber"]
        self.by_external[ext] = (number, body)
        self.status[number] = "Created"
        self.lines[number] = list(zip(products, qtys, strict=True))
        self.warehouse[number] = warehouse
        for p, q in self.lines[number]:
            self.stock[(p, warehouse)][1] += q
        return number

    def _move(self, number: str, target: str, path: str) -> None:
        before = self.status[number]
        r = self.client.post(path, headers=self.h)
        # picking a Created order is two legal moves: the back office reserves first, then picks
        legal = (before, target) in LEGAL or (before, target) == ("Created", "Picked")
        if not legal:
            assert r.status_code == 422, (before, target, r.status_code, r.text)
            return
        assert r.status_code == 200, (before, target, r.status_code, r.text)
        wh = self.warehouse[number]
        if target == "Cancelled":
            for p, q in self.lines[number]:
                self.stock[(p, wh)][1] -= q
        elif target == "Picked":
            left: dict[str, int] = {}
            for p, q in self.lines[number]:
                left.setdefault(p, max(0, self.stock[(p, wh)][0]))
                picked = min(q, left[p])
                left[p] -= picked
                self.stock[(p, wh)][0] -= picked
                self.stock[(p, wh)][1] -= q
        self.status[number] = target

    @rule(number=orders)
    def webshop_cancel(self, number: str) -> None:
        before = self.status[number]
        r = self.client.post(f"/api/CustomerOrders/{number}/cancel", headers=self.h)
        if before != "Created":
            assert r.status_code == 422 and "locked" in r.json()["Message"], r.text
            return
        assert r.status_code == 200
        for p, q in self.lines[number]:
            self.stock[(p, self.warehouse[number])][1] -= q
        self.status[number] = "Cancelled"

    @rule(number=orders)
    def reserve(self, number: str) -> None:
        self._move(number, "Reserved", f"/_mock/orders/{number}/reserve")

    @rule(number=orders)
    def pick(self, number: str) -> None:
        self._move(number, "Picked", f"/_mock/orders/{number}/pick")

    @rule(number=consumes(orders))
    def backoffice_cancel(self, number: str) -> None:
        self._move(number, "Cancelled", f"/_mock/orders/{number}/cancel")

    @rule(product=st.integers(0, PRODUCTS - 1), warehouse=st.sampled_from(["1", "2"]), delta=st.integers(-20, 40))
    def stock_move(self, product: int, warehouse: str, delta: int) -> None:
        pn = sorted(p for p, _ in self.stock)[product]
        r = self.client.post("/_mock/stock", json={"ProductNumber": pn, "WarehouseNumber": warehouse, "Delta": delta})
        if self.stock[(pn, warehouse)][0] + delta < 0:
            assert r.status_code == 422
        else:
            assert r.status_code == 200
            self.stock[(pn, warehouse)][0] += delta

    @precondition(lambda self: bool(self.status))
    @rule(number=orders, qty=st.integers(-1, 4))
    def webshop_edit(self, number: str, qty: int) -> None:
        before = self.status[number]
        p = self.lines[number][0][0]
        r = self.client.put(f"/api/CustomerOrders/{number}", headers=self.h,
                            json={"Lines": [{"ProductNumber": p, "Quantity": qty, "UnitPrice": 1.0, "Currency": "SEK"}]})
        if before != "Created":
            assert r.status_code == 422 and "locked" in r.json()["Message"]
            return
        if qty <= 0:
            assert r.status_code == 422  # well-formed but wrong: nothing changes
            return
        assert r.status_code == 200, r.text
        wh = self.warehouse[number]
        for lp, lq in self.lines[number]:
            self.stock[(lp, wh)][1] -= lq
        self.lines[number] = [(p, qty)]
        self.stock[(p, wh)][1] += qty

    # ---------------------------------------------------------------- invariants
    @invariant()
    def stock_is_conserved_and_matches_the_model(self) -> None:
        state = self.client.get("/_mock/state").json()
        for b in state["Balances"]:
            assert b["OnHand"] - b["Reserved"] == b["AvailableBalance"]
            assert [b["OnHand"], b["Reserved"]] == self.stock[(b["ProductNumber"], b["WarehouseNumber"])], b

    @invariant()
    def one_order_per_external_number_and_statuses_agree(self) -> None:
        orders = self.client.get("/_mock/state").json()["Orders"]
        externals = [o["ExternalOrderNumber"] for o in orders]
        assert len(externals) == len(set(externals))
        assert {o["OrderNumber"]: o["Status"] for o in orders} == self.status


LedgerAndOrders.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestLedgerAndOrders = LedgerAndOrders.TestCase


class PagingWhileDataChanges(RuleBasedStateMachine):
    """A pass over ProductAvailability (small pages) while stock keeps changing: every item that existed when
    page 1 was read is seen by the end of the pass, exactly once, whatever changed in between."""

    def __init__(self) -> None:
        super().__init__()
        self.client, self.h = _app()
        self.pass_keys: set[tuple[str, str]] | None = None
        self.seen: list[tuple[str, str]] = []
        self.next_page = 0
        self.total_pages = 0
        self.products = sorted({b["ProductNumber"] for b in self.client.get("/_mock/state").json()["Balances"]})

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)

    def _page(self, page: int) -> dict[str, Any]:
        r = self.client.get("/api/ProductAvailability", params={"page": page, "pageSize": 5}, headers=self.h)
        assert r.status_code == 200
        data: dict[str, Any] = r.json()
        return data

    @precondition(lambda self: self.pass_keys is None)
    @rule()
    def start_pass(self) -> None:
        state = self.client.get("/_mock/state").json()
        self.pass_keys = {(b["ProductNumber"], b["WarehouseNumber"]) for b in state["Balances"]}
        first = self._page(1)
        self.seen = [(i["ProductNumber"], i["WarehouseNumber"]) for i in first["Items"]]
        self.total_pages = first["TotalPages"]
        self.next_page = 2

    @precondition(lambda self: self.pass_keys is not None)
    @rule()
    def read_next_page(self) -> None:
        if self.next_page > self.total_pages:
            assert set(self.seen) >= (self.pass_keys or set()), "a record was pushed off its page"
            assert len(self.seen) == len(set(self.seen)), "a record was read twice in one pass"
            self.pass_keys = None
            return
        data = self._page(self.next_page)
        self.seen += [(i["ProductNumber"], i["WarehouseNumber"]) for i in data["Items"]]
        self.next_page += 1

    @rule(product=st.integers(0, PRODUCTS - 1), warehouse=st.sampled_from(["1", "2"]), delta=st.integers(1, 9),
          seconds=st.integers(0, 5))
    def change_stock(self, product: int, warehouse: str, delta: int, seconds: int) -> None:
        if seconds:
            self.client.post("/_mock/clock/advance", json={"Seconds": seconds})
        r = self.client.post("/_mock/stock", json={"ProductNumber": self.products[product],
                                                   "WarehouseNumber": warehouse, "Delta": delta})
        assert r.status_code == 200


PagingWhileDataChanges.TestCase.settings = settings(max_examples=20, stateful_step_count=40, deadline=None)
TestPagingWhileDataChanges = PagingWhileDataChanges.TestCase
