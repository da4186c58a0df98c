"""All settings in one validated model, loadable from a YAML file (snake_case keys).

Everything "chosen by the mock" that a real tenant could set differently is here: the company name, users, time
zone, rate limits per endpoint family, page sizes, the production quirks, catalogue sizes, retry schedule, webhook
subscriptions (docs/wire.md says which points are documented, observed or chosen).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .pacing import SLICE_SECONDS
from .simulate.config import SimulationSettings

LOOPBACK_HOSTS = ("localhost", "127.0.0.0/8", "::1")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserSettings(_Strict):
    """One API user: ``ExtendBasicAuthorization: Basic base64(username:password)``."""

    username: str = Field(min_length=1, max_length=200, pattern=r"^[^:\s]+$")
    password: str = Field(min_length=1, max_length=200)


class RateLimits(_Strict):
    """Calls per company per rolling window, per endpoint family (observed: limits differ per family; documented:
    "Standard" is 300). ``families`` overrides the default for some, e.g. ``{ProductAvailability: 600}``."""

    default: int = Field(300, ge=1, le=1_000_000)
    window_seconds: int = Field(60, ge=1, le=3600)
    families: dict[str, int] = Field(default_factory=dict)

    @field_validator("families")
    @classmethod
    def _families(cls, v: dict[str, int]) -> dict[str, int]:
        for name, limit in v.items():
            if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1_000_000:
                raise ValueError(f"{name}: a limit must be an integer from 1 to 1,000,000")
        return v

    def limit_of(self, family: str) -> int:
        return self.families.get(family, self.default)


class PagingSettings(_Strict):
    """Scheme A (``pageCount``/``pageOffset``) and scheme B (``pageNumber``) paging (docs/wire.md)."""

    page_size: int = Field(100, ge=1, le=10_000, description="scheme B page size (chosen: 100)")
    default_page_count: int = Field(100, ge=1, le=10_000, description="scheme A pageCount when none is sent")
    max_page_count: int = Field(1000, ge=1, le=100_000, description="scheme A: a larger pageCount is a 400")
    stable_snapshots: bool = Field(False, description="fix a pass's result set at its first page (default: live)")
    snapshot_ttl_seconds: int = Field(600, ge=1)


class QuirkSettings(_Strict):
    """Production quirks (observed, xtnd-contract.md §1.2): on by default, each switchable."""

    transient_errors: float = Field(0.01, ge=0, le=1, description="share of calls answered with a transient 400")
    page_past_end_400: bool = True
    orders_list_needs_modified_date: bool = True
    products_modified_misses_new: bool = True


class CatalogueSettings(_Strict):
    products: int = Field(500, ge=1, le=1_000_000)
    warehouses: int = Field(3, ge=1, le=50)
    customers: int = Field(100, ge=1, le=100_000)


class SubscriptionSettings(_Strict):
    name: str = Field(min_length=1)
    tech_contact_email: str = ""
    callback_url: str
    secret: str = Field(min_length=1)
    warehouse_filter: list[str] = Field(default_factory=list)
    active: bool = True
    triggers: list[str]

    @field_validator("callback_url")
    @classmethod
    def _url(cls, v: str) -> str:
        from .webhooks.urls import CallbackUrlError, parse_callback_url

        try:
            parse_callback_url(v)
        except CallbackUrlError as e:
            raise ValueError(str(e)) from None
        return v

    @field_validator("triggers")
    @classmethod
    def _triggers(cls, v: list[str]) -> list[str]:
        from .domain.events import ACTIONS

        unknown = [t for t in v if t not in ACTIONS]
        if unknown:
            raise ValueError(f"unknown action(s) {unknown}; known: {', '.join(ACTIONS)}")
        if not v:
            raise ValueError("at least one trigger is required")
        return v


class DeliverySettings(_Strict):
    """ASP.NET WebHooks sender defaults: 3 attempts in all, retries 1 and then 4 minutes later."""

    retry_delays_seconds: list[float] = Field(default_factory=lambda: [60.0, 240.0])
    timeout_seconds: float = Field(10.0, gt=0)
    senders: int = Field(8, ge=1, le=512)


class RetentionSettings(_Strict):
    """How much of what has finished the fake keeps in memory (and under ``--db``, on disk). Pending deliveries are
    never dropped; what is dropped is counted (``GET /_mock/deliveries``, ``GET /_mock/storm``)."""

    finished_deliveries: int = Field(100_000, ge=100, le=100_000_000,
                                     description="delivered, gone and dead deliveries kept (the oldest go first)")
    finished_delivery_bytes: int = Field(64 * 2**20, ge=2**20,
                                         description="...and at most this many bytes of them (about 0.6 KB each)")
    storms: int = Field(100, ge=1, le=100_000, description="finished storms kept with their progress")
    balance_adjustments: int = Field(100_000, ge=100, le=100_000_000,
                                     description="entries of the ledger's history kept for GET BalanceAdjustments "
                                                 "(the oldest go first, counted; about 0.3 KB each)")


class DeliveryFaultSettings(_Strict):
    """Delivery faults as data, seeded: each attempt's dice come from (seed, delivery Id, attempt)."""

    duplicate: float = Field(0.0, ge=0, le=1, description="probability an attempt is sent twice")
    reorder_window_seconds: float = Field(0.0, ge=0, le=3600, description="first attempts spread over this window")
    delay_seconds: float = Field(0.0, ge=0, le=3600, description="extra delay before every attempt")
    jitter_seconds: float = Field(0.0, ge=0, le=3600, description="plus a uniform random delay up to this")
    drop: float = Field(0.0, ge=0, le=1, description="probability an attempt is lost on the wire (then retried)")
    tamper_signature: float = Field(0.0, ge=0, le=1, description="probability an attempt carries a wrong signature")
    batch: int = Field(1, ge=1, le=100, description="notifications of one change per POST")


class Settings(_Strict):
    seed: int = 1
    clock: Literal["real", "virtual"] = "real"
    clock_start: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    db: str | None = None
    company: str = Field("demo", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    users: list[UserSettings] = Field(default_factory=lambda: [UserSettings(username="demo", password="demo-secret")],
                                      min_length=1)
    timezone: str = Field("Europe/Stockholm", description="the tenant's zone: offsets of the dates in answers")
    default_warehouse: str = "1"
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    paging: PagingSettings = Field(default_factory=PagingSettings)
    quirks: QuirkSettings = Field(default_factory=QuirkSettings)
    catalogue: CatalogueSettings = Field(default_factory=CatalogueSettings)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_price_products: int = Field(10, ge=1, le=1000, description="productNumberList values per ProductPrices call "
                                    "(documented: 10)")
    allow_oversell: bool = True
    duplicate_external_order: Literal["refuse", "accept"] = "refuse"
    journal_max_records: int = Field(200_000, ge=1000, description="~0.8 KB each (a 200-product call ~3.5 KB); the oldest go first")
    journal_max_bytes: int = Field(64 * 2**20, ge=2**20,
                                   description="and at most this many bytes of records (their JSON plus ~200 bytes "
                                               "of bookkeeping each): a few large bodies cannot fill memory")
    id_epoch: int | None = Field(None, ge=1, description="mixed into webhook Ids (domain/ids.py); default: 1 under the "
                                 "virtual clock, the start time (ms) under the real one; under --db the stored one + 1")
    db_busy_timeout_ms: int = Field(100, ge=0, le=60_000,
                                    description="--db: how long a commit waits for a lock another process holds "
                                                "before the write is refused as transient (the event loop waits too)")
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    admin_token: str | None = Field(None, min_length=16, max_length=500,
                                    description="when set, every /_mock call needs 'Authorization: Bearer <token>'")
    admin_max_body_bytes: int = Field(1_048_576, ge=1024, le=1 << 30, description="largest /_mock request body")
    storm_max_steps: int = Field(1_000_000, ge=1, le=100_000_000, description="steps one storm may plan")
    callback_hosts: list[str] = Field(
        default_factory=lambda: list(LOOPBACK_HOSTS),
        description="hosts webhook callbacks may name: names, IP addresses or networks (CIDR); '*' = any. The "
                    "default is loopback only: the sender reaches whatever a callback names (docs/webhooks.md)")
    background_slice_ms: float | None = Field(
        SLICE_SECONDS * 1000, ge=0, le=1000,
        description="storm steps and delivery attempts get this much of each event-loop pass, then wait for the next "
                    "(after any API request that arrived meanwhile); null: no pacing (mock_xtnd/pacing.py)")
    subscriptions: list[SubscriptionSettings] = Field(default_factory=list)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    delivery_faults: DeliveryFaultSettings = Field(default_factory=DeliveryFaultSettings)
    api_faults: list[dict[str, Any]] = Field(default_factory=list)
    simulate: bool = False
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)


    @field_validator("callback_hosts")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        from .webhooks.urls import check_host_patterns

        check_host_patterns(v)
        return v

    @model_validator(mode="after")
    def _subscriptions_allowed(self) -> Settings:
        from .webhooks.urls import CallbackUrlError, check_callback_host

        for i, sub in enumerate(self.subscriptions):
            try:
                check_callback_host(sub.callback_url, self.callback_hosts)
            except CallbackUrlError as e:
                raise ValueError(f"subscriptions.{i}.callback_url: {e}") from None
        return self

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as Europe/Stockholm)") from None
        return v

    @field_validator("users")
    @classmethod
    def _unique_users(cls, v: list[UserSettings]) -> list[UserSettings]:
        names = [u.username for u in v]
        if len(set(names)) != len(names):
            raise ValueError("usernames must be unique")
        return v

    @field_validator("api_faults")
    @classmethod
    def _api_faults(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from .faults.api import FaultSpec

        for i, spec in enumerate(v):
            try:
                FaultSpec.model_validate(spec)
            except ValidationError as e:
                first = e.errors()[0]
                where = ".".join(str(x) for x in first["loc"])
                raise ValueError(f"api_faults[{i}].{where}: {first['msg']}") from None
        return v


class ConfigError(Exception):
    """A bad config file; the message names the file and the field."""


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"{p}: cannot read config file: {e.strerror}") from e
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from e
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: the top level must be a mapping of settings")
        data.update(loaded)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            lines.append(f"  {loc}: {err['msg']}")
        where = str(path) if path else "settings"
        raise ConfigError(f"{where}: invalid configuration\n" + "\n".join(lines)) from e
