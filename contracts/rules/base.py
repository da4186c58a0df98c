"""The rule protocol and what a rule answers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from .model import ApiCall, Delivery

if TYPE_CHECKING:
    from .context import JudgeContext

Severity = Literal["error", "warning"]
Status = Literal["passed", "failed", "not_applicable", "not_checked"]
Evidence = ApiCall | Delivery


class RuleParams(BaseModel):
    """Base for every rule's parameters: scenario files override them by name; unknown names are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class NearestMiss:
    """The record that came closest to excusing a violation, and why it did not."""

    explanation: str
    record: Evidence | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "explanation": self.explanation,
            "seq": self.record.seq if self.record is not None else None,
            "record": dict(self.record.raw) if self.record is not None else None,
        }


@dataclass(frozen=True)
class Violation:
    """One breach of a rule, with the journal records that prove it (offending record first)."""

    explanation: str
    records: tuple[Evidence, ...] = ()
    nearest_miss: NearestMiss | None = None

    @property
    def seqs(self) -> list[int]:
        return [r.seq for r in self.records]

    def to_dict(self) -> dict[str, Any]:
        return {
            "explanation": self.explanation,
            "seqs": self.seqs,
            "records": [dict(r.raw) for r in self.records],
            "nearestMiss": self.nearest_miss.to_dict() if self.nearest_miss else None,
        }


@dataclass
class RuleResult:
    rule_id: str
    description: str
    severity: Severity
    status: Status
    message: str
    violations: list[Violation] = field(default_factory=list)
    #: How many violations were found in all; ``violations`` may list fewer.
    violation_count: int = 0
    checked: int = 0
    checked_what: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def counts_against(self) -> bool:
        """Fails the run: an error-severity failure."""
        return self.status == "failed" and self.severity == "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "description": self.description,
            "severity": self.severity,
            "status": self.status,
            "message": self.message,
            "checked": self.checked,
            "checkedWhat": self.checked_what,
            "violationCount": self.violation_count,
            "violations": [v.to_dict() for v in self.violations],
            "params": dict(self.params),
        }


P = TypeVar("P", bound=RuleParams)


class Rule(ABC, Generic[P]):
    """A code-of-conduct rule: pure over the journal, the probe and the truth (a ``JudgeContext``)."""

    id: ClassVar[str]
    description: ClassVar[str]
    default_severity: ClassVar[Severity] = "error"
    params_type: ClassVar[type[RuleParams]]

    def __init__(self, params: P | None = None, severity: Severity | None = None) -> None:
        self.params: P = params if params is not None else self.params_type()  # type: ignore[assignment]
        self.severity: Severity = severity or self.default_severity

    def with_overrides(self, overrides: Mapping[str, Any]) -> Rule[P]:
        """A copy with some parameters (and ``severity``) replaced; raises ``ValueError`` on unknown names."""
        values = dict(overrides)
        severity = values.pop("severity", None)
        if severity not in (None, "error", "warning"):
            raise ValueError(f"{self.id}: severity must be 'error' or 'warning', not {severity!r}")
        merged = {**self.params.model_dump(), **values}
        params = self.params_type.model_validate(merged)
        return type(self)(params, severity or self.severity)  # type: ignore[arg-type]

    @abstractmethod
    def evaluate(self, ctx: JudgeContext) -> RuleResult: ...

    # -- helpers for subclasses --------------------------------------------------------------------------------

    def result(
        self,
        status: Status,
        message: str,
        *,
        violations: Sequence[Violation] = (),
        checked: int = 0,
        checked_what: str = "",
        limit: int | None = None,
    ) -> RuleResult:
        listed = list(violations)
        cap = limit if limit is not None else int(getattr(self.params, "max_listed", 25))
        return RuleResult(
            rule_id=self.id,
            description=self.description,
            severity=self.severity,
            status=status,
            message=message,
            violations=listed[:cap],
            violation_count=len(listed),
            checked=checked,
            checked_what=checked_what,
            params=self.params.model_dump(),
        )

    def not_applicable(self, reason: str) -> RuleResult:
        return self.result("not_applicable", reason)

    def not_checked(self, reason: str) -> RuleResult:
        return self.result("not_checked", reason)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.params!r}>"
