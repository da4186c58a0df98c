"""``judge``: run the rules over a context and report, as data, text and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import Rule, RuleResult
from .context import JudgeContext
from .converge import Converges
from .errors import (
    BackOffOnUnauthorized,
    BoundedInternalRetries,
    NoRetryOfValidationErrors,
    RespectThrottling,
    WithinRateLimits,
)
from .hooks import AckHooksFast, HooksAreTriggers, VerifySignatures
from .orders import NoDuplicateOrders
from .paging import FollowPagination
from .polling import NoBlindListPolling, NoPerProductPolling

ALL_RULES: tuple[Rule[Any], ...] = (
    NoPerProductPolling(),
    NoBlindListPolling(),
    HooksAreTriggers(),
    FollowPagination(),
    NoRetryOfValidationErrors(),
    RespectThrottling(),
    BoundedInternalRetries(),
    BackOffOnUnauthorized(),
    NoDuplicateOrders(),
    AckHooksFast(),
    VerifySignatures(),
    WithinRateLimits(),
    Converges(),
)

LABELS = {"passed": "PASS", "failed": "FAIL", "not_applicable": "N/A", "not_checked": "NOT CHECKED"}


def configure(
    rules: Iterable[Rule[Any]], overrides: Mapping[str, Mapping[str, Any]] | None
) -> tuple[list[Rule[Any]], list[str]]:
    """Apply per-rule overrides (``{rule_id: {param: value, "severity": ..., "enabled": bool}}``).

    Returns the rules to run and the ids disabled. Unknown rule ids or parameters raise ``ValueError`` (a
    scenario error, not a violation)."""
    chosen = list(rules)
    known = {r.id for r in chosen}
    overrides = overrides or {}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(
            f"unknown rule id(s) in overrides: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    out: list[Rule[Any]] = []
    disabled: list[str] = []
    for rule in chosen:
        values = dict(overrides.get(rule.id) or {})
        enabled = values.pop("enabled", True)
        if not isinstance(enabled, bool):
            raise ValueError(f"{rule.id}: enabled must be true or false, not {enabled!r}")
        if not enabled:
            disabled.append(rule.id)
            continue
        out.append(rule.with_overrides(values) if values else rule)
    return out, disabled


def judge(
    ctx: JudgeContext,
    rules: Iterable[Rule[Any]] = ALL_RULES,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    strict: bool = False,
) -> Report:
    """Evaluate every rule over ``ctx``. With ``strict``, an error-severity rule that could not be checked also
    fails the report (it never counts as passed either way)."""
    chosen, disabled = configure(rules, overrides)
    return Report(
        [rule.evaluate(ctx) for rule in chosen], user=ctx.user, strict=strict, disabled=disabled
    )


@dataclass
class Report:
    results: list[RuleResult]
    user: str | None = None
    strict: bool = False
    disabled: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No error-severity rule failed (and, when strict, none was left unchecked)."""
        if any(r.counts_against for r in self.results):
            return False
        return not (
            self.strict and any(r.status == "not_checked" and r.severity == "error" for r in self.results)
        )

    @property
    def failed_rules(self) -> list[str]:
        return [r.rule_id for r in self.results if r.status == "failed"]

    def result(self, rule_id: str) -> RuleResult:
        for result in self.results:
            if result.rule_id == rule_id:
                return result
        raise KeyError(rule_id)

    def summary(self) -> dict[str, int]:
        counts: Counter[str] = Counter(r.status for r in self.results)
        return {status: counts[status] for status in LABELS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "user": self.user,
            "strict": self.strict,
            "summary": self.summary(),
            "disabled": list(self.disabled),
            "rules": [r.to_dict() for r in self.results],
        }

    def headline(self) -> str:
        s = self.summary()
        parts = [f"{s['passed']} passed", f"{s['failed']} failed", f"{s['not_applicable']} not applicable"]
        parts.append(f"{s['not_checked']} not checked")
        warnings = sum(1 for r in self.results if r.status == "failed" and r.severity == "warning")
        if warnings:
            parts[1] += f" ({warnings} warning{'s' if warnings > 1 else ''})"
        who = f"user {self.user}; " if self.user else ""
        return (
            f"XTND code of conduct: {'PASSED' if self.passed else 'FAILED'} "
            f"({who}{len(self.results)} rules: {', '.join(parts)})"
        )

    def to_text(self, *, max_violations: int = 10, max_records: int = 6) -> str:
        lines = [self.headline(), ""]
        pad = " " * 13
        for r in self.results:
            label = LABELS[r.status] + (
                " (warning)" if r.status == "failed" and r.severity == "warning" else ""
            )
            lines.append(f"{label:<12} {r.rule_id}: {r.description}")
            lines.append(f"{pad}{r.message}")
            if r.checked_what:
                lines.append(f"{pad}examined {r.checked} {r.checked_what}")
            for violation in r.violations[:max_violations]:
                lines.append(f"{pad}- {violation.explanation}")
                for record in violation.records[:max_records]:
                    lines.append(f"{pad}    {record.evidence_line()}")
                if len(violation.records) > max_records:
                    lines.append(f"{pad}    ... {len(violation.records) - max_records} more record(s)")
                if violation.nearest_miss is not None:
                    lines.append(f"{pad}    nearest miss: {violation.nearest_miss.explanation}")
                    if violation.nearest_miss.record is not None:
                        lines.append(f"{pad}      {violation.nearest_miss.record.evidence_line()}")
            hidden = r.violation_count - min(len(r.violations), max_violations)
            if hidden > 0:
                lines.append(f"{pad}... and {hidden} more violation(s)")
        if self.disabled:
            lines.append("")
            lines.append(f"disabled by the scenario: {', '.join(self.disabled)}")
        return "\n".join(lines) + "\n"

    def to_junit_xml(self, suite_name: str = "xtnd-code-of-conduct") -> str:
        suite = ET.Element(
            "testsuite",
            name=suite_name,
            tests=str(len(self.results)),
            failures=str(sum(1 for r in self.results if r.counts_against)),
            errors="0",
            skipped=str(sum(1 for r in self.results if r.status in ("not_applicable", "not_checked"))),
        )
        for r in self.results:
            case = ET.SubElement(suite, "testcase", classname="contracts.rules", name=r.rule_id)
            details = "\n".join(
                [
                    v.explanation + "".join(f"\n  {rec.evidence_line()}" for rec in v.records)
                    for v in r.violations
                ]
            )
            if r.counts_against:
                failure = ET.SubElement(case, "failure", message=r.message, type=r.rule_id)
                failure.text = details
            elif r.status in ("not_applicable", "not_checked"):
                ET.SubElement(case, "skipped", message=f"{LABELS[r.status]}: {r.message}")
            else:
                out = ET.SubElement(case, "system-out")
                out.text = r.message + (f"\nwarning:\n{details}" if r.status == "failed" else "")
        return ET.tostring(suite, encoding="unicode", xml_declaration=True)
