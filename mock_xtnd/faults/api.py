"""API faults as data, applied by the request pipeline: per route pattern, latency (fixed, uniform, lognormal),
500 Internal, 503 and 429 with Retry-After, a dropped connection, a truncated body, outage windows, and
commit-then-drop (the request is processed and committed, then the answer is lost - the case idempotency keys are
for). Each fires with a probability, once / N times / until removed, inside an optional window on the fake's
clock. Dice are seeded: (seed, fault id, match number). Every answer a fault produced is labelled in the journal.
"""

from __future__ import annotations

import asyncio
import fnmatch
import math
import random
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..api.errors import error_response
from ..domain.clock import iso_ms
from ..domain.errors import DomainError, FieldError, not_found

if TYPE_CHECKING:
    from fastapi import APIRouter

    from ..api.pipeline import RequestContext
    from ..runtime import Runtime

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]


class FaultSpec(BaseModel):
    """One fault rule. YAML (config, scenarios) uses these snake_case keys; the admin body uses PascalCase."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["latency", "status", "outage", "drop", "truncate", "commit-then-drop"]
    route: str = Field("*", description="glob over the canonical path or route template, case-insensitive")
    method: str | None = None
    client_id: str | None = None
    status: int | None = Field(None, description="for kind status: 429, 500, 502, 503 or 504")
    retry_after: int = Field(1, ge=0, le=3600)
    latency_ms: float = Field(0, ge=0, le=120_000)
    latency_max_ms: float | None = Field(None, ge=0, le=120_000)
    latency_distribution: Literal["fixed", "uniform", "lognormal"] = "fixed"
    latency_sigma: float = Field(0.5, gt=0, le=5)
    probability: float = Field(1.0, ge=0, le=1)
    times: int | None = Field(None, ge=1, description="fire at most this often; null = until removed")
    starts_after_seconds: float = Field(0, ge=0)
    duration_seconds: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> FaultSpec:
        if self.kind == "status" and self.status not in (429, 500, 502, 503, 504):
            raise ValueError("status must be one of 429, 500, 502, 503, 504 for kind 'status'")
        if self.kind == "latency" and self.latency_ms <= 0:
            raise ValueError("latency_ms must be > 0 for kind 'latency'")
        return self


def _pascal(name: str) -> str:
    return "".join(p.capitalize() if p != "id" else "Id" for p in name.split("_"))


PASCAL = {_pascal(f): f for f in FaultSpec.model_fields}


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

    def matches(self, method: str, path: str, template: str | None, client_id: str | None) -> bool:
        s = self.spec
        if s.method and s.method.upper() != method:
            return False
        if s.client_id and s.client_id != client_id:
            return False
        pattern = s.route.lower()
        return fnmatch.fnmatchcase(path.lower(), pattern) or (
            template is not None and fnmatch.fnmatchcase(template.lower(), pattern))

    def to_json(self) -> dict[str, Any]:
        start, end = self.window()
        return {"Id": self.id, **{_pascal(k): v for k, v in self.spec.model_dump().items()},
                "ActiveFrom": iso_ms(start), "ActiveUntil": iso_ms(end) if end is not None else None,
                "Matched": self.matched, "Fired": self.fired}


@dataclass(slots=True)
class Picked:
    fault: Fault
    rng: random.Random

    @property
    def replaces_answer(self) -> bool:
        """The fault answers instead of XTND, so the request is never served (nor counted for rate limits)."""
        return self.fault.spec.kind in ("status", "outage", "drop")


class ApiFaults:
    """A runtime Part: the fault plan and its admin surface (/_mock/faults)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.faults: dict[str, Fault] = {}
        self._counter = 0
        self.reset()

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
        unknown = [k for k in body if k not in PASCAL]
        if unknown:
            raise DomainError(400, f"Unknown fault field(s) {unknown}; known: {sorted(PASCAL)}.",
                              [FieldError(k, "Unknown field.") for k in unknown])
        try:
            spec = FaultSpec.model_validate({PASCAL[k]: v for k, v in body.items()})
        except ValidationError as e:
            errors = [FieldError(_pascal(str(err["loc"][0])) if err["loc"] else "body", str(err["msg"]))
                      for err in e.errors()]
            raise DomainError(400, f"Invalid fault: {errors[0].field}: {errors[0].message}", errors) from None
        return self.add(spec)

    def pick(self, method: str, ctx: RequestContext, now: int) -> Picked | None:
        """The first active fault matching this request whose dice say it fires (at most one per request)."""
        route = ctx.route
        for fault in self.faults.values():
            if not fault.active(now) or not fault.matches(method, route.canonical_path, route.template, ctx.client_id):
                continue
            fault.matched += 1
            rng = random.Random(f"{self.rt.settings.seed}/fault/{fault.id}/{fault.matched}")
            if rng.random() < fault.spec.probability:
                fault.fired += 1
                return Picked(fault, rng)
        return None

    async def apply(self, picked: Picked, scope: MutableMapping[str, Any], ctx: RequestContext,
                    record: dict[str, Any], receive: Callable[[], Awaitable[Message]], send: Send, app: Any,
                    raw_send: Send) -> bool:
        """Apply a picked fault. True when the fault produced (or swallowed) the answer."""
        fault, rng = picked.fault, picked.rng
        s = fault.spec
        if s.kind == "latency":
            record["Fault"] = "latency"
            await asyncio.sleep(self._latency_ms(s, rng) / 1000)
            return False
        if s.kind in ("status", "outage"):
            status = 503 if s.kind == "outage" else int(s.status or 500)
            record["Fault"] = "outage" if s.kind == "outage" else f"status:{status}"
            headers = {"Retry-After": str(s.retry_after)} if status in (429, 503) else None
            message = {429: "Too many requests.", 503: "The service is temporarily unavailable.",
                       500: "An internal error occurred.", 502: "Bad gateway.", 504: "Gateway timeout."}[status]
            await error_response(status, message, [], trace_id=ctx.trace_id, headers=headers)(scope, receive, send)
            return True
        if s.kind == "drop":
            record["Fault"] = "drop"
            await self._drop(send, raw_send)
            return True
        if s.kind == "commit-then-drop":
            record["Fault"] = "commit-then-drop"
            captured: list[Message] = []

            async def swallow(message: Message) -> None:
                captured.append(message)

            await app(scope, receive, swallow)
            for m in captured:
                if m["type"] == "http.response.start":
                    record["Status"] = m["status"]
            await self._drop(send, raw_send)
            return True
        # truncate: a real answer whose body is cut in half, then the connection closes
        record["Fault"] = "truncate"
        chunks: list[Message] = []

        async def collect(message: Message) -> None:
            chunks.append(message)

        await app(scope, receive, collect)
        start = next(m for m in chunks if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in chunks if m["type"] == "http.response.body")
        await send(start)
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        self._close_transport(raw_send)
        return True

    @staticmethod
    def _latency_ms(s: FaultSpec, rng: random.Random) -> float:
        if s.latency_distribution == "uniform":
            return rng.uniform(s.latency_ms, s.latency_max_ms or s.latency_ms * 2)
        if s.latency_distribution == "lognormal":
            value = rng.lognormvariate(math.log(s.latency_ms), s.latency_sigma)
            return min(value, s.latency_max_ms or 120_000)
        return s.latency_ms

    @staticmethod
    def _close_transport(raw_send: Send) -> bool:
        """uvicorn's send is bound to its request cycle, which holds the transport: closing it drops the
        connection for real. Under an in-process transport there is none; the caller then ends incompletely."""
        transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
        if transport is not None:
            transport.close()
            return True
        return False

    async def _drop(self, send: Send, raw_send: Send) -> None:
        if self._close_transport(raw_send):
            return
        # no transport to close: announce a body that never comes, so the client cannot read a complete answer
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"1024"), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"", "more_body": True})

    def admin_routers(self) -> list[APIRouter]:
        from fastapi import APIRouter, Body
        from starlette.responses import Response

        from ..api.errors import json_response

        r = APIRouter(tags=["Faults"])

        @r.get("/faults", summary="The API fault plan")
        async def list_faults() -> Response:
            return json_response({"Items": [f.to_json() for f in self.faults.values()]})

        @r.post("/faults", status_code=201, summary="Add an API fault (fields: see GET; unknown -> 400)")
        async def add_fault(body: dict[str, Any] = Body(examples=[{  # noqa: B008
            "Kind": "status", "Route": "/api/ProductAvailability*", "Status": 503, "RetryAfter": 2, "Times": 3}])
        ) -> Response:
            return json_response(self.add_json(body).to_json(), 201)

        @r.delete("/faults/{fault_id}", summary="Remove one API fault")
        async def delete_fault(fault_id: str) -> Response:
            if self.faults.pop(fault_id, None) is None:
                raise not_found("Fault", fault_id, "id")
            return json_response({"Deleted": fault_id})

        @r.delete("/faults", summary="Remove every API fault")
        async def clear_faults() -> Response:
            n = len(self.faults)
            self.faults.clear()
            return json_response({"Deleted": n})

        return [r]
