"""One seed reproduces every answer byte for byte, every id (orders, rows, shipments, invoices, customers) and
every webhook envelope Id; another seed gives another catalogue."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import CAPTURE, CAPTURE_DELAY, customer_body, order_body, row
from tests.conftest import API, basic
from tests.support.xtnd import CONTROL

INTERNAL = API.replace("/v1_0/", "/internal_v1_0/")  # GTINs and ProductProperties
READS = [
    "Products?pageCount=1000",
    "Products?pageCount=50&pageOffset=2",
    "Products/100003",
    "Products/KM%201007",
    "Customers",
    "Customers/10001",
    "Customers/10042",
    "ProductPrices?customerNumber=10001&pageNumber=3",
    "ProductPrices?customerNumber=10008",
    "ProductAvailability?pageNumber=4",
    "ProductAvailability/AB%2000023%2FB/2",
    "WarehouseStockLevels?warehouse=2&pageNumber=2",
]


def run(seed: int) -> list[tuple[str, int, bytes]]:
    """The same session against a fresh fake: (what, status, exact answer bytes) of each step."""
    s = Settings(clock="virtual", seed=seed, quirks={"transient_errors": 0}, subscriptions=[CAPTURE],
                 delivery_faults=CAPTURE_DELAY)
    out: list[tuple[str, int, bytes]] = []
    h = basic()
    with TestClient(create_app(s)) as c:
        def keep(what: str, r: object) -> None:
            out.append((what, r.status_code, r.content))  # type: ignore[attr-defined]

        for path in READS:
            keep(path, c.get(f"{API}/{path}", headers=h))
        c.put("/_mock/quirks", json={"transientErrors": 0.3})
        for i in range(6):  # some of these meet a (seeded) transient failure
            keep(f"order {i}", c.post(f"{API}/CustomerOrders", headers=h,
                                      json=order_body([row("100003", 1 + i), row("KM 1007", 1)], f"DET-{i}")))
        c.put("/_mock/quirks", json={"transientErrors": 0})
        keep("customer", c.post(f"{API}/Customers", headers=h, json=customer_body()))
        keep("stock", c.put(f"{API}/WarehouseStockLevels", headers=h,
                            json={"warehouse": "1", "productNumber": "100003", "balanceDifference": 3}))
        orders = [o["orderNumber"] for o in c.get("/_mock/state").json()["orders"]]
        for number in orders:
            keep(f"pick {number}", c.post(f"/_mock/orders/{number}/pick", headers=CONTROL))  # forwarder, tracking numbers, invoice
        new_resources(c, keep)
        keep("orders", c.get(f"{API}/CustomerOrders", headers=h, params={"modifiedDateFrom": "2026-01-01"}))
        keep("deliveries", c.get("/_mock/deliveries"))
        keep("truth", c.get("/_mock/truth"))
        keep("journal", c.get("/_mock/journal", params={"format": "jsonl"}))
    return out


NEW = "DET 9/NY"  # a product created through the API (a space and a slash: the number is free text)
AGREEMENT = 77


def purchase_body(warehouse: str, product: str, quantity: int) -> dict[str, Any]:
    return {"header": {"warehouse": warehouse, "supplier": {"supplierNumber": "SA-KITCHEN"}},
            "rows": [{"productNumber": product, "purchaseDataProductUnit": {"quantity": quantity, "unit": "st"}}]}


def new_resources(c: TestClient, keep: Callable[[str, Any], None]) -> None:
    """Issue 13's resources, written through the API (and the back office where XTND has no operation): a purchase
    order and its partial arrival, a return of a picked order received and credited, an order invoiced at once, an
    offer changed, a new product with a GTIN handed out, a description, a supplier agreement, a property and stock
    (balance adjustments); then every one of them read back. Each step is named ``new ...`` and must succeed."""
    h = basic()
    purchase = c.post(f"{API}/PurchaseOrders", headers=h, json=purchase_body("2", "100003", 20))
    keep("new purchase", purchase)
    po = purchase.json()["header"]["purchaseNumber"]
    keep("new purchase arrives", c.post(f"/_mock/backoffice/purchases/{po}/receive", json={"quantity": 8}))
    picked = next(o["orderNumber"] for o in c.get("/_mock/state").json()["orders"]
                  if o["orderStatus"] == "Terminated")
    ret = c.post(f"{API}/ReturnOrders", headers=h,
                 json={"createAction": {"action": "ReturnCompleteCustomerOrder", "orderNumber": picked}})
    keep("new return", ret)
    number = ret.json()["header"]["returnNumber"]
    keep("new return received", c.post(f"/_mock/backoffice/returns/{number}/receive", headers=CONTROL))
    keep("new invoiced order", c.post(f"{API}/CustomerOrderInvoices", headers=h,
                                      json=order_body([row("KM 1007", 1)], "DET-INVOICED")))
    offer = c.get(f"{API}/Offers/600001", headers=h).json()
    header = {**offer["offerHeader"], "offerStatus": "Sent"}
    rows = [{**r, "salesData": {**r["salesData"], "quantity": 11}} for r in offer["offerRows"]]
    keep("new offer change", c.put(f"{API}/Offers/600001", headers=h,
                                   json={"offerHeader": header, "offerRows": rows}))
    gtin = c.get(f"{INTERNAL}/GTINs", headers=h)
    keep("new gtin", gtin)
    keep("new product", c.post(f"{API}/Products", headers=h, json={
        "productNumber": NEW, "productData": {"productName": "Determinerad mugg",
                                              "productGTINumber": gtin.json()["gtiNumber"]}}))
    keep("new description", c.post(f"{API}/ProductDescriptions", headers=h, json={
        "productNumber": NEW, "productDescriptionItemList": [{"textType": "Description", "language": "en",
                                                              "text": "A determined mug."}]}))
    keep("new supplier agreement", c.post(f"{API}/ProductSupplierAgreements", headers=h, json={
        "productNumber": NEW, "supplierAgreementNumber": AGREEMENT, "supplierAgreementName": "Köksgrossisten",
        "country": "SE", "supplierProductNumber": "KG-1", "price": 12.5, "vatPercent": 25}))
    value = c.get(f"{INTERNAL}/ProductProperties", headers=h).json()[1]["propertyValue"]
    keep("new property", c.post(f"{INTERNAL}/ProductProperties/{quote(NEW, safe='')}/{value}", headers=h))
    keep("new stock", c.put(f"{API}/WarehouseStockLevels", headers=h,
                            json={"warehouse": "1", "productNumber": NEW, "balanceDifference": 6}))
    pn = quote(NEW, safe="")
    for path in ("PurchaseOrders", f"PurchaseOrders/{po}", "ReturnOrders", f"ReturnOrders/{number}",
                 "CustomerInvoices", "Offers", "Offers/600001", f"Products/{pn}", "Products?pageCount=1000",
                 f"ProductDescriptions?id={pn}", f"ProductSupplierAgreements?productNumber={pn}",
                 f"ProductSupplierAgreements/{pn}/{AGREEMENT}", "ProductSupplierAgreements?pageNumber=2",
                 f"ProductAvailability/{pn}/1", "ProductAvailability/100003/2",
                 "BalanceAdjustments?warehouse=1&eventDateFrom=2025-01-01",
                 "BalanceAdjustments?warehouse=2&eventDateFrom=2025-01-01"):
        keep(f"new read {path}", c.get(f"{API}/{path}", headers=h))
    keep(f"new read ProductProperties/{pn}", c.get(f"{INTERNAL}/ProductProperties/{pn}", headers=h))
    keep("new gtin after", c.get(f"{INTERNAL}/GTINs", headers=h))


def test_the_same_seed_gives_byte_identical_answers_ids_and_webhook_ids() -> None:
    first, second = run(1), run(1)
    assert [(w, s) for w, s, _ in first] == [(w, s) for w, s, _ in second]
    for (what, _, a), (_, _, b) in zip(first, second, strict=True):
        if what == "journal":
            # latencyMs is wall-clock time; every other key of every record must match
            a, b = (b"\n".join(_strip_latency(line) for line in x.splitlines()) for x in (a, b))
        assert a == b, f"{what} differs between two runs with seed 1"
    new = [(w, s) for w, s, _ in first if w.startswith("new ")]
    assert len(new) > 25 and all(s == 200 for _, s in new), [(w, s) for w, s in new if s != 200]
    # the new resources really were made (not the same refusal twice)
    answers = {w: json.loads(body) for w, _, body in first if w.startswith("new ")}
    assert answers["new gtin"] != answers["new gtin after"]
    assert answers["new return received"]["status"] == "Received" and answers["new return received"][
        "creditInvoiceNumber"]
    # ... and the byte-identical truth holds them all: every kind of record issue 13 added, and the GTIN counter
    truth = json.loads(next(body for w, _, body in first if w == "truth"))
    records = truth["records"]
    for kind in ("purchase", "return", "invoice", "offer", "adjustment", "supplier_agreement", "product_texts",
                 "product_properties"):
        assert records.get(kind), f"no {kind} records in the truth"
    assert NEW in records["product"] and NEW in records["product_texts"] and NEW in records["product_properties"]
    assert truth["counters"]["gtin"] >= 2
    statuses = [s for w, s, _ in first if w.startswith("order ")]
    assert 200 in statuses and 400 in statuses, statuses
    deliveries = json.loads(next(body for w, _, body in first if w == "deliveries"))["items"]
    assert len(deliveries) > 10 and all(len(d["deliveryId"]) == 32 for d in deliveries)


def _strip_latency(line: bytes) -> bytes:
    record = json.loads(line)
    record.pop("latencyMs", None)
    return json.dumps(record, sort_keys=True).encode()


def test_another_seed_gives_another_catalogue() -> None:
    first, other = run(1), run(2)
    differing = {w for (w, _, a), (_, _, b) in zip(first[:len(READS)], other[:len(READS)], strict=True) if a != b}
    assert differing == set(READS)


DIGEST = """
import hashlib, json
from tests.api.test_determinism import digest, run
print(json.dumps(digest(run(1))))
"""


def digest(steps: list[tuple[str, int, bytes]]) -> list[list[Any]]:
    """Each step as (what, status, sha256 of the answer; the journal without its wall-clock latencies)."""
    out: list[list[Any]] = []
    for what, status, body in steps:
        if what == "journal":
            body = b"\n".join(_strip_latency(line) for line in body.splitlines())
        out.append([what, status, hashlib.sha256(body).hexdigest()])
    return out


def test_the_same_seed_gives_the_same_answers_in_another_process() -> None:
    """Nothing depends on the process: another interpreter with another string-hash seed (set and dict orders of
    str keys) answers the same session, issue 13's resources included, byte for byte."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", DIGEST], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == digest(run(1))
