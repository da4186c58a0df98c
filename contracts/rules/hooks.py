"""Webhook rules: hooks are triggers, acknowledged fast, and only when genuinely signed."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from typing import ClassVar

from pydantic import Field

from .base import NearestMiss, Rule, RuleParams, RuleResult, Violation
from .context import JudgeContext
from .explain import DEFAULT_TRIGGER_ACTIONS, FetchExplainer, Reason, warehouse_covered
from .model import ORDER_ACTION_STATUS, ORDER_ACTIONS, ORDER_FOLLOW_ACTIONS, ApiCall, Delivery, try_parse_time


def _first_received(attempts: list[Delivery]) -> Delivery | None:
    """The first attempt the receiver answered at all (it may have acted before answering)."""
    return next((a for a in attempts if a.status is not None), None)


def _group_attempts(deliveries: Iterable[Delivery]) -> dict[str, list[Delivery]]:
    """Attempts of one notification: the same envelope ``Id``, or the same ``NotificationId`` (a duplicate
    sent under another Id is still the same news; a receiver may deduplicate it)."""
    groups: dict[str, list[Delivery]] = defaultdict(list)
    by_notification: dict[str, str] = {}
    for delivery in deliveries:
        key = delivery.delivery_id
        if delivery.notification_id is not None:
            key = by_notification.setdefault(delivery.notification_id, key)
        groups[key].append(delivery)
    return groups


def _between(calls: list[ApiCall], start: float, end: float) -> list[ApiCall]:
    """Calls (sorted by time) that arrived in ``[start, end]``."""
    lo = bisect.bisect_left(calls, start, key=_arrival)
    return calls[lo : bisect.bisect_right(calls, end, lo=lo, key=_arrival)]


def _arrival(call: ApiCall) -> float:
    return call.time


def _covers_balance(call: ApiCall, hook_time: float, warehouse: str | None) -> bool:
    """A fetch naming the product (or a list read) covering the warehouse, asking for changes since no later
    than the hook."""
    if not warehouse_covered(call.warehouses, warehouse):
        return False
    since = try_parse_time(call.changed_since) if call.changed_since else None
    return since is None or since <= hook_time


class HooksAreTriggersParams(RuleParams):
    window_seconds: float = Field(
        30.0, gt=0, description="time allowed between a hook and the fetch it triggers"
    )
    min_followed_ratio: float = Field(0.95, ge=0, le=1, description="share of hooks that must be followed")
    order_actions: tuple[str, ...] = ORDER_FOLLOW_ACTIONS
    balance_actions: tuple[str, ...] = ("AvailableBalanceChanged",)
    max_listed: int = Field(25, ge=1)


class HooksAreTriggers(Rule[HooksAreTriggersParams]):
    """Every genuine hook the client acknowledged is followed by the matching fetch within the window:
    ``AvailableBalanceChanged`` -> a ProductAvailability call naming the product (for a warehouse it covers) or a
    list/``changedSince`` availability read whose change date is not later than the hook; an order hook about an
    order the client created -> ``GET CustomerOrders/{OrderNumber}``. Attempts of one delivery (same ``Id``)
    count once; other sales channels' orders and other actions need no follow-up."""

    id: ClassVar[str] = "hooks-are-triggers"
    description: ClassVar[str] = (
        "hooks are followed by a fetch of what they name (they are triggers, not data)"
    )
    params_type = HooksAreTriggersParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        if not ctx.webhooks_enabled:
            return self.not_applicable("webhooks were off in this run")
        by_product: dict[str, list[ApiCall]] = defaultdict(list)
        lists: list[ApiCall] = []
        by_order: dict[str, list[ApiCall]] = defaultdict(list)
        for call in sorted(ctx.calls, key=lambda c: (c.time, c.seq)):
            if call.is_availability:
                if call.product_numbers:
                    for product in call.product_numbers:
                        by_product[product].append(call)
                else:
                    lists.append(call)
            elif call.method == "GET" and call.resource == "CustomerOrders" and call.key is not None:
                by_order[call.key].append(call)

        expected = followed = late = 0
        violations: list[Violation] = []
        for attempts in _group_attempts(d for d in ctx.deliveries if not d.forged).values():
            delivered = next((a for a in attempts if a.delivered), None)
            if delivered is None:
                continue
            first = _first_received(attempts) or delivered
            # The client may act on an attempt it failed to acknowledge, or only on the one it acknowledged.
            t = first.time
            deadline = delivered.time + p.window_seconds
            for note in delivered.notifications:
                if note.action in p.balance_actions and note.product is not None:
                    pools = [by_product.get(note.product, []), lists]
                    about_balance = True
                    what = f"a ProductAvailability fetch of {note.product}"
                elif note.action in p.order_actions and note.order is not None and ctx.is_own_order(note):
                    pools = [by_order.get(note.order, [])]
                    about_balance = False
                    what = f"GET CustomerOrders/{note.order}"
                else:
                    continue
                expected += 1
                if any(
                    not about_balance or _covers_balance(c, t, note.warehouse)
                    for pool in pools
                    for c in _between(pool, t, deadline)
                ):
                    followed += 1
                    continue
                if deadline > ctx.end_time:
                    late += 1
                violations.append(
                    Violation(
                        f"hook #{delivered.seq} ({note.describe()}) was acknowledged but not followed by {what} "
                        f"within {p.window_seconds:g} s",
                        (delivered,),
                        self._nearest(
                            [c for pool in pools for c in pool], delivered.time, note.warehouse, what
                        ),
                    )
                )
        if expected == 0:
            return self.not_applicable("no acknowledged genuine hook called for a fetch")
        ratio = followed / expected
        checked_what = "acknowledged hooks that call for a fetch"
        tail = f" ({late} of them less than {p.window_seconds:g} s before the run ended)" if late else ""
        if ratio < p.min_followed_ratio:
            return self.result(
                "failed",
                f"{followed} of {expected} hooks followed ({ratio:.0%}, at least {p.min_followed_ratio:.0%} "
                f"required); {expected - followed} ignored or taken as data{tail}",
                violations=violations,
                checked=expected,
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"{followed} of {expected} hooks followed ({ratio:.0%}){tail}",
            checked=expected,
            checked_what=checked_what,
        )

    def _nearest(self, candidates: list[ApiCall], t: float, warehouse: str | None, what: str) -> NearestMiss:
        if not candidates:
            return NearestMiss(f"the client never made {what}")
        call = min(candidates, key=lambda c: (abs(c.time - t), c.seq))
        delta = call.time - t
        if delta < 0:
            why = f"#{call.seq} came {-delta:.1f} s before the hook"
        elif not warehouse_covered(call.warehouses, warehouse):
            why = f"#{call.seq} asked for warehouse {', '.join(sorted(call.warehouses))}, the hook was for {warehouse}"
        elif delta > self.params.window_seconds:
            why = f"#{call.seq} came {delta:.1f} s after the hook (window {self.params.window_seconds:g} s)"
        else:
            why = f"#{call.seq} asked for changes since {call.changed_since}, later than the hook"
        return NearestMiss(why, call)


class AckHooksFastParams(RuleParams):
    max_latency_ms: float = Field(1000.0, gt=0, description="slowest acceptable answer to a hook")
    tolerated: int = Field(0, ge=0, description="failed or slow answers tolerated")
    max_listed: int = Field(25, ge=1)


class AckHooksFast(Rule[AckHooksFastParams]):
    """Genuine delivery attempts answered non-2xx (410 excepted: it means "stop"), not answered at all, or
    answered slower than ``max_latency_ms``: each forces a retry. Forged hooks are excluded (refusing them is
    right), and attempts the fake itself dropped or delayed (``Fault``) are not held against the client."""

    id: ClassVar[str] = "ack-hooks-fast"
    description: ClassVar[str] = (
        "valid hooks are acknowledged with 2xx, quickly (work is done after the answer)"
    )
    params_type = AckHooksFastParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        if not ctx.webhooks_enabled and not ctx.deliveries:
            return self.not_applicable("webhooks were off in this run")
        attempts = [d for d in ctx.deliveries if not d.forged and d.fault != "drop"]
        if not attempts:
            return self.not_applicable("no genuine hook was sent to the client")
        violations: list[Violation] = []
        for attempt in attempts:
            if attempt.status is None:
                why = f"got no answer ({attempt.error or 'unknown error'})"
            elif not (200 <= attempt.status < 300) and attempt.status != 410:
                why = f"was answered {attempt.status}"
            elif attempt.latency_ms > p.max_latency_ms and attempt.fault != "delay":
                why = f"took {attempt.latency_ms:.0f} ms to answer (limit {p.max_latency_ms:g} ms)"
            else:
                continue
            violations.append(Violation(f"hook #{attempt.seq} attempt {attempt.attempt} {why}", (attempt,)))
        checked_what = "genuine delivery attempts"
        if len(violations) > p.tolerated:
            return self.result(
                "failed",
                f"{len(violations)} of {len(attempts)} genuine hook attempts failed or were slow "
                f"(tolerated {p.tolerated})",
                violations=violations,
                checked=len(attempts),
                checked_what=checked_what,
            )
        slowest = max(a.latency_ms for a in attempts)
        return self.result(
            "passed",
            f"{len(attempts) - len(violations)} of {len(attempts)} attempts acknowledged in time "
            f"(slowest {slowest:.0f} ms)",
            checked=len(attempts),
            checked_what=checked_what,
        )


class VerifySignaturesParams(RuleParams):
    window_seconds: float = Field(
        30.0, gt=0, description="a fetch this soon after a forged hook is acting on it"
    )
    backlog_seconds: float = Field(600.0, ge=0)
    max_listed: int = Field(25, ge=1)


class VerifySignatures(Rule[VerifySignaturesParams]):
    """Forged hooks (``Forged: true`` or a ``tampered-signature`` fault) must be refused: a 2xx answer is a
    violation; so is acting on one: a fetch of its product or order within the window that no genuine hook,
    order of the client's or change list explains; and so is its value in the client's probe where the truth
    differs."""

    id: ClassVar[str] = "verify-signatures"
    description: ClassVar[str] = "hooks with a bad or missing signature are refused and never acted upon"
    params_type = VerifySignaturesParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        forged = [d for d in ctx.deliveries if d.forged]
        if not forged:
            return self.not_applicable("the harness sent no forged hook")
        violations: list[Violation] = []
        for attempt in forged:
            if attempt.delivered:
                violations.append(
                    Violation(f"forged hook #{attempt.seq} was accepted with {attempt.status}", (attempt,))
                )
        violations.extend(self._acted_on(ctx, forged))
        probe_note = ""
        if ctx.probe is None or ctx.truth is None:
            probe_note = "; forged values in the client's state not checked (no probe)"
        else:
            violations.extend(self._in_state(ctx, forged))
        checked_what = "forged hooks"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} violation(s): forged hooks accepted or acted upon{probe_note}",
                violations=violations,
                checked=len(forged),
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"{len(forged)} forged hook(s) refused and not acted upon{probe_note}",
            checked=len(forged),
            checked_what=checked_what,
        )

    def _acted_on(self, ctx: JudgeContext, forged: list[Delivery]) -> list[Violation]:
        p = self.params
        products = {n.product for d in forged for n in d.notifications if n.product is not None}
        explainer = FetchExplainer(
            ctx,
            window=p.window_seconds,
            backlog=p.backlog_seconds,
            actions=DEFAULT_TRIGGER_ACTIONS,
            include_forged=False,
            allow_first_read=False,
            hooks_explain_once=True,
        )
        reasons: dict[tuple[int, str], Reason | None] = {}
        for call in ctx.calls:
            if call.is_product_fetch and call.page == 1:  # later pages belong to the same fetch
                for product in set(call.product_numbers) & products:
                    reasons[(call.seq, product)] = explainer.explain(call, product)
                explainer.advance(call)

        out: list[Violation] = []
        flagged: set[tuple[str, str]] = set()
        for attempt in forged:
            window = ctx.calls_between(attempt.time, attempt.time + p.window_seconds)
            for note in attempt.notifications:
                if note.product is not None and ("product", note.product) not in flagged:
                    for call in window:
                        if (
                            call.is_product_fetch
                            and note.product in call.product_numbers
                            and warehouse_covered(call.warehouses, note.warehouse)
                            and reasons.get((call.seq, note.product), "missing") is None
                        ):
                            flagged.add(("product", note.product))
                            out.append(
                                Violation(
                                    f"#{call.seq} fetched {note.product} {call.time - attempt.time:.1f} s after "
                                    f"forged hook #{attempt.seq}, with no genuine hook or order explaining it",
                                    (call, attempt),
                                )
                            )
                            break
                elif (
                    note.order is not None
                    and note.action in ORDER_ACTIONS
                    and ("order", note.order) not in flagged
                ):
                    for call in window:
                        if (
                            call.method == "GET"
                            and call.resource == "CustomerOrders"
                            and call.key == note.order
                            and not self._order_fetch_explained(ctx, call)
                        ):
                            flagged.add(("order", note.order))
                            out.append(
                                Violation(
                                    f"#{call.seq} fetched order {note.order} {call.time - attempt.time:.1f} s "
                                    f"after forged hook #{attempt.seq}, with no genuine hook explaining it",
                                    (call, attempt),
                                )
                            )
                            break
        return out

    def _order_fetch_explained(self, ctx: JudgeContext, call: ApiCall) -> bool:
        start = call.time - self.params.window_seconds
        for hook in ctx.hooks_by_order.get(call.key or "", []):
            if start <= hook.time <= call.time and not hook.forged:
                return True
        for other in ctx.calls_between(start, call.time):
            if other.is_write and other.seq < call.seq and call.key in {other.key, other.result_key}:
                return True
        return False

    def _in_state(self, ctx: JudgeContext, forged: list[Delivery]) -> list[Violation]:
        out: list[Violation] = []
        for attempt in forged:
            for note in attempt.notifications:
                if note.action == "AvailableBalanceChanged" and note.product is not None:
                    key = (note.product, str(note.warehouse))
                    claimed = note.details.get("AvailableBalance")
                    held = ctx.probe_balances.get(key, {}).get("AvailableBalance")
                    true = ctx.truth_balances.get(key, {}).get("AvailableBalance")
                    if claimed is not None and held == claimed and true != claimed:
                        out.append(
                            Violation(
                                f"the probe holds {note.product}@{note.warehouse} = {held}, the value forged hook "
                                f"#{attempt.seq} claimed; the truth is {true}",
                                (attempt,),
                            )
                        )
                elif note.action in ORDER_ACTION_STATUS and note.order is not None:
                    claimed_status = ORDER_ACTION_STATUS[note.action]
                    held = ctx.probe_orders.get(note.order, {}).get("Status")
                    true = ctx.truth_orders.get(note.order, {}).get("Status")
                    if held == claimed_status and true != claimed_status:
                        out.append(
                            Violation(
                                f"the probe shows order {note.order} as {held}, as forged hook #{attempt.seq} "
                                f"claimed; the truth is {true}",
                                (attempt,),
                            )
                        )
        return out
