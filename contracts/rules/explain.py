"""Why did the client read this one record? Shared by ``no-per-product-polling`` and ``verify-signatures``.

A single-item read (``ApiCall.item_subjects``: ``GET ProductAvailability/{pn}/{wh}``, ``GET
ProductAvailability?productNumber=X``, ``GET Products/{id}`` or ``?productNumber=X``, ``GET CustomerOrders/{id}``,
``GET Customers/{id}``) is about subjects ``("product", P)``, ``("order", N)`` or ``("customer", C)``. A read of a
subject is explained when one of these holds, checked in this order:

- ``first-read``: the client never had a good answer about it before (an initial load record by record);
- ``retry``: the client's previous read of it failed (its retry behaviour is judged by other rules);
- ``hook``: a hook about it (for a product's availability: an action in ``actions``, for a warehouse the read
  covers; for its master data, ``GET Products``: ``ProductCreated``/``ProductChanged``; for an order: any order
  action; for a customer: ``CustomerCreated``/``CustomerChanged``) was sent to the client within ``window``
  seconds before the read;
- ``pending-hook``: such a hook was sent after the client's last good read of it and at most ``backlog`` seconds
  ago (a client that queues triggers under throttling still follows them, just late);
- ``order``: a product the client ordered within ``window`` seconds either side (checking stock before or after
  taking an order), or a hook about one of its orders with that product came within ``window`` before;
- ``write``: an order or customer the client wrote itself (created, changed, cancelled) within ``window`` seconds
  either side;
- ``change-list``: a good change-filtered list of the subject's resource (``modifiedDateFrom`` on
  ProductAvailability for a product's availability, on Products for its master data, on CustomerOrders for an
  order; ``changedAfterDate`` on Customers) came at most ``change_list_follow`` seconds before ("list by change date, then record by record";
  the journal does not record answers, so the judge trusts that the list named it; the short delay keeps a
  poller that also reconciles from hiding behind its own change lists).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from .base import Evidence, NearestMiss
from .context import HookItem, JudgeContext
from .model import ORDER_ACTIONS, ApiCall, order_external

DEFAULT_TRIGGER_ACTIONS = ("AvailableBalanceChanged", "BalanceChanged", "ProductCreated")
#: What says a product's master data (``GET Products/{id}``) changed.
PRODUCT_DATA_ACTIONS = frozenset({"ProductCreated", "ProductChanged"})
CUSTOMER_ACTIONS = frozenset({"CustomerCreated", "CustomerChanged"})
#: The lists whose change-filtered read names records of each subject kind.
CHANGE_LISTS = {
    "product": frozenset({"ProductAvailability"}),
    "productData": frozenset({"Products"}),
    "order": frozenset({"CustomerOrders"}),
    "customer": frozenset({"Customers"}),
}

Subject = tuple[str, str]


@dataclass(frozen=True)
class Reason:
    kind: str
    text: str
    record: Evidence | None = None


def warehouse_covered(fetch_warehouses: Collection[str], hook_warehouse: str | None) -> bool:
    """A read without a warehouse covers every warehouse; a hook without one matches any read."""
    return not fetch_warehouses or hook_warehouse is None or hook_warehouse in fetch_warehouses


def describe(subject: Subject) -> str:
    kind, key = subject
    if kind == "product":
        return key
    return f"product data {key}" if kind == "productData" else f"{kind} {key}"


class FetchExplainer:
    """Walk the single-item reads in journal order; ask ``explain`` for each subject, then ``advance``."""

    def __init__(
        self,
        ctx: JudgeContext,
        *,
        window: float,
        backlog: float,
        actions: Collection[str] = DEFAULT_TRIGGER_ACTIONS,
        include_forged: bool = True,
        allow_first_read: bool = True,
        change_list_follow: float = 5.0,
        hooks_explain_once: bool = False,
    ) -> None:
        self.ctx = ctx
        self.window = window
        self.backlog = backlog
        self.actions = frozenset(actions)
        self.include_forged = include_forged
        self.allow_first_read = allow_first_read
        self.change_list_follow = change_list_follow
        # with hooks_explain_once, a hook explains only the first successful read after it (verify-signatures:
        # a genuine hook already followed must not excuse a second read right after a forged one)
        self.hooks_explain_once = hooks_explain_once
        self.last_ok: dict[Subject, ApiCall] = {}
        self.last_failed: dict[Subject, ApiCall] = {}

        lists: dict[str, list[ApiCall]] = defaultdict(list)
        for call in ctx.calls:
            if call.ok and call.is_change_list:
                for kind, resources in CHANGE_LISTS.items():
                    if call.resource in resources:
                        lists[kind].append(call)
        self._change_lists = {k: sorted(v, key=lambda c: c.time) for k, v in lists.items()}
        self._change_list_times = {k: [c.time for c in v] for k, v in self._change_lists.items()}

        creates: dict[str, list[ApiCall]] = defaultdict(list)
        for call in ctx.order_creates:
            products = set(call.product_numbers)
            for key in (call.result_key, order_external(call.body)):
                if key is not None:
                    products |= ctx.order_products.get(key, frozenset())
            for product in products:
                creates[product].append(call)
        self._creates = {p: sorted(v, key=lambda c: c.time) for p, v in creates.items()}

        order_hooks: dict[str, list[HookItem]] = defaultdict(list)
        for delivery in ctx.deliveries:
            for note in delivery.notifications:
                if note.action in ORDER_ACTIONS and ctx.is_own_order(note):
                    for product in ctx.products_of_order(note):
                        order_hooks[product].append(HookItem(delivery.time, delivery, note))
        self._order_hooks = {p: sorted(v, key=lambda h: h.time) for p, v in order_hooks.items()}

        writes: dict[Subject, list[ApiCall]] = defaultdict(list)
        for call in ctx.calls:
            if not call.is_write or call.resource not in ("CustomerOrders", "Customers"):
                continue
            kind = "order" if call.resource == "CustomerOrders" else "customer"
            for key in {call.key, call.result_key} - {None}:
                assert key is not None
                writes[(kind, key)].append(call)
        self._writes = {s: sorted(v, key=lambda c: c.time) for s, v in writes.items()}

    # -- the question ------------------------------------------------------------------------------------------

    def _usable(self, hook: HookItem, call: ApiCall, kind: str) -> bool:
        if hook.forged and not self.include_forged:
            return False
        if kind == "product":
            return hook.note.action in self.actions and warehouse_covered(call.warehouses, hook.note.warehouse)
        if kind == "productData":
            return hook.note.action in PRODUCT_DATA_ACTIONS
        if kind == "order":
            return hook.note.action in ORDER_ACTIONS
        return hook.note.action in CUSTOMER_ACTIONS

    def explain(self, call: ApiCall, subject: Subject | str) -> Reason | None:
        """The first reason found for this read of ``subject`` (a bare string is a product), or None."""
        if isinstance(subject, str):
            subject = ("product", subject)
        kind, key = subject
        previous_ok = self.last_ok.get(subject)
        if previous_ok is None and self.allow_first_read:
            return Reason("first-read", f"first read of {describe(subject)}")
        failed = self.last_failed.get(subject)
        if failed is not None and (previous_ok is None or failed.seq > previous_ok.seq):
            return Reason("retry", f"retry after failed read #{failed.seq}", failed)

        t = call.time
        recent = next(
            (
                h
                for h in reversed(self.ctx.hooks_between(kind, key, t - self.window, t))
                if self._usable(h, call, kind)
                and not (self.hooks_explain_once and previous_ok is not None and previous_ok.time >= h.time)
            ),
            None,
        )
        if recent is not None:
            return Reason("hook", f"hook #{recent.delivery.seq} {t - recent.time:.1f} s before", recent.delivery)
        since = max(previous_ok.time if previous_ok else float("-inf"), t - self.backlog)
        pending = next(
            (h for h in self.ctx.hooks_between(kind, key, since, t) if h.time > since and self._usable(h, call, kind)),
            None,
        )
        if pending is not None:
            return Reason(
                "pending-hook",
                f"hook #{pending.delivery.seq} {t - pending.time:.1f} s before, not yet followed",
                pending.delivery,
            )

        if kind in ("product", "productData"):
            for create in self._creates.get(key, ()):
                if abs(create.time - t) <= self.window:
                    return Reason("order", f"order created by #{create.seq}", create)
            for hook in self._order_hooks.get(key, ()):
                if t - self.window <= hook.time <= t and (self.include_forged or not hook.forged):
                    return Reason("order", f"order hook #{hook.delivery.seq}", hook.delivery)
        else:
            for write in self._writes.get(subject, ()):
                if abs(write.time - t) <= self.window and write.seq != call.seq:
                    return Reason("write", f"written by the client in #{write.seq}", write)

        if self.change_list_follow > 0:
            times = self._change_list_times.get(kind, [])
            i = bisect.bisect_right(times, t) - 1
            if i >= 0:
                listed = self._change_lists[kind][i]
                if listed.time >= t - self.change_list_follow and listed.seq < call.seq:
                    return Reason("change-list", f"after change list #{listed.seq}", listed)
        return None

    def advance(self, call: ApiCall) -> None:
        """Remember the outcome of ``call`` for every subject it read."""
        for subject in call.item_subjects:
            if call.ok:
                self.last_ok[subject] = call
            else:
                self.last_failed[subject] = call

    # -- the nearest miss --------------------------------------------------------------------------------------

    def nearest_miss(self, call: ApiCall, subject: Subject | str) -> NearestMiss | None:
        """The hook about ``subject`` closest in time to this read, and why it does not explain it."""
        if isinstance(subject, str):
            subject = ("product", subject)
        kind, key = subject
        hooks = self.ctx.hooks_about(kind, key)
        if not hooks:
            return None
        hook = min(hooks, key=lambda h: (abs(h.time - call.time), h.delivery.seq))
        seq = hook.delivery.seq
        delta = call.time - hook.time
        name = describe(subject)
        if hook.time > call.time:
            why = f"hook #{seq} about {name} came {-delta:.1f} s after the read"
        elif hook.forged and not self.include_forged:
            why = f"hook #{seq} about {name} was forged (bad signature)"
        elif kind == "product" and not warehouse_covered(call.warehouses, hook.note.warehouse):
            asked = ", ".join(sorted(call.warehouses))
            why = f"hook #{seq} was for {key} in warehouse {hook.note.warehouse}; the read asked for {asked}"
        elif not self._usable(hook, call, kind):
            why = f"hook #{seq} was {hook.note.action}, which does not say that {name} changed"
        else:
            previous = self.last_ok.get(subject)
            followed = (
                f"; read #{previous.seq} had already followed it"
                if previous and previous.time >= hook.time
                else ""
            )
            why = f"hook #{seq} about {name} came {delta:.1f} s before (window {self.window:g} s){followed}"
        return NearestMiss(why, hook.delivery)
