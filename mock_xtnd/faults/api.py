"""API faults as data, applied by the request pipeline: per route pattern, transient 400s (SQL Server's deadlock or
timeout message, as a real tenant sends them), 429 with Retry-After, 500 Internal, latency (fixed, uniform,
lognormal), a dropped connection, a truncated body, outage windows (every connection dropped) and commit-then-drop
(the request is processed and committed, then the answer is lost: why a client looks an unanswered order POST up by
orderNumberExternal before sending it again). Each fires with a probability, once / N times / until removed, inside
an optional window on the fake's clock. Dice are seeded: (seed, fault id, match number). Every answer a fault
produced is labelled in the journal (``fault``).

Only statuses XTND documents are injected (400, 429, 500): the fake never answers what a real tenant would not.
"""

from __future__ import annotations

import fnmatch
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.responses import Response

from ..api.errors import DEADLOCK, INTERNAL, TIMEOUT, ApiError, json_response
from ..domain.clock import iso_ms
from ..domain.errors import DomainError, FieldError, not_found

if TYPE_CHECKING:
    from ..runtime import Runtime

REPLACING = frozenset({"transient", "status", "outage", "drop"})


class FaultSpec(BaseModel):
    """One fault rule. YAML (config, scenarios) uses these snake_case keys; the admin body uses camelCase."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["transient", "status", "latency", "drop", "truncate", "outage", "commit-then-drop"]
    route: str = Field("*", description="glob over the path, the route template, the path after the company "
                                        "(e.g. ProductAvailability*) or the operation id, case-insensitive")
    method: str | None = None
    user: str | None = None
    status: int | None = Field(None, description="for kind status: 429 or 500")
    message: Literal["deadlock", "timeout"] = Field("deadlock", description="for kind transient")
    retry_after: int = Field(1, ge=0, le=3600)
    latency_ms: float = Field(0, ge=0, le=120_000)
    latency_max_ms: float | None = Field(None, ge=0, le=120_000)
    latency_distribution: Literal["fixed", "uniform", "lognormal"] = "fixed"
    latency_sigma: float = Field(0.5, gt=0, le=5)
    probability: float = Field(1.0, ge=0, le=1)
    times: int | None = Field(None, ge=1, description="fire at most this often; null = until removed")
    starts_after_seconds: float = Field(0, ge=0, le=365 * 86400)
    duration_seconds: float | None = Field(None, gt=0, le=365 * 86400)

    @model_validator(mode="after")
    def _check(self) -> FaultSpec:
        if self.kind == "status" and self.status not in (429, 500):
            raise ValueError("status must be 429 or 500 for kind 'status' (the statuses XTND documents)")
        if self.kind == "latency" and self.latency_ms <= 0:
            raise ValueError("latency_ms must be > 0 for kind 'latency'")
        return self


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(p.capitalize() for p in rest)


CAMEL = {_camel(f): f for f in FaultSpec.model_fields}


class Fault:
    def __init__(self, fault_id: str, spec: FaultSpec, added_at: int) -> None:
        self.id = fault_id
        self.spec = spec
        self.added_at = added_at
        self.matched = 0
        self.fired = 0

    def window(self) -> tuple[int, int | None]:
        start = self.added_at + int(self.spec.starts_after_seconds * 1000)
        end = None if self.spec.duration_seconds is None else start + int(self.spec.duration_seconds * 1000)
        return start, end

    def active(self, now: int) -> bool:
        start, end = self.window()
        if now < start or (end is not None and now >= end):
            return False
        return self.spec.times is None or self.fired < self.spec.times

    def matches(self, method: str, names: tuple[str, ...], user: str | None) -> bool:
        """``names``: the request's path, route template, path after the company and operation id (lower case)."""
        s = self.spec
        if s.method and s.method.upper() != method:
            return False
        if s.user and s.user != user:
            return False
        pattern = s.route.lower()
        return any(fnmatch.fnmatchcase(name, pattern) for name in names)

    def to_json(self) -> dict[str, Any]:
        start, end = self.window()
        return {"id": self.id, **{_camel(k): v for k, v in self.spec.model_dump().items()},
                "activeFrom": iso_ms(start), "activeUntil": iso_ms(end) if end is not None else None,
                "matched": self.matched, "fired": self.fired}


@dataclass(slots=True)
class Picked:
    fault: Fault
    rng: random.Random

    @property
    def kind(self) -> str:
        return self.fault.spec.kind

    @property
    def replaces_answer(self) -> bool:
        """The fault answers instead of XTND, so the request is never served (nor counted for rate limits)."""
        return self.kind in REPLACING

    @property
    def label(self) -> str:
        s = self.fault.spec
        if s.kind == "transient":
            return f"transient-{s.message}"
        if s.kind == "status":
            return f"status:{s.status}"
        return s.kind

    def error(self, now_ms: int) -> ApiError | None:
        """The answer of a fault that answers with a status (transient, status), else None."""
        s = self.fault.spec
        if s.kind == "transient":
            text = DEADLOCK.format(pid=50 + self.rng.randrange(200)) if s.message == "deadlock" else TIMEOUT
            return ApiError(400, text, kind="Transient")
        if s.kind == "status" and s.status == 429:
            reset = math.ceil(now_ms / 1000) + s.retry_after
            return ApiError(429, "Too many requests (Rate limit = Standard).",
                            headers={"Retry-After": str(s.retry_after), "x-ratelimit-remaining": "0",
                                     "x-ratelimit-reset": str(reset)})
        if s.kind == "status":
            return ApiError(500, INTERNAL)
        return None

    def latency_ms(self) -> float:
        s = self.fault.spec
        if s.latency_distribution == "uniform":
            return self.rng.uniform(s.latency_ms, s.latency_max_ms or s.latency_ms * 2)
        if s.latency_distribution == "lognormal":
            value = self.rng.lognormvariate(math.log(s.latency_ms), s.latency_sigma)
            return min(value, s.latency_max_ms or 120_000)
        return s.latency_ms


class ApiFaults:
    """A runtime Part: the fault plan and its admin surface (/_mock/faults)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.faults: dict[str, Fault] = {}
        self._counter = 0
        self.reset()

    def reset_records(self) -> list[tuple[str, str, Any]]:
        return []

    def reset(self) -> list[tuple[str, str, Any]]:
        self.faults.clear()
        self._counter = 0
        for spec in self.rt.settings.api_faults:
            self.add(FaultSpec.model_validate(spec))
        return []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def add(self, spec: FaultSpec) -> Fault:
        self._counter += 1
        fault = Fault(f"F{self._counter}", spec, self.rt.clock.now_ms())
        self.faults[fault.id] = fault
        return fault

    def add_json(self, body: dict[str, Any]) -> Fault:
        unknown = [k for k in body if k not in CAMEL]
        if unknown:
            raise DomainError(400, f"Unknown fault field(s) {unknown}; known: {sorted(CAMEL)}.",
                              [FieldError(k, "Unknown field.") for k in unknown], "invalid")
        try:
            spec = FaultSpec.model_validate({CAMEL[k]: v for k, v in body.items()})
        except ValidationError as e:
            errors = [FieldError(_camel(str(err["loc"][0])) if err["loc"] else "body", str(err["msg"]))
                      for err in e.errors()]
            raise DomainError(400, f"Invalid fault: {errors[0].field}: {errors[0].message}", errors,
                              "invalid") from None
        return self.add(spec)

    def pick(self, method: str, names: tuple[str, ...], user: str | None, now: int) -> Picked | None:
        """The first active fault matching this request whose dice say it fires (at most one per request)."""
        for fault in self.faults.values():
            if not fault.active(now) or not fault.matches(method, names, user):
                continue
            fault.matched += 1
            rng = random.Random(f"{self.rt.settings.seed}/fault/{fault.id}/{fault.matched}")
            if rng.random() < fault.spec.probability:
                fault.fired += 1
                return Picked(fault, rng)
        return None

    def admin_routers(self) -> list[APIRouter]:
        r = APIRouter(tags=["Faults"])

        @r.get("/faults", summary="The API fault plan")
        async def list_faults() -> Response:
            return json_response({"items": [f.to_json() for f in self.faults.values()]})

        @r.post("/faults", status_code=201, summary="Add an API fault (fields: see GET; unknown -> 400)")
        async def add_fault(body: dict[str, Any] = Body(examples=[{  # noqa: B008
            "kind": "transient", "route": "ProductAvailability*", "message": "deadlock", "times": 3}])
        ) -> Response:
            return json_response(self.add_json(body).to_json(), 201)

        @r.delete("/faults/{fault_id}", summary="Remove one API fault")
        async def delete_fault(fault_id: str) -> Response:
            if self.faults.pop(fault_id, None) is None:
                raise not_found("Fault", fault_id, "id")
            return json_response({"deleted": fault_id})

        @r.delete("/faults", summary="Remove every API fault")
        async def clear_faults() -> Response:
            n = len(self.faults)
            self.faults.clear()
            return json_response({"deleted": n})

        return [r]
