"""Polling rules: XTND "does not accept clients that call every N minutes for each product"; lists are re-read by
their change filter (``modifiedDateFrom``, ``changedAfterDate``), never in full on a timer."""

from __future__ import annotations

from collections import defaultdict, deque
from typing import ClassVar

from pydantic import Field

from .base import NearestMiss, Rule, RuleParams, RuleResult, Violation
from .context import JudgeContext
from .explain import DEFAULT_TRIGGER_ACTIONS, FetchExplainer, Subject, describe
from .model import CHANGE_FILTERS, ApiCall


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
        30.0, gt=0, description="a hook, order, own write or change list this recent explains a read"
    )
    backlog_seconds: float = Field(
        600.0, ge=0, description="a hook not yet followed explains a read this late"
    )
    budget: int = Field(10, ge=0, description="unexplained single-item reads tolerated per budget window")
    budget_window_seconds: float = Field(60.0, gt=0)
    periodic_min_repetitions: int = Field(4, ge=3, description="unexplained reads at a steady interval")
    periodic_max_jitter: float = Field(
        0.2, ge=0, description="gap deviation allowed, as a fraction of the gap"
    )
    periodic_min_interval_seconds: float = Field(
        1.0, ge=0, description="shorter gaps are bursts, not a period"
    )
    trigger_actions: tuple[str, ...] = DEFAULT_TRIGGER_ACTIONS
    change_list_follow_seconds: float = Field(
        5.0, ge=0, description="a read this soon after a change-filtered list is its record-by-record follow-up"
    )
    max_listed: int = Field(25, ge=1)


class NoPerProductPolling(Rule[PerProductPollingParams]):
    """Single-item reads (``GET ProductAvailability/{pn}/{wh}``, ``ProductAvailability?productNumber=X``,
    ``Products/{id}``, ``CustomerOrders/{id}``, ``Customers/{id}``) that no hook, order, own write or change list
    explains: (a) more than a budget per window; (b) one record read at a steady interval. Both count only
    unexplained reads (see ``explain.py``; for (b) a change list does not explain), so a client that reads in
    batches after hooks, however often, passes."""

    id: ClassVar[str] = "no-per-product-polling"
    description: ClassVar[str] = (
        "records are read one by one only after a hook, an order or a change list says they changed"
    )
    params_type = PerProductPollingParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        reads = [c for c in ctx.calls if c.item_subjects and c.is_first_page_or_single]
        if not reads:
            return self.not_applicable("the client made no single-item reads")
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
        subject_reads = 0
        peak = 0
        per_subject: dict[Subject, list[ApiCall]] = defaultdict(list)
        for call in reads:
            unexplained: list[Subject] = []
            for subject in call.item_subjects:
                subject_reads += 1
                reason = explainer.explain(call, subject)
                if reason is None:
                    unexplained.append(subject)
                if reason is None or reason.kind == "change-list":
                    # a change list cannot be checked (answers are not journalled): it excuses a read from
                    # the budget, not from the steady-interval test (reconcile-then-refresh-all every N s)
                    per_subject[subject].append(call)
            if unexplained:
                unexplained_total += len(unexplained)
                recent.append((call.time, len(unexplained)))
                in_window += len(unexplained)
                while recent and recent[0][0] <= call.time - p.budget_window_seconds:
                    in_window -= recent.popleft()[1]
                peak = max(peak, in_window)
                if in_window > p.budget:
                    miss = next(
                        (m for m in (explainer.nearest_miss(call, s) for s in unexplained) if m is not None),
                        None,
                    )
                    names = [describe(s) for s in unexplained]
                    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                    violations.append(
                        Violation(
                            f"#{call.seq} read {shown} with no hook, order or change list to explain it: "
                            f"{in_window} unexplained single-item reads in the {p.budget_window_seconds:g} s up "
                            f"to it (budget {p.budget})",
                            (call,),
                            miss
                            or NearestMiss(f"no hook about {names[0]} was sent to the client at all"),
                        )
                    )
            explainer.advance(call)

        violations.extend(self._periodic(per_subject))
        checked_what = f"single-item reads ({subject_reads} records read)"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} polling violation(s): {unexplained_total} single-item reads were not "
                "triggered by a hook, an order or a change list",
                violations=violations,
                checked=len(reads),
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"{unexplained_total} unexplained single-item reads, peak {peak} per {p.budget_window_seconds:g} s "
            f"(budget {p.budget}); no steady polling",
            checked=len(reads),
            checked_what=checked_what,
        )

    def _periodic(self, per_subject: dict[Subject, list[ApiCall]]) -> list[Violation]:
        p = self.params
        found: dict[tuple[int, ...], tuple[list[str], list[ApiCall], float]] = {}
        for subject, calls in per_subject.items():
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
                entry[0].append(describe(subject))
        out = []
        for names, run, period in found.values():
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            out.append(
                Violation(
                    f"{shown} read {len(run)} times every {period:.1f} s (steady interval), each time with "
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
    """Full reads of a list that has a change filter (Products, CustomerOrders, ProductAvailability by
    ``modifiedDateFrom``; Customers by ``changedAfterDate``), without it and without a filter naming records,
    repeated too often. Only a first page with a good answer starts a read; later pages and retries of a failed
    first page are part of the same read. Each distinct query (paging aside) may be read once for free."""

    id: ClassVar[str] = "no-blind-list-polling"
    description: ClassVar[str] = "lists are re-read by their change filter (modifiedDateFrom), not in full"
    params_type = BlindListPollingParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        listings = [c for c in ctx.calls if c.is_listing and c.resource in CHANGE_FILTERS]
        if not listings:
            return self.not_applicable("the client read no list that has a change filter")
        reads: dict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], list[ApiCall]] = defaultdict(list)
        for call in listings:
            if call.is_full_read and call.is_first_page and call.ok:
                rest = tuple((k, v) for k, v in call.pass_key[2] if k != "pageCount")
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
                    flt = CHANGE_FILTERS.get(call.resource or "", "modifiedDateFrom")
                    violations.append(
                        Violation(
                            f"#{call.seq} re-read {call.resource} in full without {flt}: "
                            f"{len(window)} full re-reads in {p.window_seconds:g} s (budget {p.budget}) after "
                            f"the first read #{calls[0].seq}",
                            (call, *[c for c in earlier if c is not call][-5:]),
                        )
                    )
        checked_what = f"list calls ({total} full reads)"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} full re-read(s) over budget: re-read lists by modifiedDateFrom "
                "(changedAfterDate for Customers)",
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
