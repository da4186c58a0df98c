"""Webhook subscriptions as XTND's back office has them: name, tech-contact e-mail, callback URL, secret, warehouse
filter (empty = all), active flag, triggers. Webhook management is not part of XTND's API (its back office
configures hooks), so it lives in the config file and under /_mock/webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..domain.errors import DomainError, FieldError
from ..settings import SubscriptionSettings


@dataclass(slots=True)
class Subscription:
    name: str
    callback_url: str
    secret: str
    triggers: list[str]
    tech_contact_email: str = ""
    warehouse_filter: list[str] = field(default_factory=list)
    active: bool = True

    def wants(self, action: str, warehouse_number: str | None) -> bool:
        if not self.active or action not in self.triggers:
            return False
        return warehouse_number is None or not self.warehouse_filter or warehouse_number in self.warehouse_filter

    def to_json(self, *, reveal_secret: bool = False) -> dict[str, Any]:
        return {
            "name": self.name,
            "techContactEmail": self.tech_contact_email,
            "callbackUrl": self.callback_url,
            "secret": self.secret if reveal_secret else "***",
            "warehouseFilter": list(self.warehouse_filter),
            "active": self.active,
            "triggers": list(self.triggers),
        }

    @classmethod
    def from_settings(cls, s: SubscriptionSettings) -> Subscription:
        return cls(s.name, s.callback_url, s.secret, list(s.triggers), s.tech_contact_email,
                   list(s.warehouse_filter), s.active)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Subscription:
        """From an admin body (camelCase); a bad subscription is a clear Validation error naming the field."""
        from pydantic import ValidationError

        mapping = {"name": "name", "techContactEmail": "tech_contact_email", "callbackUrl": "callback_url",
                   "secret": "secret", "warehouseFilter": "warehouse_filter", "active": "active", "triggers": "triggers"}
        unknown = [k for k in body if k not in mapping]
        if unknown:
            raise DomainError(400, f"Unknown field(s) {unknown}.", [FieldError(k, "Unknown field.") for k in unknown],
                              "invalid")
        try:
            s = SubscriptionSettings.model_validate({mapping[k]: v for k, v in body.items()})
        except ValidationError as e:
            inverse = {v: k for k, v in mapping.items()}
            errors = [FieldError(inverse.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else "body",
                                 str(err["msg"])) for err in e.errors()]
            raise DomainError(400, f"Invalid subscription: {errors[0].field}: {errors[0].message}", errors,
                              "invalid") from None
        return cls.from_settings(s)

    def to_record(self) -> dict[str, Any]:
        """The persisted form (camelCase, secret kept). Persist this dict, never the dataclass itself."""
        return self.to_json(reveal_secret=True)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Subscription:
        """From ``to_record``."""
        return cls(rec["name"], rec["callbackUrl"], rec["secret"], list(rec["triggers"]),
                   rec.get("techContactEmail", ""), list(rec.get("warehouseFilter", [])), bool(rec.get("active", True)))
