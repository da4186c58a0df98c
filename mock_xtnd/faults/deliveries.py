"""Delivery faults as data (pytest-httpserver's idea of small composable faults), seeded and reproducible:
the dice for an attempt depend only on (seed, delivery Id, attempt), never on arrival order."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..domain.errors import DomainError, FieldError
from ..settings import DeliveryFaultSettings

# admin body (camelCase) <-> config (snake_case)
FIELDS = {
    "duplicate": "duplicate",
    "reorderWindowSeconds": "reorder_window_seconds",
    "delaySeconds": "delay_seconds",
    "jitterSeconds": "jitter_seconds",
    "drop": "drop",
    "tamperSignature": "tamper_signature",
    "batch": "batch",
}


@dataclass(slots=True)
class AttemptPlan:
    duplicate: bool
    drop: bool
    tamper: bool


class DeliveryFaults:
    def __init__(self, seed: int, plan: DeliveryFaultSettings) -> None:
        self.seed = seed
        self.plan = plan

    def _dice(self, delivery_id: str, attempt: int, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}/{delivery_id}/{attempt}/{purpose}")

    def extra_delay_ms(self, delivery_id: str, attempt: int) -> int:
        p = self.plan
        ms = p.delay_seconds * 1000
        if p.jitter_seconds:
            ms += self._dice(delivery_id, attempt, "jitter").uniform(0, p.jitter_seconds * 1000)
        if attempt == 1 and p.reorder_window_seconds:
            ms += self._dice(delivery_id, attempt, "reorder").uniform(0, p.reorder_window_seconds * 1000)
        return int(ms)

    def for_attempt(self, delivery_id: str, attempt: int) -> AttemptPlan:
        p = self.plan
        if not (p.duplicate or p.drop or p.tamper_signature):
            return AttemptPlan(False, False, False)
        rng = self._dice(delivery_id, attempt, "attempt")
        return AttemptPlan(rng.random() < p.duplicate, rng.random() < p.drop, rng.random() < p.tamper_signature)

    def to_json(self) -> dict[str, Any]:
        return {camel: getattr(self.plan, snake) for camel, snake in FIELDS.items()}

    def update(self, body: dict[str, Any]) -> None:
        from pydantic import ValidationError

        unknown = [k for k in body if k not in FIELDS]
        if unknown:
            raise DomainError(400, f"Unknown delivery fault(s) {unknown}; known: {list(FIELDS)}.",
                              [FieldError(k, "Unknown field.") for k in unknown], "invalid")
        data = self.plan.model_dump()
        data.update({FIELDS[k]: v for k, v in body.items()})
        try:
            self.plan = DeliveryFaultSettings.model_validate(data)
        except ValidationError as e:
            inverse = {v: k for k, v in FIELDS.items()}
            errors = [FieldError(inverse.get(str(err["loc"][0]), str(err["loc"][0])), str(err["msg"]))
                      for err in e.errors()]
            raise DomainError(400, f"Invalid delivery fault: {errors[0].field}: {errors[0].message}", errors,
                              "invalid") from None
