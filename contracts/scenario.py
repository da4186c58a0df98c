"""The scenario model: what a scenario file (YAML, snake_case) may say. The JSON Schema at
scenarios/scenario.schema.json is generated from these models; every file is validated before anything runs, and
a bad file gets an error naming the file, the field and what was expected.

Times (`at`) are seconds from the start of the timeline. For external clients the harness runs on the real clock,
so scenarios shorten the retry schedule and lifecycle delays to fit about a minute; in-process runs use the
virtual clock and may span days.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CatalogueSpec(_M):
    products: int = Field(200, ge=1, le=200_000)
    warehouses: int = Field(3, ge=1, le=20)
    customers: int = Field(30, ge=1, le=10_000)


class DeliveryProfile(_M):
    retry_delays_seconds: list[float] = Field(default_factory=lambda: [2.0, 5.0])
    timeout_seconds: float = Field(5.0, gt=0, le=60)
    senders: int = Field(8, ge=1, le=256)


class DeliveryFaultsSpec(_M):
    duplicate: float = Field(0.0, ge=0, le=1)
    reorder_window_seconds: float = Field(0.0, ge=0, le=600)
    delay_seconds: float = Field(0.0, ge=0, le=600)
    jitter_seconds: float = Field(0.0, ge=0, le=600)
    drop: float = Field(0.0, ge=0, le=1)
    tamper_signature: float = Field(0.0, ge=0, le=1)
    batch: int = Field(1, ge=1, le=100)


class RateLimitSpec(_M):
    standard: int = Field(300, ge=1)
    list: int = Field(60, ge=1)
    write: int = Field(120, ge=1)


# ---------------------------------------------------------------------------------------------- steps
class ShopOrderLine(_M):
    product: str | None = Field(None, description="product number; omitted = a seeded random active product")
    quantity: int = Field(1, ge=1, le=1000)


class ShopOrder(_M):
    """Ask the client's shop to take an order (POST /xtnd/shop/orders on the client)."""

    lines: list[ShopOrderLine] = Field(default_factory=lambda: [ShopOrderLine()], min_length=1)
    warehouse: str = "1"
    count: int = Field(1, ge=1, le=100, description="how many such orders")


class StockMove(_M):
    product: str | None = Field(None, description="omitted = a seeded random product")
    warehouse: str | None = Field(None, description="omitted = a seeded random warehouse")
    delta: int | None = None
    on_hand: int | None = Field(None, ge=0)
    count: int = Field(1, ge=1, le=10_000, description="repeat with fresh random products")

    @model_validator(mode="after")
    def _one(self) -> StockMove:
        if self.delta is None and self.on_hand is None:
            self.delta = 5
        if self.delta is not None and self.on_hand is not None:
            raise ValueError("give delta or on_hand, not both")
        return self


class OrderMove(_M):
    """A back-office move of orders the client created (found in the fake's state by their order numbers)."""

    action: Literal["reserve", "pick", "cancel", "delivery_date"]
    which: Literal["first", "last", "all", "oldest_created"] | int = "all"
    days: int = Field(3, ge=-30, le=365, description="delivery_date: move it this many days from today")


class StormSpec(_M):
    shape: Literal["constant", "ramp", "burst", "poisson"] = "constant"
    rate: float = Field(100, gt=0, le=50_000)
    count: int | None = Field(None, ge=1, le=1_000_000)
    duration_seconds: float | None = Field(None, gt=0, le=3600)
    products: int | None = Field(None, ge=1)
    skew: Literal["uniform", "zipf"] = "uniform"
    warehouses: list[str] = Field(default_factory=list)


class ApiFaultStep(_M):
    """An API fault added at this time (fields as in the fault plan, see mock_xtnd/faults/api.py)."""

    kind: Literal["latency", "status", "outage", "drop", "truncate", "commit-then-drop"]
    route: str = "*"
    method: str | None = None
    status: int | None = None
    retry_after: int = 1
    latency_ms: float = 0
    probability: float = 1.0
    times: int | None = None
    duration_seconds: float | None = None


class ForgeStep(_M):
    action: str = "AvailableBalanceChanged"
    signature: Literal["bad", "missing"] = "bad"
    product: str | None = None
    warehouse: str = "1"
    balance: int = 99_999
    count: int = Field(1, ge=1, le=100)


class ReceiverOutage(_M):
    """The client's receiver is unreachable from the fake for this long (deliveries are refused, so they retry)."""

    duration_seconds: float = Field(gt=0, le=86_400)


class Step(_M):
    at: float = Field(ge=0, le=86_400 * 30, description="seconds from the start of the timeline")
    note: str | None = None
    shop_order: ShopOrder | None = None
    stock: StockMove | None = None
    order: OrderMove | None = None
    storm: StormSpec | None = None
    purchase_arrival: StockMove | None = Field(None, description="a purchase order arrives (stock rises)")
    api_fault: ApiFaultStep | None = None
    clear_api_faults: bool = False
    forge: ForgeStep | None = None
    receiver_outage: ReceiverOutage | None = None
    expire_tokens: bool = False
    advance_seconds: float | None = Field(None, gt=0, description="virtual clock only")

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        actions = [k for k in ("shop_order", "stock", "order", "storm", "purchase_arrival", "api_fault", "forge",
                               "receiver_outage", "advance_seconds") if getattr(self, k) is not None]
        actions += [k for k in ("expire_tokens", "clear_api_faults") if getattr(self, k)]
        if len(actions) != 1:
            raise ValueError(f"a step does exactly one thing; this one has {actions or 'nothing'}")
        return self

    @property
    def kind(self) -> str:
        for k in ("shop_order", "stock", "order", "storm", "purchase_arrival", "api_fault", "forge",
                  "receiver_outage", "advance_seconds"):
            if getattr(self, k) is not None:
                return k
        return "expire_tokens" if self.expire_tokens else "clear_api_faults"


class Settle(_M):
    quiet_seconds: float = Field(3.0, ge=0, le=600, description="no client API call for this long")
    max_seconds: float = Field(30.0, ge=0, le=3600, description="give up waiting after this long")


class Expectations(_M):
    must_pass: list[str] | Literal["all"] = "all"
    must_fail: list[str] = Field(default_factory=list, description="negative examples: rules that must fire")
    converges: bool = True
    max_calls_per_balance_event: float | None = Field(None, gt=0)
    max_lag_seconds: float | None = Field(None, gt=0)
    rule_params: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Scenario(_M):
    name: str = Field(min_length=1)
    description: str = ""
    seed: int = 1
    clock: Literal["real", "virtual"] = "real"
    webhooks: bool = True
    catalogue: CatalogueSpec = Field(default_factory=CatalogueSpec)
    rate_limits: RateLimitSpec = Field(default_factory=RateLimitSpec)
    delivery: DeliveryProfile = Field(default_factory=DeliveryProfile)
    delivery_faults: DeliveryFaultsSpec = Field(default_factory=DeliveryFaultsSpec)
    api_faults: list[ApiFaultStep] = Field(default_factory=list)
    timeline: list[Step] = Field(default_factory=list)
    settle: Settle = Field(default_factory=Settle)
    expect: Expectations = Field(default_factory=Expectations)

    @model_validator(mode="after")
    def _ordered(self) -> Scenario:
        times = [s.at for s in self.timeline]
        if times != sorted(times):
            raise ValueError("timeline steps must be in time order (`at` never decreases)")
        if self.clock == "real" and any(s.advance_seconds for s in self.timeline):
            raise ValueError("advance_seconds needs clock: virtual")
        return self

    @property
    def duration(self) -> float:
        return max((s.at for s in self.timeline), default=0.0)


class ScenarioError(Exception):
    """A bad scenario file: names the file, the field and what was expected."""


def load_scenario(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ScenarioError(f"{p}: cannot read: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise ScenarioError(f"{p}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ScenarioError(f"{p}: a scenario is a mapping with at least `name`")
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            given = err.get("input")
            shown = f" (got {given!r})" if not isinstance(given, dict | list) and given is not None else ""
            lines.append(f"  {loc}: {err['msg']}{shown}")
        raise ScenarioError(f"{p}: invalid scenario\n" + "\n".join(lines)) from e


def schema() -> dict[str, Any]:
    return Scenario.model_json_schema()


DEFAULT_SCENARIO: dict[str, Any] = {
    "name": "default",
    "description": "About a minute that gives every rule a chance to fire: shop orders and their back-office "
    "moves, stock moves, a small storm, a window of 429/503 answers, token expiry, forged hooks.",
    "seed": 1,
    "catalogue": {"products": 200, "warehouses": 3, "customers": 30},
    "delivery": {"retry_delays_seconds": [2, 5], "timeout_seconds": 5},
    "timeline": [
        {"at": 1, "shop_order": {"count": 3, "lines": [{"quantity": 1}, {"quantity": 2}]}},
        {"at": 3, "stock": {"count": 10, "delta": 4}},
        {"at": 6, "order": {"action": "reserve", "which": "first"}},
        {"at": 7, "order": {"action": "cancel", "which": "last"}},
        {"at": 8, "storm": {"shape": "burst", "rate": 60, "count": 300, "products": 40, "skew": "zipf"}},
        {"at": 12, "order": {"action": "pick", "which": "first"}},
        {"at": 14, "order": {"action": "delivery_date", "which": 1, "days": 5}},
        {"at": 16, "api_fault": {"kind": "status", "status": 429, "retry_after": 2, "route": "/api/*",
                                 "duration_seconds": 4}},
        {"at": 17, "stock": {"count": 5, "delta": -1}},
        {"at": 22, "api_fault": {"kind": "status", "status": 503, "retry_after": 1, "route": "/api/*",
                                 "duration_seconds": 3}},
        {"at": 23, "purchase_arrival": {"count": 5, "delta": 20}},
        {"at": 28, "forge": {"signature": "bad"}},
        {"at": 29, "forge": {"signature": "missing"}},
        {"at": 32, "expire_tokens": True},
        {"at": 33, "stock": {"count": 10, "delta": 3}},
        {"at": 36, "api_fault": {"kind": "status", "status": 500, "route": "/api/ProductAvailability*",
                                 "times": 2}},
        {"at": 37, "stock": {"count": 5, "delta": 2}},
        {"at": 40, "shop_order": {"count": 1}},
        {"at": 44, "order": {"action": "pick", "which": "last"}},
        {"at": 48, "stock": {"count": 8, "delta": -1}},
    ],
    "settle": {"quiet_seconds": 3, "max_seconds": 25},
}


def default_scenario() -> Scenario:
    return Scenario.model_validate(DEFAULT_SCENARIO)
