"""The harness: runs any integration (a command, any language) against the fake through a scenario, then judges
it against XTND's code of conduct.

Phases (xtnd-contract.md §3, the harness protocol): start the fake, start the client with ``XTND_API_URL``,
``XTND_USERNAME``, ``XTND_PASSWORD``, ``XTND_WEBHOOK_SECRET`` (random per run) and ``XTND_WEBHOOK_PORT`` (and
``XTND_WEBHOOKS=off`` for the no-webhook fallback), wait for its port, run the timeline, settle (outbox empty and
client quiet, bounded), probe, stop the client, judge. Exit codes: 0 passed, 1 rule violations, 2 usage or
scenario error, 3 harness error.

The harness moves the fake only through ``/_mock`` (docs/control-surface.md) and makes no API calls of its own:
rate limits are per company, so its calls would spend the client's budget.

Two ways to pace the timeline (docs/scenarios.md):

- ``clock: real`` - the fake runs on the wall clock and the harness sleeps until each step's ``at``.
- ``clock: virtual`` - the fake runs on a virtual clock that only the harness moves (``POST
  /_mock/clock/advance``). While the client is busy the clock follows real time in small ticks (so Retry-After,
  rate-limit windows and the rules' windows keep their meaning); while it is quiet the clock jumps to the next
  thing that happens - a step, a delivery retry, the end of an outage - so days pass in seconds. The client's own
  timers still run on real time.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import math
import os
import random
import secrets
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx

from mock_xtnd.server import ServerThread, free_port
from mock_xtnd.settings import Settings

from .rules import RULES_BY_ID, ApiCall, Delivery, JudgeContext, Report, judge
from .rules.model import lookup, order_external, order_rows, parse_time
from .scenario import FORGEABLE_ORDER_ACTIONS, Scenario, ScenarioError, Step

EXIT_PASSED, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_HARNESS = 0, 1, 2, 3
SUBSCRIPTION = "harness-client"
USERNAME = "integration"
OUTAGE_FAULT = "receiver-outage"
#: The 18 webhook triggers (xtnd-contract.md §1.4): the harness subscribes the client to all of them.
ACTIONS = (
    "OrderPicked", "OrderReserved", "OrderCancelled", "BalanceChanged", "AvailableBalanceChanged",
    "OrderDeliveryDataChanged", "PurchasePartiallyDelivered", "PurchaseCancelled", "PurchaseDelivered",
    "ProductCreated", "ProductChanged", "OrderCreated", "CustomerCreated", "CustomerChanged", "OfferCreated",
    "OfferChanged", "CustomerInvoiceCreated", "CustomerInvoiceChanged",
)
SHOP_PATH = "/xtnd/shop/orders"


class HarnessError(Exception):
    """Something went wrong that is not the client's fault under judgement (exit 3)."""


class ShopEndpointMissing(ScenarioError):
    """The scenario asks the client's shop for orders, and the client does not serve ``POST /xtnd/shop/orders``
    (exit 2: this client cannot run this scenario as it is)."""


@dataclass
class RunResult:
    report: Report
    scenario: Scenario
    journal: list[dict[str, Any]]
    truth: dict[str, Any]
    probe: dict[str, Any] | None
    expectation_failures: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    client_log: str = ""
    #: What the harness noticed on the way (a step with nothing to act on, a settle that gave up).
    notes: list[str] = field(default_factory=list)
    #: Wall-clock seconds of the whole run, start of the fake to the judgement.
    duration_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.expectation_failures

    def exit_code(self) -> int:
        return EXIT_PASSED if self.passed else EXIT_VIOLATIONS


def fake_settings(scenario: Scenario, username: str, password: str, webhook_secret: str, hook_url: str) -> Settings:
    subs = []
    if scenario.webhooks:
        subs.append({"name": SUBSCRIPTION, "tech_contact_email": "ci@example.com", "callback_url": hook_url,
                     "secret": webhook_secret, "triggers": list(ACTIONS)})
    return Settings.model_validate({
        "seed": scenario.seed,
        "clock": scenario.clock,
        "port": 0,
        "company": scenario.company,
        "users": [{"username": username, "password": password}],
        "catalogue": scenario.catalogue.model_dump(),
        "rate_limits": scenario.rate_limits.model_dump(),
        "quirks": scenario.quirks.model_dump(),
        "paging": scenario.paging.model_dump(),
        "subscriptions": subs,
        "delivery": scenario.delivery.model_dump(),
        "delivery_faults": scenario.delivery_faults.model_dump(),
        "api_faults": [f.settings_entry(scenario.company) for f in scenario.api_faults],
        # the judge needs the whole run, not the last 200,000 records or 64 MiB
        "journal_max_records": 2_000_000,
        "journal_max_bytes": 2_000_000_000,
    })


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(p.capitalize() for p in rest)


def _iso_seconds(text: str) -> float:
    return parse_time(text)


def _items(data: Any) -> list[dict[str, Any]]:
    """The list of a control-surface answer (``{"items": [...]}``)."""
    items = data.get("items") if isinstance(data, dict) else data
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


#: Which back-office moves apply to an order in each status (docs/wire.md, order lifecycle).
MOVABLE = {
    "reserve": {"Created"},
    "pick": {"Created", "Reserved", "PartiallyDelivered"},
    "cancel": {"Created", "Reserved", "PartiallyDelivered"},
    "delivery_date": {"Created", "Reserved", "PartiallyDelivered"},
}


class Timeline:
    """Carries out scenario steps against the fake's control surface (and the client's shop endpoint).

    Besides the steps it keeps its own follow-up events on scenario time (the end of a receiver outage or a
    password change), the windows in which storms run, and - for ``expect.orders_at_current_price`` - the price
    check of each order the client created."""

    def __init__(self, fake: httpx.Client, shop_url: str | None, scenario: Scenario, log: Callable[[str], None],
                 *, webhook_secret: str = "", hook_url: str | None = None, username: str = USERNAME,
                 password: str = "", prices: PriceOracle | None = None) -> None:
        self.fake = fake
        self.shop_url = shop_url
        self.scenario = scenario
        self.rng = random.Random(f"{scenario.seed}/timeline")
        self.log = log
        self.shop_orders: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.storms: list[str] = []
        self.storm_windows: list[tuple[float, float]] = []
        self.outages: list[dict[str, Any]] = []
        self.password_changes: list[dict[str, Any]] = []
        self.price_checks: list[dict[str, Any]] = []
        self.price_failures: list[str] = []
        self._priced: set[str] = set()
        self._events: list[tuple[float, int, str, Callable[[], None]]] = []
        self._event_seq = 0
        self._now_at = 0.0
        self._secret = webhook_secret
        self.hook_url = hook_url
        self.username = username
        self.password = password
        self.prices = prices
        self._journal_seq = 0
        state = self._state()
        balances = state.get("balances") or []
        self.products = sorted({str(b["productNumber"]) for b in balances})
        self.warehouses = sorted({str(b["warehouse"]) for b in balances})
        self.active_products = [str(p["productNumber"]) for p in state.get("products") or []
                                if p.get("enabled", True)] or self.products

    # -- plumbing ------------------------------------------------------------------------------------------
    def unknown_references(self) -> list[str]:
        """Product and warehouse numbers the scenario names that the seeded catalogue lacks (a scenario error:
        numbers depend on seed and catalogue size, so they are checked against the fake before the client runs)."""
        products, warehouses = set(self.products), set(self.warehouses)
        problems: list[str] = []

        def check(where: str, product: str | None, warehouse: str | None) -> None:
            if product is not None and product not in products:
                sample = ", ".join(repr(p) for p in self.active_products[:4])
                problems.append(f"{where}.productNumber: no product {product!r} in the catalogue of seed "
                                f"{self.scenario.seed} with {len(products)} products (e.g. {sample})")
            if warehouse is not None and warehouse not in warehouses:
                problems.append(f"{where}.warehouse: no warehouse {warehouse!r} (this catalogue has "
                                f"{', '.join(sorted(warehouses))})")

        for i, step in enumerate(self.scenario.timeline):
            where, spec = f"timeline[{i}].{step.kind}", step.spec
            if step.kind == "shop_order":
                check(where, None, spec.warehouse)
                for j, row in enumerate(spec.rows):
                    check(f"{where}.rows[{j}]", row.productNumber, None)
            elif step.kind in ("stock", "purchase_arrival", "forge"):
                check(where, spec.productNumber, spec.warehouse)
            elif step.kind == "storm":
                for w in spec.warehouses:
                    check(where, None, w)
        return problems

    def _state(self, products: bool = True) -> dict[str, Any]:
        r = self.fake.get("/_mock/state", params={"include": "products"} if products else None)
        if r.status_code != 200:
            raise HarnessError(f"GET /_mock/state answered {r.status_code}: {r.text[:300]}")
        data: dict[str, Any] = r.json()
        return data

    def _now(self) -> str:
        now: str = self.fake.get("/_mock/clock").json()["now"]
        return now

    def _post(self, path: str, body: Any = None) -> httpx.Response:
        r = self.fake.post(path, json=body if body is not None else {})
        if r.status_code >= 500:
            raise HarnessError(f"the fake answered {r.status_code} to {path}: {r.text[:300]}")
        return r

    def schedule(self, at: float, name: str, action: Callable[[], None]) -> None:
        """A follow-up on scenario time (the runner calls ``run_events_due`` as time passes)."""
        self._event_seq += 1
        heapq.heappush(self._events, (at, self._event_seq, name, action))

    def next_event_at(self) -> float | None:
        return self._events[0][0] if self._events else None

    def run_events_due(self, now: float) -> None:
        while self._events and self._events[0][0] <= now + 1e-9:
            at, _, name, action = heapq.heappop(self._events)
            self.log(f"t={at:>7.1f}s {name}")
            action()

    def storm_running(self, now: float) -> bool:
        return any(start <= now <= end for start, end in self.storm_windows)

    def run_step(self, step: Step) -> None:
        self._now_at = step.at
        getattr(self, f"_do_{step.kind}")(step.spec)

    # -- each step kind -------------------------------------------------------------------------------------
    def _do_shop_order(self, spec: Any) -> None:
        shop_steps = sum(1 for s in self.scenario.timeline if s.kind == "shop_order")
        for _ in range(spec.count):
            rows = [{"productNumber": row.productNumber or self.rng.choice(self.active_products),
                     "quantity": row.quantity} for row in spec.rows]
            body = {"rows": rows, "warehouse": spec.warehouse}
            self.shop_orders.append(body)
            if self.shop_url is None:
                raise HarnessError("shop_order: the client's port is not known yet")
            try:
                r = httpx.post(f"{self.shop_url}{SHOP_PATH}", json=body, timeout=10)
            except httpx.HTTPError as e:
                self.notes.append(f"t={self._now_at:g}s shop_order: the client did not answer POST {SHOP_PATH} "
                                  f"({type(e).__name__})")
                continue
            if r.status_code in (404, 405, 501):
                raise ShopEndpointMissing(
                    f"the client does not serve POST {SHOP_PATH} (it answered {r.status_code}), but this scenario "
                    f"has {shop_steps} shop_order step(s) that ask the shop to take orders. Serve it (the harness "
                    "protocol: body {\"rows\": [{\"productNumber\", \"quantity\"}], \"warehouse\"}; answer 2xx and "
                    "send the order to XTND with POST CustomerOrders), or run a scenario without shop_order steps.")
            if r.status_code >= 300:
                self.notes.append(f"t={self._now_at:g}s shop_order: the client answered {r.status_code} to "
                                  f"POST {SHOP_PATH}")

    def _pick(self) -> tuple[str, str]:
        return self.rng.choice(self.products), self.rng.choice(self.warehouses)

    def _do_stock(self, spec: Any) -> None:
        for _ in range(spec.count):
            product, warehouse = self._pick()
            body: dict[str, Any] = {"productNumber": spec.productNumber or product,
                                    "warehouse": spec.warehouse or warehouse}
            if spec.physicalBalance is not None:
                body["physicalBalance"] = spec.physicalBalance
            else:
                body["balanceDifference"] = spec.balanceDifference
            r = self._post("/_mock/stock", body)
            if r.status_code == 400 and spec.balanceDifference is not None and spec.balanceDifference < 0:
                continue  # would go below zero: skip this item
            if r.status_code >= 400:
                raise HarnessError(f"stock move refused: {r.status_code} {r.text[:300]}")

    def _do_purchase_arrival(self, spec: Any) -> None:
        for _ in range(spec.count):
            product, warehouse = self._pick()
            product, warehouse = spec.productNumber or product, spec.warehouse or warehouse
            r = self._post("/_mock/backoffice/purchases",
                           {"warehouse": warehouse, "rows": [{"productNumber": product, "quantity": spec.quantity}]})
            if r.status_code >= 400:
                raise HarnessError(f"purchase refused: {r.status_code} {r.text[:300]}")
            number = r.json().get("purchaseNumber")
            r = self._post(f"/_mock/backoffice/purchases/{number}/receive", {})
            if r.status_code >= 400:
                raise HarnessError(f"receiving purchase {number} refused: {r.status_code} {r.text[:300]}")

    def _client_orders(self) -> list[dict[str, Any]]:
        orders = [o for o in self._state(products=False).get("orders") or [] if o.get("orderNumber") is not None]
        return sorted(orders, key=lambda o: (len(str(o["orderNumber"])), str(o["orderNumber"])))

    @staticmethod
    def _choose(orders: list[dict[str, Any]], which: str | int) -> list[dict[str, Any]]:
        if which == "all":
            return orders
        if which == "first":
            return orders[:1]
        if which == "last":
            return orders[-1:]
        return orders[int(which) : int(which) + 1]

    def _do_order(self, spec: Any) -> None:
        allowed = MOVABLE[spec.action]
        chosen = [o for o in self._choose(self._client_orders(), spec.which) if o.get("orderStatus") in allowed]
        if not chosen:
            self.notes.append(f"t={self._now_at:g}s order {spec.action} {spec.which}: no order of the client in "
                              f"{sorted(allowed)} to move")
        for o in chosen:
            n = o["orderNumber"]
            if spec.action == "delivery_date":
                today = date.fromisoformat(self._now()[:10])
                moved = (today + timedelta(days=spec.days)).isoformat()
                r = self._post(f"/_mock/orders/{n}/delivery-date", {"askedDeliveryDate": moved})
            else:
                r = self._post(f"/_mock/orders/{n}/{spec.action.replace('_', '-')}")
            if r.status_code >= 400:
                self.notes.append(f"t={self._now_at:g}s order {spec.action} {n}: the fake refused: "
                                  f"{r.status_code} {r.text[:200]}")

    def _do_storm(self, spec: Any) -> None:
        r = self._post("/_mock/storm", spec.admin_body())
        if r.status_code >= 400:
            raise HarnessError(f"storm refused: {r.status_code} {r.text[:300]}")
        data = r.json()
        self.storms.append(str(data.get("stormId")))
        planned = float(data.get("plannedDurationSeconds") or spec.planned_seconds)
        self.storm_windows.append((self._now_at, self._now_at + planned + 0.5))

    def _do_api_fault(self, spec: Any) -> None:
        r = self._post("/_mock/faults", spec.admin_body(self.scenario.company))
        if r.status_code >= 400:
            raise HarnessError(f"fault refused: {r.status_code} {r.text[:300]}")

    def _do_clear_api_faults(self, _spec: Any) -> None:
        self.fake.delete("/_mock/faults", headers={"X-Mock-Xtnd": "1"}).raise_for_status()

    def _do_delivery_faults(self, spec: Any) -> None:
        r = self.fake.put("/_mock/faults/deliveries", json={_camel(k): v for k, v in spec.model_dump().items()})
        if r.status_code >= 400:
            raise HarnessError(f"delivery fault plan refused: {r.status_code} {r.text[:300]}")

    def _do_forge(self, spec: Any) -> None:
        for _ in range(spec.count):
            if spec.action in FORGEABLE_ORDER_ACTIONS:
                orders = self._choose(self._client_orders(), spec.order)
                if not orders:
                    self.notes.append(f"t={self._now_at:g}s forge {spec.action}: the client has no order to name")
                    return
                o = orders[0]
                details: dict[str, Any] = {"OrderNumber": o["orderNumber"],
                                           "OrderNumberExternal": o.get("orderNumberExternal"),
                                           "Warehouse": spec.warehouse}
            else:
                details = {"ProductNumber": spec.productNumber or self.rng.choice(self.products)}
                if spec.action != "ProductChanged":
                    details["Warehouse"] = spec.warehouse
                if spec.action == "AvailableBalanceChanged":
                    details["AvailableBalance"] = spec.balance
                elif spec.action == "BalanceChanged":
                    details["Balance"] = spec.balance
            r = self._post("/_mock/webhooks/forge", {"action": spec.action, "details": details,
                                                     "signature": spec.signature, "subscription": SUBSCRIPTION})
            if r.status_code >= 400:
                self.notes.append(f"forge: {r.status_code} {r.text[:200]}")

    def _subscription(self) -> dict[str, Any] | None:
        subs = _items(self.fake.get("/_mock/webhooks").json())
        return next((s for s in subs if s.get("name") == SUBSCRIPTION), None)

    def _point_hooks_at(self, url: str) -> None:
        sub = self._subscription()
        if sub is None:
            raise HarnessError(f"the subscription {SUBSCRIPTION!r} is gone")
        r = self.fake.put(f"/_mock/webhooks/{SUBSCRIPTION}", json={**sub, "callbackUrl": url, "secret": self._secret})
        if r.status_code >= 400:
            raise HarnessError(f"PUT /_mock/webhooks/{SUBSCRIPTION} refused: {r.status_code} {r.text[:300]}")

    def _do_receiver_outage(self, spec: Any) -> None:
        if self.hook_url is None:
            self.notes.append("receiver_outage: no webhook subscription (webhooks off)")
            return
        closed = f"http://127.0.0.1:{free_port()}/xtnd/webhooks"
        self._point_hooks_at(closed)
        outage: dict[str, Any] = {"start": self._now(), "end": None, "url": closed}
        self.outages.append(outage)

        def restore() -> None:
            current = self._subscription()
            if current is not None and current.get("callbackUrl") == closed and self.hook_url is not None:
                self._point_hooks_at(self.hook_url)
            outage["end"] = self._now()

        self.schedule(self._now_at + spec.duration_seconds, "receiver_outage ends: hooks reach the client again",
                      restore)

    def _set_password(self, password: str) -> None:
        r = self.fake.put("/_mock/users", json=[{"username": self.username, "password": password}])
        if r.status_code >= 400:
            raise HarnessError(f"PUT /_mock/users refused: {r.status_code} {r.text[:300]}")

    def _do_password_change(self, spec: Any) -> None:
        self._set_password(secrets.token_hex(12))
        change: dict[str, Any] = {"start": self._now(), "end": None}
        self.password_changes.append(change)

        def restore() -> None:
            self._set_password(self.password)
            change["end"] = self._now()

        self.schedule(self._now_at + spec.duration_seconds,
                      "password_change ends: the client's credentials work again", restore)

    def finish(self) -> None:
        """Run every follow-up still pending (an outage that outlasted the run ends now)."""
        self.run_events_due(math.inf)

    # -- expect.orders_at_current_price ---------------------------------------------------------------------
    def check_order_prices(self) -> None:
        """Compare the unit price of each row of each new order the client sent with its customer's best price
        now (called before the clock jumps, so "now" is within moments of when the order was created). The rows
        come from the journal (the client's own ``POST CustomerOrders`` bodies; a row without ``unitPrice`` is
        priced by XTND itself), the best prices from the fake's price book in-process: no API call."""
        if not self.scenario.expect.orders_at_current_price:
            return
        if self.prices is None:
            raise HarnessError("orders_at_current_price: this fake offers no price book to check against")
        page = self.fake.get("/_mock/journal", params={"kind": "api", "since": self._journal_seq}).json()
        records = _items(page)
        if records:
            self._journal_seq = max(int(r["seq"]) for r in records)
        for record in records:
            call = ApiCall.from_record(record)
            if not (call.is_order_create and call.result_key and (call.success or call.fault)):
                continue
            if call.result_key in self._priced:
                continue
            self._priced.add(call.result_key)
            customer = str(lookup(call.body, "orderHeader", "customerNumber"))
            rows = order_rows(call.body)
            products = sorted({str(lookup(r, "product", "productNumber")) for r in rows})
            best = self.prices(customer, products)
            for row in rows:
                product = str(lookup(row, "product", "productNumber"))
                price = lookup(row, "salesData", "unitPrice")
                offer = best.get(product)
                check = {"orderNumber": call.result_key, "orderNumberExternal": order_external(call.body),
                         "customerNumber": customer, "productNumber": product, "unitPrice": price,
                         "bestPrice": offer[0] if offer else None, "priceSource": offer[1] if offer else None,
                         "createdAt": record.get("time")}
                self.price_checks.append(check)
                if price is None:
                    continue  # XTND prices a row sent without unitPrice itself: the best price
                if offer is None or abs(float(price) - offer[0]) > 0.005:
                    self.price_failures.append(
                        f"orders_at_current_price: order {call.result_key} ({order_external(call.body)}, created "
                        f"{record.get('time')}) row {product} has unitPrice {price}, but customer {customer}'s best "
                        f"price was {offer[0] if offer else 'not listed'} ({offer[1] if offer else '-'})")


#: ``(customerNumber, productNumbers) -> {productNumber: (best price now, where it comes from)}``
PriceOracle = Callable[[str, list[str]], dict[str, tuple[float, str]]]


# ---------------------------------------------------------------------------------------------- pacing
class Pacer(Protocol):
    def elapsed(self) -> float: ...

    def wait_until(self, at: float) -> None: ...

    def after_step(self) -> None: ...

    def settle(self, done: Callable[[], bool]) -> bool: ...


class _Activity:
    """Watches the journal for the client's API calls and for deliveries (the harness's "is it busy?")."""

    def __init__(self, control: httpx.Client, username: str) -> None:
        self.control = control
        self.username = username
        self.last_seq = int(control.get("/_mock/journal", params={"limit": 1}).json().get("lastSeq") or 0)
        self.last_activity = time.monotonic()

    def poll(self) -> bool:
        items = _items(self.control.get("/_mock/journal", params={"since": self.last_seq}).json())
        if not items:
            return False
        self.last_seq = max(int(r["seq"]) for r in items)
        # a refused call carries no user: in a harness run the client is the only caller
        active = any(r.get("kind") == "delivery" or r.get("user") in (self.username, None) for r in items)
        if active:
            self.last_activity = time.monotonic()
        return active

    def touch(self) -> None:
        self.last_activity = time.monotonic()

    def quiet_for(self) -> float:
        return time.monotonic() - self.last_activity


def _outbox_empty(control: httpx.Client) -> bool:
    return not _items(control.get("/_mock/deliveries", params={"status": "pending", "limit": 1}).json())


class RealPacer:
    """``clock: real``: sleep until each step is due."""

    def __init__(self, control: httpx.Client, scenario: Scenario, username: str, log: Callable[[str], None],
                 on_quiet: Callable[[], None]) -> None:
        self.control = control
        self.scenario = scenario
        self.activity = _Activity(control, username)
        self.log = log
        self.on_quiet = on_quiet
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def wait_until(self, at: float) -> None:
        delay = at - self.elapsed()
        if delay > 0:
            time.sleep(delay)

    def after_step(self) -> None:
        pass

    def settle(self, done: Callable[[], bool]) -> bool:
        s = self.scenario.settle
        deadline = time.monotonic() + s.max_seconds
        self.activity.touch()
        while time.monotonic() < deadline:
            self.activity.poll()
            if _outbox_empty(self.control) and self.activity.quiet_for() >= s.quiet_seconds:
                self.on_quiet()
                if done():
                    return True
                time.sleep(0.75)
                continue
            time.sleep(0.25)
        return False


class VirtualPacer:
    """``clock: virtual``: follow real time while the client is busy, jump while it is quiet (module doc)."""

    def __init__(self, control: httpx.Client, scenario: Scenario, username: str, log: Callable[[str], None],
                 on_quiet: Callable[[], None], timeline: Timeline) -> None:
        self.control = control
        self.scenario = scenario
        self.spec = scenario.virtual_clock
        self.activity = _Activity(control, username)
        self.log = log
        self.on_quiet = on_quiet
        self.timeline = timeline
        self.t0_ms = self._clock_ms()
        self.now_ms = self.t0_ms
        self.busy_since: float | None = None
        self.jumps = 0
        self.ticks = 0

    def _clock_ms(self) -> int:
        return round(_iso_seconds(self.control.get("/_mock/clock").json()["now"]) * 1000)

    def elapsed(self) -> float:
        return (self.now_ms - self.t0_ms) / 1000

    def _advance(self, seconds: float) -> None:
        r = self.control.post("/_mock/clock/advance", json={"seconds": max(0.0, round(seconds, 3))})
        if r.status_code != 200:
            raise HarnessError(f"the fake refused to advance its clock: {r.status_code} {r.text[:200]}")
        self.now_ms = round(_iso_seconds(r.json()["now"]) * 1000)

    def _next_delivery_at(self) -> float | None:
        items = _items(self.control.get("/_mock/deliveries", params={"status": "pending", "limit": 100_000}).json())
        due = [_iso_seconds(d["nextAttemptAt"]) for d in items if d.get("nextAttemptAt")]
        return (min(due) * 1000 - self.t0_ms) / 1000 if due else None

    def _busy(self) -> bool:
        """The client made a call or got a hook within quiet_seconds, or a storm is running - unless it has
        been busy for longer than busy_max_seconds (then the clock jumps once anyway, and following resumes)."""
        self.activity.poll()
        busy = self.activity.quiet_for() < self.spec.quiet_seconds or self.timeline.storm_running(self.elapsed())
        if not busy:
            self.busy_since = None
            return False
        if self.busy_since is None:
            self.busy_since = time.monotonic()
        if time.monotonic() - self.busy_since > self.spec.busy_max_seconds:
            self.busy_since = None
            return False
        return True

    def _follow(self, limit: float) -> None:
        """One tick of following real time (never past ``limit``, scenario seconds)."""
        started, base = time.monotonic(), self.elapsed()
        time.sleep(self.spec.tick_seconds)
        self._advance(min(limit, base + time.monotonic() - started) - self.elapsed())
        self.ticks += 1

    def _jump(self, limit: float) -> None:
        """Quiet: move to the next thing that happens (a retry, or ``limit``), at most max_jump_seconds."""
        self.on_quiet()
        now = self.elapsed()
        target = min(limit, now + self.spec.max_jump_seconds)
        retry = self._next_delivery_at()
        if retry is not None:
            target = min(target, max(retry, now))
        self._advance(target - now)
        self.jumps += 1
        if self.elapsed() <= now and retry is not None and retry <= now:
            self._follow(math.inf)  # a retry due now that the fake did not send yet: let real time pass

    def wait_until(self, at: float) -> None:
        while self.elapsed() < at - 1e-6:
            if self._busy():
                self._follow(at)
            else:
                self._jump(at)

    def after_step(self) -> None:
        self._advance(0)  # sends what the step made due; the client is busy from now
        self.activity.touch()

    def settle(self, done: Callable[[], bool]) -> bool:
        s = self.scenario.settle
        deadline = time.monotonic() + s.max_seconds
        self.activity.touch()
        while time.monotonic() < deadline:
            if self._busy():
                self._follow(math.inf)
                continue
            retry = self._next_delivery_at()
            if retry is not None:  # retries still to come: jump to them
                self._jump(math.inf)
                continue
            if self.activity.quiet_for() >= s.quiet_seconds:
                self.on_quiet()
                if done():
                    return True
            self._follow(math.inf)  # e.g. waiting for the client's own (real-time) reconciliation
        return False


# ---------------------------------------------------------------------------------------------- running
def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HarnessError(f"the client exited with code {proc.returncode} before listening on port {port}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise HarnessError(f"the client never listened on 127.0.0.1:{port} within {timeout:.0f} s "
                       "(it must serve its webhook receiver on $XTND_WEBHOOK_PORT)")


def stop_client(proc: subprocess.Popen[bytes], grace: float = 8.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def run(
    scenario: Scenario,
    client_command: str,
    *,
    log: Callable[[str], None] = lambda _m: None,
    startup_timeout: float = 30.0,
    workdir: Path | None = None,
    client_log_path: Path | None = None,
) -> RunResult:
    """Run ``client_command`` (a shell command) against a fresh fake through ``scenario`` and judge it. The
    client's stdout and stderr go to ``client_log_path`` (default: ``client.log`` in a temporary directory)."""
    run_started = time.monotonic()
    username, password = USERNAME, secrets.token_hex(12)
    webhook_secret = secrets.token_hex(16)
    hook_port = free_port()
    hook_url = f"http://127.0.0.1:{hook_port}/xtnd/webhooks"
    settings = fake_settings(scenario, username, password, webhook_secret, hook_url)
    if client_log_path is None:
        workdir = workdir or Path(tempfile.mkdtemp(prefix="mock-xtnd-check-"))
        client_log_path = workdir / "client.log"
    client_log_path.parent.mkdir(parents=True, exist_ok=True)
    overrides = scenario.expect.rule_overrides()
    with ServerThread(settings) as fake, httpx.Client(base_url=fake.base_url, timeout=60) as control:
        api_url = fake.api_url.rstrip("/")
        log(f"fake XTND at {api_url} ({scenario.clock} clock); client webhook port {hook_port}")
        env = {
            **os.environ,
            **scenario.client_env,
            "XTND_API_URL": api_url,
            "XTND_USERNAME": username,
            "XTND_PASSWORD": password,
            "XTND_WEBHOOK_SECRET": webhook_secret,
            "XTND_WEBHOOK_PORT": str(hook_port),
        }
        env.pop("XTND_WEBHOOKS", None)
        timeline = Timeline(control, None, scenario, log, webhook_secret=webhook_secret,
                            hook_url=hook_url if scenario.webhooks else None, username=username,
                            password=password, prices=price_oracle(control))
        if problems := timeline.unknown_references():
            raise ScenarioError("scenario refers to what the seeded fake does not have\n"
                                + "\n".join(f"  {p}" for p in problems))
        if not scenario.webhooks:
            env["XTND_WEBHOOKS"] = "off"
        with open(client_log_path, "wb") as client_log:
            proc = subprocess.Popen(client_command, shell=True, env=env, stdout=client_log,
                                    stderr=subprocess.STDOUT, start_new_session=True, cwd=os.getcwd())
            try:
                try:
                    wait_for_port(hook_port, proc, startup_timeout)
                except HarnessError as e:
                    client_log.flush()
                    tail = client_log_path.read_text(errors="replace").splitlines()[-20:]
                    raise HarnessError(f"{e}\n--- last lines of the client's output ---\n" + "\n".join(tail)) from None
                log(f"client listening (pid {proc.pid}); running {len(scenario.timeline)} step(s)")
                shop = f"http://127.0.0.1:{hook_port}"
                timeline.shop_url = shop
                pacer: Pacer
                if scenario.clock == "virtual":
                    pacer = VirtualPacer(control, scenario, username, log, timeline.check_order_prices, timeline)
                else:
                    pacer = RealPacer(control, scenario, username, log, timeline.check_order_prices)

                def reach(at: float) -> None:
                    while (event_at := timeline.next_event_at()) is not None and event_at <= at:
                        pacer.wait_until(event_at)
                        timeline.run_events_due(event_at)
                    pacer.wait_until(at)

                for step in scenario.timeline:
                    reach(step.at)
                    if proc.poll() is not None:
                        raise HarnessError(f"the client exited with code {proc.returncode} during the run")
                    log(f"t={step.at:>7.1f}s {step.kind}" + (f" - {step.note}" if step.note else ""))
                    timeline.run_step(step)
                    pacer.after_step()
                if (last := timeline.next_event_at()) is not None:
                    reach(last)
                timeline.finish()
                done = _settle_condition(control, scenario, username, shop, timeline, hook_url, overrides)
                if pacer.settle(done):
                    log(f"settled ({scenario.settle.until})")
                else:
                    timeline.notes.append(f"settle: gave up after {scenario.settle.max_seconds:g} s waiting for "
                                          f"{'the outbox to empty and the client to go quiet' if scenario.settle.until == 'quiet' else 'the client to converge'}")
                timeline.check_order_prices()
                probe = _probe(shop)
                if isinstance(pacer, VirtualPacer):
                    log(f"virtual clock: {pacer.elapsed():.0f} s of scenario time in "
                        f"{time.monotonic() - run_started:.0f} s ({pacer.jumps} jumps, {pacer.ticks} ticks)")
            finally:
                stop_client(proc)
                ended_at = control.get("/_mock/clock").json()["now"]
        exported = control.get("/_mock/journal").json()
        journal = _items(exported)
        if exported.get("dropped"):
            raise HarnessError(f"the journal dropped {exported['dropped']} records: the judge would see only part "
                               "of the run (shorten the scenario)")
        truth = control.get("/_mock/state").json()
        storms = [control.get(f"/_mock/storm/{sid}").json() for sid in timeline.storms]
    urls = label_outages(journal, timeline.outages, hook_url)
    limits = scenario.rate_limits
    ctx = JudgeContext(
        journal, user=username, probe=probe, truth=truth, webhooks_enabled=scenario.webhooks,
        rate_limit_default=limits.default, rate_limit_families=dict(limits.families),
        rate_limit_window_seconds=float(limits.window_seconds),
        shop_orders_requested=timeline.shop_orders, webhook_urls=urls, ended_at=ended_at,
    )
    report = judge(ctx, overrides=overrides)
    result = RunResult(report, scenario, journal, truth, probe,
                       client_log=client_log_path.read_text(errors="replace")[-20_000:], notes=timeline.notes)
    result.metrics = metrics(journal, username, storms, webhook_urls=urls)
    if timeline.price_checks:
        result.metrics["orderPriceChecks"] = timeline.price_checks
    if timeline.password_changes:
        result.metrics["passwordChanges"] = timeline.password_changes
    result.expectation_failures = expectation_failures(result) + timeline.price_failures
    if scenario.expect.orders_at_current_price and not timeline.price_checks:
        result.expectation_failures.append("orders_at_current_price: the client created no order to check")
    for note in timeline.notes:
        log(f"note: {note}")
    result.duration_seconds = round(time.monotonic() - run_started, 1)
    return result


def price_oracle(control: httpx.Client) -> PriceOracle:
    """The customer's best price now, from the fake's price book through ``GET /_mock/prices`` (no API call: the
    harness never spends the client's rate limit). Asked only while the client is quiet."""

    def prices(customer: str, products: list[str]) -> dict[str, tuple[float, str]]:
        r = control.get("/_mock/prices", params={"customerNumber": customer, "productNumber": products})
        if r.status_code != 200:
            return {}
        return {item["productNumber"]: (float(item["price"]), str(item["priceSource"])) for item in r.json()["items"]}

    return prices


def label_outages(journal: list[dict[str, Any]], outages: list[dict[str, Any]], hook_url: str) -> list[str]:
    """Label the delivery attempts a receiver outage refused (the harness caused them) and return every URL the
    client's deliveries were journalled under: a delivery keeps the callback URL it was created with, so hooks
    created during an outage carry the closed URL even when a later attempt reached the client."""
    windows = [(_iso_seconds(o["start"]), _iso_seconds(o["end"]) if o["end"] else math.inf) for o in outages]
    for record in journal:
        if record.get("kind") != "delivery" or record.get("forged") or record.get("fault") is not None:
            continue
        if record.get("status") is not None:
            continue
        moment = _iso_seconds(record["time"])
        if any(start <= moment <= end for start, end in windows):
            record["fault"] = "drop"
            record["harnessFault"] = OUTAGE_FAULT
    return [hook_url, *(o["url"] for o in outages)]


def _settle_condition(control: httpx.Client, scenario: Scenario, username: str, shop: str, timeline: Timeline,
                      hook_url: str, overrides: dict[str, dict[str, Any]]) -> Callable[[], bool]:
    if scenario.settle.until == "quiet":
        return lambda: True
    rule = RULES_BY_ID["converges"]
    params = {k: v for k, v in overrides.get("converges", {}).items() if k not in ("severity", "enabled")}
    rule = rule.with_overrides(params) if params else rule

    def converged() -> bool:
        probe = _probe(shop)
        if probe is None:
            return True  # nothing to wait for: converges will say NOT CHECKED
        journal = _items(control.get("/_mock/journal").json())
        urls = label_outages(journal, timeline.outages, hook_url)
        ctx = JudgeContext(journal, user=username, probe=probe, truth=control.get("/_mock/state").json(),
                           webhooks_enabled=scenario.webhooks, webhook_urls=urls)
        return rule.evaluate(ctx).status == "passed"

    return converged


def _probe(shop: str) -> dict[str, Any] | None:
    try:
        r = httpx.get(f"{shop}/xtnd/probe", timeout=10)
    except httpx.HTTPError:
        return None
    if r.status_code != 200:
        return None
    try:
        data: dict[str, Any] = r.json()
    except ValueError:
        return None
    return data


def _pct(values: list[float], p: float) -> float | None:
    return round(values[min(len(values) - 1, int(p * len(values)))], 3) if values else None


def balance_lags(journal: list[dict[str, Any]], username: str,
                 webhook_urls: list[str] | None = None) -> tuple[list[float], int]:
    """Seconds from each acknowledged genuine AvailableBalanceChanged to the client's first good availability
    read at or after it that covers the item (a read of the product for its warehouse, or an availability list
    that is not a lookup of other products). Returns the lags and how many hooks were never followed."""
    calls = [ApiCall.from_record(r) for r in journal if r.get("kind") == "api" and r.get("user") == username]
    reads = sorted((c for c in calls if c.is_availability and c.ok), key=lambda c: c.time)
    deliveries = [Delivery.from_record(r) for r in journal if r.get("kind") == "delivery"]
    acked: dict[str, tuple[float, str, str | None]] = {}
    for d in deliveries:
        if d.forged or not d.delivered or (webhook_urls is not None and d.url not in webhook_urls):
            continue
        for note in d.notifications:
            if note.action == "AvailableBalanceChanged" and note.product and d.delivery_id not in acked:
                acked[d.delivery_id] = (d.time, note.product, note.warehouse)
    times = [c.time for c in reads]
    lags: list[float] = []
    unfollowed = 0
    for moment, product, warehouse in acked.values():
        for call in reads[bisect.bisect_left(times, moment):]:
            products = {key for kind, key in call.item_subjects if kind == "product"}
            names = product in products if products else not call.is_lookup
            covers = not call.warehouses or warehouse is None or warehouse in call.warehouses
            if names and covers:
                lags.append(call.time - moment)
                break
        else:
            unfollowed += 1
    return sorted(lags), unfollowed


def metrics(journal: list[dict[str, Any]], username: str, storms: list[dict[str, Any]],
            webhook_urls: list[str] | None = None) -> dict[str, Any]:
    """The figures load testers ask for: API calls per balance change, deliveries, delivery latency, lag."""
    calls = [r for r in journal if r.get("kind") == "api" and r.get("user") in (username, None)]
    deliveries = [r for r in journal if r.get("kind") == "delivery" and not r.get("forged")]
    balance_events = {r["deliveryId"] for r in deliveries
                      if any(n.get("Action") == "AvailableBalanceChanged" for n in r.get("notifications") or ())}
    availability_calls = [r for r in calls if r.get("resource") == "ProductAvailability"]
    latencies = sorted(float(r["latencyMs"]) for r in deliveries if r.get("status"))
    lags, unfollowed = balance_lags(journal, username, webhook_urls)
    return {
        "apiCalls": len(calls),
        "availabilityCalls": len(availability_calls),
        "balanceEvents": len(balance_events),
        "callsPerBalanceEvent": round(len(availability_calls) / len(balance_events), 4) if balance_events else None,
        "transient400s": sum(1 for r in calls if r.get("errorKind") == "Transient"),
        "refused401s": sum(1 for r in calls if r.get("status") == 401),
        "deliveryAttempts": len(deliveries),
        "delivered": sum(1 for r in deliveries if r.get("outcome") == "delivered"),
        "deadLettered": len({r["deliveryId"] for r in deliveries if r.get("outcome") == "dead"}),
        "deliveryP50Ms": _pct(latencies, 0.5),
        "deliveryP99Ms": _pct(latencies, 0.99),
        "balanceLagP50Seconds": _pct(lags, 0.5),
        "balanceLagP99Seconds": _pct(lags, 0.99),
        "balanceLagMaxSeconds": round(lags[-1], 3) if lags else None,
        "balanceHooksNeverFetched": unfollowed,
        "storms": storms,
    }


def expectation_failures(result: RunResult) -> list[str]:
    """What the scenario expected and did not get. "Not checked" never counts as passed."""
    exp = result.scenario.expect
    out: list[str] = []
    report = result.report
    by_id = {r.rule_id: r for r in report.results}
    listed = exp.must_pass != "all"
    must_pass = [r.rule_id for r in report.results] if exp.must_pass == "all" else exp.must_pass
    for rule_id in must_pass:
        r = by_id.get(rule_id)
        if rule_id in exp.must_fail:
            continue
        if r is None:
            out.append(f"{rule_id}: expected to pass but the rule is disabled")
        elif r.status == "failed" and (r.severity == "error" or listed):
            out.append(f"{rule_id}: failed - {r.message}")
        elif r.status in ("not_checked", "not_applicable") and listed:
            out.append(f"{rule_id}: expected to pass but was {r.status.replace('_', ' ')} ({r.message})")
    for rule_id in exp.require:
        r = by_id.get(rule_id)
        if r is None:
            out.append(f"{rule_id}: required but disabled")
        elif r.status != "passed" and not (r.status == "failed" and (r.severity == "error" or listed)):
            out.append(f"{rule_id}: required, but was {r.status.replace('_', ' ')} ({r.message})")
    for rule_id in exp.must_fail:
        r = by_id.get(rule_id)
        if r is None or r.status != "failed":
            out.append(f"{rule_id}: expected to fail (a negative example) but was "
                       f"{r.status.replace('_', ' ') if r else 'disabled'}")
    conv = by_id.get("converges")
    if exp.converges and "converges" not in exp.must_fail and conv is not None and conv.status == "not_checked":
        out.append(f"converges: expected, but not checked ({conv.message})")
    ratio = result.metrics.get("callsPerBalanceEvent")
    if exp.max_calls_per_balance_event is not None and ratio is not None and ratio > exp.max_calls_per_balance_event:
        out.append(f"max_calls_per_balance_event: {ratio} ProductAvailability calls per balance hook > "
                   f"{exp.max_calls_per_balance_event}")
    if exp.max_lag_seconds is not None:
        lag = result.metrics.get("balanceLagMaxSeconds")
        never = result.metrics.get("balanceHooksNeverFetched") or 0
        if lag is not None and lag > exp.max_lag_seconds:
            out.append(f"max_lag_seconds: a balance hook waited {lag} s for its fetch (p99 "
                       f"{result.metrics.get('balanceLagP99Seconds')} s) > {exp.max_lag_seconds} s")
        if never:
            out.append(f"max_lag_seconds: {never} acknowledged balance hook(s) were never followed by a fetch")
    return out


def shell_join(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)
