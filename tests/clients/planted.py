#!/usr/bin/env python3
"""A small webshop integration for the XTND fake, run by the harness as a real process ("judge the judge").

Correct by default; ``--bug NAME`` plants exactly one misbehaviour (see BUGS). It speaks the harness protocol
(xtnd-contract.md §3): credentials and ports from the environment, a webhook receiver on
127.0.0.1:$XTND_WEBHOOK_PORT, ``GET /xtnd/probe`` (its view) and ``POST /xtnd/shop/orders`` (take an order).

What the good client does:
- at start, before listening: an OAuth token, a full paged read of GET Customers (the customer to order for)
  and one full paged read of GET ProductAvailability (the initial balances);
- hooks: ``ms-signature`` verified (401 otherwise), acknowledged at once, deduplicated by Id, processed by one
  background worker: AvailableBalanceChanged is coalesced for 0.3 s, then ProductAvailability is fetched for
  those products in batches of at most 200 (pageSize=1000, every page); an order hook about one of its orders
  is followed by GET CustomerOrders/{n}; OrderCreated for an order it sent but does not know yet (its answer was
  lost) is fetched too;
- shop orders: POST CustomerOrders with an ExternalOrderNumber fixed when the shop took the order;
- errors: 401 -> a new token, once; 429/503 -> nothing in that rate group (every group for 503) before
  Retry-After; 500 or no answer -> exponential back-off, 4 tries in all (a failed availability fetch is queued
  again 3 s later); a Validation answer (4xx) is never resent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mock_xtnd.webhooks.signing import SIGNATURE_HEADER, verify

BUGS = {
    "per-product-polling": "every 2 s, fetch 20 known products one by one (no-per-product-polling)",
    "blind-list-polling": "every 2 s, re-read GET Products without changedSince (no-blind-list-polling)",
    "ignore-hooks": "take hook Details as data, never fetch for a hook (hooks-are-triggers)",
    "partial-pagination": "read only page 1 of the paged Customers list (follow-pagination)",
    "retry-validation": "resend a refused order 3 times unchanged (no-retry-of-validation-errors)",
    "ignore-retry-after": "retry 0.1 s after 429/503 whatever Retry-After says (respect-throttling)",
    "hammer-500": "retry a 500 up to 10 times without delay (bounded-internal-retries)",
    "duplicate-orders": "resend a failed order under a new ExternalOrderNumber (no-duplicate-orders)",
    "slow-ack": "sleep 2.5 s before answering a hook (ack-hooks-fast)",
    "no-signature-check": "accept and act on hooks whatever their signature (verify-signatures)",
    "rate-limit": "a burst of 12 changedSince Products reads, beyond a small List limit (within-rate-limits)",
    "stale-view": "ignore balance answers for warehouse 2 after the initial load (converges)",
}
ORDER_STATUS = {"OrderReserved": "Reserved", "OrderPicked": "Picked", "OrderCancelled": "Cancelled"}
FOLLOWED_ORDER_ACTIONS = {"OrderReserved", "OrderPicked", "OrderCancelled", "OrderDeliveryDataChanged"}
GROUPS = ("Standard", "List", "Write")
LISTS = {"products", "customers", "customerorders"}


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


class Refused(Exception):
    """A Validation answer (400/404/409/413/422): fix the request, never resend it unchanged."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code} {response.text[:200]}")
        self.response = response


class GaveUp(Exception):
    """500s or lost answers, retried with back-off until the tries ran out."""


def rate_group(method: str, path: str) -> str:
    if method in ("POST", "PUT"):
        return "Write"
    parts = path.strip("/").split("/")
    return "List" if len(parts) == 1 and parts[0].lower() in LISTS else "Standard"


class Api:
    """XTND over httpx: token, throttling gates, back-off. Errors of the Validation kind are raised, not retried."""

    def __init__(self, bug: str | None) -> None:
        self.base = os.environ["XTND_API_URL"].rstrip("/")
        self.client_id = os.environ["XTND_CLIENT_ID"]
        self.client_secret = os.environ["XTND_CLIENT_SECRET"]
        self.bug = bug
        self.http = httpx.AsyncClient(timeout=10)
        self.token: str | None = None
        self.blocked_until = dict.fromkeys(GROUPS, 0.0)

    async def _fetch_token(self) -> None:
        r = await self.http.post(f"{self.base}/token", data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret})
        r.raise_for_status()
        self.token = r.json()["access_token"]

    async def call(self, method: str, path: str, *, params: Any = None, json_body: Any = None,
                   retry_lost: bool = True) -> httpx.Response:
        group = rate_group(method, path)
        tries = throttled = 0
        token_refreshed = False
        while True:
            wait = self.blocked_until[group] - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.token is None:
                await self._fetch_token()
            tries += 1
            try:
                r = await self.http.request(method, self.base + path, params=params, json=json_body,
                                            headers={"Authorization": f"Bearer {self.token}"})
            except httpx.TransportError as e:  # no answer (dropped, timed out): maybe committed
                if not retry_lost or tries >= 4:
                    raise GaveUp(f"{method} {path}: {type(e).__name__}") from e
                await asyncio.sleep(0.5 * 2 ** (tries - 1))
                continue
            if r.status_code == 401 and not token_refreshed:
                token_refreshed, self.token = True, None
                tries -= 1
                continue
            if r.status_code in (429, 503):
                throttled += 1
                tries -= 1
                if throttled > 40:
                    raise GaveUp(f"{method} {path}: throttled {throttled} times")
                retry_after = float(r.headers.get("Retry-After") or 1)
                if self.bug == "ignore-retry-after":
                    await asyncio.sleep(0.1)
                    continue
                until = time.monotonic() + retry_after + 0.1
                for g in GROUPS if r.status_code == 503 else (group,):
                    self.blocked_until[g] = max(self.blocked_until[g], until)
                log(f"{r.status_code} on {method} {path}: waiting {retry_after:g} s")
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

    async def read_all(self, path: str, params: dict[str, Any], *, page_size: int) -> list[dict[str, Any]]:
        """Every page of a list (the fake keeps the result set of page 1 stable for later pages)."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            r = await self.call("GET", path, params={**params, "page": page, "pageSize": page_size})
            data = r.json()
            items.extend(data["Items"])
            if page >= data["TotalPages"] or (self.bug == "partial-pagination" and path == "/Customers"):
                return items
            page += 1


class Shop:
    def __init__(self, bug: str | None) -> None:
        self.bug = bug
        self.api = Api(bug)
        self.secret = os.environ.get("XTND_WEBHOOK_SECRET", "")
        self.balances: dict[tuple[str, str], int] = {}
        self.orders: dict[str, str] = {}  # OrderNumber -> Status
        self.sent: set[str] = set()  # ExternalOrderNumbers sent in POST bodies
        self.customer = ""
        self.seen_ids: set[str] = set()
        self.pending_products: set[str] = set()
        self.pending_orders: set[str] = set()
        self.shop_jobs: list[tuple[str, dict[str, Any]]] = []
        self.wake = asyncio.Event()
        self.loaded = False
        self.order_counter = 0
        self.tasks: list[asyncio.Task[None]] = []

    # -- start ----------------------------------------------------------------------------------------------
    async def initial_load(self) -> None:
        customers = await self.api.read_all("/Customers", {}, page_size=2)
        self.customer = sorted(c["CustomerNumber"] for c in customers)[0]
        rows = await self.api.read_all("/ProductAvailability", {}, page_size=1000)
        self.apply(rows)
        self.loaded = True
        log(f"loaded {len(customers)} customers, {len(self.balances)} balances")

    def apply(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            warehouse = str(row["WarehouseNumber"])
            if self.bug == "stale-view" and self.loaded and warehouse == "2":
                continue
            self.balances[(row["ProductNumber"], warehouse)] = row["AvailableBalance"]

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
        if self.pending_products:
            await asyncio.sleep(0.3)  # coalesce a burst of balance hooks into one batch
        while self.shop_jobs:
            external, request = self.shop_jobs.pop(0)
            await self.guard(self.push_order(external, request))
        orders, self.pending_orders = self.pending_orders, set()
        for number in sorted(orders):
            await self.guard(self.fetch_order(number))
        products, self.pending_products = sorted(self.pending_products), set()
        for i in range(0, len(products), 200):
            batch = products[i : i + 200]
            try:
                self.apply(await self.api.read_all(
                    "/ProductAvailability", {"productNumber": batch}, page_size=1000))
            except (GaveUp, Refused, httpx.HTTPError) as e:
                log(f"availability fetch failed ({e}); again in 3 s")
                asyncio.get_running_loop().call_later(3, self.trigger, batch, ())

    @staticmethod
    async def guard(job: Any) -> None:
        try:
            await job
        except (GaveUp, Refused, httpx.HTTPError) as e:
            log(f"gave up: {e}")

    def trigger(self, products: Any = (), orders: Any = ()) -> None:
        self.pending_products.update(products)
        self.pending_orders.update(orders)
        self.wake.set()

    async def fetch_order(self, number: str) -> None:
        if self.bug == "ignore-hooks":
            return
        r = await self.api.call("GET", f"/CustomerOrders/{number}")
        self.orders[number] = r.json()["Status"]

    async def push_order(self, external: str, request: dict[str, Any]) -> None:
        body = {
            "ExternalOrderNumber": external,
            "CustomerNumber": self.customer,
            "WarehouseNumber": request.get("WarehouseNumber") or "1",
            "Lines": [{"ProductNumber": ln["ProductNumber"], "Quantity": ln["Quantity"], "UnitPrice": 100.0,
                       "Currency": "SEK"} for ln in request["Lines"]],
        }
        for attempt in range(1, 4):  # more than one attempt only with the duplicate-orders bug
            self.sent.add(body["ExternalOrderNumber"])
            try:
                r = await self.api.call("POST", "/CustomerOrders", json_body=body,
                                        retry_lost=self.bug != "duplicate-orders")
            except GaveUp:
                if self.bug != "duplicate-orders":
                    raise
                body = {**body, "ExternalOrderNumber": f"{external}-R{attempt}"}  # the bug: a new key
                log(f"order {external} failed; sending it again as {body['ExternalOrderNumber']}")
                continue
            except Refused as e:
                log(f"order {external} refused: {e}")
                if self.bug == "retry-validation":
                    for _ in range(3):
                        with contextlib.suppress(Refused):
                            await self.api.call("POST", "/CustomerOrders", json_body=body)
                return
            order = r.json()
            self.orders[order["OrderNumber"]] = order["Status"]
            log(f"order {body['ExternalOrderNumber']} -> {order['OrderNumber']} ({r.status_code})")
            return

    # -- bugs that run on their own -------------------------------------------------------------------------
    async def bug_loop(self) -> None:
        if self.bug == "per-product-polling":
            products = sorted({p for p, _ in self.balances})[:20]
            for _ in range(6):
                for product in products:
                    r = await self.api.call("GET", "/ProductAvailability",
                                            params={"productNumber": product, "pageSize": 1000})
                    self.apply(r.json()["Items"])
                await asyncio.sleep(2)
        elif self.bug == "blind-list-polling":
            for _ in range(6):
                await self.api.read_all("/Products", {}, page_size=1000)
                await asyncio.sleep(2)
        elif self.bug == "rate-limit":
            await asyncio.sleep(2)
            since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            for _ in range(12):
                await self.api.call("GET", "/Products", params={"changedSince": since, "pageSize": 1000})

    # -- HTTP endpoints ---------------------------------------------------------------------------------------
    async def webhook(self, request: Request) -> Response:
        raw = await request.body()
        if self.bug == "slow-ack":
            await asyncio.sleep(2.5)
        if self.bug != "no-signature-check" and not verify(self.secret, raw, request.headers.get(SIGNATURE_HEADER)):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        try:
            envelope = json.loads(raw)
        except ValueError:
            return JSONResponse({"error": "not JSON"}, status_code=400)
        hook_id = str(envelope.get("Id"))
        if hook_id in self.seen_ids:
            return Response(status_code=200)
        self.seen_ids.add(hook_id)
        for note in envelope.get("Notifications") or []:
            self.on_notification(note.get("Action"), note.get("Details") or {})
        return Response(status_code=200)

    def on_notification(self, action: str, details: dict[str, Any]) -> None:
        product, number = details.get("ProductNumber"), details.get("OrderNumber")
        number = None if number is None else str(number)
        own = number in self.orders or details.get("ExternalOrderNumber") in self.sent
        if self.bug == "ignore-hooks":  # Details taken as data: nothing is fetched
            if action == "AvailableBalanceChanged" and product is not None:
                self.balances[(product, str(details["WarehouseNumber"]))] = details["AvailableBalance"]
            elif own and number is not None:
                self.orders[number] = ORDER_STATUS.get(action, self.orders.get(number, "Created"))
            return
        if action == "AvailableBalanceChanged" and product is not None:
            self.trigger(products=[product])
        elif own and number is not None and (
            action in FOLLOWED_ORDER_ACTIONS or (action == "OrderCreated" and number not in self.orders)
        ):
            self.trigger(orders=[number])

    async def probe(self, _request: Request) -> Response:
        return JSONResponse({
            "Balances": [{"ProductNumber": p, "WarehouseNumber": w, "AvailableBalance": b}
                         for (p, w), b in sorted(self.balances.items())],
            "Orders": [{"OrderNumber": n, "Status": s} for n, s in sorted(self.orders.items())],
        })

    async def shop_order(self, request: Request) -> Response:
        payload = await request.json()
        self.order_counter += 1
        external = f"WEB-{self.order_counter}"  # fixed now: every retry sends the same key
        self.shop_jobs.append((external, payload))
        self.wake.set()
        return JSONResponse({"ExternalOrderNumber": external}, status_code=202)

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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bug", choices=sorted(BUGS), help="plant one misbehaviour")
    args = parser.parse_args()
    asyncio.run(main(args.bug))
    sys.exit(0)
