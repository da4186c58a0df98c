"""``no-duplicate-orders``: one order per purchase, and no edits of locked orders."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from .base import Rule, RuleParams, RuleResult, Violation
from .context import JudgeContext
from .model import ORDER_ACTION_STATUS, ApiCall, Delivery, canonical_sha256


def _lines(body: Mapping[str, Any], *, with_prices: bool) -> list[tuple[str, ...]]:
    out = []
    for line in body.get("Lines") or ():
        if not isinstance(line, Mapping):
            continue
        item = [str(line.get("ProductNumber")), str(line.get("Quantity"))]
        if with_prices:
            item += [str(line.get("UnitPrice")), str(line.get("Currency"))]
        out.append(tuple(item))
    return sorted(out)


def order_content(body: Mapping[str, Any]) -> str:
    """What makes two orders "the same purchase": lines, customer, delivery address (not the external number)."""
    return canonical_sha256(
        {
            "Lines": _lines(body, with_prices=True),
            "CustomerNumber": body.get("CustomerNumber"),
            "DeliveryAddress": body.get("DeliveryAddress"),
        }
    )


def _request_shape(lines: Any, warehouse: Any) -> tuple[tuple[tuple[str, ...], ...], str | None]:
    return tuple(_lines({"Lines": lines}, with_prices=False)), None if warehouse is None else str(warehouse)


class NoDuplicateOrdersParams(RuleParams):
    window_seconds: float = Field(
        600.0, gt=0, description="identical orders further apart are separate purchases"
    )
    max_locked_edits_per_order: int = Field(
        1, ge=0, description="edits refused as locked tolerated per order"
    )
    max_listed: int = Field(25, ge=1)


class NoDuplicateOrders(Rule[NoDuplicateOrdersParams]):
    """(a) Orders created (201, or committed before the connection was dropped) with identical content under
    different ExternalOrderNumbers within the window: a retry that minted a new idempotency key. When the
    harness says which orders it asked the shop for (``shop_orders_requested``), as many identical orders as it
    asked for are fine. (b) ``PUT`` or ``cancel`` of an order after the fake already refused an edit of it (422
    Validation) with no successful edit in between: a locked order is not edited again. Identical resends are
    left to ``no-retry-of-validation-errors``."""

    id: ClassVar[str] = "no-duplicate-orders"
    description: ClassVar[str] = (
        "one order per purchase (retries keep the ExternalOrderNumber); locked orders stay untouched"
    )
    params_type = NoDuplicateOrdersParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        creates = [
            c
            for c in ctx.order_creates
            if c.body is not None and (c.status == 201 or (c.fault == "commit-then-drop" and c.result_key))
        ]
        edits = [c for c in ctx.calls if c.is_order_edit]
        if not ctx.order_creates and not edits:
            return self.not_applicable("the client neither created nor edited orders")
        violations = self._duplicates(ctx, creates) + self._locked_edits(ctx, edits)
        checked = len(creates) + len(edits)
        checked_what = "orders created and edits"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} duplicate order(s) or edit(s) of locked orders",
                violations=violations,
                checked=checked,
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"{len(creates)} order(s) created, no duplicates; {len(edits)} edit(s), none repeated on a locked order",
            checked=checked,
            checked_what=checked_what,
        )

    def _allowed(self, ctx: JudgeContext, body: Mapping[str, Any]) -> int:
        if not ctx.shop_orders_requested:
            return 1
        asked = Counter(
            _request_shape(r.get("Lines"), r.get("WarehouseNumber")) for r in ctx.shop_orders_requested
        )
        shape = _request_shape(body.get("Lines"), body.get("WarehouseNumber"))
        loose = (shape[0], None)
        return max(1, asked.get(shape, 0) + (asked.get(loose, 0) if shape != loose else 0))

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
                assert call.body is not None
                recent = [c for c in calls[:i] if c.time >= call.time - p.window_seconds]
                externals = {str((c.body or {}).get("ExternalOrderNumber")) for c in recent}
                mine = str(call.body.get("ExternalOrderNumber"))
                if len(externals | {mine}) > allowed and mine not in externals:
                    first = recent[0]
                    out.append(
                        Violation(
                            f"#{call.seq} created order {call.result_key or '?'} (ExternalOrderNumber {mine}) with "
                            f"the same lines, customer and address as #{first.seq} "
                            f"({(first.body or {}).get('ExternalOrderNumber')}) {call.time - first.time:.1f} s "
                            "earlier: a retry must keep its ExternalOrderNumber",
                            (call, *recent[-3:]),
                        )
                    )
        return out

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
                if not (call.status == 422 and call.error_type == "Validation" and call.fault is None):
                    continue
                if call.signature in seen:
                    continue  # an identical resend: no-retry-of-validation-errors judges it
                seen.add(call.signature)
                refused.append(call)
                if len(refused) > p.max_locked_edits_per_order:
                    lock = self._lock_hook(ctx, order, call.time)
                    out.append(
                        Violation(
                            f"#{call.seq} tried to change order {order} again after #{refused[0].seq} was refused "
                            "as locked (422)"
                            + (f"; hook #{lock.seq} had reported it locked" if lock else ""),
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
