"""A write is applied to memory only when its transaction commits (issue 12, item 1).

Under ``--db`` another process holds a lock on the database file (``BEGIN EXCLUSIVE`` from a second sqlite3
connection); every kind of write - the API's, the control surface's, the back office's, the webhooks' - is then
refused with a clear, retryable error, and the full truth (every record, the id counters, the outbox) is exactly as
it was, in memory and on disk. Once the lock is gone the same request succeeds, exactly once. Before the fix the
change stayed in memory after the failed commit (a retry met "the existing order"), and the loop waited 5 s.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.domain.events import ACTIONS
from mock_xtnd.runtime import Runtime
from mock_xtnd.settings import Settings
from tests.support.xtnd import API, basic, customer_body, order_body, row

TIMEOUT = ("Execution Timeout Expired.  The timeout period elapsed prior to completion of the operation or the server "
           "is not responding.")
CONTROL = {"X-Mock-Xtnd": "1"}


def settings(db: Path, **extra: Any) -> Settings:
    return Settings(clock="virtual", seed=1, db=str(db), quirks={"transient_errors": 0},
                    catalogue={"products": 30, "warehouses": 3, "customers": 5},
                    # port 9 (discard) refuses: deliveries fail at once and, with no retries, are dead-lettered
                    subscriptions=[{"name": "shop", "callback_url": "http://127.0.0.1:9/hooks", "secret": "s",
                                    "triggers": list(ACTIONS)}],
                    delivery={"retry_delays_seconds": []}, **extra)


@contextmanager
def locked(db: Path) -> Iterator[None]:
    """Another process's write lock on the database file, held until the block ends."""
    other = sqlite3.connect(str(db), isolation_level=None, timeout=10)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def truth(c: TestClient) -> dict[str, Any]:
    r = c.get("/_mock/truth")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


STATE_KINDS = ("warehouse", "product", "stock", "customer", "price_list", "discount_list", "order", "purchase",
               "offer", "price_changed", "channel_reservation", "subscription", "invoice", "return", "adjustment",
               "supplier_agreement", "product_texts", "product_properties")
INTERNAL = "/RESTAPI/internal_v1_0/demo"
COLOUR_BLACK = "9a1c96b0-80e4-598e-9236-b2c0b1b1b541"  # a seeded property value (GET ProductProperties)


def durable(t: dict[str, Any]) -> dict[str, Any]:
    """What must agree between memory and disk: every record, the counters, which deliveries exist (their attempt
    outcomes are group-committed a moment later, docs/webhooks.md)."""
    return {"records": t["records"], "counters": t["counters"], "outbox": sorted(d["id"] for d in t["outbox"])}


def disk_truth(db: Path) -> dict[str, Any]:
    """The database file as a fresh process would rebuild it after a kill -9, read directly."""
    conn = sqlite3.connect(str(db))
    try:
        records: dict[str, dict[str, Any]] = {}
        outbox = []
        for kind, key, body in conn.execute("SELECT kind, key, body FROM records"):
            if kind in STATE_KINDS:
                value = orjson.loads(body)
                if kind == "subscription":  # /_mock/truth shows a digest of the secret, never the secret
                    value["secret"] = "sha256:" + hashlib.sha256(value["secret"].encode()).hexdigest()[:16]
                records.setdefault(kind, {})[key] = value
            elif kind == "delivery":
                outbox.append(orjson.loads(body))
        meta = {k: orjson.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    finally:
        conn.close()
    return durable({"records": records, "counters": meta["counters"], "outbox": outbox})


class World:
    """A fake under --db with one of everything a write can name: orders in each state, purchases, an offer, a
    channel reservation, a dead-lettered delivery."""

    def __init__(self, c: TestClient, rt: Runtime, db: Path) -> None:
        self.c, self.rt, self.db = c, rt, db
        self.api = {**basic()}
        self.numbers: dict[str, str] = {}
        self.purchases: list[str] = []
        self.offer = self.dead = self.invoice = ""
        self.returns: list[str] = []

    def ok(self, r: httpx.Response) -> Any:
        assert r.status_code in (200, 201, 202), r.text
        return r.json()

    def order(self, external: str, pn: str = "100003", qty: int = 2) -> str:
        body = order_body(external, [row(pn, qty)])
        number: str = self.ok(self.c.post(f"{API}/CustomerOrders", headers=self.api, json=body))[
            "orderHeader"]["orderNumber"]
        return number


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = tmp_path / "x.db"
    app = create_app(settings(db))
    with TestClient(app, headers=CONTROL) as c:
        w = World(c, app.state.runtime, db)
        for pn in ("100003", "100004"):
            w.ok(c.post("/_mock/stock", json={"productNumber": pn, "warehouse": "1", "physicalBalance": 50}))
        w.numbers = {name: w.order(f"SETUP-{name}") for name in ("put", "delete", "reserve", "pick", "cancel",
                                                                 "date", "picked")}
        w.ok(c.post(f"/_mock/orders/{w.numbers['picked']}/pick", headers=CONTROL))
        w.returns = [w.ok(c.post(f"{API}/ReturnOrders", headers=w.api, json=body))["header"]["returnNumber"]
                     for body in ({"createAction": {"action": "ReturnRowsFromCustomerOrder",
                                                    "orderNumber": w.numbers["picked"],
                                                    "orderRows": [{"position": 1, "subPosition": 0, "quantity": 1}]}},
                                  {"rows": [{"productNumber": "100004", "salesData": {"quantity": 2, "unit": "st"}}]})]
        w.ok(c.post(f"{API}/Products", headers=w.api, json={"productNumber": "EMPTY-1",
                                                              "productData": {"productName": "Tom artikel"}}))
        w.purchases = [w.ok(c.post("/_mock/backoffice/purchases", json={
            "warehouse": "1", "rows": [{"productNumber": "100004", "quantity": 10}]}))["purchaseNumber"]
            for _ in range(2)]
        w.offer = w.ok(c.post("/_mock/backoffice/offers", json={
            "customerNumber": "10001", "rows": [{"productNumber": "100003", "quantity": 3}]}))["offerNumber"]
        w.ok(c.post("/_mock/backoffice/channel-sales", json={"productNumber": "100004", "warehouse": "1",
                                                             "quantity": 2, "mode": "reserve"}))
        w.ok(c.post("/_mock/clock/advance", json={"seconds": 1}))  # every delivery so far is tried: dead
        w.dead = c.get("/_mock/deliveries", params={"status": "dead", "limit": 1}).json()["items"][0]["deliveryId"]
        w.invoice = c.get(f"{API}/CustomerOrders/{w.numbers['picked']}", headers=w.api).json()[
            "orderHeader"]["customerInvoices"][0]["invoiceNumber"]
        yield w


def api(method: str, relative: str, body: Callable[[World], Any] | None = None) -> Callable[[World], httpx.Response]:
    def call(w: World) -> httpx.Response:
        return w.c.request(method, f"{API}/{relative.format(**w.numbers)}", headers=w.api,
                           json=body(w) if body is not None else None)
    return call


def control(method: str, path: Callable[[World], str] | str, body: Callable[[World], Any] | Any = None
            ) -> Callable[[World], httpx.Response]:
    def call(w: World) -> httpx.Response:
        p = path(w) if callable(path) else path.format(**w.numbers)
        b = body(w) if callable(body) else body
        return w.c.request(method, f"/_mock{p}", json=b)
    return call


WRITES: dict[str, Callable[[World], httpx.Response]] = {
    # the API
    "POST CustomerOrders": api("POST", "CustomerOrders", lambda w: order_body("NEW-1", [row("100003", 3)])),
    "PUT CustomerOrders": api("PUT", "CustomerOrders/{put}",
                              lambda w: order_body("SETUP-put", [row("100004", 4)], askedDeliveryDate="2026-03-01T00:00:00")),
    "DELETE CustomerOrders": api("DELETE", "CustomerOrders/{delete}"),
    "POST Customers": api("POST", "Customers", lambda w: customer_body("Ny Kund")),
    "PUT Customers": api("PUT", "Customers/10002", lambda w: customer_body("Nytt Namn")),
    "PUT WarehouseStockLevels": api("PUT", "WarehouseStockLevels", lambda w: {
        "warehouse": "1", "productNumber": "100005", "balanceDifference": 7}),
    "POST WarehouseStockLevels": api("POST", "WarehouseStockLevels", lambda w: {
        "warehouse": "2", "productNumber": "100005", "balance": 11}),
    "POST PurchaseOrders": api("POST", "PurchaseOrders", lambda w: {"header": {"supplier": {}}, "rows": [
        {"productNumber": "100008", "purchaseDataProductUnit": {"quantity": 12, "unit": "st"}}]}),
    "PUT PurchaseOrders": lambda w: api("PUT", f"PurchaseOrders/{w.purchases[1]}", lambda w: {
        "header": {"supplier": {}, "status": "Cancelled"}, "rows": [
            {"productNumber": "100004", "purchaseDataProductUnit": {"quantity": 15, "unit": "st"}}]})(w),
    "POST ReturnOrders": api("POST", "ReturnOrders", lambda w: {"createAction": {
        "action": "ReturnCompleteCustomerOrder", "orderNumber": w.numbers["picked"]}}),
    "POST CustomerOrderInvoices": api("POST", "CustomerOrderInvoices",
                                      lambda w: order_body("INV-1", [row("100003", 1)])),
    "PUT Offers": lambda w: w.c.put(f"{API}/Offers/{w.offer}", headers=w.api, json={
        **w.c.get(f"{API}/Offers/{w.offer}", headers=w.api).json(), "offerRows": [
            {"product": {"productNumber": "100004"}, "salesData": {"quantity": 4, "unit": "st", "unitPrice": 9.5}}]}),
    "POST Products": api("POST", "Products", lambda w: {"productNumber": "API-1", "productData": {
        "productName": "Ny från API", "productGTINumber": "7350099000010"}}),
    "PUT Products": api("PUT", "Products/100005", lambda w: {"productNumber": "100005", "productData": {
        "productName": "Nytt namn", "warranty": "2 år"}}),
    "DELETE Products": api("DELETE", "Products/EMPTY-1"),
    "POST ProductDescriptions": api("POST", "ProductDescriptions", lambda w: {
        "productNumber": "100003", "productDescriptionItemList": [{"textType": "Web", "language": "en",
                                                                   "text": "A mug"}]}),
    "DELETE ProductDescriptions": api("DELETE", "ProductDescriptions/100003/Description/sv"),
    "POST ProductSupplierAgreements": api("POST", "ProductSupplierAgreements", lambda w: {
        "productNumber": "100003", "supplierAgreementNumber": 42, "supplierAgreementName": "Ny leverantör",
        "country": "DK", "supplierProductNumber": "DK-1", "price": 12.5, "vatPercent": 25}),
    "DELETE ProductSupplierAgreements": lambda w: w.c.delete(
        f"{API}/ProductSupplierAgreements/100003/"
        f"{w.c.get(f'{API}/ProductSupplierAgreements', headers=w.api, params={'productNumber': '100003'}).json()['productSupplierAgreementList'][0]['supplierAgreementNumber']}",
        headers=w.api),
    "POST ProductProperties": lambda w: w.c.post(f"{INTERNAL}/ProductProperties/100003/{COLOUR_BLACK}",
                                                 headers=w.api),
    "GET GTINs": lambda w: w.c.get(f"{INTERNAL}/GTINs", headers=w.api),
    # the control surface
    "stock": control("POST", "/stock", {"productNumber": "100010", "warehouse": "3", "physicalBalance": 5,
                                        "blockedBalance": 1}),
    "reserve": control("POST", "/orders/{reserve}/reserve"),
    "pick": control("POST", "/orders/{pick}/pick"),  # reserves and picks: both or neither
    "cancel": control("POST", "/orders/{cancel}/cancel"),
    "delivery-date": control("POST", "/orders/{date}/delivery-date", {"askedDeliveryDate": "2026-04-01"}),
    "purchase": control("POST", "/backoffice/purchases", {"warehouse": "2", "rows": [
        {"productNumber": "100012", "quantity": 5}]}),
    "receive": control("POST", lambda w: f"/backoffice/purchases/{w.purchases[0]}/receive", {"quantity": 4}),
    "cancel purchase": control("POST", lambda w: f"/backoffice/purchases/{w.purchases[1]}/cancel"),
    "product": control("POST", "/backoffice/products", {"productName": "Ny Artikel", "physicalBalance": 3}),
    "customer": control("POST", "/backoffice/customers", {
        "name": "Back Office AB", "address1": "Gatan 1", "postalCode": "11122", "city": "Stockholm",
        "invoiceEmail": "a@b.se", "phone": "08-1", "customerGroup": "RETAIL"}),
    "offer": control("POST", "/backoffice/offers", {"customerNumber": "10002", "rows": [
        {"productNumber": "100004", "quantity": 1}]}),
    "change offer": control("PUT", lambda w: f"/backoffice/offers/{w.offer}", {"offerStatus": "Accepted"}),
    "invoice": control("POST", lambda w: f"/backoffice/invoices/{w.invoice}/change"),
    "receive return": control("POST", lambda w: f"/backoffice/returns/{w.returns[0]}/receive"),
    "cancel return": control("POST", lambda w: f"/backoffice/returns/{w.returns[1]}/cancel"),
    "sell": control("POST", "/backoffice/channel-sales", {"productNumber": "100003", "warehouse": "1",
                                                          "quantity": 1, "mode": "sell"}),
    "channel reserve": control("POST", "/backoffice/channel-sales", {"productNumber": "100003", "warehouse": "2",
                                                                     "quantity": 1, "mode": "reserve"}),
    "channel release": control("POST", "/backoffice/channel-sales", {"productNumber": "100004", "warehouse": "1",
                                                                     "quantity": 1, "mode": "release"}),
    "channel ship": control("POST", "/backoffice/channel-sales", {"productNumber": "100004", "warehouse": "1",
                                                                  "mode": "ship"}),
    "add subscription": control("POST", "/webhooks", {"name": "two", "callbackUrl": "http://127.0.0.1:9/b",
                                                      "secret": "t", "triggers": ["OrderPicked"]}),
    "replace subscription": control("PUT", "/webhooks/shop", {"callbackUrl": "http://127.0.0.1:9/c", "secret": "u",
                                                              "triggers": ["OrderPicked"]}),
    "delete subscription": control("DELETE", "/webhooks/shop"),
    "redeliver": control("POST", lambda w: f"/deliveries/{w.dead}/redeliver"),
    "forge": control("POST", "/webhooks/forge", {"action": "OrderPicked", "signature": "bad", "details": {}}),
    "reset": control("POST", "/reset"),
}


@pytest.mark.parametrize("write", list(WRITES), ids=list(WRITES))
def test_a_refused_commit_changes_nothing_and_the_retry_succeeds_once(world: World, write: str) -> None:
    w, do = world, WRITES[write]
    before = truth(w.c)
    seq = w.c.get("/_mock/journal", params={"limit": 1}).json()["lastSeq"]
    with locked(w.db):
        r = do(w)
        assert r.status_code == 400 and r.json() == {"Message": TIMEOUT}, r.text  # SQL Server's timeout: retry
        assert truth(w.c) == before, "a refused write left something behind in memory"
        assert do(w).status_code == 400  # still locked: still refused, still nothing
        assert truth(w.c) == before
    if write.startswith(("POST ", "PUT ", "DELETE ", "GET ")):  # the API's writes
        refused = [x for x in w.c.get("/_mock/journal", params={"kind": "api", "since": seq}).json()["items"]
                   if x["status"] != 200]  # a write that reads first (PUT Offers) read twice
        assert [x["errorKind"] for x in refused] == ["Transient", "Transient"]
    assert disk_truth(w.db) == durable(before), "memory and the database agree"

    r = do(w)  # the lock is gone: the same request succeeds
    assert r.status_code in (200, 201, 202), r.text
    after = truth(w.c)
    assert after != before
    assert disk_truth(w.db) == durable(after), "what was acknowledged is on disk, exactly as in memory"


def test_the_retried_order_exists_once_and_numbering_has_no_gap(world: World) -> None:
    w = world
    counters = truth(w.c)["counters"]
    body = order_body("ONCE", [row("100003", 1)])
    with locked(w.db):
        assert w.c.post(f"{API}/CustomerOrders", headers=w.api, json=body).status_code == 400
    assert w.c.get(f"{API}/CustomerOrders", headers=w.api, params={"orderNumberExternal": "ONCE"}).json() == []
    made = w.ok(w.c.post(f"{API}/CustomerOrders", headers=w.api, json=body))
    assert int(made["orderHeader"]["orderNumber"]) == counters["order"] + 1
    again = w.c.post(f"{API}/CustomerOrders", headers=w.api, json=body)
    assert again.status_code == 400 and made["orderHeader"]["orderNumber"] in again.json()["Message"]
    found = w.c.get(f"{API}/CustomerOrders", headers=w.api, params={"orderNumberExternal": "ONCE"}).json()
    assert [o["orderNumber"] for o in found] == [made["orderHeader"]["orderNumber"]]


def test_derived_indexes_are_rolled_back_with_the_records(world: World) -> None:
    """The change index (ProductAvailability?modifiedDateFrom), the sorted lists (a new product's rows) and the
    expected receivings of a purchase all go back with the refused write."""
    w = world
    w.ok(w.c.post("/_mock/clock/advance", json={"seconds": 60}))
    now = w.c.get("/_mock/clock").json()["now"][:19]
    changed = w.c.get(f"{API}/ProductAvailability", headers=w.api, params={"modifiedDateFrom": now}).json()
    listing = w.c.get(f"{API}/Products", headers=w.api, params={"pageCount": 1000}).json()
    expected = w.c.get(f"{API}/ProductAvailability/100008/1", headers=w.api).json()
    with locked(w.db):
        assert WRITES["product"](w).status_code == 400
        assert control("POST", "/backoffice/purchases", {"warehouse": "1", "rows": [
            {"productNumber": "100008", "quantity": 9}]})(w).status_code == 400
        assert control("POST", "/stock", {"productNumber": "100009", "warehouse": "1",
                                          "balanceDifference": 2})(w).status_code == 400
    assert w.c.get(f"{API}/ProductAvailability", headers=w.api, params={"modifiedDateFrom": now}).json() == changed
    assert w.c.get(f"{API}/Products", headers=w.api, params={"pageCount": 1000}).json() == listing
    assert w.c.get(f"{API}/ProductAvailability/100008/1", headers=w.api).json() == expected


def test_deliveries_of_a_refused_write_are_never_sent(world: World) -> None:
    w = world
    made = len(w.c.get("/_mock/deliveries", params={"limit": 100_000}).json()["items"])
    with locked(w.db):
        assert WRITES["POST CustomerOrders"](w).status_code == 400
    w.ok(w.c.post("/_mock/clock/advance", json={"seconds": 5}))
    deliveries = w.c.get("/_mock/deliveries", params={"limit": 100_000}).json()["items"]
    assert len(deliveries) == made
    assert not [d for d in deliveries if any(n["Details"].get("OrderNumberExternal") == "NEW-1"
                                             for n in d["notifications"])]


def test_attempt_outcomes_wait_for_the_lock_and_are_written_after_it(world: World) -> None:
    """The sender's group commits of attempt outcomes are refused too: they are kept and written once the lock
    is gone, so the database ends up with every outcome."""
    w = world
    w.order("LATER")
    with locked(w.db):
        w.ok(w.c.post("/_mock/clock/advance", json={"seconds": 1}))  # the attempts run; their flush is refused
        assert w.c.get("/_mock/deliveries", params={"status": "pending"}).json()["items"] == []
    w.ok(w.c.post("/_mock/clock/advance", json={"seconds": 1}))  # the next flush goes through
    conn = sqlite3.connect(str(w.db))
    on_disk = {orjson.loads(b)["id"]: orjson.loads(b)["status"]
               for (b,) in conn.execute("SELECT body FROM records WHERE kind = 'delivery'")}
    conn.close()
    assert on_disk == {d["id"]: d["status"] for d in truth(w.c)["outbox"]}
    assert "pending" not in on_disk.values()


def test_a_storm_under_a_lock_skips_the_refused_steps_and_goes_on(world: World) -> None:
    w = world
    with locked(w.db):
        started = w.ok(w.c.post("/_mock/storm", json={"rate": 10, "count": 20, "products": 3}))
        w.ok(w.c.post("/_mock/clock/advance", json={"seconds": 1}))
    w.ok(w.c.post("/_mock/clock/advance", json={"seconds": 5}))
    storm = w.c.get(f"/_mock/storm/{started['stormId']}").json()
    assert storm["state"] == "done" and storm["error"] is None
    assert storm["refused"] > 0 and storm["emitted"] + storm["refused"] == 20
    assert disk_truth(w.db)["records"] == truth(w.c)["records"]
    assert disk_truth(w.db)["outbox"] == durable(truth(w.c))["outbox"]
