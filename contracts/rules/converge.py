"""``converges``: after the run settles, the client's view agrees with the truth."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from .base import Evidence, NearestMiss, Rule, RuleParams, RuleResult, Violation
from .context import JudgeContext
from .explain import warehouse_covered


class ConvergesParams(RuleParams):
    require_seen_items: bool = Field(
        True, description="items the client was told about (hook or fetch) must be in the probe"
    )
    full_read_requires_all: bool = Field(
        True, description="after a full availability read, every item with a non-zero balance must be held"
    )
    max_listed: int = Field(25, ge=1)


def _same(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return bool(a == b)


class Converges(Rule[ConvergesParams]):
    """Compares the probe (``GET /xtnd/probe``) with the truth (``GET /_mock/state``) after the run settled.
    Balances: every item the probe holds must equal the truth; items the client was told about (a genuine
    ``AvailableBalanceChanged`` it acknowledged, a good fetch naming the product, or a good full availability
    read) must be held, unless their truth is 0 (a client may drop empty rows); items the client never heard
    of may be absent. Orders: every order the client created (its ``orderNumberExternal`` values in the journal's
    ``POST CustomerOrders`` bodies) must be held with the truth's ``orderStatus``; no order may be unknown to the
    truth. The probe is ``{"balances": [{productNumber, warehouse, availableBalanceNow}], "orders":
    [{orderNumber, orderStatus}]}``; the truth is ``GET /_mock/state``."""

    id: ClassVar[str] = "converges"
    description: ClassVar[str] = "after the run settles, the client's balances and orders equal the truth"
    params_type = ConvergesParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        if ctx.probe is None:
            return self.not_checked("the client serves no probe (GET /xtnd/probe)")
        if ctx.truth is None:
            return self.not_checked("the harness supplied no truth (GET /_mock/state)")
        violations: list[Violation] = []
        required = self._required_items(ctx)
        compared = 0
        for key, row in sorted(ctx.probe_balances.items()):
            product, warehouse = key
            truth = ctx.truth_balances.get(key)
            held = row.get("availableBalanceNow")
            if truth is None:
                violations.append(
                    Violation(
                        f"the probe holds {product}@{warehouse} = {held}, an item the truth does not know"
                    )
                )
                continue
            compared += 1
            if not _same(held, truth.get("availableBalanceNow")):
                evidence, miss = self._last_word(ctx, product, warehouse)
                violations.append(
                    Violation(
                        f"{product}@{warehouse}: the probe holds {held}, the truth is {truth.get('availableBalanceNow')}",
                        evidence,
                        miss,
                    )
                )
        missing_allowed = 0
        for key, truth in sorted(ctx.truth_balances.items()):
            if key in ctx.probe_balances:
                continue
            product, warehouse = key
            reason = required.get(key)
            if reason is None or _same(truth.get("availableBalanceNow"), 0):
                missing_allowed += 1
                continue
            evidence, miss = self._last_word(ctx, product, warehouse)
            violations.append(
                Violation(
                    f"{product}@{warehouse} (truth {truth.get('availableBalanceNow')}) is missing from the probe "
                    f"although {reason}",
                    evidence,
                    miss,
                )
            )

        own = {
            number: order
            for number, order in ctx.truth_orders.items()
            if str(order.get("orderNumberExternal")) in ctx.own_external_orders
        }
        for number, order in sorted(own.items()):
            held_order = ctx.probe_orders.get(number)
            if held_order is None:
                violations.append(
                    Violation(
                        f"order {number} ({order.get('orderNumberExternal')}), created by the client, is missing "
                        f"from the probe (truth: {order.get('orderStatus')})",
                        self._order_evidence(ctx, number),
                    )
                )
        for number, held_order in sorted(ctx.probe_orders.items()):
            truth_order = ctx.truth_orders.get(number)
            if truth_order is None:
                violations.append(Violation(f"the probe holds order {number}, which the truth does not know"))
            elif held_order.get("orderStatus") != truth_order.get("orderStatus"):
                violations.append(
                    Violation(
                        f"order {number}: the probe says {held_order.get('orderStatus')}, the truth is "
                        f"{truth_order.get('orderStatus')}",
                        self._order_evidence(ctx, number),
                    )
                )
        checked = compared + len(ctx.probe_orders)
        checked_what = "probe rows compared with the truth"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} difference(s) between the client's view and the truth",
                violations=violations,
                checked=checked,
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"the probe agrees with the truth ({compared} balances, {len(ctx.probe_orders)} orders, "
            f"{len(own)} of them the client's; {missing_allowed} truth items not held, none needed)",
            checked=checked,
            checked_what=checked_what,
        )

    def _required_items(self, ctx: JudgeContext) -> dict[tuple[str, str], str]:
        """Items the client must hold, with why."""
        p = self.params
        required: dict[tuple[str, str], str] = {}
        if not p.require_seen_items:
            return required
        truth_keys = set(ctx.truth_balances)
        for delivery in ctx.deliveries:
            if delivery.forged or not delivery.delivered:
                continue
            for note in delivery.notifications:
                if note.action == "AvailableBalanceChanged" and note.product is not None:
                    required.setdefault(
                        (note.product, str(note.warehouse)), f"hook #{delivery.seq} told the client about it"
                    )
        by_product: dict[str, list[str]] = {}
        for product, warehouse in truth_keys:
            by_product.setdefault(product, []).append(warehouse)
        for call in ctx.calls:
            if not (call.is_availability and call.ok):
                continue
            products = [key for kind, key in call.item_subjects if kind == "product"]
            if products:
                for product in products:
                    for warehouse in by_product.get(product, []):
                        if warehouse_covered(call.warehouses, warehouse):
                            required.setdefault((product, warehouse), f"fetch #{call.seq} read it")
            elif p.full_read_requires_all and call.is_full_read:
                for product, warehouse in truth_keys:
                    if warehouse_covered(call.warehouses, warehouse):
                        required.setdefault((product, warehouse), f"full read #{call.seq} listed it")
        return required

    @staticmethod
    def _last_word(
        ctx: JudgeContext, product: str, warehouse: str
    ) -> tuple[tuple[Evidence, ...], NearestMiss | None]:
        """The last genuine hook and the last fetch about the item: where the client's value should have come from."""
        hooks = [
            h
            for h in ctx.hooks_by_product.get(product, [])
            if not h.forged
            and h.note.action == "AvailableBalanceChanged"
            and str(h.note.warehouse) == warehouse
        ]
        fetches = [c for c in ctx.calls if c.is_availability and ("product", product) in c.item_subjects]
        evidence: list[Evidence] = []
        miss = None
        if hooks:
            last = hooks[-1]
            evidence.append(last.delivery)
            miss = NearestMiss(
                f"the last hook about it (#{last.delivery.seq}) said {last.note.balance}",
                last.delivery,
            )
        if fetches:
            evidence.append(fetches[-1])
        return tuple(evidence), miss

    @staticmethod
    def _order_evidence(ctx: JudgeContext, number: str) -> tuple[Evidence, ...]:
        out: list[Evidence] = []
        out.extend([c for c in ctx.order_creates if c.result_key == number][:1])
        hooks = [h for h in ctx.hooks_by_order.get(number, []) if not h.forged]
        if hooks:
            out.append(hooks[-1].delivery)
        fetches = [
            c for c in ctx.calls if c.method == "GET" and c.resource == "CustomerOrders" and c.key == number
        ]
        if fetches:
            out.append(fetches[-1])
        return tuple(out)
