"""The sync engine: turns "what to read" into API calls, and the shop's orders into POSTs.

Four independent loops share one API client (and so its rate-limit pacing):

* balances: flush the coalescer: single-item ProductAvailability reads for a few changes, one
  ``modifiedDateFrom`` pass for many; rows applied by changeDate;
* orders: read the shop's orders that hooks (or lists) said changed, one by one (``GET CustomerOrders/{id}``);
* outbox: build each outgoing order's body once, persist it, POST it; an unanswered POST is looked up by
  ``orderNumberExternal`` before it is sent again;
* reconcile: ``modifiedDateFrom`` passes. The first is the initial load (a full read). Without webhooks this
  *is* the sync (the documented fallback); with webhooks it runs rarely and heals hooks that never arrived.

Each loop is a thin ``while True`` around a step method (``flush_balances``, ``read_due_orders``,
``send_due_orders``, ``availability_pass``, ``reconcile_orders``) that tests call directly, with an injected clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .client import MAX_PRICE_PRODUCTS, XtndClient
from .clock import Clock
from .coalescer import BalanceBatch, BalanceCoalescer
from .config import SyncConfig
from .cursor import ModifiedSincePass
from .errors import ErrorKind, XtndError
from .ids import new_instance_tag
from .shop import NotBuildable, order_body, parse_shop_order
from .store import MalformedRecord, Outgoing, Pair, Store
from .timestamps import to_ms
from .webhooks import Delivery, ReadTargets, read_targets

log = logging.getLogger(__name__)

AVAILABILITY = "ProductAvailability"  # its rate-limit family


@dataclass(slots=True)
class Counters:
    """What happened, for the status endpoint, logs and the benchmark."""

    hooks_accepted: int = 0
    hooks_duplicate: int = 0
    hook_commits: int = 0  # transactions that persisted them (group commit: one per batch)
    balance_events: int = 0
    availability_calls: int = 0
    availability_passes: int = 0
    single_reads: int = 0
    rows_read: int = 0
    rows_already_known: int = 0  # listed again with the same changeDate and balance: nothing to do
    order_reads: int = 0
    orders_sent: int = 0
    orders_found_by_lookup: int = 0  # an unanswered POST had been committed after all
    parked: int = 0


class Sync:
    def __init__(self, config: SyncConfig, store: Store, client: XtndClient, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.clock = clock
        self.counters = Counters()
        self.coalescer = BalanceCoalescer(
            clock,
            quiet=config.balance_quiet,
            max_wait=config.balance_max_wait,
            single_reads_max=config.single_reads_max,
        )
        # Pending reads survive restarts: whatever was acknowledged but not yet read is read now.
        self.coalescer.add_all(store.pending_balances())
        self._balances_wakeup = asyncio.Event()
        self._orders_wakeup = asyncio.Event()
        self._outbox_wakeup = asyncio.Event()
        self._availability_pass = asyncio.Lock()  # one modifiedDateFrom pass at a time: one cursor
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
        """Persist what verified webhooks ask us to read, all in one transaction (see inbox.py). For each
        delivery: True if accepted now, False for a duplicate Id (already accepted: nothing is done twice)."""
        now = self.clock.now()
        results: list[tuple[int | None, ReadTargets]] = []
        with self.store.transaction():
            for delivery in deliveries:
                targets = read_targets(delivery.notifications, is_our_order=self._is_our_order)
                mark = self.store.accept_delivery(delivery.id, now, targets.balances, targets.orders)
                results.append((mark, targets))
        self.counters.hook_commits += 1
        # Committed: now the workers may know.
        for mark, targets in results:
            if mark is None:
                self.counters.hooks_duplicate += 1
                continue
            self.counters.hooks_accepted += 1
            self.counters.balance_events += len(targets.balances)
            if self.coalescer.add_all((pair, mark) for pair in targets.balances):
                self._balances_wakeup.set()
            if targets.orders:
                self._orders_wakeup.set()
        return [mark is not None for mark, _ in results]

    def accept_delivery(self, delivery: Delivery) -> bool:
        return self.accept_deliveries([delivery])[0]

    def _is_our_order(self, order_number: str, order_number_external: str | None) -> bool:
        if order_number_external is not None:
            return self.store.outgoing(order_number_external) is not None
        return self.store.has_order(order_number)

    def take_shop_order(self, payload: Any) -> str:
        """The shop takes an order: give it its orderNumberExternal and persist it *before* anything is sent.
        Raises InvalidShopRequest for a request of the wrong shape."""
        request = parse_shop_order(payload)
        with self.store.transaction():
            n = int(self.store.meta("next_order_number") or 1)
            self.store.set_meta("next_order_number", str(n + 1))
            external = f"{self.order_prefix}-{n:06d}"
            self.store.add_outgoing(external, request, self.clock.now())
        self._outbox_wakeup.set()
        return external

    # ================================================================== balances
    async def flush_balances(self) -> int:
        """Read everything the coalescer holds. Returns the number of API calls made."""
        batch = self.coalescer.take()
        before = self.client.calls
        if batch.single_reads:
            await self._read_singly(batch)
        elif batch.pairs:
            try:
                await self.availability_pass()
            except (XtndError, MalformedRecord) as error:
                self._keep_for_later(batch.pairs.items(), error)
        return self.client.calls - before

    async def _read_singly(self, batch: BalanceBatch) -> None:
        """``GET ProductAvailability/{productNumber}/{warehouse}`` for each pending item: each change read once."""
        pending = list(batch.pairs.items())
        for i, (pair, _) in enumerate(pending):
            mark = self.store.current_mark()  # this read answers every hook accepted before it is sent
            try:
                row = await self.client.availability_item(*pair)
                self.counters.availability_calls += 1
                self.counters.single_reads += 1
                with self.store.transaction():
                    self._apply_rows([row])
                    self.store.clear_balances([pair], mark)
            except XtndError as error:
                if error.kind is ErrorKind.VALIDATION:  # 404: no such product or warehouse
                    self._park_balance(pair, error.kind, error.status, error.describe())
                    continue
                self._keep_for_later(pending[i:], error)
                return
            except MalformedRecord as error:
                self._park_balance(pair, "Malformed", None, str(error))

    async def availability_pass(self) -> int:
        """One ``GET ProductAvailability?modifiedDateFrom=<cursor - overlap>`` pass, every page, then the cursor
        moves (see cursor.py). The first pass has no cursor: the initial load, a full read. It answers every hook
        accepted before it started. Returns the number of calls."""
        async with self._availability_pass:
            mark = self.store.current_mark()
            listing = ModifiedSincePass(
                self.store.cursor("availability"), self.config.cursor_overlap, self.clock.now(), "changeDate"
            )
            async for rows in self.client.availability(listing.since):
                self.counters.availability_calls += 1
                with self.store.transaction():
                    self._apply_rows(rows)
                listing.observe(rows)
            next_cursor = listing.next_cursor(self.clock.now())
            with self.store.transaction():
                if next_cursor is not None:
                    self.store.save_cursor("availability", next_cursor)
                self.store.clear_all_balances(mark)
            self.coalescer.forget(mark)
            self.counters.availability_passes += 1
            return listing.pages

    def _apply_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        offered, changed = self.store.apply_balances(rows)
        self.counters.rows_read += offered
        self.counters.rows_already_known += offered - changed

    def _keep_for_later(self, pairs: Iterable[tuple[Pair, int]], error: Exception) -> None:
        """Throttled, Transient or Internal even after the client's retries: still pending (in the store too)."""
        pairs = list(pairs)
        wait = self._later(error)
        log.warning(
            "ProductAvailability failed (%s); %d items kept, next try in %.0fs", error, len(pairs), wait
        )
        self.coalescer.add_all(pairs)
        self.coalescer.hold(wait)

    def _park_balance(self, pair: Pair, kind: str, status: int | None, message: str) -> None:
        product, warehouse = pair
        log.error("parking availability of %s in warehouse %s: %s", product, warehouse or "*", message)
        with self.store.transaction():
            self.store.park(
                "availability", f"{product}@{warehouse or '*'}", kind, status, message, self.clock.now()
            )
            self.store.clear_balances([pair], self.store.current_mark())
        self.counters.parked += 1

    # ================================================================== the shop's orders, read back
    async def read_due_orders(self, limit: int = 50) -> int:
        """Read pending orders that are due. Returns how many were handled (read, parked or deferred)."""
        due = self.store.due_orders(self.clock.now(), limit)
        for pending in due:
            await self._read_order(pending.order_number)
        return len(due)

    async def _read_order(self, order_number: str) -> None:
        mark = self.store.current_mark()
        try:
            order = await self.client.get_order(order_number)
            self.counters.order_reads += 1
            with self.store.transaction():
                self._keep_order(order)
                self.store.clear_order(order_number, mark)
        except XtndError as error:
            if error.kind is ErrorKind.VALIDATION:  # 404: XTND has no such order (any more)
                self._park_order(order_number, error.kind, error.status, error.describe())
            else:
                log.warning("GET CustomerOrders/%s failed (%s); trying again later", order_number, error)
                self.store.defer_order(order_number, self.clock.now() + self._later(error))
        except MalformedRecord as error:
            self._park_order(order_number, "Malformed", None, str(error))

    def _keep_order(self, order: Mapping[str, Any]) -> None:
        number = self.store.apply_order(order)
        header = order["orderHeader"]
        outgoing = self.store.outgoing(str(header["orderNumberExternal"]))
        if outgoing is not None and outgoing.order_number is None:
            # XTND has it, so it was committed even if our POST's answer was lost: stop resending.
            self.store.mark_sent(outgoing.order_number_external, number, self.clock.now())
        self._start_orders_cursor(header.get("orderDate"))

    def _park_order(self, order_number: str, kind: str, status: int | None, message: str) -> None:
        log.error("parking order %s: %s", order_number, message)
        with self.store.transaction():
            self.store.park("order", order_number, kind, status, message, self.clock.now())
            self.store.clear_order(order_number, self.store.current_mark())
        self.counters.parked += 1

    def _start_orders_cursor(self, date: Any) -> None:
        """Orders are listed from the date of the shop's first order on: nothing older can be ours, and a tenant
        does not answer an unfiltered CustomerOrders list."""
        if isinstance(date, str):
            try:
                self.store.start_cursor("orders", to_ms(date))
            except ValueError:
                log.warning("an order date XTND sent is not a date: %r", date)

    # ================================================================== outbox
    async def send_due_orders(self, limit: int = 20) -> int:
        due = self.store.due_outgoing(self.clock.now(), limit)
        for outgoing in due:
            await self._send(outgoing)
        return len(due)

    async def _send(self, outgoing: Outgoing) -> None:
        posted = False
        try:
            if outgoing.in_doubt:
                # An earlier POST got no answer: XTND may have it. Look before sending it again.
                found = await self.client.find_order(outgoing.order_number_external)
                if found is not None:
                    self._found_by_lookup(outgoing, found)
                    return
            body = outgoing.body if outgoing.body is not None else await self._fix_body(outgoing)
            with self.store.transaction():
                self.store.begin_post(outgoing.id, self.clock.now())
            posted = True
            created = await self.client.post_order(body)
        except NotBuildable as error:
            self._park_outgoing(outgoing, "NotBuildable", None, str(error))
            return
        except XtndError as error:
            self._send_failed(outgoing, error, posted)
            return
        header = created["orderHeader"]
        number = str(header["orderNumber"])
        with self.store.transaction():
            self.store.mark_sent(outgoing.order_number_external, number, self.clock.now())
            self.store.add_order_if_absent(
                number, outgoing.order_number_external, str(header["orderStatus"]), created
            )
            self._start_orders_cursor(header.get("orderDate"))
        self.counters.orders_sent += 1
        log.info("order %s created as %s", outgoing.order_number_external, number)

    def _found_by_lookup(self, outgoing: Outgoing, item: Mapping[str, Any]) -> None:
        number, external = str(item["orderNumber"]), outgoing.order_number_external
        with self.store.transaction():
            self.store.mark_sent(external, number, self.clock.now())
            self.store.add_order_if_absent(number, external, str(item["orderStatus"]), item)
            self._start_orders_cursor(item.get("orderDate"))
        self.counters.orders_found_by_lookup += 1
        log.info("order %s was committed as %s although its POST got no answer", external, number)

    def _send_failed(self, outgoing: Outgoing, error: XtndError, posted: bool) -> None:
        now = self.clock.now()
        what = f"order {outgoing.order_number_external}"
        if error.kind is ErrorKind.VALIDATION and posted and "already exists" in error.message.lower():
            # An earlier POST of ours was committed after all (its answer got lost): look it up, do not resend.
            self.store.defer_outgoing(outgoing.id, now, error.describe(), now, in_doubt=True)
        elif error.kind is ErrorKind.VALIDATION:
            # Sending the same request again can only fail again. Parked until someone fixes the order.
            self._park_outgoing(outgoing, error.kind, error.status, error.describe())
        elif not posted:
            # The lookup failed: nothing was sent this time, and what we knew still holds.
            wait = self._later(error)
            log.warning("%s: %s; trying again in %.0fs", what, error, wait)
            self.store.defer_outgoing(
                outgoing.id, now + wait, error.describe(), now, in_doubt=outgoing.in_doubt
            )
        elif error.kind is ErrorKind.INTERNAL:
            # No answer (or a 500): the order may exist. Look it up before the next POST, after a back-off that
            # grows; past a few attempts, alert and slow down to a cool-down.
            attempts = outgoing.attempts + 1
            if attempts < self.config.resend_attempts:
                wait = self.config.resend_backoff * 2 ** (attempts - 1)
                log.warning("%s: %s; looking it up in %.0fs", what, error, wait)
            else:
                wait = self.config.internal_cooldown
                log.error(
                    "%s still not confirmed after %d attempts (%s); next in %.0fs",
                    what,
                    attempts,
                    error,
                    wait,
                )
            self.store.defer_outgoing(outgoing.id, now + wait, error.describe(), now, in_doubt=True)
        else:
            # Throttled, Transient (after the client's retries) or Unauthorized: XTND answered, nothing was created.
            wait = self._later(error)
            log.warning("%s not sent (%s); trying again in %.0fs", what, error, wait)
            self.store.defer_outgoing(outgoing.id, now + wait, error.describe(), now, in_doubt=False)

    def _park_outgoing(self, outgoing: Outgoing, kind: str, status: int | None, message: str) -> None:
        log.error("parking order %s: %s", outgoing.order_number_external, message)
        now = self.clock.now()
        with self.store.transaction():
            self.store.park_outgoing(outgoing.id, f"{kind}: {message}", now)
            self.store.park("outgoing order", outgoing.order_number_external, kind, status, message, now)
        self.counters.parked += 1

    async def _fix_body(self, outgoing: Outgoing) -> bytes:
        """Build the body from the customer's prices right now, and store its exact bytes before the first POST."""
        customer = await self._shop_customer_number()
        products = sorted({row["productNumber"] for row in outgoing.request["rows"]})
        prices: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(products), MAX_PRICE_PRODUCTS):
            chunk = products[start : start + MAX_PRICE_PRODUCTS]
            try:
                rows = await self.client.product_prices(customer, chunk)
            except XtndError as error:
                if error.kind is ErrorKind.VALIDATION:
                    raise NotBuildable(f"ProductPrices refused {chunk}: {error.describe()}") from error
                raise
            for row in rows:
                prices.setdefault(str(row.get("productNumber")), []).append(row)
        body = order_body(
            outgoing.order_number_external,
            outgoing.request,
            customer_number=customer,
            prices=prices,
            delivery_method=self.config.delivery_method,
        )
        with self.store.transaction():
            self.store.set_body(outgoing.id, body, self.clock.now())
        # Read back what was stored: if an earlier run fixed a body already, that one is sent.
        stored = self.store.outgoing(outgoing.order_number_external)
        assert stored is not None and stored.body is not None
        return stored.body

    async def _shop_customer_number(self) -> str:
        """The customer the shop orders as: configured, or the first one XTND lists (remembered, so a restart
        keeps ordering as the same customer)."""
        number = self.config.customer_number or self.store.meta("shop_customer")
        if number is None:
            try:
                number = await self.client.first_customer_number()
            except XtndError as error:
                if error.kind is ErrorKind.VALIDATION:
                    raise NotBuildable(f"Customers refused: {error.describe()}") from error
                raise
            if number is None:
                raise NotBuildable("XTND lists no customers to order as")
            with self.store.transaction():
                self.store.set_meta("shop_customer", number)
        return number

    # ================================================================== orders by modifiedDateFrom
    async def reconcile_orders(self) -> int:
        """``GET CustomerOrders?modifiedDateFrom=`` from the shop's first order on; each order of ours that the
        list shows changed (status, or a newer changeDate) is read singly. Returns the number of list calls."""
        cursor = self.store.cursor("orders")
        if cursor is None:
            return 0  # no order of ours exists yet
        listing = ModifiedSincePass(cursor, self.config.cursor_overlap, self.clock.now(), "changeDate")
        assert listing.since is not None
        async for items in self.client.orders_changed(listing.since):
            with self.store.transaction():
                wanted = [n for n in map(self._listed_order, items) if n is not None]
                if wanted:
                    self.store.mark_orders(wanted)
            if wanted:
                self._orders_wakeup.set()
            listing.observe(items)
        next_cursor = listing.next_cursor(self.clock.now())
        if next_cursor is not None:
            with self.store.transaction():
                self.store.save_cursor("orders", next_cursor)
        return listing.pages

    def _listed_order(self, item: Mapping[str, Any]) -> str | None:
        """The order number to read, if the listed order is ours and our copy may be older."""
        external = item.get("orderNumberExternal")
        outgoing = self.store.outgoing(str(external)) if external else None
        if outgoing is None:
            return None  # another sales channel's order
        try:
            number, status, change_ms = (
                str(item["orderNumber"]),
                str(item["orderStatus"]),
                to_ms(item["changeDate"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedRecord(f"CustomerOrders list item {item!r:.200}: {exc}") from exc
        ours = self.store.order_version(number)
        if ours is None:
            self.store.add_order_if_absent(number, outgoing.order_number_external, status, item)
            if outgoing.order_number is None:  # committed, though its POST got no answer: stop resending
                self.store.mark_sent(outgoing.order_number_external, number, self.clock.now())
        # Our copy has no change date of its own: read it again unless this very listing was already seen.
        wanted = ours is None or status != ours[0] or ours[1] is None or change_ms > ours[1]
        self.store.set_listed_change(number, change_ms)
        return number if wanted else None

    # ================================================================== loops
    async def run(self) -> None:
        """Run every loop until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._forever("balances", self._balances_loop))
            tasks.create_task(self._forever("orders", self._orders_loop))
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
            # Wait for a rate-limit slot *before* taking the batch: hooks that land meanwhile join this read.
            wait = self.client.pacer.delay(AVAILABILITY)
            if wait > 0:
                await self.clock.sleep(wait)
                continue
            await self.flush_balances()

    async def _orders_loop(self) -> None:
        while True:
            if await self.read_due_orders():
                continue
            next_due = self.store.next_order_due()
            self._orders_wakeup.clear()
            await self.clock.wait(
                self._orders_wakeup, None if next_due is None else next_due - self.clock.now()
            )

    async def _outbox_loop(self) -> None:
        while True:
            if await self.send_due_orders():
                continue
            next_due = self.store.next_outgoing_due()
            self._outbox_wakeup.clear()
            await self.clock.wait(
                self._outbox_wakeup, None if next_due is None else next_due - self.clock.now()
            )

    async def _reconcile_loop(self) -> None:
        streams: dict[str, Callable[[], Awaitable[int]]] = {
            "availability": self.availability_pass,
            "orders": self.reconcile_orders,
        }
        interval = self.config.reconcile_interval if self.config.webhooks else self.config.poll_interval
        next_run = dict.fromkeys(streams, self.clock.now())  # the first passes run at start: the initial load
        next_prune = self.clock.now()
        while True:
            for name, run_pass in streams.items():
                if next_run[name] > self.clock.now():
                    continue
                try:
                    await run_pass()
                    next_run[name] = self.clock.now() + interval
                except (XtndError, MalformedRecord) as error:
                    wait = self._later(error)
                    log.warning("%s pass failed (%s); next try in %.0fs", name, error, wait)
                    next_run[name] = self.clock.now() + wait
            if next_prune <= self.clock.now():
                with self.store.transaction():
                    self.store.prune_deliveries(self.clock.now() - self.config.delivery_retention)
                next_prune = self.clock.now() + 3600
            await self.clock.sleep(max(0.0, min([*next_run.values(), next_prune]) - self.clock.now()))

    def _later(self, error: Exception) -> float:
        """How long to leave an item alone after the client gave up on it."""
        if isinstance(error, XtndError) and error.kind is ErrorKind.INTERNAL:
            return self.config.internal_cooldown
        if isinstance(error, XtndError) and error.kind is ErrorKind.UNAUTHORIZED:
            return max(self.client.auth_wait(), 1.0)  # until the client's next try of the credentials
        return self.config.retry_later

    # ================================================================== views
    def probe(self) -> dict[str, Any]:
        """The shop's view, in the harness's probe format."""
        return {
            "balances": [
                {"productNumber": p, "warehouse": w, "availableBalanceNow": b}
                for p, w, b, _ in self.store.balances()
            ],
            "orders": [{"orderNumber": n, "orderStatus": s} for n, _, s, _ in self.store.orders()],
        }

    def status(self) -> dict[str, Any]:
        return {
            "counters": asdict(self.counters),
            "pendingBalances": len(self.store.pending_balances()),
            "outbox": self.store.outbox_counts(),
            "parked": [
                {"kind": k, "key": key, "errorKind": e, "status": s, "message": m}
                for k, key, e, s, m in self.store.parked()
            ],
            "apiCalls": self.client.calls,
            "unauthorized": None if self.client.unauthorized is None else self.client.unauthorized.describe(),
        }
