#!/usr/bin/env python3
"""A small webshop integration for XTND, run by the harness as a real process ("judge the judge").

Correct by default; ``--bug NAME`` plants exactly one misbehaviour (see BUGS). It knows only the wire: XTND's
REST dialect (xtnd-contract.md §1) and the harness protocol (§3): ``XTND_API_URL`` (``.../RESTAPI/v1_0/<company>``),
``XTND_USERNAME``/``XTND_PASSWORD`` for the ``ExtendBasicAuthorization`` header, ``XTND_WEBHOOK_SECRET``, a webhook
receiver on 127.0.0.1:$XTND_WEBHOOK_PORT, ``GET /xtnd/probe`` (its view) and ``POST /xtnd/shop/orders`` (take an
order). It imports nothing from mock_xtnd.

What the good client does:
- at start, before listening: every page of ``GET Customers`` (scheme B: ``pageNumber`` from 1 until
  ``currentPage >= totalPages``; the customer to order for), of ``GET Products?pageCount=25`` (scheme A:
  ``pageOffset`` from 0 until a page shorter than ``pageCount``, or a 400 past the end), of ``GET
  ProductAvailability`` (its balances) and of ``GET CustomerOrders?modifiedDateFrom=...``;
- hooks: ``ms-signature`` verified (401 otherwise), acknowledged at once, deduplicated by Id, processed by one
  background worker: AvailableBalanceChanged is coalesced for 0.3 s, then each item is read with ``GET
  ProductAvailability/{productNumber}/{warehouse}``; an order hook about one of its orders is followed by ``GET
  CustomerOrders/{id}``; OrderCreated for an order it sent but does not know yet (the answer was lost) too;
- shop orders: ``POST CustomerOrders`` with an ``orderNumberExternal`` fixed when the shop took the order; when
  the POST got no answer, ``GET CustomerOrders?orderNumberExternal=...`` first, and only a miss is sent again;
- errors: a transient 400 (XTND's deadlock or timeout message) -> retried after 0.5, 1, 2 s; any other 400 is
  final, never resent; 401 -> the credentials were refused: wait 1, 2, 4, 8 s between tries (and say so);
  429 -> nothing in that endpoint family before Retry-After; 500 or no answer -> exponential back-off, 4 tries in
  all (a failed availability read is queued again 3 s later).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import sys
import time
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BUGS = {
    "per-product-polling": "every 2 s, read 20 known items one by one (no-per-product-polling)",
    "blind-list-polling": "every 2 s, re-read GET Products without modifiedDateFrom (no-blind-list-polling)",
    "ignore-hooks": "take hook Details as data, never read for a hook (hooks-are-triggers)",
    "partial-pagination": "read only the first page of the scheme B Customers list (follow-pagination)",
    "short-page": "end a scheme A walk at a page shorter than 100 rows, though it asked pageCount=25 "
                  "(follow-pagination)",
    "retry-validation": "resend a refused order 3 times unchanged (no-retry-of-validation-errors)",
    "give-up-transient": "take a transient 400 for a final one: never retry it (no-retry-of-validation-errors)",
    "hammer-transient": "retry a transient 400 at once, without a wait (no-retry-of-validation-errors)",
    "ignore-retry-after": "retry 0.1 s after a 429 whatever Retry-After says (respect-throttling)",
    "hammer-500": "retry a 500 up to 10 times without delay (bounded-internal-retries)",
    "hammer-401": "retry every 0.1 s while the credentials are refused (back-off-on-unauthorized)",
    "new-external": "resend an unanswered order under a new orderNumberExternal (no-duplicate-orders)",
    "blind-resend": "resend an unanswered order at once, without looking it up (no-duplicate-orders)",
    "slow-ack": "sleep 2.5 s before answering a hook (ack-hooks-fast)",
    "no-signature-check": "accept and act on hooks whatever their signature (verify-signatures)",
    "rate-limit": "a burst of 12 modifiedDateFrom Products reads, beyond a small Products limit "
                  "(within-rate-limits)",
    "stale-view": "ignore balance answers for warehouse 2 after the initial load (converges)",
}
ORDER_STATUS = {"OrderReserved": "Reserved", "OrderPicked": "Terminated", "OrderCancelled": "Annulled"}
FOLLOWED_ORDER_ACTIONS = {"OrderReserved", "OrderPicked", "OrderCancelled", "OrderDeliveryDataChanged"}
TRANSIENT_MARKS = ("deadlocked", "timeout expired")
LONG_AGO = "2000-01-01T00:00:00"


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """``ms-signature: sha256=<UPPERCASE hex HMAC-SHA256 of the exact body, key = the secret's UTF-8 bytes>``."""
    if not header or not header.lower().startswith("sha256="):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest().upper()
    return hmac.compare_digest(header[len("sha256="):].strip().upper().encode(), expected.encode())


def segment(value: str) -> str:
    """A path key, URL-encoded (product numbers hold spaces and slashes)."""
    return quote(value, safe="")


class Refused(Exception):
    """A final 400/404: fix the request, never resend it unchanged."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code} {response.text[:200]}")
        self.response = response


class GaveUp(Exception):
    """500s, transient 400s or lost answers, retried with back-off until the tries ran out."""


class Lost(GaveUp):
    """No answer at all: the request may or may not have been carried out."""


def is_transient(response: httpx.Response) -> bool:
    if response.status_code != 400:
        return False
    try:
        message = str(response.json().get("Message") or "")
    except ValueError:
        return False
    return any(mark in message.lower() for mark in TRANSIENT_MARKS)


class Api:
    """XTND over httpx: the auth header, throttling gates per endpoint family, back-off. Final 400s are raised."""

    def __init__(self, bug: str | None) -> None:
        self.base = os.environ["XTND_API_URL"].rstrip("/")
        pair = f"{os.environ['XTND_USERNAME']}:{os.environ['XTND_PASSWORD']}".encode()
        self.headers = {"ExtendBasicAuthorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        self.bug = bug
        self.http = httpx.AsyncClient(timeout=10)
        self.blocked_until: dict[str, float] = {}

    async def call(self, method: str, path: str, *, params: Any = None, json_body: Any = None,
                   retry_lost: bool = True) -> httpx.Response:
        family = path.split("/", 1)[0].split("?", 1)[0]
        tries = throttled = refused = transient = 0
        while True:
            wait = self.blocked_until.get(family, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            tries += 1
            try:
                r = await self.http.request(method, f"{self.base}/{path}", params=params, json=json_body,
                                            headers=self.headers)
            except httpx.TransportError as e:  # no answer (dropped, cut): maybe carried out
                if not retry_lost or tries >= 4:
                    raise Lost(f"{method} {path}: {type(e).__name__}") from e
                await asyncio.sleep(0.5 * 2 ** (tries - 1))
                continue
            if r.status_code == 401:
                refused += 1
                tries -= 1
                if self.bug == "hammer-401":
                    await asyncio.sleep(0.1)
                    continue
                delay = min(8.0, 2.0 ** (refused - 1))
                log(f"401 on {method} {path}: the credentials were refused; trying again in {delay:g} s")
                await asyncio.sleep(delay)
                continue
            if r.status_code == 429:
                throttled += 1
                tries -= 1
                if throttled > 40:
                    raise GaveUp(f"{method} {path}: throttled {throttled} times")
                retry_after = float(r.headers.get("Retry-After") or 1)
                if self.bug == "ignore-retry-after":
                    await asyncio.sleep(0.1)
                    continue
                self.blocked_until[family] = max(self.blocked_until.get(family, 0.0),
                                                 time.monotonic() + retry_after + 0.1)
                log(f"429 on {method} {path}: waiting {retry_after:g} s")
                continue
            if is_transient(r):
                transient += 1
                tries -= 1
                if self.bug == "give-up-transient":
                    raise Refused(r)
                if transient > 3:
                    raise GaveUp(f"{method} {path}: transient 400 {transient} times")
                if self.bug != "hammer-transient":
                    await asyncio.sleep(0.5 * 2 ** (transient - 1))
                log(f"transient 400 on {method} {path}: trying again")
                continue
            if r.status_code >= 500:
                if self.bug == "hammer-500":
                    if tries > 10:
                        raise GaveUp(f"{method} {path}: {r.status_code} after {tries} tries")
                    continue
                if not retry_lost or tries >= 4:
                    raise GaveUp(f"{method} {path}: {r.status_code} after {tries} tries")
                await asyncio.sleep(0.5 * 2 ** (tries - 1))
                continue
            if r.status_code >= 400:
                raise Refused(r)
            return r

    async def pages_b(self, path: str, params: dict[str, Any], *, first_only: bool = False) -> list[dict[str, Any]]:
        """Every page of a scheme B list: ``pageNumber`` from 1 until ``currentPage >= totalPages``."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            data = (await self.call("GET", path, params={**params, "pageNumber": page})).json()
            rows = next((v for k, v in data.items() if k.endswith("List") and isinstance(v, list)), [])
            items.extend(rows)
            info = data.get("paginationInfo") or {}
            if first_only or not rows or int(info.get("currentPage") or page) >= int(info.get("totalPages") or 0):
                return items
            page += 1

    async def pages_a(self, path: str, params: dict[str, Any], *, page_count: int) -> list[dict[str, Any]]:
        """Every page of a scheme A list: ``pageOffset`` (a page index) from 0 until a page is shorter than
        ``pageCount``; a 400 past the end (XTND does that at ``pageOffset > 0``) ends the walk too."""
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            try:
                r = await self.call("GET", path, params={**params, "pageCount": page_count, "pageOffset": offset})
            except Refused as e:
                if offset > 0 and e.response.status_code == 400:
                    return items
                raise
            rows = r.json()
            items.extend(rows)
            short = 100 if self.bug == "short-page" else page_count
            if len(rows) < short:
                return items
            offset += 1


class Shop:
    def __init__(self, bug: str | None) -> None:
        self.bug = bug
        self.api = Api(bug)
        self.secret = os.environ.get("XTND_WEBHOOK_SECRET", "")
        self.balances: dict[tuple[str, str], int] = {}
        self.orders: dict[str, str] = {}  # orderNumber -> orderStatus
        self.by_external: dict[str, str] = {}  # orderNumberExternal -> orderNumber
        self.sent: set[str] = set()  # orderNumberExternal values sent in POST bodies
        self.customer = ""
        self.seen_ids: set[str] = set()
        self.pending_items: set[tuple[str, str]] = set()
        self.pending_orders: set[str] = set()
        self.shop_jobs: list[tuple[str, dict[str, Any]]] = []
        self.wake = asyncio.Event()
        self.loaded = False
        self.order_counter = 0
        self.tasks: list[asyncio.Task[None]] = []

    # -- start ----------------------------------------------------------------------------------------------
    async def initial_load(self) -> None:
        customers = await self.api.pages_b("Customers", {}, first_only=self.bug == "partial-pagination")
        self.customer = sorted(str(c["customerNumber"]) for c in customers)[0]
        products = await self.api.pages_a("Products", {}, page_count=25)
        self.apply(await self.api.pages_b("ProductAvailability", {}))
        for order in await self.api.pages_a("CustomerOrders", {"modifiedDateFrom": LONG_AGO}, page_count=100):
            self.remember(order.get("orderNumber"), order.get("orderNumberExternal"), order.get("orderStatus"))
        self.loaded = True
        log(f"loaded {len(customers)} customers, {len(products)} product rows, {len(self.balances)} balances")

    def apply(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            warehouse = str(row["warehouse"])
            if self.bug == "stale-view" and self.loaded and warehouse == "2":
                continue
            self.balances[(str(row["productNumber"]), warehouse)] = int(row["availableBalanceNow"])

    def remember(self, number: Any, external: Any, status: Any) -> None:
        if number is None:
            return
        if external is not None and str(external) in self.sent:
            self.by_external[str(external)] = str(number)
        if str(number) in self.orders or (external is not None and str(external) in self.sent):
            self.orders[str(number)] = str(status)

    # -- the worker: every API call for hooks and shop orders, one at a time ---------------------------------
    async def worker(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            try:
                await self.work()
            except Exception as e:  # keep the worker alive whatever happens
                log(f"worker: {type(e).__name__}: {e}")

    async def work(self) -> None:
        if self.pending_items:
            await asyncio.sleep(0.3)  # coalesce a burst of balance hooks
        while self.shop_jobs:
            external, request = self.shop_jobs.pop(0)
            await self.guard(self.push_order(external, request))
        orders, self.pending_orders = self.pending_orders, set()
        for number in sorted(orders):
            await self.guard(self.fetch_order(number))
        items, self.pending_items = sorted(self.pending_items), set()
        failed = []
        for product, warehouse in items:
            try:
                r = await self.api.call("GET", f"ProductAvailability/{segment(product)}/{segment(warehouse)}")
                self.apply([r.json()])
            except (GaveUp, Refused, httpx.HTTPError) as e:
                log(f"availability read of {product}@{warehouse} failed ({e}); again in 3 s")
                failed.append((product, warehouse))
        if failed:
            asyncio.get_running_loop().call_later(3, self.trigger, failed, ())

    @staticmethod
    async def guard(job: Any) -> None:
        try:
            await job
        except (GaveUp, Refused, httpx.HTTPError) as e:
            log(f"gave up: {e}")

    def trigger(self, items: Any = (), orders: Any = ()) -> None:
        self.pending_items.update(items)
        self.pending_orders.update(orders)
        self.wake.set()

    async def fetch_order(self, number: str) -> None:
        order = (await self.api.call("GET", f"CustomerOrders/{segment(number)}")).json()
        header = order["orderHeader"]
        self.remember(header.get("orderNumber"), header.get("orderNumberExternal"), header.get("orderStatus"))

    async def push_order(self, external: str, request: dict[str, Any]) -> None:
        warehouse = str(request.get("warehouse") or "1")
        body = {
            "orderHeader": {"orderNumberExternal": external, "customerNumber": self.customer},
            "orderRows": [{"product": {"productNumber": row["productNumber"]},
                           "salesData": {"quantity": row["quantity"], "unit": "st"}, "warehouse": warehouse}
                          for row in request["rows"]],
        }
        for attempt in range(1, 4):
            self.sent.add(body["orderHeader"]["orderNumberExternal"])
            try:
                r = await self.api.call("POST", "CustomerOrders", json_body=body, retry_lost=False)
            except Lost:
                current = body["orderHeader"]["orderNumberExternal"]
                if self.bug == "new-external":
                    body = {**body, "orderHeader": {**body["orderHeader"],
                                                    "orderNumberExternal": f"{external}-R{attempt}"}}
                    log(f"order {current} lost; sending it again as {body['orderHeader']['orderNumberExternal']}")
                    continue
                if self.bug == "blind-resend":
                    log(f"order {current} lost; sending it again as it was")
                    continue
                found = (await self.api.call("GET", "CustomerOrders",
                                             params={"orderNumberExternal": current})).json()
                if found:
                    self.remember(found[0]["orderNumber"], current, found[0]["orderStatus"])
                    log(f"order {current} was made after all: {found[0]['orderNumber']}")
                    return
                log(f"order {current} lost before XTND saw it; sending it again")
                continue
            except Refused as e:
                log(f"order {external} refused: {e}")
                if self.bug == "retry-validation" and not is_transient(e.response):
                    for _ in range(3):
                        with contextlib.suppress(Refused, GaveUp):
                            await self.api.call("POST", "CustomerOrders", json_body=body)
                return
            header = r.json()["orderHeader"]
            self.remember(header["orderNumber"], header["orderNumberExternal"], header["orderStatus"])
            log(f"order {header['orderNumberExternal']} -> {header['orderNumber']}")
            return

    # -- bugs that run on their own -------------------------------------------------------------------------
    async def bug_loop(self) -> None:
        if self.bug == "per-product-polling":
            items = sorted(self.balances)[:20]
            for _ in range(6):
                for product, warehouse in items:
                    r = await self.api.call("GET", f"ProductAvailability/{segment(product)}/{segment(warehouse)}")
                    self.apply([r.json()])
                await asyncio.sleep(2)
        elif self.bug == "blind-list-polling":
            for _ in range(6):
                await self.api.pages_a("Products", {}, page_count=1000)
                await asyncio.sleep(2)
        elif self.bug == "rate-limit":
            await asyncio.sleep(2)
            for _ in range(12):
                await self.api.call("GET", "Products", params={"modifiedDateFrom": LONG_AGO, "pageCount": 1000})

    # -- HTTP endpoints ---------------------------------------------------------------------------------------
    async def webhook(self, request: Request) -> Response:
        raw = await request.body()
        if self.bug == "slow-ack":
            await asyncio.sleep(2.5)
        if self.bug != "no-signature-check" and not signature_ok(self.secret, raw, request.headers.get("ms-signature")):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        try:
            envelope = json.loads(raw)
        except ValueError:
            return JSONResponse({"error": "not JSON"}, status_code=400)
        delivery_id = str(envelope.get("Id"))
        if delivery_id not in self.seen_ids:
            self.seen_ids.add(delivery_id)
            for note in envelope.get("Notifications") or []:
                self.on_notification(str(note.get("Action")), note.get("Details") or {})
        return Response(status_code=204)

    def on_notification(self, action: str, details: dict[str, Any]) -> None:
        product = details.get("ProductNumber")
        number = details.get("OrderNumber")
        external = details.get("OrderNumberExternal")
        own = (external is not None and str(external) in self.sent) or (number is not None and str(number) in self.orders)
        if self.bug == "ignore-hooks":  # Details taken as data: nothing is read
            if action == "AvailableBalanceChanged" and product is not None:
                self.balances[(str(product), str(details["Warehouse"]))] = int(details["AvailableBalance"])
            elif own and number is not None:
                self.orders[str(number)] = ORDER_STATUS.get(action, self.orders.get(str(number), "Created"))
            return
        if action == "AvailableBalanceChanged" and product is not None:
            self.trigger(items=[(str(product), str(details.get("Warehouse")))])
        elif own and number is not None and (
            action in FOLLOWED_ORDER_ACTIONS or (action == "OrderCreated" and str(number) not in self.orders)
        ):
            self.trigger(orders=[str(number)])

    async def probe(self, _request: Request) -> Response:
        return JSONResponse({
            "balances": [{"productNumber": p, "warehouse": w, "availableBalanceNow": b}
                         for (p, w), b in sorted(self.balances.items())],
            "orders": [{"orderNumber": n, "orderStatus": s} for n, s in sorted(self.orders.items())],
        })

    async def shop_order(self, request: Request) -> Response:
        payload = await request.json()
        self.order_counter += 1
        external = f"WEB-{os.getpid()}-{self.order_counter}"  # fixed now: every retry sends the same key
        self.shop_jobs.append((external, payload))
        self.wake.set()
        return JSONResponse({"orderNumberExternal": external}, status_code=202)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/xtnd/webhooks", self.webhook, methods=["POST"]),
            Route("/xtnd/probe", self.probe, methods=["GET"]),
            Route("/xtnd/shop/orders", self.shop_order, methods=["POST"]),
        ])


async def main(bug: str | None) -> None:
    shop = Shop(bug)
    await shop.initial_load()
    shop.tasks = [asyncio.create_task(shop.worker()), asyncio.create_task(shop.guard(shop.bug_loop()))]
    config = uvicorn.Config(shop.app(), host="127.0.0.1", port=int(os.environ["XTND_WEBHOOK_PORT"]),
                            log_level="warning", access_log=False)
    log(f"listening on {config.port} (bug: {bug or 'none'})")
    await uvicorn.Server(config).serve()
    for task in shop.tasks:
        task.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bug", choices=sorted(BUGS), help="plant one misbehaviour")
    args = parser.parse_args()
    asyncio.run(main(args.bug))
    sys.exit(0)
