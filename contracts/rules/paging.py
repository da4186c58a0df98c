"""``follow-pagination``: every page of a multi-page result is read."""

from __future__ import annotations

from collections import defaultdict
from typing import ClassVar

from pydantic import Field

from .base import NearestMiss, Rule, RuleParams, RuleResult, Violation
from .context import JudgeContext
from .model import ApiCall


class FollowPaginationParams(RuleParams):
    window_seconds: float = Field(
        600.0, gt=0, description="time a pass may take (the fake keeps a paged result for 10 minutes)"
    )
    lookup_page_size: int = Field(
        1,
        ge=0,
        description="a page 1 asked with at most this pageSize is a lookup (any one record), not a pass",
    )
    max_listed: int = Field(25, ge=1)


class FollowPagination(Rule[FollowPaginationParams]):
    """A page-1 answer with ``TotalPages`` > 1 starts a pass; pages 2..TotalPages of the same query (same path
    and parameters, ``page`` aside) must then be read with a 2xx answer within the window. A pass that is
    restarted (page 1 of the same query asked again) is judged by its last start. A page 1 asked with a tiny
    ``pageSize`` (``lookup_page_size``, e.g. "any one customer") is a lookup, not a pass. Needs ``TotalPages`` on the
    journal's list records: page-1 answers without it are counted as not checked."""

    id: ClassVar[str] = "follow-pagination"
    description: ClassVar[str] = "multi-page results are read to the last page"
    params_type = FollowPaginationParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        pages: dict[tuple[object, ...], list[ApiCall]] = defaultdict(list)
        starts: list[ApiCall] = []
        unknown = 0
        for call in ctx.calls:
            if not call.is_listing:
                continue
            pages[call.pass_key].append(call)
            if call.page == 1 and call.ok:
                if call.total_pages is None:
                    unknown += 1
                else:
                    starts.append(call)
        if not starts and not unknown:
            return self.not_applicable("the client read no list")
        if not starts:
            return self.not_checked(
                f"the journal does not tell TotalPages for the {unknown} page-1 list answer(s) it holds"
            )
        multi = [s for s in starts if (s.total_pages or 0) > 1 and not self._lookup(s)]
        unchecked = f"; {unknown} page-1 answer(s) without TotalPages not checked" if unknown else ""
        if not multi:
            return self.not_applicable(
                f"no multi-page result was read ({len(starts)} single-page lists){unchecked}"
            )

        violations: list[Violation] = []
        restarted = 0
        for start in multi:
            same = pages[start.pass_key]
            later = [c for c in same if c.seq > start.seq and c.time <= start.time + p.window_seconds]
            restart = next((c for c in later if c.page == 1 and c.ok), None)
            if restart is not None:
                restarted += 1
                continue
            total = start.total_pages or 0
            read = {c.page for c in later if c.ok}
            missing = [n for n in range(2, total + 1) if n not in read]
            if not missing:
                continue
            shown = ", ".join(str(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
            got = sorted(c for c in read if 1 < c <= total)
            violations.append(
                Violation(
                    f"#{start.seq} {start.resource} answered TotalPages {total}; page(s) {shown} never read "
                    f"within {p.window_seconds:g} s"
                    + (f" (read: {', '.join(map(str, got))})" if got else ""),
                    (start, *[c for c in later if c.ok and c.page > 1][:5]),
                    self._nearest(ctx, start, missing[0]),
                )
            )
        checked_what = "multi-page passes"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} of {len(multi)} multi-page result(s) read only in part{unchecked}",
                violations=violations,
                checked=len(multi),
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"{len(multi) - restarted} multi-page result(s) read to the end"
            + (f", {restarted} restarted" if restarted else "")
            + unchecked,
            checked=len(multi),
            checked_what=checked_what,
        )

    def _lookup(self, call: ApiCall) -> bool:
        sizes = call.query.get("pageSize") or ()
        try:
            return bool(sizes) and int(sizes[0]) <= self.params.lookup_page_size
        except ValueError:
            return False

    def _nearest(self, ctx: JudgeContext, start: ApiCall, page: int) -> NearestMiss | None:
        """A call for the missing page of a slightly different query, or one that failed or came too late."""
        candidates = [
            c
            for c in ctx.calls
            if c.seq > start.seq and c.path.lower() == start.path.lower() and c.page == page
        ]
        if not candidates:
            return None
        call = candidates[0]
        if call.pass_key != start.pass_key:
            theirs = dict(call.query)
            ours = dict(start.query)
            changed = sorted(
                k for k in set(theirs) | set(ours) if k != "page" and theirs.get(k) != ours.get(k)
            )
            return NearestMiss(f"#{call.seq} asked page {page} with different {', '.join(changed)}", call)
        if not call.ok:
            return NearestMiss(
                f"#{call.seq} asked page {page} but got {call.status} and was not retried", call
            )
        return NearestMiss(
            f"#{call.seq} read page {page} {call.time - start.time:.0f} s after page 1 "
            f"(window {self.params.window_seconds:g} s)",
            call,
        )
