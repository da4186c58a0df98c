"""The scenario model: what a scenario file (YAML) may say. One vocabulary with the API: where a scenario names a
field of a record it uses the API's name (``productNumber``, ``warehouse``, ``balanceDifference``,
``physicalBalance``); structural keys stay snake_case like the config file. The JSON Schema at
scenarios/scenario.schema.json is generated from these models (``mock-xtnd scenario schema``); every file is
validated before anything runs, and a bad file gets an error naming the file, the line, the field and what was
expected. The format is documented in docs/scenarios.md.

Times (``at``) are seconds from the start of the timeline, or durations such as ``90s``, ``10m``, ``1h30m``,
``2d``. With ``clock: real`` (external clients) the harness sleeps between steps, so scenarios shorten the retry
schedule to fit about a minute; with ``clock: virtual`` the harness moves the fake's clock to each step and may
span days (see ``VirtualClockSpec`` and docs/scenarios.md for what that mode guarantees).
"""

from __future__ import annotations

import difflib
import random
import re
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .rules import RULES_BY_ID, Severity

SCHEMA_ID = "https://mock-xtnd.invalid/scenario.schema.json"
#: The line every scenario file starts with, so editors (yaml-language-server) validate and complete it.
MODELINE = "# yaml-language-server: $schema=./scenario.schema.json"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _problem(message: str, at: str | None = None) -> PydanticCustomError:
    """A validation problem; ``at`` (dotted, relative to the model) narrows where it is reported."""
    return PydanticCustomError("scenario", "{message}", {"message": message, "at": at or ""})


# ---------------------------------------------------------------------------------------------- durations
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
_PART = r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)"
DURATION_PATTERN = rf"^\s*(?:\d+(?:\.\d+)?|(?:{_PART}\s*)+)\s*$"


def parse_duration(value: Any) -> Any:
    """``90`` / ``"90"`` / ``"90s"`` / ``"10m"`` / ``"1h30m"`` / ``"2d"`` / ``"500ms"`` -> seconds (float).
    Anything else is passed on for the number check to refuse."""
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not re.fullmatch(DURATION_PATTERN, text):
        raise _problem(f"expected seconds or a duration such as '90s', '10m', '1h30m', '2d'; got {value!r}")
    return sum(float(n) * _UNITS[u] for n, u in re.findall(_PART, text))


_DURATION_SCHEMA = {
    "anyOf": [{"type": "number", "minimum": 0},
              {"type": "string", "pattern": DURATION_PATTERN, "examples": ["90s", "10m", "1h30m", "2d"]}],
}
Seconds = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]


# ---------------------------------------------------------------------------------------------- rule ids
def _known_rule(rule_id: str) -> str:
    if rule_id not in RULES_BY_ID:
        near = difflib.get_close_matches(rule_id, list(RULES_BY_ID), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(RULES_BY_ID)})"
        raise _problem(f"unknown rule {rule_id!r}{hint}")
    return rule_id


RuleId = Annotated[str, AfterValidator(_known_rule), WithJsonSchema({"type": "string", "enum": list(RULES_BY_ID)})]


def _override_model(rule_id: str) -> type[BaseModel]:
    """The rule's own parameter model plus ``severity`` and ``enabled``: every field optional (the rule's
    defaults apply), unknown names refused, values checked by the rule's own constraints."""
    rule = RULES_BY_ID[rule_id]
    name = "".join(p.capitalize() for p in rule_id.split("-")) + "Params"
    extra: dict[str, Any] = {
        "severity": (Severity | None, Field(None, description="error (default) or warning")),
        "enabled": (bool, Field(True, description="false: the rule does not run")),
    }
    return create_model(
        name,
        __base__=rule.params_type,
        __doc__=f"Parameters of the rule `{rule_id}`: {rule.description} (docs/rules.md).",
        **extra,
    )


def _rule_overrides_model() -> type[BaseModel]:
    fields: dict[str, Any] = {
        rule_id.replace("-", "_"): (_override_model(rule_id) | None, Field(None, alias=rule_id))
        for rule_id in RULES_BY_ID
    }
    return create_model(
        "RuleParams",
        __config__=ConfigDict(extra="forbid", populate_by_name=False),
        __doc__="Per-rule parameter overrides, by rule id (docs/rules.md); unknown rules or parameters are errors.",
        **fields,
    )


if TYPE_CHECKING:
    RuleOverrides = BaseModel
else:
    RuleOverrides = _rule_overrides_model()


# ---------------------------------------------------------------------------------------------- fake settings
class CatalogueSpec(_M):
    """The seeded catalogue (the same seed and sizes give the same products, numbers and stock)."""

    products: int = Field(200, ge=1, le=200_000)
    warehouses: int = Field(3, ge=1, le=5)
    customers: int = Field(30, ge=1, le=10_000)


class DeliveryProfile(_M):
    """The webhook sender. XTND (ASP.NET WebHooks) retries after 60 and 240 s; real-clock scenarios shorten it."""

    retry_delays_seconds: list[Seconds] = Field(default_factory=lambda: [2.0, 5.0])
    timeout_seconds: float = Field(5.0, gt=0, le=60)
    senders: int = Field(8, ge=1, le=256)


class DeliveryFaultsSpec(_M):
    """Delivery faults, seeded per attempt (see docs/webhooks.md)."""

    duplicate: float = Field(0.0, ge=0, le=1, description="probability an attempt is sent twice")
    reorder_window_seconds: float = Field(0.0, ge=0, le=600, description="first attempts spread over this window")
    delay_seconds: float = Field(0.0, ge=0, le=600, description="extra delay before every attempt")
    jitter_seconds: float = Field(0.0, ge=0, le=600, description="plus a uniform random delay up to this")
    drop: float = Field(0.0, ge=0, le=1, description="probability an attempt is lost on the wire (then retried)")
    tamper_signature: float = Field(0.0, ge=0, le=1, description="probability an attempt carries a wrong signature")
    batch: int = Field(1, ge=1, le=100, description="notifications of one change per POST")


class RateLimitSpec(_M):
    """Calls per company per rolling window, per endpoint family (xtnd-contract.md §1.1: "Standard" is 300;
    observed: limits differ per family). ``families`` overrides the default for some, e.g.
    ``{ProductAvailability: 600}``."""

    default: int = Field(300, ge=1, le=1_000_000)
    window_seconds: int = Field(60, ge=1, le=3600)
    families: dict[str, int] = Field(default_factory=dict, description="endpoint family (the resource) -> limit")

    @field_validator("families")
    @classmethod
    def _families(cls, v: dict[str, int]) -> dict[str, int]:
        for name, limit in v.items():
            if name not in RATE_FAMILIES:
                near = difflib.get_close_matches(name, RATE_FAMILIES, n=1)
                hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(RATE_FAMILIES)}"
                raise _problem(f"unknown endpoint family {name!r} ({hint})", name)
            if not 1 <= limit <= 1_000_000:
                raise _problem(f"a limit must be from 1 to 1,000,000; got {limit}", name)
        return v


#: Endpoint families (the resources a client of the fake calls).
RATE_FAMILIES = ("CustomerOrders", "Products", "ProductAvailability", "ProductPrices", "Customers",
                 "WarehouseStockLevels")


class QuirksSpec(_M):
    """The production quirks (xtnd-contract.md §1.2, docs/wire.md): on by default, as on a real tenant."""

    transient_errors: float = Field(
        0.01, ge=0, le=1, description="share of calls answered with a transient 400 (deadlock or timeout); 0 = off")
    page_past_end_400: bool = Field(True, description="a scheme A page past the end answers 400")
    orders_list_needs_modified_date: bool = Field(
        True, description="GET CustomerOrders without modifiedDateFrom answers the timeout 400")
    products_modified_misses_new: bool = Field(
        True, description="GET Products by modifiedDateFrom leaves out products never changed since created")


class PagingSpec(_M):
    """Page sizes and live paging (docs/wire.md, Paging)."""

    page_size: int = Field(100, ge=1, le=10_000, description="scheme B page size (XTND's: 100)")
    default_page_count: int = Field(100, ge=1, le=10_000, description="scheme A pageCount when none is sent")
    max_page_count: int = Field(1000, ge=1, le=100_000, description="scheme A: a larger pageCount is a 400")
    stable_snapshots: bool = Field(False, description="fix a pass's result set at its first page (default: live)")


# ---------------------------------------------------------------------------------------------- steps
class ShopOrderRow(_M):
    productNumber: str | None = Field(None, description="omitted = a seeded random enabled product")
    quantity: int = Field(1, ge=1, le=1000)


class ShopOrder(_M):
    """Ask the client's shop to take an order (``POST /xtnd/shop/orders`` on the client, body
    ``{"rows": [{productNumber, quantity}], "warehouse"}``)."""

    rows: list[ShopOrderRow] = Field(default_factory=lambda: [ShopOrderRow()], min_length=1)
    warehouse: str = "1"
    count: int = Field(1, ge=1, le=100, description="how many such orders")


class StockMove(_M):
    """A back-office stock move (``POST /_mock/stock``): fires BalanceChanged and AvailableBalanceChanged."""

    productNumber: str | None = Field(None, description="omitted = a seeded random product")
    warehouse: str | None = Field(None, description="omitted = a seeded random warehouse")
    balanceDifference: int | None = Field(
        None, description="change of the physical balance (default +5 when physicalBalance is not given)")
    physicalBalance: int | None = Field(None, ge=0, description="set the physical balance to this")
    count: int = Field(1, ge=1, le=10_000, description="repeat (a fixed product repeats on the same item)")

    @model_validator(mode="after")
    def _one(self) -> StockMove:
        if self.balanceDifference is not None and self.physicalBalance is not None:
            raise _problem("give balanceDifference or physicalBalance, not both", "physicalBalance")
        if self.balanceDifference is None and self.physicalBalance is None:
            self.balanceDifference = 5
        return self


class PurchaseArrival(_M):
    """A purchase order is placed and its goods arrive (PurchaseDelivered; stock rises)."""

    productNumber: str | None = Field(None, description="omitted = a seeded random product")
    warehouse: str | None = Field(None, description="omitted = a seeded random warehouse")
    quantity: int = Field(10, ge=1, le=100_000, description="quantity that arrives")
    count: int = Field(1, ge=1, le=1000, description="how many purchases")


Which = Literal["first", "last", "all"] | Annotated[int, Field(ge=0)]


class OrderMove(_M):
    """A back-office move of the client's orders, found in the fake's state (oldest first): ``reserve``
    (picking starts: Reserved), ``pick`` (ships what is on hand: Terminated or PartiallyDelivered), ``cancel``
    (Annulled), ``delivery_date`` (``askedDeliveryDate`` moves ``days`` from the fake's today)."""

    action: Literal["reserve", "pick", "cancel", "delivery_date"]
    which: Which = Field("all", description="first, last, all, or an index (0 = the oldest order)")
    days: int = Field(3, ge=-30, le=365, description="delivery_date: move it this many days from today")


class StormSpec(_M):
    """Other sales channels reserving and releasing stock, one unit a step (docs/simulation.md)."""

    shape: Literal["constant", "ramp", "burst", "poisson"] = "constant"
    rate: float = Field(100, gt=0, le=50_000, description="steps (AvailableBalanceChanged events) per second")
    count: int | None = Field(None, ge=1, le=1_000_000, description="steps in all (or duration_seconds)")
    duration_seconds: Seconds | None = Field(None, gt=0, le=3600, description="how long (or count)")
    products: int | None = Field(None, ge=1, description="how many products the storm uses (default all)")
    skew: Literal["uniform", "zipf"] = "uniform"
    zipf_s: float = Field(1.1, gt=0, le=10, description="Zipf exponent (skew: zipf)")
    warehouses: list[str] = Field(default_factory=list, description="default: all")
    burst_period_seconds: float = Field(10.0, gt=0, le=3600, description="shape burst: period length")
    _planned_seconds: float = PrivateAttr(0.0)

    @model_validator(mode="after")
    def _plan(self) -> StormSpec:
        if (self.count is None) == (self.duration_seconds is None):
            raise _problem("give count or duration_seconds (exactly one)", "count")
        from mock_xtnd.domain.errors import DomainError
        from mock_xtnd.simulate.storm import Plan
        from mock_xtnd.simulate.storm import StormSpec as FakeStormSpec

        try:  # the fake's own planner: a storm it would refuse is refused here, before anything runs
            plan = Plan(FakeStormSpec.model_validate(self.admin_body()), random.Random(0))
        except DomainError as e:
            raise _problem(f"the fake would refuse this storm: {e}") from None
        self._planned_seconds = plan.duration
        return self

    def admin_body(self) -> dict[str, Any]:
        """The ``POST /_mock/storm`` body (camelCase, docs/control-surface.md)."""
        return {_camel(k): v for k, v in self.model_dump().items() if v not in (None, [])}

    @property
    def planned_seconds(self) -> float:
        return self._planned_seconds


OLD_BASE = re.compile(r"^/?api(/|$)", re.IGNORECASE)


class ApiFaultStep(_M):
    """An API fault (the fault plan's fields, see ``/_mock/faults`` and docs/wire.md). Its window starts when
    the step runs (plus ``starts_after_seconds``). ``route`` is a glob (case-insensitive) over the path, the route
    template, the path after the company (``ProductAvailability*``, ``CustomerOrders/*``) or the operation id."""

    kind: Literal["transient", "status", "latency", "drop", "truncate", "outage", "commit-then-drop"]
    route: str = Field("*", description="glob over the path, the route template, the path after the company "
                       "(e.g. ProductAvailability*) or the operation id")
    method: str | None = Field(None, description="only this HTTP method")
    message: Literal["deadlock", "timeout"] | None = Field(
        None, description="kind transient: SQL Server's deadlock-victim or execution-timeout message (default "
        "deadlock)")
    status: int | None = Field(None, description="kind status: 429 (with Retry-After) or 500")
    retry_after: int = Field(1, ge=0, le=3600, description="Retry-After of 429 answers, seconds")
    latency_ms: float = Field(0, ge=0, le=120_000)
    latency_max_ms: float | None = Field(None, ge=0, le=120_000)
    latency_distribution: Literal["fixed", "uniform", "lognormal"] = "fixed"
    probability: float = Field(1.0, ge=0, le=1)
    times: int | None = Field(None, ge=1, description="fire at most this often; omitted = until the window ends")
    starts_after_seconds: Seconds = Field(0, ge=0)
    duration_seconds: Seconds | None = Field(None, gt=0, description="omitted = until cleared")

    @field_validator("route")
    @classmethod
    def _route(cls, v: str) -> str:
        if OLD_BASE.match(v.strip()):
            raise _problem(f"{v!r}: the /api paths are gone; name the resource (e.g. ProductAvailability*) or the "
                           "full path /RESTAPI/v1_0/<company>/...")
        return v.strip() or "*"

    @model_validator(mode="after")
    def _as_the_fake_checks(self) -> ApiFaultStep:
        if self.kind == "status" and self.status not in (429, 500):
            raise _problem("kind status needs status: 429 or 500", "status")
        if self.kind != "status" and self.status is not None:
            raise _problem(f"status only goes with kind status (this is kind {self.kind})", "status")
        if self.kind != "transient" and self.message is not None:
            raise _problem(f"message only goes with kind transient (this is kind {self.kind})", "message")
        if self.kind == "transient" and self.message is None:
            self.message = "deadlock"
        if self.kind == "latency" and self.latency_ms <= 0:
            raise _problem("kind latency needs latency_ms > 0", "latency_ms")
        return self

    def full_route(self, company: str) -> str:
        """The glob the harness hands the fake: a path after the company gets the company's base path in front
        (``ProductAvailability*`` -> ``/RESTAPI/v1_0/<company>/ProductAvailability*``), so it means the same
        whichever of its names the fake matches it against."""
        route = self.route
        if route == "*" or route.startswith("/") or "_" in route:  # absolute, everything, or an operation id
            return route
        return f"/RESTAPI/v1_0/{company}/{route}"

    def admin_body(self, company: str) -> dict[str, Any]:
        """The ``POST /_mock/faults`` body (camelCase, docs/control-surface.md)."""
        return {**{_camel(k): v for k, v in self.model_dump().items() if v is not None},
                "route": self.full_route(company)}

    def settings_entry(self, company: str) -> dict[str, Any]:
        """The same fault as an ``api_faults`` entry of the fake's settings (snake_case)."""
        return {**{k: v for k, v in self.model_dump().items() if v is not None}, "route": self.full_route(company)}


FORGEABLE_ORDER_ACTIONS = ("OrderReserved", "OrderPicked", "OrderCancelled", "OrderDeliveryDataChanged")


class ForgeStep(_M):
    """A hook with a bad or missing signature: the client must refuse it (401) and act on nothing."""

    action: Literal["AvailableBalanceChanged", "BalanceChanged", "OrderReserved", "OrderPicked", "OrderCancelled",
                    "OrderDeliveryDataChanged", "ProductChanged"] = "AvailableBalanceChanged"
    signature: Literal["bad", "missing"] = "bad"
    productNumber: str | None = Field(None, description="balance/product actions; omitted = a seeded random product")
    warehouse: str = "1"
    balance: int = Field(99_999, description="the AvailableBalance (or Balance) it claims: a value the truth "
                         "never takes")
    order: Which = Field("last", description="order actions: which of the client's orders it names")
    count: int = Field(1, ge=1, le=100)


class ReceiverOutage(_M):
    """The client's receiver is unreachable from the fake for this long: deliveries are refused and retried,
    and those whose whole retry schedule falls inside the outage are dead-lettered. Attempts refused during the
    outage are labelled ``fault: drop`` (``harnessFault: receiver-outage``) in the journal: the harness caused
    them, so they never count against ``ack-hooks-fast``."""

    duration_seconds: Seconds = Field(gt=0, le=86_400 * 7)


class PasswordChange(_M):
    """The client's password is changed (an administrator rotates it, ``PUT /_mock/users``) for this long, then
    put back: meanwhile every call with the old one answers 401. A client must back off and alert, not hammer,
    and carry on once the credentials work again."""

    duration_seconds: Seconds = Field(gt=0, le=86_400)


STEP_KINDS = ("shop_order", "stock", "order", "storm", "purchase_arrival", "api_fault", "clear_api_faults",
              "forge", "receiver_outage", "password_change", "delivery_faults")
_FLAG_KINDS = ("clear_api_faults",)


class Step(_M):
    """One thing that happens at ``at``. Several steps may share an ``at``; they run in file order."""

    at: Seconds = Field(ge=0, le=86_400 * 60, description="seconds from the start of the timeline, or '10m', '2d'")
    note: str | None = Field(None, description="shown in the harness log")
    shop_order: ShopOrder | None = None
    stock: StockMove | None = None
    order: OrderMove | None = None
    storm: StormSpec | None = None
    purchase_arrival: PurchaseArrival | None = None
    api_fault: ApiFaultStep | None = None
    clear_api_faults: bool = Field(False, description="true: remove every API fault")
    forge: ForgeStep | None = None
    receiver_outage: ReceiverOutage | None = None
    password_change: PasswordChange | None = None
    delivery_faults: DeliveryFaultsSpec | None = Field(None, description="replace the delivery fault plan")

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        actions = self.actions()
        if len(actions) != 1:
            what = f"{len(actions)} things ({', '.join(actions)}): give each its own step (steps may share an `at`)" \
                if actions else f"nothing: give one of {', '.join(STEP_KINDS)}"
            raise _problem(f"a step does exactly one thing; this one does {what}")
        return self

    def actions(self) -> list[str]:
        return [k for k in STEP_KINDS if (getattr(self, k) is True if k in _FLAG_KINDS else getattr(self, k) is not None)]

    @property
    def kind(self) -> str:
        return self.actions()[0]

    @property
    def spec(self) -> Any:
        return None if self.kind in _FLAG_KINDS else getattr(self, self.kind)


# ---------------------------------------------------------------------------------------------- run control
class VirtualClockSpec(_M):
    """How the harness drives a virtual clock (``clock: virtual``). While the client is busy (it made an API
    call or received a hook in the last ``quiet_seconds``), the fake's clock follows real time in ticks of
    ``tick_seconds``, so Retry-After, rate-limit windows and rule windows mean what they say; while it is quiet,
    the clock jumps to the next thing that happens (a step, a delivery retry, the end of an outage), at most
    ``max_jump_seconds`` at a time."""

    quiet_seconds: float = Field(1.0, gt=0, le=60, description="no client call or hook for this long (real) = quiet")
    busy_max_seconds: float = Field(30.0, gt=0, le=600, description="jump anyway after following a busy client this long (real)")
    tick_seconds: float = Field(0.05, gt=0, le=1, description="clock tick while the client is busy (real)")
    max_jump_seconds: Seconds = Field(3600.0, gt=0, description="largest single jump of the clock")


class Settle(_M):
    """After the timeline: wait until the outbox is empty and the client is quiet (``until: quiet``), or also
    until the client's view equals the truth as ``converges`` judges it (``until: converged``) - bounded."""

    until: Literal["quiet", "converged"] = "quiet"
    quiet_seconds: float = Field(3.0, ge=0, le=600, description="no client API call for this long")
    max_seconds: Seconds = Field(30.0, ge=0, le=3600, description="give up waiting after this long (real time)")


class Expectations(_M):
    """What must hold for the scenario to pass."""

    must_pass: list[RuleId] | Literal["all"] = Field(
        "all", description="rules that must pass ('all': no error-severity rule may fail); a listed rule "
        "that is not checked or not applicable fails the scenario")
    must_fail: list[RuleId] = Field(default_factory=list, description="negative examples: rules that must fire")
    require: list[RuleId] = Field(
        default_factory=list, description="rules the scenario exists to exercise: each must be checked, "
        "applicable and passed (NOT CHECKED or N/A fails the scenario, so it cannot stop testing them silently)")
    converges: bool = Field(True, description="converges must be checked (the client serves /xtnd/probe)")
    max_calls_per_balance_event: float | None = Field(
        None, gt=0, description="ProductAvailability calls per AvailableBalanceChanged delivery, at most")
    max_lag_seconds: float | None = Field(
        None, gt=0, description="longest time from an acknowledged balance hook to the client's fetch of it")
    orders_at_current_price: bool = Field(
        False, description="every order the client creates carries, per line, its customer's best price "
        "(ProductPrices) at the time it was created")
    rule_params: RuleOverrides = Field(default_factory=lambda: RuleOverrides(),
                                       description="per-rule parameter overrides (docs/rules.md)")

    @field_validator("rule_params", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return {} if v is None else v

    @model_validator(mode="after")
    def _consistent(self) -> Expectations:
        both = sorted(set(self.must_pass if isinstance(self.must_pass, list) else []) & set(self.must_fail))
        if both:
            raise _problem(f"{', '.join(both)} cannot be in both must_pass and must_fail", "must_fail")
        both = sorted(set(self.require) & set(self.must_fail))
        if both:
            raise _problem(f"{', '.join(both)} cannot be in both require and must_fail", "must_fail")
        return self

    def rule_overrides(self) -> dict[str, dict[str, Any]]:
        """``{rule_id: {param: value}}`` as ``contracts.rules.judge`` takes them (only what the file set)."""
        data: dict[str, dict[str, Any]] = self.rule_params.model_dump(by_alias=True, exclude_unset=True,
                                                                      exclude_none=True)
        return data


HARNESS_VARIABLES = ("XTND_API_URL", "XTND_USERNAME", "XTND_PASSWORD", "XTND_WEBHOOK_SECRET",
                     "XTND_WEBHOOK_PORT", "XTND_WEBHOOKS")


class Scenario(_M):
    """A scenario file. Start it with ``# yaml-language-server: $schema=./scenario.schema.json``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"$id": SCHEMA_ID})

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                      description="short id: letters, digits, '.', '_', '-' (used for report file names)")
    description: str = ""
    seed: int = Field(1, description="one seed reproduces the catalogue, ids, random choices and fault dice")
    clock: Literal["real", "virtual"] = Field(
        "real", description="real: the harness sleeps between steps; virtual: it moves the fake's clock")
    webhooks: bool = Field(True, description="false: nothing is subscribed and the client gets XTND_WEBHOOKS=off")
    client_env: dict[str, str] = Field(
        default_factory=dict, description="extra environment for the client (the XTND_* harness variables are "
        "set by the harness and cannot be overridden)")
    company: str = Field("demo", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$",
                         description="the tenant: XTND_API_URL ends in /RESTAPI/v1_0/<company>")
    catalogue: CatalogueSpec = Field(default_factory=CatalogueSpec)
    rate_limits: RateLimitSpec = Field(default_factory=RateLimitSpec)
    quirks: QuirksSpec = Field(default_factory=QuirksSpec)
    paging: PagingSpec = Field(default_factory=PagingSpec)
    delivery: DeliveryProfile = Field(default_factory=DeliveryProfile)
    delivery_faults: DeliveryFaultsSpec = Field(default_factory=DeliveryFaultsSpec)
    api_faults: list[ApiFaultStep] = Field(default_factory=list, description="API faults from the start")
    virtual: VirtualClockSpec | None = Field(None, description="clock: virtual only")
    timeline: list[Step] = Field(default_factory=list)
    settle: Settle = Field(default_factory=Settle)
    expect: Expectations = Field(default_factory=Expectations)

    @field_validator("client_env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if key in HARNESS_VARIABLES:
                raise _problem(f"{key} is set by the harness (it cannot be overridden)", key)
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise _problem(f"{key!r} is not an environment variable name", key)
        return v

    @model_validator(mode="after")
    def _coherent(self) -> Scenario:
        previous = 0.0
        for i, step in enumerate(self.timeline):
            if step.at < previous:
                raise _problem(f"at {_fmt(step.at)} comes before the previous step's at {_fmt(previous)}: "
                               "steps must be in time order", f"timeline.{i}.at")
            previous = step.at
        if self.virtual is not None and self.clock != "virtual":
            raise _problem("virtual settings need clock: virtual", "virtual")
        if self.clock == "real" and self.duration > 600:
            raise _problem(f"a real-clock timeline of {_fmt(self.duration)} is too long to sleep through "
                           "(at most 10 minutes): use clock: virtual", f"timeline.{len(self.timeline) - 1}.at")
        if not self.webhooks:
            for i, step in enumerate(self.timeline):
                if step.kind in ("forge", "receiver_outage", "delivery_faults"):
                    raise _problem(f"{step.kind} needs webhooks (this scenario has webhooks: false)",
                                   f"timeline.{i}.{step.kind}")
        return self

    @property
    def duration(self) -> float:
        """When the last thing happens: the last step, or the end of an outage or a storm."""
        ends = [s.at + (s.receiver_outage.duration_seconds if s.receiver_outage else 0.0)
                + (s.password_change.duration_seconds if s.password_change else 0.0)
                + (s.storm.planned_seconds if s.storm else 0.0) for s in self.timeline]
        return max(ends, default=0.0)

    @property
    def virtual_clock(self) -> VirtualClockSpec:
        return self.virtual or VirtualClockSpec()


def _fmt(seconds: float) -> str:
    return f"{seconds:g}s" if seconds < 120 else f"{seconds:g}s ({_human(seconds)})"


def _human(seconds: float) -> str:
    parts = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{int(seconds // size)}{unit}")
            seconds %= size
    if seconds:
        parts.append(f"{seconds:g}s")
    return "".join(parts)


def _camel(name: str) -> str:
    """``reorder_window_seconds`` -> ``reorderWindowSeconds`` (the control surface's names)."""
    first, *rest = name.split("_")
    return first + "".join(p.capitalize() for p in rest)


# ---------------------------------------------------------------------------------------------- loading
class ScenarioError(Exception):
    """A bad scenario file: names the file, the line, the field and what was expected."""


def load_scenario(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(f"{p}: cannot read: {e.strerror}") from e
    return parse_scenario(text, str(p))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate a scenario's YAML text; ``ScenarioError`` lists every problem as ``file:line: field: what``."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(e, "problem", None) or str(e)
        raise ScenarioError(f"{where}: not valid YAML: {problem}") from e
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario is a mapping (key: value) with at least `name`; "
                            f"got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        problems = explain_errors(e, root)
        lines = [f"  {source}:{line}: {loc}: {msg}" if line else f"  {source}: {loc}: {msg}"
                 for line, loc, msg in problems]
        n = len(problems)
        raise ScenarioError(f"{source}: invalid scenario ({n} problem{'s' if n > 1 else ''})\n"
                            + "\n".join(lines)) from e


def load_scenarios(paths: list[str | Path]) -> tuple[list[tuple[Path, Scenario]], list[str]]:
    """Every file validated first (directories: their ``*.yaml`` files, recursively). Returns what loaded and
    every problem; nothing should run while the second list is not empty."""
    loaded: list[tuple[Path, Scenario]] = []
    problems: list[str] = []
    for path in expand_paths(paths):
        try:
            loaded.append((path, load_scenario(path)))
        except ScenarioError as e:
            problems.append(str(e))
    names: dict[str, Path] = {}
    for path, scenario in loaded:
        if scenario.name in names:
            problems.append(f"{path}: name {scenario.name!r} is also the name of {names[scenario.name]} "
                            "(names must differ: reports are filed by name)")
        names.setdefault(scenario.name, path)
    return loaded, problems


def expand_paths(paths: list[str | Path]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*.y*ml") if q.suffix in (".yaml", ".yml")))
        else:
            out.append(p)
    return out


# ---------------------------------------------------------------------------------------------- error messages
_UNION_TAG = re.compile(r"^(?:[a-z_-]+\[.*\]|[a-z]+(?:-[a-z]+)+|int|str|float|bool|none|list|dict|[A-Z][A-Za-z]+)$")


def explain_errors(error: ValidationError, root: yaml.Node | None = None) -> list[tuple[int | None, str, str]]:
    """pydantic's errors as (line, field path, what was expected), union branches merged, lines from YAML."""
    grouped: dict[tuple[Any, ...], list[str]] = {}
    for err in error.errors():
        # the last part of an unknown-key error is the key itself, never a union tag
        loc = _clean_loc(err["loc"][:-1]) + err["loc"][-1:] if err["type"] == "extra_forbidden" \
            else _clean_loc(err["loc"])
        ctx = err.get("ctx") or {}
        if err["type"] == "scenario" and ctx.get("at"):
            loc = loc + tuple(int(x) if x.isdigit() else x for x in str(ctx["at"]).split("."))
        message = _message(err, loc)
        bucket = grouped.setdefault(loc, [])
        if message not in bucket:
            bucket.append(message)
    out = []
    for loc, messages in grouped.items():
        if len(messages) > 1 and all(m.startswith("expected ") for m in messages):
            got = {m.split("; got ", 1)[1] for m in messages if "; got " in m}
            what = " or ".join(m.split("; got ", 1)[0].removeprefix("expected ") for m in messages)
            text = f"expected {what}" + (f"; got {got.pop()}" if len(got) == 1 else "")
        else:
            text = "; ".join(messages)
        out.append((_line_of(root, loc), _dotted(loc), text))
    return sorted(out, key=lambda p: p[0] or 0)


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch tags (``int``, ``literal['all']``, ``function-after[...]``) from a path."""
    out: list[Any] = []
    for part in loc:
        if isinstance(part, str) and _UNION_TAG.match(part) and not _is_field_name(part):
            continue
        out.append(part)
    return tuple(out)


_ALL_FIELDS: set[str] = set()


def _is_field_name(name: str) -> bool:
    if not _ALL_FIELDS:
        _collect_fields(Scenario, _ALL_FIELDS, set())
    return name in _ALL_FIELDS


def _collect_fields(model: type[BaseModel], names: set[str], seen: set[type]) -> None:
    if model in seen:
        return
    seen.add(model)
    for name, info in model.model_fields.items():
        names.add(info.alias or name)
        for sub in _models_in(info.annotation):
            _collect_fields(sub, names, seen)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_EXPECTED = {
    "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
    "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false",
    "bool_type": "true or false", "string_type": "text", "list_type": "a list", "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)", "model_attributes_type": "a mapping (key: value)",
    "none_required": "nothing (null)",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _message(err: Any, loc: tuple[Any, ...]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    given = err.get("input")
    got = f"; got {_shown(given)}" if not isinstance(given, dict | list) else ""
    if kind == "scenario":
        return str(ctx.get("message", err["msg"]))
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        allowed = _allowed_keys(loc[:-1])
        near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if "-" in key and key in RULES_BY_ID:  # cannot happen for rule_params (every rule is a field)
            near = []
        hint = f"; did you mean {near[0]!r}?" if near else ""
        listed = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        what = "unknown rule" if loc[:-1] and loc[-2:-1] == ("rule_params",) else "unknown key"
        if what == "unknown rule":
            near = difflib.get_close_matches(key, list(RULES_BY_ID), n=1)
            return f"unknown rule {key!r}" + (f"; did you mean {near[0]!r}?" if near else
                                               f" (known: {', '.join(RULES_BY_ID)})")
        return f"{what} {key!r}{hint}{listed}"
    if kind == "missing":
        return "required, but missing"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}{got}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected', err['msg'])}{got}"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()), "?")
        shown = f"{bound:g}" if isinstance(bound, int | float) else bound
        return f"expected a value {_BOUNDS[kind]} {shown}{got}"
    if kind in ("too_short", "too_long"):
        return f"expected {'at least' if kind == 'too_short' else 'at most'} " \
               f"{ctx.get('min_length', ctx.get('max_length'))} item(s){got}"
    if kind == "string_pattern_mismatch":
        return f"expected text matching {ctx.get('pattern')}{got}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return f"{err['msg']}{got}"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Scenario
    for part in loc:
        model = _descend(model, part)
        if model is None:
            return []
    models = _models_in(model)
    if not models:
        return []
    return [info.alias or name for name, info in models[0].model_fields.items()]


def _descend(annotation: Any, part: Any) -> Any:
    for model in _models_in(annotation) or []:
        for name, info in model.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
    if isinstance(part, int) or annotation is None:
        origin = typing.get_origin(annotation)
        if origin in (Union, types.UnionType):
            for arg in typing.get_args(annotation):
                if typing.get_origin(arg) is list:
                    return typing.get_args(arg)[0]
        if origin is list:
            return typing.get_args(annotation)[0]
    return None


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node on the path (a missing key: its parent's line)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    nxt = value if not isinstance(value, yaml.ScalarNode) else key
                    if isinstance(value, yaml.ScalarNode):
                        return key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        if nxt is None:
            return line
        node = nxt
        line = node.start_mark.line + 1
    return line


def schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (what scenarios/scenario.schema.json holds)."""
    data = Scenario.model_json_schema()
    data = {"$schema": "https://json-schema.org/draft/2020-12/schema", **data}
    return data


# ---------------------------------------------------------------------------------------------- the default
DEFAULT_SCENARIO: dict[str, Any] = {
    "name": "default",
    "description": "About a minute that gives every rule a chance to fire: shop orders and their back-office "
    "moves, stock moves, a small storm, 429, transient-400 and 500 windows, a password change, forged hooks.",
    "seed": 1,
    "catalogue": {"products": 200, "warehouses": 3, "customers": 30},
    "delivery": {"retry_delays_seconds": [2, 5], "timeout_seconds": 5},
    "timeline": [
        {"at": 1, "shop_order": {"count": 3, "rows": [{"quantity": 1}, {"quantity": 2}]}},
        {"at": 3, "stock": {"count": 10, "balanceDifference": 4}},
        {"at": 6, "order": {"action": "reserve", "which": "first"}},
        {"at": 7, "order": {"action": "cancel", "which": "last"}},
        {"at": 8, "storm": {"shape": "burst", "rate": 60, "count": 300, "products": 40, "skew": "zipf"}},
        {"at": 12, "order": {"action": "pick", "which": "first"}},
        {"at": 14, "order": {"action": "delivery_date", "which": 1, "days": 5}},
        {"at": 16, "api_fault": {"kind": "status", "status": 429, "retry_after": 2, "route": "*",
                                 "duration_seconds": 4}},
        {"at": 17, "stock": {"count": 5, "balanceDifference": -1}},
        {"at": 22, "api_fault": {"kind": "transient", "message": "deadlock", "route": "ProductAvailability*",
                                 "times": 2}},
        {"at": 23, "purchase_arrival": {"count": 5, "quantity": 20}},
        {"at": 28, "forge": {"signature": "bad"}},
        {"at": 29, "forge": {"signature": "missing"}},
        {"at": 32, "password_change": {"duration_seconds": 4}},
        {"at": 33, "stock": {"count": 5, "balanceDifference": 1}},
        {"at": 37, "stock": {"count": 10, "balanceDifference": 3}},
        {"at": 38, "api_fault": {"kind": "status", "status": 500, "route": "ProductAvailability*", "times": 2}},
        {"at": 39, "stock": {"count": 5, "balanceDifference": 2}},
        {"at": 41, "shop_order": {"count": 1}},
        {"at": 44, "order": {"action": "pick", "which": "last"}},
        {"at": 48, "stock": {"count": 8, "balanceDifference": -1}},
    ],
    "settle": {"quiet_seconds": 3, "max_seconds": 25},
}


def default_scenario() -> Scenario:
    return Scenario.model_validate(DEFAULT_SCENARIO)
