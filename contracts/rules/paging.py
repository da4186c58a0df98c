"""``follow-pagination``: every page of a multi-page result is read, in both of XTND's paging schemes.

Scheme A (``GET CustomerOrders``, ``GET Products``): ``pageCount`` is the page size, ``pageOffset`` the page
index from 0; the answer is a bare array and a page shorter than ``pageCount`` is the last. A real tenant may
answer a page past the end with a 400 instead (journal ``quirk: page-past-end``): that ends a pass too.
Scheme B (every other list): ``pageNumber`` from 1; the page is the last when ``currentPage >= totalPages``.
The journal says so for each list answer (``lastPage``), and gives scheme B's ``totalPages``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import ClassVar

from pydantic import Field

from .base import NearestMiss, Rule, RuleParams, RuleResult, Violation
from .context import JudgeContext
from .model import PAGING_PARAMS, ApiCall

PAGE_PAST_END = "page-past-end"


class FollowPaginationParams(RuleParams):
    window_seconds: float = Field(600.0, gt=0, description="time a pass may take")
    lookup_page_size: int = Field(
        1,
        ge=0,
        description="a first scheme A page asked with at most this pageCount is a lookup (any one record), "
        "not a pass",
    )
    max_listed: int = Field(25, ge=1)


def _ends_pass(call: ApiCall) -> bool:
    """A page after which there is nothing more to read: the last page, an empty one, or a page past the end
    answered 400 (the production quirk of scheme A)."""
    if call.quirk == PAGE_PAST_END:
        return True
    return call.ok and (call.last_page is True or call.rows == 0)


class FollowPagination(Rule[FollowPaginationParams]):
    """A first page answered in full (scheme A: as many rows as ``pageCount``; scheme B: ``totalPages`` > 1)
    starts a pass; the following pages of the same query (same path and parameters, ``pageOffset`` /
    ``pageNumber`` aside) must then be read with good answers, one after the other, up to a page that ends it
    (the last page, an empty one, or scheme A's 400 past the end), within the window. A pass restarted (its
    first page asked again) is judged by its last start. A scheme A first page asked with ``pageCount`` at most
    ``lookup_page_size`` is a lookup, not a pass. First pages whose journal record does not say whether they
    were the last are counted as not checked."""

    id: ClassVar[str] = "follow-pagination"
    description: ClassVar[str] = "multi-page results are read to the last page (pageOffset from 0 or pageNumber from 1)"
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
            if call.is_first_page and call.ok:
                if call.last_page is None and call.total_pages is None:
                    unknown += 1
                else:
                    starts.append(call)
        if not starts and not unknown:
            return self.not_applicable("the client read no list")
        if not starts:
            return self.not_checked(
                f"the journal does not say whether the {unknown} first-page list answer(s) it holds were the last"
            )
        multi = [s for s in starts if self._more(s) and not self._lookup(s)]
        unchecked = f"; {unknown} first page(s) without lastPage not checked" if unknown else ""
        if not multi:
            return self.not_applicable(
                f"no multi-page result was read ({len(starts)} single-page lists){unchecked}"
            )

        violations: list[Violation] = []
        restarted = 0
        for start in multi:
            later = [c for c in pages[start.pass_key] if c.seq > start.seq and c.time <= start.time + p.window_seconds]
            if any(c.is_first_page and c.ok for c in later):
                restarted += 1
                continue
            missing = self._missing(start, later)
            if not missing:
                continue
            got = sorted({c.page for c in later if c.ok})
            shown = ", ".join(str(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
            how = (
                f"answered totalPages {start.total_pages}" if start.scheme == "B"
                else f"answered a full page ({start.rows} rows of pageCount {start.page_size})"
            )
            name = "pageOffset" if start.scheme == "A" else "pageNumber"
            violations.append(
                Violation(
                    f"#{start.seq} {start.resource} {how}; {name} {shown} never read within {p.window_seconds:g} s"
                    + (f" (read: {', '.join(map(str, got))})" if got else ""),
                    (start, *[c for c in later if c.ok][:5]),
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

    @staticmethod
    def _more(start: ApiCall) -> bool:
        """The first page says there is more to read."""
        if start.last_page is not None:
            return not start.last_page and start.rows != 0
        return (start.total_pages or 0) > 1

    def _lookup(self, call: ApiCall) -> bool:
        if call.scheme != "A":
            return False
        size = call.page_size
        if size is None:
            values = call.query.get("pageCount") or ()
            try:
                size = int(values[0]) if values else None
            except ValueError:
                size = None
        return size is not None and size <= self.params.lookup_page_size

    @staticmethod
    def _missing(start: ApiCall, later: list[ApiCall]) -> list[int]:
        """Pages still to read: none when the pages after the first were read one after the other up to one that
        ends the pass."""
        good = {c.page for c in later if c.ok}
        ends = sorted({c.page for c in later if _ends_pass(c)})
        first = start.first_page
        for end in ends:
            if all(n in good for n in range(first + 1, end)):
                return []
        totals = [c.total_pages for c in (start, *later) if c.total_pages is not None and c.ok]
        if start.scheme == "B" and totals:
            last = max(totals)
            return [n for n in range(first + 1, last + 1) if n not in good] or [last + 1]
        n = first + 1
        while n in good:
            n += 1
        return [n]

    def _nearest(self, ctx: JudgeContext, start: ApiCall, page: int) -> NearestMiss | None:
        """A call for the missing page of a slightly different query, or one that failed or came too late."""
        candidates = [
            c for c in ctx.calls if c.seq > start.seq and c.path.lower() == start.path.lower() and c.page == page
            and c.is_listing
        ]
        if not candidates:
            return None
        call = candidates[0]
        if call.pass_key != start.pass_key:
            theirs = dict(call.query)
            ours = dict(start.query)
            changed = sorted(
                k for k in set(theirs) | set(ours) if k not in PAGING_PARAMS and theirs.get(k) != ours.get(k)
            )
            return NearestMiss(f"#{call.seq} asked page {page} with different {', '.join(changed)}", call)
        if not call.ok:
            return NearestMiss(f"#{call.seq} asked page {page} but got {call.status} and was not retried", call)
        return NearestMiss(
            f"#{call.seq} read page {page} {call.time - start.time:.0f} s after the first page "
            f"(window {self.params.window_seconds:g} s)",
            call,
        )
