"""Webhook rules: hooks are triggers, acknowledged fast, and only when genuinely signed."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from typing import ClassVar

from pydantic import Field

from .base import NearestMiss, Rule, RuleParams, RuleResult, Violation
from .context import JudgeContext
from .explain import DEFAULT_TRIGGER_ACTIONS, FetchExplainer, Reason, Subject, describe, warehouse_covered
from .model import (
    ORDER_ACTION_STATUS,
    ORDER_ACTIONS,
    ORDER_FOLLOW_ACTIONS,
    ApiCall,
    Delivery,
    Notification,
    try_parse_time,
)


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


def _since_ok(call: ApiCall, hook_time: float) -> bool:
    """A change-filtered list can include a change only if its filter is not later than the change."""
    since = try_parse_time(call.modified_from) if call.modified_from else None
    return since is None or since <= hook_time


def _covers_balance(call: ApiCall, hook_time: float, warehouse: str | None) -> bool:
    """An availability read naming the product (or a list) covering the warehouse, asking for changes since no
    later than the hook."""
    return warehouse_covered(call.warehouses, warehouse) and _since_ok(call, hook_time)


class HooksAreTriggersParams(RuleParams):
    window_seconds: float = Field(
        30.0, gt=0, description="time allowed between a hook and the read it triggers"
    )
    min_followed_ratio: float = Field(0.95, ge=0, le=1, description="share of hooks that must be followed")
    order_actions: tuple[str, ...] = ORDER_FOLLOW_ACTIONS
    balance_actions: tuple[str, ...] = ("AvailableBalanceChanged",)
    max_listed: int = Field(25, ge=1)


class HooksAreTriggers(Rule[HooksAreTriggersParams]):
    """Every genuine hook the client acknowledged is followed by the matching read within the window:
    ``AvailableBalanceChanged`` -> a ProductAvailability read of the product (``/{pn}/{wh}`` or
    ``?productNumber=``, for a warehouse it covers), or an availability list (by ``modifiedDateFrom`` not later
    than the hook, or in full); an order hook about an order the client created -> ``GET CustomerOrders/{id}``,
    a lookup by ``orderNumber``/``orderNumberExternal``, or a CustomerOrders list by ``modifiedDateFrom`` not
    later than the hook. Attempts of one delivery (same ``Id``) count once; other sales channels' orders and
    other actions need no follow-up."""

    id: ClassVar[str] = "hooks-are-triggers"
    description: ClassVar[str] = (
        "hooks are followed by a read of what they name (they are triggers, not data)"
    )
    params_type = HooksAreTriggersParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        if not ctx.webhooks_enabled:
            return self.not_applicable("webhooks were off in this run")
        by_product: dict[str, list[ApiCall]] = defaultdict(list)
        availability_lists: list[ApiCall] = []
        by_order: dict[str, list[ApiCall]] = defaultdict(list)
        order_lists: list[ApiCall] = []
        for call in sorted(ctx.calls, key=lambda c: (c.time, c.seq)):
            if call.is_availability:
                products = [key for kind, key in call.item_subjects if kind == "product"]
                for product in products:
                    by_product[product].append(call)
                if not products and call.is_listing and not call.is_lookup:
                    availability_lists.append(call)
            elif call.method == "GET" and call.resource == "CustomerOrders":
                if not call.is_listing and call.key is not None:
                    by_order[call.key].append(call)
                elif call.is_lookup:
                    for name in ("orderNumber", "orderNumberExternal"):
                        for value in call.query.get(name, ()):
                            by_order[value].append(call)
                elif call.is_change_list:
                    order_lists.append(call)

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
                    pools = [by_product.get(note.product, []), availability_lists]
                    what = f"a ProductAvailability read of {note.product}"
                elif note.action in p.order_actions and note.order is not None and ctx.is_own_order(note):
                    pools = [by_order.get(note.order, []), order_lists]
                    if note.external_order is not None:
                        pools.append(by_order.get(note.external_order, []))
                    what = f"GET CustomerOrders/{note.order}"
                else:
                    continue
                expected += 1
                if any(self._follows(c, note, t) for pool in pools for c in _between(pool, t, deadline)):
                    followed += 1
                    continue
                if deadline > ctx.end_time:
                    late += 1
                violations.append(
                    Violation(
                        f"hook #{delivered.seq} ({note.describe()}) was acknowledged but not followed by {what} "
                        f"within {p.window_seconds:g} s",
                        (delivered,),
                        self._nearest([c for pool in pools for c in pool], delivered.time, note, what),
                    )
                )
        if expected == 0:
            return self.not_applicable("no acknowledged genuine hook called for a read")
        ratio = followed / expected
        checked_what = "acknowledged hooks that call for a read"
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

    @staticmethod
    def _follows(call: ApiCall, note: Notification, hook_time: float) -> bool:
        if note.product is not None:
            return _covers_balance(call, hook_time, note.warehouse)
        return _since_ok(call, hook_time)

    def _nearest(self, candidates: list[ApiCall], t: float, note: Notification, what: str) -> NearestMiss:
        if not candidates:
            return NearestMiss(f"the client never made {what}")
        call = min(candidates, key=lambda c: (abs(c.time - t), c.seq))
        delta = call.time - t
        if delta < 0:
            why = f"#{call.seq} came {-delta:.1f} s before the hook"
        elif note.product is not None and not warehouse_covered(call.warehouses, note.warehouse):
            why = (
                f"#{call.seq} asked for warehouse {', '.join(sorted(call.warehouses))}, "
                f"the hook was for {note.warehouse}"
            )
        elif delta > self.params.window_seconds:
            why = f"#{call.seq} came {delta:.1f} s after the hook (window {self.params.window_seconds:g} s)"
        else:
            why = f"#{call.seq} asked for changes since {call.modified_from}, later than the hook"
        return NearestMiss(why, call)


class AckHooksFastParams(RuleParams):
    max_latency_ms: float = Field(1000.0, gt=0, description="slowest acceptable answer to a hook")
    tolerated: int = Field(0, ge=0, description="failed or slow answers tolerated")
    syn_retransmit_band_ms: float = Field(
        250.0,
        ge=0,
        description="an answer within this much over 1,000 ms is explained as a 1 s TCP SYN retransmit",
    )
    max_listed: int = Field(25, ge=1)


#: Linux retransmits an unanswered SYN after 1 s: a receiver whose listen backlog is full adds exactly that.
SYN_RETRANSMIT_MS = 1000.0


class AckHooksFast(Rule[AckHooksFastParams]):
    """Genuine delivery attempts answered non-2xx (410 excepted: it means "stop"), not answered at all, or
    answered slower than ``max_latency_ms``: each forces a retry. Forged hooks are excluded (refusing them is
    right), and attempts the fake itself dropped or delayed (``fault``) are not held against the client. An
    answer that took just over 1 s is explained as what it almost always is: the receiver's listen backlog was
    full, the kernel dropped the fake's connection request and TCP resent it after 1 s."""

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
        syn = 0
        for attempt in attempts:
            if attempt.status is None:
                why = f"got no answer ({attempt.error or 'unknown error'})"
            elif not (200 <= attempt.status < 300) and attempt.status != 410:
                why = f"was answered {attempt.status}"
            elif attempt.latency_ms > p.max_latency_ms and attempt.fault != "delay":
                why = f"took {attempt.latency_ms:.0f} ms to answer (limit {p.max_latency_ms:g} ms)"
                if self._syn_retransmit(attempt.latency_ms):
                    syn += 1
                    why += (
                        f": about {SYN_RETRANSMIT_MS:.0f} ms of it was a TCP SYN retransmit - the receiver's listen "
                        "backlog was full when the fake connected, so the kernel dropped the connection request "
                        "and TCP resent it 1 s later. Accept connections promptly and answer hooks in parallel "
                        "(XTND's senders connect in parallel; e.g. Python's http.server keeps only 5 pending "
                        "connections)"
                    )
            else:
                continue
            violations.append(Violation(f"hook #{attempt.seq} attempt {attempt.attempt} {why}", (attempt,)))
        checked_what = "genuine delivery attempts"
        syn_note = f"; {syn} of them delayed by a full listen backlog (1 s SYN retransmit)" if syn else ""
        if len(violations) > p.tolerated:
            return self.result(
                "failed",
                f"{len(violations)} of {len(attempts)} genuine hook attempts failed or were slow "
                f"(tolerated {p.tolerated}){syn_note}",
                violations=violations,
                checked=len(attempts),
                checked_what=checked_what,
            )
        slowest = max(a.latency_ms for a in attempts)
        return self.result(
            "passed",
            f"{len(attempts) - len(violations)} of {len(attempts)} attempts acknowledged in time "
            f"(slowest {slowest:.0f} ms){syn_note}",
            checked=len(attempts),
            checked_what=checked_what,
        )

    def _syn_retransmit(self, latency_ms: float) -> bool:
        return SYN_RETRANSMIT_MS <= latency_ms <= SYN_RETRANSMIT_MS + self.params.syn_retransmit_band_ms


def _subjects(note: Notification) -> list[Subject]:
    """What a (forged) hook would make a client read."""
    if note.product is not None:
        return [("product", note.product), ("productData", note.product)]
    if note.order is not None and note.action in ORDER_ACTIONS:
        return [("order", note.order)]
    return []


class VerifySignaturesParams(RuleParams):
    window_seconds: float = Field(
        30.0, gt=0, description="a read this soon after a forged hook is acting on it"
    )
    backlog_seconds: float = Field(600.0, ge=0)
    max_listed: int = Field(25, ge=1)


class VerifySignatures(Rule[VerifySignaturesParams]):
    """Forged hooks (``forged: true`` or a ``tampered-signature`` fault) must be refused: a 2xx answer is a
    violation; so is acting on one: a read of its product or order within the window that no genuine hook,
    order of the client's, own write or change list explains; and so is its value in the client's probe where
    the truth differs."""

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
        subjects = {s for attempt in forged for note in attempt.notifications for s in _subjects(note)}
        explainer = FetchExplainer(
            ctx,
            window=p.window_seconds,
            backlog=p.backlog_seconds,
            actions=DEFAULT_TRIGGER_ACTIONS,
            include_forged=False,
            allow_first_read=False,
            hooks_explain_once=True,
        )
        reasons: dict[tuple[int, Subject], Reason | None] = {}
        for call in ctx.calls:
            if call.item_subjects and call.is_first_page_or_single:  # later pages belong to the same read
                for subject in set(call.item_subjects) & subjects:
                    reasons[(call.seq, subject)] = explainer.explain(call, subject)
                explainer.advance(call)

        out: list[Violation] = []
        flagged: set[Subject] = set()
        for attempt in forged:
            window = ctx.calls_between(attempt.time, attempt.time + p.window_seconds)
            for note in attempt.notifications:
                for subject in _subjects(note):
                    if subject in flagged:
                        continue
                    for call in window:
                        if subject not in call.item_subjects or reasons.get((call.seq, subject), "x") is not None:
                            continue
                        if subject[0] == "product" and not warehouse_covered(call.warehouses, note.warehouse):
                            continue
                        flagged.add(subject)
                        out.append(
                            Violation(
                                f"#{call.seq} read {describe(subject)} {call.time - attempt.time:.1f} s after forged "
                                f"hook #{attempt.seq}, with no genuine hook, order or own write explaining it",
                                (call, attempt),
                            )
                        )
                        break
        return out

    def _in_state(self, ctx: JudgeContext, forged: list[Delivery]) -> list[Violation]:
        out: list[Violation] = []
        for attempt in forged:
            for note in attempt.notifications:
                if note.action == "AvailableBalanceChanged" and note.product is not None:
                    key = (note.product, str(note.warehouse))
                    claimed = note.balance
                    held = ctx.probe_balances.get(key, {}).get("availableBalanceNow")
                    true = ctx.truth_balances.get(key, {}).get("availableBalanceNow")
                    if claimed is not None and held == claimed and true != claimed:
                        out.append(
                            Violation(
                                f"the probe holds {note.product}@{note.warehouse} = {held}, the value forged hook "
                                f"#{attempt.seq} claimed; the truth is {true}",
                                (attempt,),
                            )
                        )
                elif note.action in ORDER_ACTION_STATUS and note.order is not None:
                    claimed_statuses = ORDER_ACTION_STATUS[note.action]
                    held_status = ctx.probe_orders.get(note.order, {}).get("orderStatus")
                    true_status = ctx.truth_orders.get(note.order, {}).get("orderStatus")
                    if held_status in claimed_statuses and true_status != held_status:
                        out.append(
                            Violation(
                                f"the probe shows order {note.order} as {held_status}, as forged hook "
                                f"#{attempt.seq} claimed; the truth is {true_status}",
                                (attempt,),
                            )
                        )
        return out
