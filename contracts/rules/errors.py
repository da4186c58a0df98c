"""How the client treats XTND's three kinds of error, and the rate limits."""

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
    """Runs of identical requests (same Method, Path, Query and body) where every call but the last got an
    answer that ``triggers`` a retry and each came at most ``chain_break_seconds`` after the previous one.
    Only runs with at least one retry are returned, by first Seq."""
    open_chains: dict[Signature, list[ApiCall]] = {}
    done: list[list[ApiCall]] = []
    for call in calls:
        if call.resource == "Token":
            continue
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
    """An ``Internal`` answer: a 5xx other than 503 (a status 0, no answer at all, is not one)."""
    return call.status >= 500 and call.status != 503


def _gaps_text(chain: Sequence[ApiCall]) -> str:
    return ", ".join(f"{b.time - a.time:.2f}" for a, b in zip(chain, chain[1:], strict=False)) + " s"


class ValidationRetryParams(RuleParams):
    window_seconds: float = Field(600.0, gt=0, description="a resend later than this is not counted")
    max_listed: int = Field(25, ge=1)


class NoRetryOfValidationErrors(Rule[ValidationRetryParams]):
    """An identical request (Method, Path, Query, BodySha256) sent again after a ``Validation`` answer the fake
    gave on its own (``Fault`` null). Not counted: a resend after the client made a successful write in between
    (it may have created the missing customer), or after a genuine hook about the record or its products (the
    world changed: a 404 may now be found)."""

    id: ClassVar[str] = "no-retry-of-validation-errors"
    description: ClassVar[str] = "a request refused as invalid is fixed, never resent unchanged"
    params_type = ValidationRetryParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        refused = [c for c in ctx.calls if c.error_type == "Validation" and c.fault is None]
        if not refused:
            return self.not_applicable("no request was refused as invalid")
        by_signature: dict[Signature, list[ApiCall]] = defaultdict(list)
        for call in ctx.calls:
            by_signature[call.signature].append(call)
        flagged: set[int] = set()
        violations: list[Violation] = []
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
                violations.append(
                    Violation(
                        f"#{first.seq} resent {answer.method} {answer.path} unchanged "
                        f"{first.time - answer.time:.1f} s after #{answer.seq} was refused "
                        f"({answer.status} Validation)"
                        + (f"; {len(resends)} resends in all" if len(resends) > 1 else ""),
                        (first, answer, *resends[1:5]),
                    )
                )
        checked_what = "requests refused as invalid"
        if violations:
            return self.result(
                "failed",
                f"{len(violations)} refused request(s) resent unchanged",
                violations=violations,
                checked=len(refused),
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"none of {len(refused)} refused request(s) was resent unchanged",
            checked=len(refused),
            checked_what=checked_what,
        )

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
        description="other requests already on their way when the 429/503 was answered are not counted",
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
    """After a 429 (or 503) with ``Retry-After``, no request in that rate group (every group for a 503, or when
    the group is unknown) before the time is up, counted from when the answer was sent. The same request resent
    counts however soon; other requests sent within ``reaction_seconds`` of the answer were already on their way.
    Applies to harness-injected answers too. Without ``Retry-After``: repeated retries need back-off."""

    id: ClassVar[str] = "respect-throttling"
    description: ClassVar[str] = "after 429/503 the client waits for Retry-After (and backs off)"
    params_type = RespectThrottlingParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        throttled = [c for c in ctx.calls if c.status in (429, 503) or c.error_type == "Throttled"]
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
                if call.seq <= answer.seq or call.seq in blamed or call.resource == "Token":
                    continue
                if not self._in_scope(answer, call):
                    continue
                if call.signature == answer.signature or call.time >= sent + p.reaction_seconds:
                    early.append(call)
            if early:
                blamed.update(c.seq for c in early)
                first = early[0]
                violations.append(
                    Violation(
                        f"#{first.seq} came {first.time - sent:.2f} s after #{answer.seq} was answered "
                        f"{answer.status} with Retry-After {answer.retry_after:g}"
                        + (f"; {len(early)} requests before the time was up" if len(early) > 1 else ""),
                        (first, answer, *early[1:5]),
                    )
                )
        without = [c for c in throttled if c.retry_after is None]
        if without:
            for chain in retry_chains(
                ctx.calls,
                triggers=lambda c: (
                    c.retry_after is None and (c.status in (429, 503) or c.error_type == "Throttled")
                ),
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
        checked_what = "429/503 answers"
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
        if answer.status == 503 or answer.rate_group is None:
            return True
        return call.rate_group == answer.rate_group


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
        chains = retry_chains(
            ctx.calls,
            triggers=_internal,
            chain_break_seconds=p.chain_break_seconds,
        )
        violations: list[Violation] = []
        for chain in chains:
            retries = len(chain) - 1
            first = chain[0]
            if retries > p.max_retries:
                violations.append(
                    Violation(
                        f"#{first.seq} {first.method} {first.path} retried {retries} times after 500s "
                        f"(at most {p.max_retries})",
                        tuple(chain[:8]),
                    )
                )
            elif retries >= p.min_retries_for_backoff and lacks_backoff(
                [c.time for c in chain],
                growth_ratio=p.growth_ratio,
                immediate_seconds=p.immediate_seconds,
                harmless_gap_seconds=p.harmless_gap_seconds,
            ):
                violations.append(
                    Violation(
                        f"#{first.seq} {first.method} {first.path} retried {retries} times after 500s without "
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


class WithinRateLimitsParams(RuleParams):
    tolerated: int = Field(0, ge=0, description="rate-limit refusals tolerated")
    episode_gap_seconds: float = Field(60.0, gt=0, description="refusals closer than this form one episode")
    max_listed: int = Field(25, ge=1)


class WithinRateLimits(Rule[WithinRateLimitsParams]):
    """Calls the fake refused with 429 because a rate-limit group was spent (``Fault`` null). Answers the harness
    injected never count. Reports the client's peak calls per rolling minute in each group against the limit."""

    id: ClassVar[str] = "within-rate-limits"
    description: ClassVar[str] = "the client stays within its rate-limit groups (batching, not bursts)"
    params_type = WithinRateLimitsParams

    def evaluate(self, ctx: JudgeContext) -> RuleResult:
        p = self.params
        if not ctx.calls:
            return self.not_applicable("the client made no API calls")
        refused = [
            c
            for c in ctx.calls
            if c.status == 429 and c.fault is None and c.error_type in ("Throttled", None)
        ]
        peaks = self._peaks(ctx)
        usage = ", ".join(
            f"{group} {peaks.get(group, 0)}/{limit}" for group, limit in sorted(ctx.rate_limits.items())
        )
        episodes: dict[str, list[list[ApiCall]]] = defaultdict(list)
        for call in refused:
            group = call.rate_group or "?"
            runs = episodes[group]
            if runs and call.time - runs[-1][-1].time <= p.episode_gap_seconds:
                runs[-1].append(call)
            else:
                runs.append([call])
        violations = [
            Violation(
                f"{len(run)} call(s) in the {group} group refused by the rate limit "
                f"({ctx.rate_limits.get(group, '?')} per minute) from #{run[0].seq} to #{run[-1].seq}",
                tuple(run[:8]),
            )
            for group, runs in episodes.items()
            for run in runs
        ]
        checked_what = "API calls"
        if len(refused) > p.tolerated:
            return self.result(
                "failed",
                f"{len(refused)} call(s) refused by the rate limit (tolerated {p.tolerated}); peak per minute: {usage}",
                violations=violations,
                checked=len(ctx.calls),
                checked_what=checked_what,
            )
        return self.result(
            "passed",
            f"{len(refused)} rate-limit refusal(s); peak calls per minute: {usage}",
            checked=len(ctx.calls),
            checked_what=checked_what,
        )

    @staticmethod
    def _peaks(ctx: JudgeContext) -> dict[str, int]:
        """Most calls the fake let through in any rolling minute, per group (refused calls do not count)."""
        peaks: dict[str, int] = {}
        windows: dict[str, deque[float]] = defaultdict(deque)
        for call in sorted(ctx.calls, key=lambda c: c.time):
            if call.rate_group is None or call.status == 429:
                continue
            window = windows[call.rate_group]
            window.append(call.time)
            while window and window[0] <= call.time - 60.0:
                window.popleft()
            peaks[call.rate_group] = max(peaks.get(call.rate_group, 0), len(window))
        return peaks
