"""The judge's rule engine: XTND's code of conduct as rules over the fake's journal.

Pure Python over journal records (docs/journal-format.md), the client's probe and the truth; no web imports.
Typical use by the harness::

    ctx = JudgeContext(records, user="demo", probe=probe, truth=state, webhooks_enabled=True)
    report = judge(ctx, overrides=scenario.rules)
    print(report.to_text()); sys.exit(0 if report.passed else 1)

The rules are documented in docs/rules.md.
"""

from .base import NearestMiss, Rule, RuleParams, RuleResult, Severity, Status, Violation
from .context import DEFAULT_RATE_LIMIT, JudgeContext
from .converge import Converges
from .errors import (
    BackOffOnUnauthorized,
    BoundedInternalRetries,
    NoRetryOfValidationErrors,
    RespectThrottling,
    WithinRateLimits,
)
from .hooks import AckHooksFast, HooksAreTriggers, VerifySignatures
from .model import ApiCall, Delivery
from .orders import NoDuplicateOrders
from .paging import FollowPagination
from .polling import NoBlindListPolling, NoPerProductPolling
from .report import ALL_RULES, Report, configure, judge

RULES_BY_ID = {rule.id: rule for rule in ALL_RULES}

__all__ = [
    "ALL_RULES",
    "DEFAULT_RATE_LIMIT",
    "RULES_BY_ID",
    "AckHooksFast",
    "ApiCall",
    "BackOffOnUnauthorized",
    "BoundedInternalRetries",
    "Converges",
    "Delivery",
    "FollowPagination",
    "HooksAreTriggers",
    "JudgeContext",
    "NearestMiss",
    "NoBlindListPolling",
    "NoDuplicateOrders",
    "NoPerProductPolling",
    "NoRetryOfValidationErrors",
    "Report",
    "RespectThrottling",
    "Rule",
    "RuleParams",
    "RuleResult",
    "Severity",
    "Status",
    "VerifySignatures",
    "Violation",
    "WithinRateLimits",
    "configure",
    "judge",
]
