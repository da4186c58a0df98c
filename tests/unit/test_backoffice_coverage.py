"""The back-office simulation on its own (``serve --simulate``: the app's lifespan starts the rounds) gives every one
of the 18 webhook actions a cause within a bounded virtual period, registers and receives returns (credited), and one
seed reproduces the same sequence. Time moves only through ``POST /_mock/clock/advance`` (virtual clock)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient

from mock_xtnd.domain import backoffice as ops
from mock_xtnd.domain import returns
from mock_xtnd.domain.events import ACTIONS, DomainEvent
from mock_xtnd.settings import CatalogueSettings, Settings
from mock_xtnd.simulate.config import SimulationSettings
from tests.support.xtnd import API, DETAILS, basic

from .test_backoffice import Recorder, advance, order_header, post_order, wire

DAY = 86_400
PERIOD_DAYS = 2  # the bounded virtual period: returns are registered ~1 day after delivery, received ~2 h later


@dataclass
class Run:
    events: list[DomainEvent]
    returns: list[dict[str, Any]]  # every return order as the API answers it, after the period
    credits: dict[str, dict[str, Any]]  # credit invoice number -> the invoice as the API answers it
    purchases: dict[str, dict[str, Any]]  # purchase number -> as the API answers it (those the hooks named)


def simulate(seed: int, days: int = PERIOD_DAYS) -> Run:
    settings = Settings(clock="virtual", seed=seed, simulate=True, quirks={"transient_errors": 0},
                        catalogue=CatalogueSettings(products=60, warehouses=3, customers=20))
    app, rt, _ = wire(settings)
    events = Recorder(rt).events
    with TestClient(app) as client:
        h = basic()
        for _ in range(days * 24):  # an hour at a time: the rounds and every timer they set fire in order
            advance(client, 3600)
        listed = client.get(f"{API}/ReturnOrders", headers=h).json()
        assert listed["paginationInfo"]["totalPages"] == 1, listed["paginationInfo"]
        numbers = [r["returnNumber"] for r in listed["returnOrderList"]]
        returns = []
        for number in numbers:
            r = client.get(f"{API}/ReturnOrders/{quote(number, safe='')}", headers=h)
            assert r.status_code == 200, r.text
            returns.append(r.json())
        credits = {}
        for e in events:
            if e.action == "CustomerInvoiceCreated":
                r = client.get(f"{API}/CustomerInvoices/{e.details['InvoiceNumber']}", headers=h)
                assert r.status_code == 200, r.text
                if r.json()["invoiceHeader"]["invoiceType"] == "ReturnOrderCredit":
                    credits[e.details["InvoiceNumber"]] = r.json()
        purchases = {}
        for e in events:
            if e.action.startswith("Purchase"):
                number = e.details["PurchaseNumber"]
                r = client.get(f"{API}/PurchaseOrders/{number}", headers=h)
                assert r.status_code == 200, r.text
                purchases[number] = r.json()
    return Run(events, returns, credits, purchases)


def test_the_simulation_causes_all_18_actions_and_returns_within_two_virtual_days() -> None:
    run = simulate(1)
    seen = Counter(e.action for e in run.events)
    assert set(seen) == set(ACTIONS), f"never emitted: {sorted(set(ACTIONS) - set(seen))}"
    for e in run.events:
        assert set(e.details) == DETAILS[e.action], e
    # purchases: placed by rounds, arriving in parts or whole, some cancelled - read back as a client would
    statuses = {number: po["header"]["status"] for number, po in run.purchases.items()}
    for e in run.events:
        if e.action == "PurchaseDelivered":
            assert statuses[e.details["PurchaseNumber"]] == "Received"
        elif e.action == "PurchaseCancelled":
            assert statuses[e.details["PurchaseNumber"]] == "Cancelled"
    # returns: registered by the back office for delivered orders, received later, each credited
    assert run.returns, "no return was registered"
    received = [r for r in run.returns if r["header"]["status"] == "Received"]
    assert received, [r["header"]["status"] for r in run.returns]
    assert len(run.credits) == len(received)
    credited_orders = {o["orderNumber"] for c in run.credits.values() for o in c["invoiceHeader"]["orders"]}
    assert credited_orders == {r["header"]["referenceOrderNumber"] for r in received}


def test_one_seed_reproduces_the_same_sequence() -> None:
    def sequence(run: Run) -> tuple[Any, ...]:
        return ([(e.action, tuple(sorted(e.details.items())), e.at_ms) for e in run.events], run.returns,
                run.credits, run.purchases)

    first = simulate(7)
    assert len(first.events) > 1000
    assert sequence(first) == sequence(simulate(7))
    assert [(e.action, e.details) for e in first.events] != [(e.action, e.details) for e in simulate(8).events]


def test_what_the_simulation_wrote_survives_a_restart_with_a_db_and_goes_on(tmp_path: Any) -> None:
    """Under --db the simulation's records (purchases in flight, returns, credits, offers, new products, the
    ledger's history) are all in the database: a restart rebuilds exactly the same truth, and what was in flight
    (open purchases, returns expected back) is planned again and arrives."""
    settings = Settings(clock="virtual", seed=3, simulate=True, quirks={"transient_errors": 0},
                        db=str(tmp_path / "sim.db"),
                        catalogue=CatalogueSettings(products=60, warehouses=3, customers=20))
    app, rt, _ = wire(settings)
    with TestClient(app) as client:
        for _ in range(30):
            advance(client, 3600)
        before = client.get("/_mock/truth").json()
        open_purchases = [n for n, po in rt.backend.state.purchases.items() if po.status in ops.PURCHASE_OPEN]
        open_returns = [n for n, r in rt.backend.state.returns.items() if r.status in returns.RETURN_OPEN]
    rt.store.close()  # type: ignore[union-attr]
    records = before["records"]
    for kind in ("purchase", "return", "invoice", "offer", "adjustment"):
        assert records.get(kind), f"the simulation wrote no {kind}"
    assert open_purchases, "nothing in flight to resume"

    app2, rt2, _ = wire(settings)
    with TestClient(app2) as client:
        after = client.get("/_mock/truth").json()
        # the records, the outbox and every id counter exactly; only the simulation's random streams have moved on,
        # drawn by the start itself to plan again what was in flight (never back: no draw is replayed)
        streams = {k for k in after["counters"] if k.startswith("sim/")}
        assert {k: v for k, v in after.items() if k != "counters"} == {k: v for k, v in before.items()
                                                                        if k != "counters"}
        assert {k: v for k, v in after["counters"].items() if k not in streams} == \
            {k: v for k, v in before["counters"].items() if k not in streams}
        assert all(after["counters"][k] >= before["counters"].get(k, 0) for k in streams)
        advance(client, 2 * DAY)  # the timers died with the process; resumed plans bring what was in flight
        h = basic()
        for number in open_purchases:
            po = client.get(f"{API}/PurchaseOrders/{number}", headers=h).json()
            assert po["header"]["status"] in ("Received", "Cancelled"), po["header"]
        for number in open_returns:
            ret = client.get(f"{API}/ReturnOrders/{number}", headers=h).json()
            assert ret["header"]["status"] == "Received", ret["header"]
    rt2.store.close()  # type: ignore[union-attr]


SIGNATURE = """
import json
from tests.unit.test_backoffice_coverage import signature, simulate
print(signature(simulate(7)))
"""


def signature(run: Run) -> str:
    """A digest of everything a run produced: the events in order with their times, returns, credits, purchases."""
    text = json.dumps([[e.action, sorted(e.details.items()), e.at_ms] for e in run.events] +
                      [run.returns, run.credits, run.purchases], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def test_one_seed_reproduces_the_same_sequence_in_another_process() -> None:
    """Another interpreter, another string-hash seed: the same simulated period, event for event."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "4242", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", SIGNATURE], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == signature(simulate(7))


def test_plans_made_after_a_pick_are_made_again_after_a_restart(tmp_path: Any) -> None:
    """An order picked just before a restart: its invoice is still sent and paid, and its return still registered
    and received, although the timers ``_pick`` set died with the process."""
    settings = Settings(clock="virtual", seed=1, simulate=True, quirks={"transient_errors": 0},
                        db=str(tmp_path / "plans.db"), catalogue=CatalogueSettings(products=30, warehouses=3,
                                                                                     customers=10))
    config = SimulationSettings(jitter=0, cancel_share=0, delivery_date_share=0, invoice_change_share=1,
                                invoice_change_after_seconds=3600, return_share=1, return_after_seconds=3 * 3600,
                                return_receive_after_seconds=3600, orders_per_hour=0, customers_per_hour=0,
                                customer_edits_per_hour=0, products_per_hour=0, product_edits_per_hour=0,
                                price_edits_per_hour=0, purchases_per_hour=0, channel_sales_per_hour=0,
                                offers_per_hour=0, offer_changes_per_hour=0)
    app, rt, _ = wire(settings, config)
    with TestClient(app) as client:
        pn = next(p.number for p in rt.backend.state.products.values() if p.status == "Active")
        client.post("/_mock/stock", json={"productNumber": pn, "warehouse": "1", "physicalBalance": 5})
        order = post_order(client, "WEB-PLANS", pn, 2)
        advance(client, 700)  # reserved, picked and invoiced; the invoice is not sent yet
        header = order_header(client, order)
        assert header["orderStatus"] == "Terminated"
        (invoice,) = [i["invoiceNumber"] for i in header["customerInvoices"]]
    rt.store.close()  # type: ignore[union-attr]

    app2, rt2, _ = wire(settings, config)
    events = Recorder(rt2).events
    h = basic()
    with TestClient(app2) as client:
        advance(client, 3600)
        sent = client.get(f"{API}/CustomerInvoices/{invoice}", headers=h).json()["invoiceHeader"]
        assert sent["customerInvoiceStatus"] == "InvoiceSent"
        advance(client, 3600)
        paid = client.get(f"{API}/CustomerInvoices/{invoice}", headers=h).json()["invoiceHeader"]
        assert paid["customerInvoiceStatus"] == "Paid"
        advance(client, 2 * 3600)  # registered 3 h after the pick, received 1 h later
        listed = client.get(f"{API}/ReturnOrders", headers=h, params={"referenceOrderNumber": order}).json()
        (ret,) = listed["returnOrderList"]
        assert ret["status"] == "Received", ret
    assert [e.details["InvoiceNumber"] for e in events if e.action == "CustomerInvoiceChanged"] == [invoice] * 2
    credits = [e.details for e in events if e.action == "CustomerInvoiceCreated"]
    assert [c["OrderNumber"] for c in credits] == [order]
    rt2.store.close()  # type: ignore[union-attr]
