"""The sync engine: turns "what to fetch" into API calls, and the shop's orders into POSTs.

Four independent loops share one API client (and so its rate-limit pacing):

* balances: flush the coalescer (batched ProductAvailability calls), apply rows by ChangedAt;
* records: fetch pending orders/products/customers one by one (GET .../{key});
* outbox: build each outgoing order's body once, persist it, POST it until XTND answers;
* reconcile: ``changedSince`` passes. Without webhooks this *is* the sync (the documented fallback); with
  webhooks it runs rarely and heals hooks that never arrived.

Each loop is a thin ``while True`` around a step method (``flush_balances``, ``fetch_due_records``,
``send_due_outgoing``, ``reconcile``) that tests call directly, with an injected clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .client import MAX_PRODUCT_NUMBERS, Page, XtndClient
from .clock import Clock
from .coalescer import AvailabilityQuery, BalanceCoalescer
from .config import SyncConfig
from .cursor import ChangedSincePass
from .errors import ErrorKind, XtndError
from .ids import new_instance_tag
from .ratelimit import RateGroup
from .shop import NotBuildable, customer_body, order_body, parse_shop_customer, parse_shop_order
from .store import ALL_WAREHOUSES, MalformedRecord, Outgoing, PendingRecord, Store
from .timestamps import to_ms
from .webhooks import Delivery, FetchTargets, fetch_targets

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Counters:
    """What happened, for the status endpoint, logs and the benchmark."""

    hooks_accepted: int = 0
    hooks_duplicate: int = 0
    balance_events: int = 0
    availability_calls: int = 0
    record_fetches: int = 0
    orders_sent: int = 0
    parked: int = 0


class Sync:
    def __init__(self, config: SyncConfig, store: Store, client: XtndClient, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.clock = clock
        self.counters = Counters()
        self.coalescer = BalanceCoalescer(clock, config.balance_window)
        # Pending fetches survive restarts: whatever was acknowledged but not yet fetched is fetched now.
        self.coalescer.add_all(store.pending_balances())
        self._balances_wakeup = asyncio.Event()
        self._records_wakeup = asyncio.Event()
        self._outbox_wakeup = asyncio.Event()
        self.order_prefix = config.order_prefix or self._default_order_prefix()

    def _default_order_prefix(self) -> str:
        with self.store.transaction():
            tag = self.store.meta("instance_tag")
            if tag is None:
                tag = new_instance_tag()
                self.store.set_meta("instance_tag", tag)
        return f"WEB-{tag}"

    # ================================================================== inputs (called by the endpoints)
    def accept_deliveries(self, deliveries: Sequence[Delivery]) -> list[bool]:
        """Persist what verified webhooks ask us to fetch, all in one transaction (see inbox.py). For each
        delivery: True if accepted now, False for a duplicate Id (already accepted: nothing is done twice)."""
        now = self.clock.now()
        results: list[tuple[bool, FetchTargets]] = []
        with self.store.transaction():
            for delivery in deliveries:
                targets = fetch_targets(
                    delivery.notifications, products=self.config.sync_products, customers=self._wants_customer
                )
                results.append(
                    (self.store.accept_delivery(delivery.id, now, targets.balances, targets.records), targets)
                )
        # Committed: now the workers may know.
        for accepted, targets in results:
            if not accepted:
                self.counters.hooks_duplicate += 1
                continue
            self.counters.hooks_accepted += 1
            self.counters.balance_events += len(targets.balances)
            if self.coalescer.add_all(targets.balances):
                self._balances_wakeup.set()
            if targets.records:
                self._records_wakeup.set()
        return [accepted for accepted, _ in results]

    def accept_delivery(self, delivery: Delivery) -> bool:
        return self.accept_deliveries([delivery])[0]

    def _wants_customer(self, customer_number: str) -> bool:
        return self.config.sync_customers or customer_number == self._shop_customer_number()

    def take_shop_order(self, payload: Any) -> str:
        """The shop takes an order: give it its ExternalOrderNumber and persist it *before* anything is sent.
        Raises InvalidShopRequest for a request of the wrong shape."""
        return self._take_outgoing("order", parse_shop_order(payload))

    def take_shop_customer(self, payload: Any) -> str:
        return self._take_outgoing("customer", parse_shop_customer(payload))

    def _take_outgoing(self, kind: str, request: dict[str, Any]) -> str:
        counter = f"next_{kind}_number"
        with self.store.transaction():
            n = int(self.store.meta(counter) or 1)
            self.store.set_meta(counter, str(n + 1))
            external = f"{self.order_prefix}-{n:06d}" if kind == "order" else f"{self.order_prefix}-C{n:06d}"
            self.store.add_outgoing(kind, external, request, self.clock.now())
        self._outbox_wakeup.set()
        return external

    # ================================================================== balances
    async def flush_balances(self) -> int:
        """Fetch everything the coalescer holds. Returns the number of API calls made."""
        queries = self.coalescer.take()
        # Pairs marked after this are fetched again: the answer may predate their change.
        mark = self.store.current_mark()
        calls = 0
        for i, query in enumerate(queries):
            try:
                calls += await self._fetch_availability(query, mark)
            except XtndError as error:
                # Throttled or Internal even after the client's retries: keep everything still unanswered.
                left = [pair for q in queries[i:] for pair in q.pairs]
                log.warning("ProductAvailability failed (%s); %d pairs kept for later", error, len(left))
                self.coalescer.add_all(left)
                self.coalescer.hold(self._later(error))
                break
            except BaseException:
                # Still pending in the store; keep the coalescer in step with it.
                self.coalescer.add_all(pair for q in queries[i:] for pair in q.pairs)
                raise
        return calls

    async def _fetch_availability(self, query: AvailabilityQuery, mark: int) -> int:
        calls = 0
        try:
            async for page in self.client.product_availability(
                product_numbers=query.product_numbers, warehouse_numbers=query.warehouse_numbers
            ):
                calls += 1
                self.counters.availability_calls += 1
                with self.store.transaction():
                    self.store.apply_balances(page.items)
        except XtndError as error:
            if error.kind is not ErrorKind.VALIDATION:
                raise
            if len(query.product_numbers) == 1:
                self._park_balance(query, error.kind, error.status, error.describe())
                return calls
            # One bad product number must not block the other 199: split and ask again (a changed request).
            half = len(query.product_numbers) // 2
            for part in (query.product_numbers[:half], query.product_numbers[half:]):
                calls += await self._fetch_availability(_subquery(query, part), mark)
            return calls
        except MalformedRecord as error:
            self._park_balance(query, "Malformed", None, str(error))
            return calls
        with self.store.transaction():
            self.store.clear_balances(query.pairs, mark)
        return calls

    def _park_balance(self, query: AvailabilityQuery, kind: str, status: int | None, message: str) -> None:
        log.error("parking availability of %s: %s", ", ".join(query.product_numbers), message)
        with self.store.transaction():
            for product, warehouse in query.pairs:
                self.store.park(
                    "availability", f"{product}@{warehouse or '*'}", kind, status, message, self.clock.now()
                )
            self.store.clear_balances(query.pairs, self.store.current_mark())
        self.counters.parked += len(query.pairs)

    # ================================================================== single records (orders, products, customers)
    async def fetch_due_records(self, limit: int = 50) -> int:
        """Fetch pending records that are due. Returns how many were handled (fetched, skipped or deferred)."""
        due = self.store.due_records(self.clock.now(), limit)
        for pending in due:
            await self._fetch_record(pending)
        return len(due)

    async def _fetch_record(self, pending: PendingRecord) -> None:
        kind, key = pending.kind, pending.key
        mark = self.store.current_mark()
        if kind == "order" and not self._may_be_our_order(key):
            # Another sales channel's order: not this shop's business.
            self.store.clear_record(kind, key, mark)
            return
        try:
            record = await self.client.get_record(kind, key)
            self.counters.record_fetches += 1
            with self.store.transaction():
                if kind == "order":
                    self._apply_order(record)
                else:
                    self.store.apply_record(kind, key, record)
                self.store.clear_record(kind, key, mark)
        except XtndError as error:
            if error.kind is ErrorKind.VALIDATION:
                self._park_record(kind, key, error.kind, error.status, error.describe())
            else:
                log.warning("GET %s %s failed (%s); trying again later", kind, key, error)
                self.store.defer_record(kind, key, self.clock.now() + self._later(error))
        except MalformedRecord as error:
            self._park_record(kind, key, "Malformed", None, str(error))

    def _later(self, error: XtndError) -> float:
        """How long to leave an item alone after the client gave up on it (Throttled, Internal, Unauthorized)."""
        return self.config.internal_cooldown if error.kind is ErrorKind.INTERNAL else self.config.retry_later

    def _park_record(self, kind: str, key: str, error_kind: str, status: int | None, message: str) -> None:
        log.error("parking %s %s: %s", kind, key, message)
        with self.store.transaction():
            self.store.park(kind, key, error_kind, status, message, self.clock.now())
            self.store.clear_record(kind, key, self.store.current_mark())
        self.counters.parked += 1

    def _may_be_our_order(self, order_number: str) -> bool:
        # While one of our orders has no number yet (its POST is in flight, or its answer was lost), any order
        # could be it: fetch, and look at its ExternalOrderNumber.
        return (
            self.store.order_version(order_number) is not None
            or self.store.is_ours("order", order_number)
            or self.store.outgoing_without_number("order")
        )

    def _apply_order(self, order: dict[str, Any]) -> None:
        external = order.get("ExternalOrderNumber")
        outgoing = self.store.outgoing(str(external)) if external else None
        if outgoing is None or outgoing.kind != "order":
            return  # not ours
        self.store.apply_order(order)
        if outgoing.result_key is None:
            # XTND has it, so it was committed even if our POST's answer was lost: stop resending.
            self.store.mark_sent(outgoing.external_number, str(order["OrderNumber"]), self.clock.now())

    # ================================================================== outbox
    async def send_due_outgoing(self, limit: int = 20) -> int:
        due = self.store.due_outgoing(self.clock.now(), limit)
        for outgoing in due:
            await self._send(outgoing)
        return len(due)

    async def _send(self, outgoing: Outgoing) -> None:
        now = self.clock.now
        try:
            body = outgoing.body
            if body is None:
                body = await self._build_body(outgoing)
                with self.store.transaction():
                    self.store.set_body(outgoing.id, body, now())
                # Read back what was stored: if an earlier run fixed a body already, that one is sent.
                stored = self.store.outgoing(outgoing.external_number)
                assert stored is not None and stored.body is not None
                body = stored.body
            result = await self.client.create(outgoing.kind, body)
        except NotBuildable as error:
            log.error("parking %s %s: %s", outgoing.kind, outgoing.external_number, error)
            with self.store.transaction():
                self.store.park_outgoing(outgoing.id, f"NotBuildable: {error}", now())
                self.store.park(
                    outgoing.kind, outgoing.external_number, "NotBuildable", None, str(error), now()
                )
            self.counters.parked += 1
            return
        except XtndError as error:
            self._write_failed(outgoing, error)
            return
        key_field = "OrderNumber" if outgoing.kind == "order" else "CustomerNumber"
        result_key = str(result.record[key_field])
        with self.store.transaction():
            self.store.mark_sent(outgoing.external_number, result_key, now())
            if outgoing.kind == "order":
                self._apply_order(result.record)
            else:
                self.store.apply_record("customer", result_key, result.record)
        self.counters.orders_sent += outgoing.kind == "order"
        log.info(
            "%s %s %s as %s",
            outgoing.kind,
            outgoing.external_number,
            "created" if result.created else "confirmed",
            result_key,
        )

    def _write_failed(self, outgoing: Outgoing, error: XtndError) -> None:
        now = self.clock.now()
        what = f"{outgoing.kind} {outgoing.external_number}"
        if error.kind is ErrorKind.VALIDATION:
            # Sending the same body again can only fail again. Parked until someone changes it.
            log.error("parking %s: %s", what, error.describe())
            with self.store.transaction():
                self.store.park_outgoing(outgoing.id, error.describe(), now)
                self.store.park(
                    outgoing.kind, outgoing.external_number, error.kind, error.status, error.message, now
                )
            self.counters.parked += 1
        elif error.kind is ErrorKind.INTERNAL:
            # The client already retried with back-off. Alert, and send the identical body again after a cool-down:
            # an order must reach XTND, and the idempotency key makes a resend safe.
            log.error(
                "%s failed after retries (%s); sending it again in %.0fs",
                what,
                error,
                self.config.internal_cooldown,
            )
            self.store.defer_outgoing(outgoing.id, now + self.config.internal_cooldown, error.describe(), now)
        else:
            log.warning("%s not sent (%s); trying again later", what, error)
            self.store.defer_outgoing(outgoing.id, now + self.config.retry_later, error.describe(), now)

    async def _build_body(self, outgoing: Outgoing) -> bytes:
        if outgoing.kind == "customer":
            return customer_body(outgoing.external_number, outgoing.request)
        customer = await self._shop_customer()
        products = sorted({line["ProductNumber"] for line in outgoing.request["Lines"]})
        prices = await self._current_prices(str(customer["CustomerNumber"]), products)
        return order_body(
            outgoing.external_number,
            outgoing.request,
            customer=customer,
            prices=prices,
            delivery_method=self.config.delivery_method,
            default_currency=self.config.currency,
        )

    def _shop_customer_number(self) -> str | None:
        return self.config.customer_number or self.store.meta("shop_customer")

    async def _shop_customer(self) -> dict[str, Any]:
        """The customer the shop orders as: configured, or the first one XTND lists (remembered, so a restart
        keeps ordering as the same customer)."""
        number = self._shop_customer_number()
        if number is None:
            number = await self.client.first_customer_number()
            if number is None:
                raise NotBuildable("XTND lists no customers to order as")
            with self.store.transaction():
                self.store.set_meta("shop_customer", number)
        customer = self.store.record("customer", number)
        if customer is None:
            try:
                customer = await self.client.get_record("customer", number)
            except XtndError as error:
                if error.kind is ErrorKind.VALIDATION:
                    raise NotBuildable(f"customer {number!r}: {error.describe()}") from error
                raise
            with self.store.transaction():
                self.store.apply_record("customer", number, customer)
        return customer

    async def _current_prices(
        self, customer_number: str, products: list[str]
    ) -> dict[str, tuple[Any, str | None]]:
        """The customer's best price right now (ProductPrices), falling back to synced prices."""
        prices = self.store.prices(customer_number)
        for start in range(0, len(products), MAX_PRODUCT_NUMBERS):
            chunk = products[start : start + MAX_PRODUCT_NUMBERS]
            try:
                async for page in self.client.product_prices(customer_number, product_numbers=chunk):
                    for row in page.items:
                        prices[str(row["ProductNumber"])] = (row["Price"], row.get("Currency"))
            except XtndError as error:
                if error.kind is not ErrorKind.VALIDATION:
                    raise
                log.warning("ProductPrices refused %s (%s); using synced prices", chunk, error.describe())
        return prices

    # ================================================================== changedSince passes
    def streams(self) -> dict[str, Callable[[], Awaitable[int]]]:
        """The reconciliation passes this configuration runs, by name."""
        streams: dict[str, Callable[[], Awaitable[int]]] = {
            "availability": self.reconcile_availability,
            "orders": self.reconcile_orders,
        }
        if self.config.sync_products:
            streams["products"] = lambda: self.reconcile_records("product")
        if self.config.sync_customers:
            streams["customers"] = lambda: self.reconcile_records("customer")
        if self.config.sync_prices:
            streams["prices"] = self.reconcile_prices
        return streams

    async def _pass(
        self,
        stream: str,
        pages: Callable[[str], AsyncIterator[Page]],
        on_items: Callable[[list[Any]], object],
    ) -> int:
        """One changedSince pass: every page, in order, then the cursor moves (see cursor.py). Returns calls."""
        cursor = ChangedSincePass(self.store.cursor(stream))
        calls = 0
        async for page in pages(cursor.since):
            calls += 1
            with self.store.transaction():
                on_items(page.items)
            cursor.observe_page(calls, page.items)
        with self.store.transaction():
            self.store.save_cursor(stream, cursor.next_cursor)
        return calls

    async def reconcile_availability(self) -> int:
        """ProductAvailability?changedSince returns the rows themselves: apply them, nothing more to fetch."""
        return await self._pass(
            "availability",
            lambda since: self.client.product_availability(changed_since=since),
            self.store.apply_balances,
        )

    async def reconcile_orders(self) -> int:
        """The documented fallback: list orders changed since the cursor, then fetch ours that we lack."""

        def on_items(items: list[Any]) -> None:
            wanted = []
            for item in items:
                outgoing = self.store.outgoing(str(item.get("ExternalOrderNumber")))
                if outgoing is None or outgoing.kind != "order":
                    continue
                number = str(item["OrderNumber"])
                ours = self.store.order_version(number)
                # Equal ChangedAt and Status: we already have this version, so no fetch.
                if ours is None or to_ms(str(item["ChangedAt"])) > ours[0] or item.get("Status") != ours[1]:
                    wanted.append(("order", number))
            self._mark(wanted)

        return await self._pass("orders", lambda since: self.client.list_changed("order", since), on_items)

    async def reconcile_records(self, kind: str) -> int:
        key_field = {"product": "ProductNumber", "customer": "CustomerNumber"}[kind]

        def on_items(items: list[Any]) -> None:
            wanted = []
            for item in items:
                key = str(item[key_field])
                ours = self.store.record_changed_at_ms(kind, key)
                if ours is None or to_ms(str(item["ChangedAt"])) > ours:
                    wanted.append((kind, key))
            self._mark(wanted)

        return await self._pass(f"{kind}s", lambda since: self.client.list_changed(kind, since), on_items)

    async def reconcile_prices(self) -> int:
        number = self._shop_customer_number()
        if number is None:
            await self._shop_customer()
            number = self._shop_customer_number()
        assert number is not None
        return await self._pass(
            f"prices:{number}",
            lambda since: self.client.product_prices(number, changed_since=since),
            lambda items: self.store.apply_prices(items, number),
        )

    def _mark(self, targets: Iterable[tuple[str, str]]) -> None:
        targets = list(targets)
        if targets:
            self.store.mark_records(targets)
            self._records_wakeup.set()

    # ================================================================== loops
    async def run(self) -> None:
        """Run every loop until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._forever("balances", self._balances_loop))
            tasks.create_task(self._forever("records", self._records_loop))
            tasks.create_task(self._forever("outbox", self._outbox_loop))
            tasks.create_task(self._forever("reconcile", self._reconcile_loop))

    async def _forever(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Keep a loop alive: an unexpected error is logged, and the loop starts again a second later."""
        while True:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s loop failed; restarting in 1s", name)
                await self.clock.sleep(1.0)

    async def _balances_loop(self) -> None:
        while True:
            due_in = self.coalescer.due_in()
            if due_in is None or due_in > 0:
                self._balances_wakeup.clear()
                await self.clock.wait(self._balances_wakeup, due_in)
                continue
            # Wait for a rate-limit slot *before* taking the batch: hooks that land meanwhile join this call.
            wait = self.client.pacer.delay(RateGroup.STANDARD)
            if wait > 0:
                await self.clock.sleep(wait)
                continue
            await self.flush_balances()

    async def _records_loop(self) -> None:
        while True:
            if await self.fetch_due_records():
                continue
            next_due = self.store.next_record_due()
            self._records_wakeup.clear()
            await self.clock.wait(
                self._records_wakeup, None if next_due is None else next_due - self.clock.now()
            )

    async def _outbox_loop(self) -> None:
        while True:
            if await self.send_due_outgoing():
                continue
            next_due = self.store.next_outgoing_due()
            self._outbox_wakeup.clear()
            await self.clock.wait(
                self._outbox_wakeup, None if next_due is None else next_due - self.clock.now()
            )

    async def _reconcile_loop(self) -> None:
        streams = self.streams()
        fast = self.config.reconcile_interval if self.config.webhooks else self.config.poll_interval
        interval = {
            name: fast if name in ("availability", "orders") else self.config.reconcile_interval
            for name in streams
        }
        next_run = dict.fromkeys(streams, self.clock.now())  # the first pass runs at start: the initial load
        next_prune = self.clock.now()
        while True:
            for name, run_pass in streams.items():
                if next_run[name] > self.clock.now():
                    continue
                try:
                    await run_pass()
                    next_run[name] = self.clock.now() + interval[name]
                except XtndError as error:
                    log.warning("%s pass failed (%s); next try in %.0fs", name, error, self._later(error))
                    next_run[name] = self.clock.now() + self._later(error)
                except MalformedRecord as error:
                    log.error("%s pass stopped at a malformed record (%s)", name, error)
                    next_run[name] = self.clock.now() + interval[name]
            if next_prune <= self.clock.now():
                with self.store.transaction():
                    self.store.prune_deliveries(self.clock.now() - self.config.delivery_retention)
                next_prune = self.clock.now() + 3600
            await self.clock.sleep(max(0.0, min([*next_run.values(), next_prune]) - self.clock.now()))

    # ================================================================== views
    def probe(self) -> dict[str, Any]:
        """The shop's view, in the harness's probe format."""
        return {
            "Balances": [
                {"ProductNumber": p, "WarehouseNumber": w, "AvailableBalance": b}
                for p, w, b, _ in self.store.balances()
            ],
            "Orders": [{"OrderNumber": n, "Status": s} for n, _, s, _, _ in self.store.orders()],
        }

    def status(self) -> dict[str, Any]:
        return {
            "Counters": asdict(self.counters),
            "PendingBalances": len(self.store.pending_balances()),
            "Outbox": self.store.outbox_counts(),
            "Parked": [
                {"Kind": k, "Key": key, "ErrorType": e, "Status": s, "Message": m}
                for k, key, e, s, m in self.store.parked()
            ],
            "ApiCalls": self.client.calls,
        }


def _subquery(query: AvailabilityQuery, products: tuple[str, ...]) -> AvailabilityQuery:
    chosen = set(products)
    pairs = tuple(pair for pair in query.pairs if pair[0] in chosen)
    warehouses = {w for _, w in pairs}
    return AvailabilityQuery(
        product_numbers=products,
        warehouse_numbers=() if ALL_WAREHOUSES in warehouses else tuple(sorted(warehouses)),
        pairs=pairs,
    )
