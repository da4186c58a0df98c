"""Why did the client fetch the availability of this product? Shared by ``no-per-product-polling`` and
``verify-signatures``.

A fetch of product P (a ProductAvailability call naming P, no ``changedSince``) is explained when one of these
holds, checked in this order:

- ``first-read``: the client never had a good answer for P before (an initial load by product number);
- ``retry``: the client's previous fetch of P failed (its retry behaviour is judged by other rules);
- ``hook``: a hook about P (an action in ``actions``, for a warehouse the fetch covers) was sent to the client
  within ``window`` seconds before the fetch;
- ``pending-hook``: such a hook was sent after the client's last good fetch of P and at most ``backlog`` seconds
  ago (a client that queues triggers under throttling still follows them, just late);
- ``order``: the client created an order with P within ``window`` seconds either side (checking stock before
  or after taking an order), or a hook about one of its orders with P came within ``window`` before;
- ``change-list``: a good ``changedSince`` read of ProductAvailability or Products came at most
  ``change_list_follow`` seconds before ("list with change date, then fetch record by record"; the journal does
  not record answers, so the judge trusts that the list named P; the short delay keeps a poller that also
  reconciles from hiding behind its own change lists).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from .base import Evidence, NearestMiss
from .context import HookItem, JudgeContext
from .model import ORDER_ACTIONS, ApiCall

DEFAULT_TRIGGER_ACTIONS = ("AvailableBalanceChanged", "BalanceChanged", "ProductCreated")


@dataclass(frozen=True)
class Reason:
    kind: str
    text: str
    record: Evidence | None = None


def warehouse_covered(fetch_warehouses: Collection[str], hook_warehouse: str | None) -> bool:
    """A fetch without a warehouse filter covers every warehouse; a hook without one matches any filter."""
    return not fetch_warehouses or hook_warehouse is None or hook_warehouse in fetch_warehouses


class FetchExplainer:
    """Walk the product fetches in journal order; ask ``explain`` for each product, then ``advance``."""

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
        # with hooks_explain_once, a hook explains only the first successful fetch after it (verify-signatures:
        # a genuine hook already followed must not excuse a second fetch right after a forged one)
        self.hooks_explain_once = hooks_explain_once
        self.last_ok: dict[str, ApiCall] = {}
        self.last_failed: dict[str, ApiCall] = {}

        self._change_lists = sorted(
            (
                c
                for c in ctx.calls
                if c.ok
                and c.method == "GET"
                and c.changed_since is not None
                and c.resource in {"ProductAvailability", "Products"}
            ),
            key=lambda c: c.time,
        )
        self._change_list_times = [c.time for c in self._change_lists]

        creates: dict[str, list[ApiCall]] = defaultdict(list)
        for call in ctx.order_creates:
            for product in ctx.order_products.get(call.result_key or "", frozenset()) | set(
                call.product_numbers
            ):
                creates[product].append(call)
            if call.body and call.body.get("ExternalOrderNumber") is not None:
                for product in ctx.order_products.get(str(call.body["ExternalOrderNumber"]), frozenset()):
                    if call not in creates[product]:
                        creates[product].append(call)
        self._creates = {p: sorted(v, key=lambda c: c.time) for p, v in creates.items()}

        order_hooks: dict[str, list[HookItem]] = defaultdict(list)
        for delivery in ctx.deliveries:
            for note in delivery.notifications:
                if note.action in ORDER_ACTIONS and ctx.is_own_order(note):
                    for product in ctx.products_of_order(note):
                        order_hooks[product].append(HookItem(delivery.time, delivery, note))
        self._order_hooks = {p: sorted(v, key=lambda h: h.time) for p, v in order_hooks.items()}

    # -- the question ------------------------------------------------------------------------------------------

    def _usable(self, hook: HookItem, call: ApiCall) -> bool:
        return (
            hook.note.action in self.actions
            and (self.include_forged or not hook.forged)
            and warehouse_covered(call.warehouses, hook.note.warehouse)
        )

    def explain(self, call: ApiCall, product: str) -> Reason | None:
        """The first reason found for this fetch of ``product``, or None: unexplained."""
        previous_ok = self.last_ok.get(product)
        if previous_ok is None and self.allow_first_read:
            return Reason("first-read", f"first read of {product}")
        failed = self.last_failed.get(product)
        if failed is not None and (previous_ok is None or failed.seq > previous_ok.seq):
            return Reason("retry", f"retry after failed fetch #{failed.seq}", failed)

        t = call.time
        recent = next(
            (
                h
                for h in reversed(self.ctx.hooks_for_product(product, t - self.window, t))
                if self._usable(h, call)
                and not (self.hooks_explain_once and previous_ok is not None and previous_ok.time >= h.time)
            ),
            None,
        )
        if recent is not None:
            hook = recent
            return Reason("hook", f"hook #{hook.delivery.seq} {t - hook.time:.1f} s before", hook.delivery)
        since = max(previous_ok.time if previous_ok else float("-inf"), t - self.backlog)
        pending = next(
            (
                h
                for h in self.ctx.hooks_for_product(product, since, t)
                if h.time > since and self._usable(h, call)
            ),
            None,
        )
        if pending is not None:
            hook = pending
            return Reason(
                "pending-hook",
                f"hook #{hook.delivery.seq} {t - hook.time:.1f} s before, not yet followed",
                hook.delivery,
            )

        for create in self._creates.get(product, ()):
            if abs(create.time - t) <= self.window:
                return Reason("order", f"order created by #{create.seq}", create)
        for hook in self._order_hooks.get(product, ()):
            if t - self.window <= hook.time <= t and (self.include_forged or not hook.forged):
                return Reason("order", f"order hook #{hook.delivery.seq}", hook.delivery)

        if self.change_list_follow > 0:
            i = bisect.bisect_right(self._change_list_times, t) - 1
            if (
                i >= 0
                and self._change_lists[i].time >= t - self.change_list_follow
                and self._change_lists[i].seq < call.seq
            ):
                listed = self._change_lists[i]
                return Reason("change-list", f"after change list #{listed.seq}", listed)
        return None

    def advance(self, call: ApiCall) -> None:
        """Remember the outcome of ``call`` for every product it named."""
        for product in call.product_numbers:
            if call.ok:
                self.last_ok[product] = call
            else:
                self.last_failed[product] = call

    # -- the nearest miss --------------------------------------------------------------------------------------

    def nearest_miss(self, call: ApiCall, product: str) -> NearestMiss | None:
        """The hook about ``product`` closest in time to this fetch, and why it does not explain it."""
        hooks = self.ctx.hooks_by_product.get(product, [])
        if not hooks:
            return None
        hook = min(hooks, key=lambda h: (abs(h.time - call.time), h.delivery.seq))
        seq = hook.delivery.seq
        delta = call.time - hook.time
        if hook.time > call.time:
            why = f"hook #{seq} about {product} came {-delta:.1f} s after the fetch"
        elif hook.forged and not self.include_forged:
            why = f"hook #{seq} about {product} was forged (bad signature)"
        elif not warehouse_covered(call.warehouses, hook.note.warehouse):
            asked = ", ".join(sorted(call.warehouses))
            why = f"hook #{seq} was for {product} in warehouse {hook.note.warehouse}; the fetch asked for {asked}"
        elif hook.note.action not in self.actions:
            why = f"hook #{seq} was {hook.note.action}, not a balance change"
        else:
            previous = self.last_ok.get(product)
            followed = (
                f"; fetch #{previous.seq} had already followed it"
                if previous and previous.time >= hook.time
                else ""
            )
            why = (
                f"hook #{seq} about {product} came {delta:.1f} s before (window {self.window:g} s){followed}"
            )
        return NearestMiss(why, hook.delivery)
