"""Polling rules: XTND "does not accept clients that call every N minutes for each product"."""

from __future__ import annotations

from collections import defaultdict, deque
from typing import ClassVar

from pydantic import Field

from .base import NearestMiss, Rule, RuleParams, RuleResult, Violation
from .context import JudgeContext
from .explain import DEFAULT_TRIGGER_ACTIONS, FetchExplainer
from .model import ApiCall


def steady_runs(
    times: list[float], *, min_repetitions: int, max_jitter: float, min_interval: float
) -> list[tuple[int, int]]:
    """Index ranges ``(i, j)`` (inclusive) of at least ``min_repetitions`` times spaced by a steady interval:
    every gap within ``max_jitter`` (a fraction) of the run's first gap, which is at least ``min_interval``."""
    runs: list[tuple[int, int]] = []
    i = 0
    n = len(times)
    while i < n - 1:
        ref = times[i + 1] - times[i]
        if ref < max(min_interval, 1e-9):
            i += 1
            continue
        j = i + 1
        while j + 1 < n and abs((times[j + 1] - times[j]) - ref) <= max_jitter * ref:
            j += 1
        if j - i + 1 >= min_repetitions:
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


class PerProductPollingParams(RuleParams):
    window_seconds: float = Field(
        30.0, gt=0, description="a hook, order or change list this recent explains a fetch"
    )
    backlog_seconds: float = Field(
        600.0, ge=0, description="a hook not yet followed explains a fetch this late"
    )
    budget: int = Field(10, ge=0, description="unexplained product fetches tolerated per budget window")
    budget_window_seconds: float = Field(60.0, gt=0)
    periodic_min_repetitions: int = Field(4, ge=3, description="unexplained fetches at a steady interval")
    periodic_max_jitter: float = Field(
        0.2, ge=0, description="gap deviation allowed, as a fraction of the gap"
    )
    periodic_min_interval_seconds: float = Field(
        1.0, ge=0, description="shorter gaps are bursts, not a period"
    )
    trigger_actions: tuple[str, ...] = DEFAULT_TRIGGER_ACTIONS
    change_list_follow_seconds: float = Field(
        5.0, ge=0, description="a fetch this soon after a changedSince list is its record-by-record follow-up"
    )
    max_listed: int = Field(25, ge=1)


class NoPerProductPolling(Rule[PerProductPollingParams]):
    """(a) Product fetches no hook, order or change list explains, above a budget per window; (b) product
    fetches repeated at a steady interval. Both count only unexplained fetches (see ``explain.py``; for (b) a
    change list does not explain), so a client that fetches in batches after hooks, however often, passes."""

    id: ClassVar[str] = "no-per-product-polling"
    description: ClassVar[str] = (
        "availability is fetched per product only after a hook (or order) says it changed"
    )
    params_type = PerProductPollingParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        availability = [c for c in ctx.calls if c.is_availability]
        fetches = [c for c in availability if c.is_product_fetch and c.page == 1]
        if not availability:
            return self.not_applicable("the client never called ProductAvailability")
        explainer = FetchExplainer(
            ctx,
            window=p.window_seconds,
            backlog=p.backlog_seconds,
            actions=p.trigger_actions,
            include_forged=True,  # acting on a forged hook is verify-signatures' business
            change_list_follow=p.change_list_follow_seconds,
        )
        violations: list[Violation] = []
        recent: deque[tuple[float, int]] = deque()
        in_window = 0
        unexplained_total = 0
        product_fetches = 0
        peak = 0
        per_product: dict[str, list[ApiCall]] = defaultdict(list)
        for call in fetches:
            unexplained: list[str] = []
            for product in dict.fromkeys(call.product_numbers):
                product_fetches += 1
                reason = explainer.explain(call, product)
                if reason is None:
                    unexplained.append(product)
                if reason is None or reason.kind == "change-list":
                    # a change list cannot be checked (answers are not journalled): it excuses a fetch from
                    # the budget, not from the steady-interval test (reconcile-then-refresh-all every N s)
                    per_product[product].append(call)
            if unexplained:
                unexplained_total += len(unexplained)
                recent.append((call.time, len(unexplained)))
                in_window += len(unexplained)
                while recent and recent[0][0] <= call.time - p.budget_window_seconds:
                    in_window -= recent.popleft()[1]
                peak = max(peak, in_window)
                if in_window > p.budget:
                    miss = next(
                        (m for m in (explainer.nearest_miss(call, q) for q in unexplained) if m is not None),
                        None,
                    )
                    shown = ", ".join(unexplained[:5]) + (
                        f" and {len(unexplained) - 5} more" if len(unexplained) > 5 else ""
                    )
                    violations.append(
                        Violation(
                            f"#{call.seq} fetched {shown} with no hook, order or change list to explain it: "
                            f"{in_window} unexplained product fetches in the {p.budget_window_seconds:g} s up to "
                            f"it (budget {p.budget})",
                            (call,),
                            miss
                            or NearestMiss(f"no hook about {unexplained[0]} was sent to the client at all"),
                        )
                    )
            explainer.advance(call)

        violations.extend(self._periodic(per_product))
        checked_what = f"availability fetches naming products ({product_fetches} product fetches)"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} polling violation(s): {unexplained_total} product fetches were not "
                "triggered by a hook, an order or a change list",
                violations=violations,
                checked=len(fetches),
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"{unexplained_total} unexplained product fetches, peak {peak} per {p.budget_window_seconds:g} s "
            f"(budget {p.budget}); no steady polling",
            checked=len(fetches),
            checked_what=checked_what,
        )

    def _periodic(self, per_product: dict[str, list[ApiCall]]) -> list[Violation]:
        p = self.params
        found: dict[tuple[int, ...], tuple[list[str], list[ApiCall], float]] = {}
        for product, calls in per_product.items():
            times = [c.time for c in calls]
            for i, j in steady_runs(
                times,
                min_repetitions=p.periodic_min_repetitions,
                max_jitter=p.periodic_max_jitter,
                min_interval=p.periodic_min_interval_seconds,
            ):
                run = calls[i : j + 1]
                key = tuple(c.seq for c in run)
                period = (run[-1].time - run[0].time) / (len(run) - 1)
                entry = found.setdefault(key, ([], run, period))
                entry[0].append(product)
        out = []
        for products, run, period in found.values():
            shown = ", ".join(products[:5]) + (f" and {len(products) - 5} more" if len(products) > 5 else "")
            out.append(
                Violation(
                    f"{shown} fetched {len(run)} times every {period:.1f} s (steady interval), each time with "
                    f"no hook or order explaining it: polling, from #{run[0].seq} to #{run[-1].seq}",
                    tuple(run),
                )
            )
        return out


class BlindListPollingParams(RuleParams):
    budget: int = Field(1, ge=0, description="full re-reads tolerated per window, besides the first read")
    window_seconds: float = Field(600.0, gt=0)
    max_listed: int = Field(25, ge=1)


class NoBlindListPolling(Rule[BlindListPollingParams]):
    """Full list reads (no ``changedSince``; for ProductAvailability and ProductPrices, no product filter)
    repeated too often. Only page 1 with a 2xx answer starts a read; later pages and retries of a failed page 1
    are part of the same read. Each distinct query (paging aside) may be read once for free."""

    id: ClassVar[str] = "no-blind-list-polling"
    description: ClassVar[str] = "lists are re-read with changedSince, not re-read in full"
    params_type = BlindListPollingParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        listings = [c for c in ctx.calls if c.is_listing]
        if not listings:
            return self.not_applicable("the client made no list calls")
        reads: dict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], list[ApiCall]] = defaultdict(list)
        for call in listings:
            if call.is_full_read and call.page == 1 and call.ok:
                rest = tuple((k, v) for k, v in call.query.items() if k not in {"page", "pageSize"})
                reads[(call.path.lower(), rest)].append(call)
        violations: list[Violation] = []
        total = 0
        for calls in reads.values():
            total += len(calls)
            window: deque[ApiCall] = deque()
            for call in calls[1:]:  # the first read of a query is the initial load
                window.append(call)
                while window and window[0].time <= call.time - p.window_seconds:
                    window.popleft()
                if len(window) > p.budget:
                    earlier = [
                        c for c in calls if call.time - p.window_seconds < c.time < call.time or c is calls[0]
                    ]
                    violations.append(
                        Violation(
                            f"#{call.seq} re-read {call.resource} in full without changedSince: "
                            f"{len(window)} full re-reads in {p.window_seconds:g} s (budget {p.budget}) after "
                            f"the first read #{calls[0].seq}",
                            (call, *[c for c in earlier if c is not call][-5:]),
                        )
                    )
        checked_what = f"list calls ({total} full reads)"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} full re-read(s) over budget: use changedSince",
                violations=violations,
                checked=len(listings),
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"{total} full read(s) over {len(reads)} distinct list queries, within budget",
            checked=len(listings),
            checked_what=checked_what,
        )
