"""How the client treats XTND's three kinds of error (fix the request / wait and retry / retry a little then
alert), refused credentials, and the rate limits per endpoint family."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar

from pydantic import Field

from .base import Rule, RuleParams, RuleResult, Violation
from .context import JudgeContext
from .model import ApiCall

Signature = tuple[object, ...]


def retry_chains(
    calls: Iterable[ApiCall], *, triggers: Callable[[ApiCall], bool], chain_break_seconds: float
) -> list[list[ApiCall]]:
    """Runs of identical requests (same method, path, query and body) where every call but the last got an
    answer that ``triggers`` a retry and each came at most ``chain_break_seconds`` after the previous one.
    Only runs with at least one retry are returned, by first seq."""
    open_chains: dict[Signature, list[ApiCall]] = {}
    done: list[list[ApiCall]] = []
    for call in calls:
        chain = open_chains.get(call.signature)
        if chain is not None and triggers(chain[-1]) and call.time - chain[-1].time <= chain_break_seconds:
            chain.append(call)
            continue
        if chain is not None and len(chain) > 1:
            done.append(chain)
        open_chains[call.signature] = [call]
    done.extend(chain for chain in open_chains.values() if len(chain) > 1)
    return sorted(done, key=lambda chain: chain[0].seq)


def lacks_backoff(
    times: Sequence[float], *, growth_ratio: float, immediate_seconds: float, harmless_gap_seconds: float
) -> bool:
    """True when the gaps between retries neither grow (the largest is below ``growth_ratio`` times the
    smallest) nor are long enough to be harmless; or when every gap is immediate. Random ("full jitter")
    back-off spreads gaps widely and passes; a fixed delay, even with some jitter, does not."""
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    if not gaps:
        return False
    if max(gaps) < immediate_seconds:
        return True
    if min(gaps) >= harmless_gap_seconds:
        return False
    return max(gaps) < growth_ratio * max(min(gaps), 1e-9)


def _internal(call: ApiCall) -> bool:
    """An ``Internal`` answer: a 5xx (a status 0, no answer at all, is not one)."""
    return call.status >= 500


def _refused(call: ApiCall) -> bool:
    """A final 400/404/413 the fake gave on its own: fix the request, never resend it unchanged."""
    return call.error_kind == "Validation" and call.fault is None


def _gaps_text(chain: Sequence[ApiCall]) -> str:
    return ", ".join(f"{b.time - a.time:.2f}" for a, b in zip(chain, chain[1:], strict=False)) + " s"


def retries(first: ApiCall, later: ApiCall) -> bool:
    """Does ``later`` try again what ``first`` asked (not necessarily byte for byte)? The same record (path),
    the same order (``orderNumberExternal``, sent again or looked up), the same page of the same list query (or
    the pass started over), or a read of the same resource that covers the products ``first`` named."""
    if later.seq <= first.seq or later.resource != first.resource or later.resource is None:
        return False
    if later.signature == first.signature:
        return True
    if first.is_order_create:
        external = first.external_order
        return external is not None and later.external_order == external
    if later.method != first.method:
        return False
    if first.method != "GET":
        return later.path.lower() == first.path.lower()
    if not first.is_listing:
        if later.path.lower() == first.path.lower():
            return True
    elif later.is_listing and later.pass_key == first.pass_key and (
        later.page == first.page or later.is_first_page
    ):
        return True  # the same page again, or the pass started over
    wanted = {key for _, key in first.item_subjects}
    if not wanted:
        return False
    got = {key for _, key in later.item_subjects}
    return bool(wanted & got) or (later.is_listing and not later.is_lookup)


class ValidationRetryParams(RuleParams):
    window_seconds: float = Field(600.0, gt=0, description="a resend later than this is not counted")
    transient_retry_within_seconds: float = Field(
        20.0, gt=0, description="a transient 400 must be tried again within this long"
    )
    transient_min_wait_seconds: float = Field(
        0.2, ge=0, description="the wait before resending a request answered with a transient 400"
    )
    transient_max_retries: int = Field(5, ge=0, description="resends of one request after transient 400s")
    chain_break_seconds: float = Field(60.0, gt=0, description="a longer pause starts a new attempt")
    max_listed: int = Field(25, ge=1)


class NoRetryOfValidationErrors(Rule[ValidationRetryParams]):
    """XTND answers two kinds of 400. A final one (``errorKind: Validation``, the fake's own answer) must never be
    resent unchanged (method, path, query, bodySha256), unless the client made a successful write in between (it
    may have created the missing customer) or a genuine hook about the record or its products came (a 404 may
    now be found). A transient one (``errorKind: Transient``: a SQL deadlock or timeout, quirk or injected fault)
    must be tried again: within ``transient_retry_within_seconds``, after at least
    ``transient_min_wait_seconds``, and at most ``transient_max_retries`` times in a row."""

    id: ClassVar[str] = "no-retry-of-validation-errors"
    description: ClassVar[str] = (
        "a 400 is fixed, never resent unchanged - except a transient one (deadlock, timeout): retried after a wait"
    )
    params_type = ValidationRetryParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        refused = [c for c in ctx.calls if _refused(c)]
        transients = [c for c in ctx.calls if c.transient]
        if not refused and not transients:
            return self.not_applicable("no request was answered with a 400")
        violations = self._resent(ctx, refused) + self._transient(ctx, transients)
        checked = len(refused) + len(transients)
        checked_what = f"400 answers ({len(refused)} final, {len(transients)} transient)"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} violation(s): final 400s resent unchanged, or transient 400s not retried "
                "properly",
                violations=violations,
                checked=checked,
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"none of {len(refused)} final 400(s) was resent unchanged; {len(transients)} transient 400(s) "
            "retried after a wait",
            checked=checked,
            checked_what=checked_what,
        )

    def _resent(self, ctx: JudgeContext, refused: list[ApiCall]) -> list[Violation]:
        p = self.params
        by_signature: dict[Signature, list[ApiCall]] = defaultdict(list)
        for call in ctx.calls:
            by_signature[call.signature].append(call)
        flagged: set[int] = set()
        out: list[Violation] = []
        for answer in refused:
            if answer.seq in flagged:
                continue
            resends = []
            for call in by_signature[answer.signature]:
                if call.seq <= answer.seq or call.time > answer.time + p.window_seconds:
                    continue
                if self._world_changed(ctx, answer, call):
                    break
                resends.append(call)
            if resends:
                flagged.update(c.seq for c in resends)
                first = resends[0]
                said = f": {answer.message}" if answer.message else ""
                out.append(
                    Violation(
                        f"#{first.seq} resent {answer.method} {answer.path} unchanged "
                        f"{first.time - answer.time:.1f} s after #{answer.seq} was refused "
                        f"({answer.status} Validation{said})"
                        + (f"; {len(resends)} resends in all" if len(resends) > 1 else ""),
                        (first, answer, *resends[1:5]),
                    )
                )
        return out

    def _transient(self, ctx: JudgeContext, transients: list[ApiCall]) -> list[Violation]:
        p = self.params
        out: list[Violation] = []
        ordered = sorted(ctx.calls, key=lambda c: (c.time, c.seq))
        is_retry: set[int] = set()
        for answer in transients:
            later = [c for c in ctx.calls_between(answer.time, answer.time + p.chain_break_seconds)
                     if c.seq > answer.seq]
            retry = next((c for c in later if retries(answer, c)), None)
            if retry is not None:
                is_retry.add(retry.seq)
        for answer in transients:
            if answer.seq in is_retry:
                continue  # a retry that failed again: the chain is judged from its first answer
            deadline = answer.answered_at + p.transient_retry_within_seconds
            window = [c for c in ctx.calls_between(answer.time, deadline) if c.seq > answer.seq]
            retry = next((c for c in window if retries(answer, c)), None)
            if retry is None and deadline <= ctx.end_time:
                out.append(
                    Violation(
                        f"#{answer.seq} {answer.method} {answer.path} got a transient 400"
                        + (f" ({answer.quirk or answer.fault})" if answer.quirk or answer.fault else "")
                        + f" and was not tried again within {p.transient_retry_within_seconds:g} s: XTND's "
                        "deadlocks and timeouts pass, the request must be retried after a wait",
                        (answer,),
                    )
                )
        for chain in retry_chains(ordered, triggers=lambda c: c.transient,
                                  chain_break_seconds=p.chain_break_seconds):
            first = chain[0]
            if not first.transient:
                continue
            early = [
                (a, b) for a, b in zip(chain, chain[1:], strict=False)
                if a.transient and b.time - a.answered_at < p.transient_min_wait_seconds
            ]
            if early:
                a, b = early[0]
                out.append(
                    Violation(
                        f"#{b.seq} resent {b.method} {b.path} {b.time - a.answered_at:.2f} s after #{a.seq} was "
                        f"answered with a transient 400 (wait at least {p.transient_min_wait_seconds:g} s)"
                        + (f"; {len(early)} resends without a wait" if len(early) > 1 else ""),
                        (b, a, *[x for pair in early[1:3] for x in pair]),
                    )
                )
            transient_retries = sum(1 for a in chain[:-1] if a.transient)
            if transient_retries > p.transient_max_retries:
                out.append(
                    Violation(
                        f"#{first.seq} {first.method} {first.path} was resent {transient_retries} times after "
                        f"transient 400s (at most {p.transient_max_retries}; retry a little, then alert)",
                        tuple(chain[:8]),
                    )
                )
        return out

    @staticmethod
    def _world_changed(ctx: JudgeContext, answer: ApiCall, resend: ApiCall) -> bool:
        for call in ctx.calls_between(answer.time, resend.time):
            if answer.seq < call.seq < resend.seq and call.is_write and call.success:
                return True
        keys = {k for k in (answer.key,) if k is not None}
        products = set(answer.product_numbers)
        for delivery in ctx.deliveries:
            if delivery.forged or not answer.time <= delivery.time <= resend.time:
                continue
            for note in delivery.notifications:
                mentioned = {str(v) for v in note.details.values() if isinstance(v, str | int)}
                if mentioned & keys or (note.product is not None and note.product in products):
                    return True
        return False


class RespectThrottlingParams(RuleParams):
    early_tolerance_seconds: float = Field(
        0.25, ge=0, description="slack for clocks and whole-second rounding"
    )
    reaction_seconds: float = Field(
        0.25,
        ge=0,
        description="other requests already on their way when the 429 was answered are not counted",
    )
    min_retries_for_backoff: int = Field(3, ge=2)
    growth_ratio: float = Field(
        2.0, gt=1, description="back-off: the largest gap is this many times the smallest"
    )
    immediate_seconds: float = Field(0.2, ge=0)
    harmless_gap_seconds: float = Field(30.0, gt=0)
    chain_break_seconds: float = Field(60.0, gt=0)
    max_listed: int = Field(25, ge=1)


class RespectThrottling(Rule[RespectThrottlingParams]):
    """After a 429 with ``Retry-After``, no request in that endpoint family (``rateFamily``; every family when
    the journal does not say) before the time is up, counted from when the answer was sent. The same request
    resent counts however soon; other requests sent within ``reaction_seconds`` of the answer were already on
    their way. Applies to harness-injected answers too. Without ``Retry-After``: repeated retries need back-off."""

    id: ClassVar[str] = "respect-throttling"
    description: ClassVar[str] = "after a 429 the client waits for Retry-After in that endpoint family"
    params_type = RespectThrottlingParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        throttled = [c for c in ctx.calls if c.status == 429 or c.error_kind == "Throttled"]
        if not throttled:
            return self.not_applicable("the client was never throttled")
        violations: list[Violation] = []
        blamed: set[int] = set()
        for answer in throttled:
            if answer.retry_after is None:
                continue
            sent = answer.answered_at
            deadline = sent + answer.retry_after - p.early_tolerance_seconds
            early: list[ApiCall] = []
            for call in ctx.calls_between(answer.time, deadline):
                if call.seq <= answer.seq or call.seq in blamed or not self._in_scope(answer, call):
                    continue
                if call.signature == answer.signature or call.time >= sent + p.reaction_seconds:
                    early.append(call)
            if early:
                blamed.update(c.seq for c in early)
                first = early[0]
                family = f" in the {answer.rate_family} family" if answer.rate_family else ""
                violations.append(
                    Violation(
                        f"#{first.seq} came {first.time - sent:.2f} s after #{answer.seq} was answered "
                        f"{answer.status} with Retry-After {answer.retry_after:g}{family}"
                        + (f"; {len(early)} requests before the time was up" if len(early) > 1 else ""),
                        (first, answer, *early[1:5]),
                    )
                )
        if any(c.retry_after is None for c in throttled):
            for chain in retry_chains(
                ctx.calls,
                triggers=lambda c: c.retry_after is None and (c.status == 429 or c.error_kind == "Throttled"),
                chain_break_seconds=p.chain_break_seconds,
            ):
                if len(chain) - 1 >= p.min_retries_for_backoff and lacks_backoff(
                    [c.time for c in chain],
                    growth_ratio=p.growth_ratio,
                    immediate_seconds=p.immediate_seconds,
                    harmless_gap_seconds=p.harmless_gap_seconds,
                ):
                    violations.append(
                        Violation(
                            f"#{chain[0].seq} throttled and retried {len(chain) - 1} times without back-off "
                            f"(gaps {_gaps_text(chain)})",
                            tuple(chain[:8]),
                        )
                    )
        checked_what = "429 answers"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} throttling answer(s) not respected",
                violations=violations,
                checked=len(throttled),
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"the client waited after all {len(throttled)} throttling answer(s)",
            checked=len(throttled),
            checked_what=checked_what,
        )

    @staticmethod
    def _in_scope(answer: ApiCall, call: ApiCall) -> bool:
        if answer.rate_family is None:
            return True
        return call.rate_family == answer.rate_family or call.signature == answer.signature


class InternalRetryParams(RuleParams):
    max_retries: int = Field(5, ge=0, description="retries of one request after 500s")
    min_retries_for_backoff: int = Field(3, ge=2, description="fewer retries are not judged for back-off")
    growth_ratio: float = Field(2.0, gt=1)
    immediate_seconds: float = Field(0.2, ge=0)
    harmless_gap_seconds: float = Field(30.0, gt=0)
    chain_break_seconds: float = Field(60.0, gt=0, description="a longer pause starts a new attempt")
    max_listed: int = Field(25, ge=1)


class BoundedInternalRetries(Rule[InternalRetryParams]):
    """Identical requests retried after ``Internal`` (500) answers, injected or not: more than ``max_retries``
    in one chain, or at least ``min_retries_for_backoff`` retries whose gaps do not grow (see
    ``lacks_backoff``). A pause longer than ``chain_break_seconds`` starts a new chain (a later sync cycle)."""

    id: ClassVar[str] = "bounded-internal-retries"
    description: ClassVar[str] = "500s are retried a few times with growing gaps, then given up"
    params_type = InternalRetryParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        internal = [c for c in ctx.calls if _internal(c)]
        if not internal:
            return self.not_applicable("no request got a 500")
        chains = retry_chains(ctx.calls, triggers=_internal, chain_break_seconds=p.chain_break_seconds)
        violations: list[Violation] = []
        for chain in chains:
            retried = len(chain) - 1
            first = chain[0]
            if retried > p.max_retries:
                violations.append(
                    Violation(
                        f"#{first.seq} {first.method} {first.path} retried {retried} times after 500s "
                        f"(at most {p.max_retries})",
                        tuple(chain[:8]),
                    )
                )
            elif retried >= p.min_retries_for_backoff and lacks_backoff(
                [c.time for c in chain],
                growth_ratio=p.growth_ratio,
                immediate_seconds=p.immediate_seconds,
                harmless_gap_seconds=p.harmless_gap_seconds,
            ):
                violations.append(
                    Violation(
                        f"#{first.seq} {first.method} {first.path} retried {retried} times after 500s without "
                        f"back-off (gaps {_gaps_text(chain)})",
                        tuple(chain[:8]),
                    )
                )
        checked_what = "500 answers"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} retry chain(s) after 500s too long or without back-off",
                violations=violations,
                checked=len(internal),
                checked_what=checked_what,
            )
        longest = max((len(c) - 1 for c in chains), default=0)
        return self.result(
            "passed",
            f"{len(chains)} retry chain(s) after 500s, longest {longest} retries, with back-off",
            checked=len(internal),
            checked_what=checked_what,
        )


class UnauthorizedParams(RuleParams):
    budget: int = Field(6, ge=0, description="401 answers tolerated per window after the first")
    window_seconds: float = Field(60.0, gt=0)
    max_listed: int = Field(25, ge=1)


class BackOffOnUnauthorized(Rule[UnauthorizedParams]):
    """A 401 means the credentials were refused (a password changed, a user removed): resending cannot fix it,
    only someone changing the configuration can. After a 401 the client slows down - waits, alerts, tries again
    now and then - instead of hammering: more than ``budget`` 401 answers besides the first in any
    ``window_seconds`` fail. A refused call is the judged client's when its header named the client's user
    (``claimedUser``); one without a readable header is judged when ``include_unauthenticated`` is on (the harness's
    default: the client is the only caller)."""

    id: ClassVar[str] = "back-off-on-unauthorized"
    description: ClassVar[str] = "after a 401 the client backs off (wrong credentials are not fixed by resending)"
    params_type = UnauthorizedParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        refused = sorted((c for c in ctx.calls if c.unauthorized and c.fault is None), key=lambda c: (c.time, c.seq))
        if not refused:
            return self.not_applicable("no call was refused for its credentials")
        violations: list[Violation] = []
        window: deque[ApiCall] = deque()
        peak = 0
        episode_end = float("-inf")
        for call in refused:
            window.append(call)
            while window and window[0].time <= call.time - p.window_seconds:
                window.popleft()
            peak = max(peak, len(window))
            if len(window) - 1 > p.budget and call.time > episode_end:
                episode_end = call.time + p.window_seconds
                first = window[0]
                between = [c for c in window if c is not call and c is not first]
                violations.append(
                    Violation(
                        f"#{call.seq} was the {len(window)}th call refused with 401 within {p.window_seconds:g} s "
                        f"of #{first.seq} (budget: the first and {p.budget} more): credentials that were refused "
                        "stay refused until someone changes them - wait, alert, try again now and then",
                        (call, first, *between[-4:]),
                    )
                )
        checked_what = "401 answers"
        if violations:
            return self.result(
                "failed",
                f"{len(refused)} call(s) refused with 401, up to {peak} in {p.window_seconds:g} s: the client "
                "hammered with refused credentials",
                violations=violations,
                checked=len(refused),
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"{len(refused)} call(s) refused with 401, at most {peak} in any {p.window_seconds:g} s "
            f"(budget: the first and {p.budget} more)",
            checked=len(refused),
            checked_what=checked_what,
        )


class WithinRateLimitsParams(RuleParams):
    tolerated: int = Field(0, ge=0, description="rate-limit refusals tolerated")
    episode_gap_seconds: float = Field(60.0, gt=0, description="refusals closer than this form one episode")
    max_listed: int = Field(25, ge=1)


class WithinRateLimits(Rule[WithinRateLimitsParams]):
    """Calls the fake refused with 429 because an endpoint family's limit was spent (``fault`` null). Answers
    the harness injected never count. Reports the client's peak calls per rolling window in each family it used,
    against that family's limit."""

    id: ClassVar[str] = "within-rate-limits"
    description: ClassVar[str] = "the client stays within each endpoint family's rate limit (batching, not bursts)"
    params_type = WithinRateLimitsParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        if not ctx.calls:
            return self.not_applicable("the client made no API calls")
        refused = [c for c in ctx.calls if c.status == 429 and c.fault is None]
        peaks = self._peaks(ctx)
        usage = ", ".join(
            f"{family} {peak}/{ctx.rate_limit(family)}" for family, peak in sorted(peaks.items())
        ) or "none counted"
        episodes: dict[str, list[list[ApiCall]]] = defaultdict(list)
        for call in refused:
            family = call.rate_family or "?"
            runs = episodes[family]
            if runs and call.time - runs[-1][-1].time <= p.episode_gap_seconds:
                runs[-1].append(call)
            else:
                runs.append([call])
        window = f"{ctx.rate_limit_window_seconds:g} s"
        violations = [
            Violation(
                f"{len(run)} call(s) in the {family} family refused by its rate limit "
                f"({ctx.rate_limit(None if family == '?' else family)} per {window}) "
                f"from #{run[0].seq} to #{run[-1].seq}",
                tuple(run[:8]),
            )
            for family, runs in episodes.items()
            for run in runs
        ]
        checked_what = "API calls"
        if len(refused) > p.tolerated:
            return self.result(
                "failed",
                f"{len(refused)} call(s) refused by the rate limit (tolerated {p.tolerated}); peak per {window}: "
                f"{usage}",
                violations=violations,
                checked=len(ctx.calls),
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"{len(refused)} rate-limit refusal(s); peak calls per {window}: {usage}",
            checked=len(ctx.calls),
            checked_what=checked_what,
        )

    @staticmethod
    def _peaks(ctx: JudgeContext) -> dict[str, int]:
        """Most calls the fake let through in any rolling window, per family (refused calls do not count)."""
        peaks: dict[str, int] = {}
        windows: dict[str, deque[float]] = defaultdict(deque)
        for call in sorted(ctx.calls, key=lambda c: c.time):
            if call.rate_family is None or call.status == 429:
                continue
            window = windows[call.rate_family]
            window.append(call.time)
            while window and window[0] <= call.time - ctx.rate_limit_window_seconds:
                window.popleft()
            peaks[call.rate_family] = max(peaks.get(call.rate_family, 0), len(window))
        return peaks
