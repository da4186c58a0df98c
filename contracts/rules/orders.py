"""``no-duplicate-orders``: one order per purchase, keyed by ``orderNumberExternal``; no edits of locked orders."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from .base import Rule, RuleParams, RuleResult, Violation
from .context import JudgeContext
from .model import (
    ORDER_ACTION_STATUS,
    ApiCall,
    Delivery,
    canonical_sha256,
    lookup,
    order_external,
    order_rows,
)

ALREADY_EXISTS = re.compile(r"already exists", re.IGNORECASE)
LOCKED = re.compile(r"no longer be changed|locked", re.IGNORECASE)


def _rows(body: Mapping[str, Any], *, with_prices: bool) -> list[tuple[str, ...]]:
    out = []
    for row in order_rows(body):
        item = [str(lookup(row, "product", "productNumber")), str(lookup(row, "salesData", "quantity"))]
        if with_prices:
            item += [str(lookup(row, "salesData", "unitPrice")), str(lookup(row, "salesData", "currency"))]
        out.append(tuple(item))
    return sorted(out)


def order_content(body: Mapping[str, Any]) -> str:
    """What makes two orders "the same purchase": rows, customer, delivery address (not the external number)."""
    return canonical_sha256(
        {
            "rows": _rows(body, with_prices=True),
            "customerNumber": lookup(body, "orderHeader", "customerNumber"),
            "deliveryAddress": lookup(body, "orderHeader", "deliveryAddress"),
        }
    )


def _request_shape(rows: Any, warehouse: Any) -> tuple[tuple[tuple[str, ...], ...], str | None]:
    shaped = [
        {"product": {"productNumber": r.get("productNumber")}, "salesData": {"quantity": r.get("quantity")}}
        for r in (rows or ())
        if isinstance(r, Mapping)
    ]
    key = tuple(_rows({"orderRows": shaped}, with_prices=False))
    return key, None if warehouse is None else str(warehouse)


def _body_warehouse(body: Mapping[str, Any]) -> str | None:
    warehouses = {lookup(r, "warehouse") for r in order_rows(body)} - {None}
    return str(warehouses.pop()) if len(warehouses) == 1 else None


def committed(call: ApiCall) -> bool:
    """A POST CustomerOrders that made an order: answered 200, or committed before the harness dropped the
    connection (``fault: commit-then-drop`` with a ``resultKey``)."""
    return call.body is not None and call.result_key is not None and (
        call.success or call.fault == "commit-then-drop"
    )


class NoDuplicateOrdersParams(RuleParams):
    window_seconds: float = Field(
        600.0, gt=0, description="identical orders further apart are separate purchases"
    )
    max_locked_edits_per_order: int = Field(
        1, ge=0, description="edits refused as locked tolerated per order"
    )
    max_listed: int = Field(25, ge=1)


class NoDuplicateOrders(Rule[NoDuplicateOrdersParams]):
    """(a) A POST CustomerOrders answered 400 "already exists", or a second order made, for an
    ``orderNumberExternal`` whose earlier POST had committed, with no lookup (``GET
    CustomerOrders?orderNumberExternal=...``) between them that found nothing: a blind resend. (b) Orders created
    with identical rows, customer and address under different ``orderNumberExternal`` values within the window:
    a retry that minted a new key (as many as the harness asked the shop for are fine). (c) ``PUT`` or ``DELETE``
    of an order after more than ``max_locked_edits_per_order`` edits of it were refused as locked (400), with no
    successful edit in between. Identical resends are left to ``no-retry-of-validation-errors``."""

    id: ClassVar[str] = "no-duplicate-orders"
    description: ClassVar[str] = (
        "one order per purchase (an unanswered POST is looked up by orderNumberExternal, never resent blindly); "
        "locked orders stay untouched"
    )
    params_type = NoDuplicateOrdersParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        creates = [c for c in ctx.order_creates if committed(c)]
        edits = [c for c in ctx.calls if c.is_order_edit]
        if not ctx.order_creates and not edits:
            return self.not_applicable("the client neither created nor edited orders")
        violations = self._blind_resends(ctx) + self._duplicates(ctx, creates) + self._locked_edits(ctx, edits)
        checked = len(ctx.order_creates) + len(edits)
        checked_what = "order POSTs and edits"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} duplicate order(s), blind resends or edits of locked orders",
                violations=violations,
                checked=checked,
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"{len(creates)} order(s) created, no duplicates or blind resends; {len(edits)} edit(s), none repeated "
            "on a locked order",
            checked=checked,
            checked_what=checked_what,
        )

    # -- (a) the same orderNumberExternal sent again without looking it up ------------------------------------

    def _blind_resends(self, ctx: JudgeContext) -> list[Violation]:
        by_external: dict[str, list[ApiCall]] = defaultdict(list)
        lookups: dict[str, list[ApiCall]] = defaultdict(list)
        for call in ctx.calls:
            external = call.external_order
            if external is None:
                continue
            if call.is_order_create:
                by_external[external].append(call)
            elif call.is_listing and call.ok:
                lookups[external].append(call)
        out: list[Violation] = []
        for external, posts in by_external.items():
            made = [c for c in posts if committed(c)]
            if not made:
                continue
            first = made[0]
            for post in posts:
                if post.seq <= first.seq:
                    continue
                duplicate = (post.status == 400 and post.message is not None
                             and ALREADY_EXISTS.search(post.message) is not None) or committed(post)
                if not duplicate:
                    continue
                found_nothing = any(
                    first.seq < lk.seq < post.seq and lk.rows == 0 for lk in lookups.get(external, ())
                )
                if found_nothing:
                    continue  # it looked, XTND said "no such order": resending was right
                looked = [lk for lk in lookups.get(external, ()) if first.seq < lk.seq < post.seq]
                what = "was answered 400 already exists" if not committed(post) else (
                    f"made a second order {post.result_key}")
                hint = (
                    f"; lookup #{looked[-1].seq} had found it" if looked else
                    f"; look it up first: GET CustomerOrders?orderNumberExternal={external}"
                )
                out.append(
                    Violation(
                        f"#{post.seq} sent order {external} again after #{first.seq} had made order "
                        f"{first.result_key} and {what}: a blind resend{hint}",
                        (post, first, *looked[-1:]),
                    )
                )
                break
        return out

    # -- (b) the same purchase under a new orderNumberExternal ------------------------------------------------

    def _allowed(self, ctx: JudgeContext, body: Mapping[str, Any]) -> int:
        if not ctx.shop_orders_requested:
            return 1
        asked = Counter(_request_shape(r.get("rows"), r.get("warehouse")) for r in ctx.shop_orders_requested)
        rows = [
            {"productNumber": lookup(r, "product", "productNumber"), "quantity": lookup(r, "salesData", "quantity")}
            for r in order_rows(body)
        ]
        shape = _request_shape(rows, _body_warehouse(body))
        loose = (shape[0], None)
        total = asked.get(shape, 0) + (asked.get(loose, 0) if shape != loose else 0)
        if shape[1] is None:
            total = sum(n for (key, _), n in asked.items() if key == shape[0])
        return max(1, total)

    def _duplicates(self, ctx: JudgeContext, creates: list[ApiCall]) -> list[Violation]:
        p = self.params
        groups: dict[str, list[ApiCall]] = defaultdict(list)
        for call in creates:
            assert call.body is not None
            groups[order_content(call.body)].append(call)
        out: list[Violation] = []
        for calls in groups.values():
            calls.sort(key=lambda c: c.time)
            assert calls[0].body is not None
            allowed = self._allowed(ctx, calls[0].body)
            for i, call in enumerate(calls):
                recent = [c for c in calls[:i] if c.time >= call.time - p.window_seconds]
                externals = {str(order_external(c.body)) for c in recent}
                mine = str(order_external(call.body))
                if len(externals | {mine}) > allowed and mine not in externals:
                    first = recent[0]
                    out.append(
                        Violation(
                            f"#{call.seq} created order {call.result_key or '?'} (orderNumberExternal {mine}) "
                            f"with the same rows, customer and address as #{first.seq} "
                            f"({order_external(first.body)}) {call.time - first.time:.1f} s earlier: a retry must "
                            "keep its orderNumberExternal",
                            (call, *recent[-3:]),
                        )
                    )
        return out

    # -- (c) edits of a locked order --------------------------------------------------------------------------

    def _locked_edits(self, ctx: JudgeContext, edits: list[ApiCall]) -> list[Violation]:
        p = self.params
        by_order: dict[str, list[ApiCall]] = defaultdict(list)
        for call in edits:
            by_order[call.key or ""].append(call)
        out: list[Violation] = []
        for order, calls in by_order.items():
            refused: list[ApiCall] = []
            seen: set[object] = set()
            for call in calls:
                if call.success:
                    refused.clear()  # the order took an edit: it was not locked then
                    continue
                locked = call.status == 400 and call.error_kind == "Validation" and call.fault is None and (
                    call.message is None or LOCKED.search(call.message) is not None)
                if not locked or call.signature in seen:
                    continue  # an identical resend: no-retry-of-validation-errors judges it
                seen.add(call.signature)
                refused.append(call)
                if len(refused) > p.max_locked_edits_per_order:
                    lock = self._lock_hook(ctx, order, call.time)
                    out.append(
                        Violation(
                            f"#{call.seq} tried to change order {order} again after #{refused[0].seq} was refused "
                            f"as locked ({refused[0].message or '400'})"
                            + (f"; hook #{lock.seq} had reported it {lock.notifications[0].action}" if lock else ""),
                            (call, refused[0], *((lock,) if lock else ())),
                        )
                    )
        return out

    @staticmethod
    def _lock_hook(ctx: JudgeContext, order: str, before: float) -> Delivery | None:
        hooks = [
            h
            for h in ctx.hooks_by_order.get(order, [])
            if h.time <= before and not h.forged and h.note.action in ORDER_ACTION_STATUS
        ]
        return hooks[-1].delivery if hooks else None
