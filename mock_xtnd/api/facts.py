"""The vendor Swagger's facts (``xtnd_facts.json``, made by scripts/vendor_facts.py) and validation against them.

Request bodies and query strings are checked the way XTND's ASP.NET Web API binds them (chosen by the mock where
the Swagger is silent, docs/wire.md): property and parameter names match case-insensitively; unknown ones are
ignored; Json.NET's conversions of primitive tokens are accepted (a number where a string belongs, ``"5"`` or
``5.0`` where an int belongs); every ``Always`` field is required; ``maxLength`` holds; enums are given by name (any
case) or index. Each problem is reported under its body path, prefixed with the parameter name as ASP.NET's
ModelState does (``newCustomerOrder.orderRows[0].salesData.quantity``). The result is the value with canonical
names and parsed values (dates as epoch milliseconds), so handlers never see a second spelling.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from ..domain.backend import INT32_MAX, INT32_MIN

INT32 = (INT32_MIN, INT32_MAX)
_GUID = re.compile(r"^[{(]?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})[)}]?$")
# Fields the server fills in, so a request need not carry them even though the schema says Always (chosen)
SERVER_FILLED = frozenset({("StockLevel", "warehouseName")})
# Dates a body may carry: the ones the API can write back with the tenant's offset (before 1900 zones kept local
# mean time, whose offsets have seconds ISO 8601 cannot write; after 9999-12-30 the local year overflows) (chosen)
BODY_DATES_MS = (int(datetime(1900, 1, 1, tzinfo=UTC).timestamp() * 1000),
                 int(datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC).timestamp() * 1000))


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # as in the facts: "string", "int?", "CustomerOrderRow[]", "List<ProductHandlings>", an enum, ...
    required: bool  # "Always"
    max_length: int | None


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: str  # "query" | "path" | "body"
    type: str
    required: bool


@dataclass(frozen=True, slots=True)
class OperationFacts:
    id: str
    method: str
    path: str
    response: str | None
    statuses: tuple[int, ...]
    params: tuple[Param, ...]

    @property
    def body(self) -> Param | None:
        return next((p for p in self.params if p.where == "body" and not _is_primitive(p.type)), None)

    @property
    def scalar_body(self) -> Param | None:
        """A scalar the Swagger puts in the body of an operation that has no object body: GET PurchaseOrders' and
        GET ReturnOrders' ``isOpen`` (the first of their two; ASP.NET reads one parameter from a body)."""
        if self.body is not None:
            return None
        return next((p for p in self.params if p.where == "body" and _is_primitive(p.type)), None)

    @property
    def query(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.where == "query")


class Facts:
    def __init__(self, data: dict[str, Any]) -> None:
        self.schemas: dict[str, tuple[Field, ...]] = {
            name: tuple(Field(f["name"], f["type"], f["required"] == "Always", f.get("maxLength")) for f in fields)
            for name, fields in data["schemas"].items()
        }
        self.enums: dict[str, tuple[str, ...]] = {name: tuple(values) for name, values in data["enums"].items()}
        self.operations: dict[str, OperationFacts] = {
            op["id"]: OperationFacts(op["id"], op["method"], op["path"], op["response"], tuple(op["statuses"]),
                                     tuple(Param(p["name"], p["in"], p["type"], bool(p["required"]))
                                           for p in op["params"]))
            for op in data["operations"]
        }
        self._by_lower = {name: {f.name.lower(): f for f in fields} for name, fields in self.schemas.items()}
        self._enum_lower = {name: {v.lower(): v for v in values} for name, values in self.enums.items()}

    def fields(self, schema: str) -> tuple[Field, ...]:
        return self.schemas[schema]

    # ------------------------------------------------------------------ bodies
    def validate(self, type_name: str, value: Any, path: str, errors: list[tuple[str, str]]) -> Any:
        """``value`` checked against ``type_name``; problems appended to ``errors`` as (body path, reason)."""
        base, nullable = _split_nullable(type_name)
        if value is None:
            return None  # requiredness is the containing object's business
        item = _item_type(base)
        if item is not None:
            if not isinstance(value, list):
                errors.append((path, f"Expected an array of {item}."))
                return None
            if item in self.schemas and None in value:  # a null where an object belongs: never a crash below
                for i, v in enumerate(value):
                    if v is None:
                        errors.append((f"{path}[{i}]", f"Expected an object ({item}), not null."))
            return [self.validate(item, v, f"{path}[{i}]", errors) for i, v in enumerate(value)]
        if base in self.schemas:
            return self._object(base, value, path, errors)
        if base in self.enums:
            return self._enum(base, value, path, errors)
        parsed = primitive(base, value, path, errors)
        if base == "DateTimeOffset" and parsed is not None and not BODY_DATES_MS[0] <= parsed <= BODY_DATES_MS[1]:
            errors.append((path, f"The date {_show(value)} lies outside 1900-01-01 to 9999-12-30."))
            return None
        return parsed

    def _object(self, schema: str, value: Any, path: str, errors: list[tuple[str, str]]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            errors.append((path, f"Expected an object ({schema})."))
            return None
        fields = self._by_lower[schema]
        out: dict[str, Any] = {}
        for key, v in value.items():
            f = fields.get(str(key).lower())
            if f is None:
                continue  # unknown properties are ignored (models only gain fields)
            where = f"{path}.{f.name}" if path else f.name
            before = len(errors)
            parsed = self.validate(f.type, v, where, errors)
            if len(errors) == before and f.max_length is not None and isinstance(parsed, str) \
                    and len(parsed) > f.max_length:
                errors.append((where, f"The field {f.name} must be a string with a maximum length of "
                                      f"{f.max_length}."))
            out[f.name] = parsed
        for f in self.schemas[schema]:
            if f.required and out.get(f.name) is None and (schema, f.name) not in SERVER_FILLED:
                where = f"{path}.{f.name}" if path else f.name
                if not any(p == where for p, _ in errors):
                    errors.append((where, f"The {f.name} field is required."))
        return out

    def _enum(self, enum: str, value: Any, path: str, errors: list[tuple[str, str]]) -> str | None:
        values = self.enums[enum]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(values):
            return values[value]
        if isinstance(value, str):
            hit = self._enum_lower[enum].get(value.strip().lower())
            if hit is not None:
                return hit
        errors.append((path, f"The value '{_show(value)}' is not valid for {enum}; one of: {', '.join(values)}."))
        return None

    def enum_values(self, type_name: str) -> tuple[str, ...] | None:
        return self.enums.get(_split_nullable(type_name)[0])

    # ------------------------------------------------------------------ query strings
    def query_value(self, param: Param, values: list[str], errors: list[tuple[str, str]]) -> Any:
        """One query parameter from its raw values (repeated names give several)."""
        base, _ = _split_nullable(param.type)
        if base.startswith("IEnumerable<"):
            return [v for v in values if v != ""]
        raw = values[0]
        if raw == "" and base != "string":
            return None  # an empty value binds null to a nullable parameter
        if base in self.enums:  # by name or by index, as ASP.NET binds an enum from a query string
            return self._enum(base, int(raw) if raw.strip().isdecimal() else raw, param.name, errors)
        if base == "string":
            return raw
        return primitive(base, raw, param.name, errors)


def primitive(base: str, value: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    if base == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, int | float):
            return json.dumps(value)
        errors.append((path, "Expected a string."))
        return None
    if base == "int":
        number = _integer(value)
        if number is None or not INT32[0] <= number <= INT32[1]:
            errors.append((path, f"The value '{_show(value)}' is not a valid 32-bit integer."))
            return None
        return number
    if base == "double":
        if isinstance(value, bool):
            errors.append((path, f"The value '{_show(value)}' is not a valid number."))
            return None
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                parsed = float(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed == parsed and parsed not in (float("inf"), float("-inf")):
                return parsed
        errors.append((path, f"The value '{_show(value)}' is not a valid number."))
        return None
    if base == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        errors.append((path, f"The value '{_show(value)}' is not a valid boolean (true or false)."))
        return None
    if base == "DateTimeOffset":
        ms = parse_date(value) if isinstance(value, str) else None
        if ms is None:
            errors.append((path, f"The value '{_show(value)}' is not a valid date and time (ISO 8601, e.g. "
                                 "2026-01-05T08:00:00)."))
        return ms
    if base == "Guid":
        m = _GUID.match(value.strip()) if isinstance(value, str) else None
        if m is None:
            errors.append((path, f"The value '{_show(value)}' is not a valid GUID."))
            return None
        return "-".join(m.groups()).lower()
    # a type the facts name that the fake has no parser for: take it as it comes
    return value


def parse_date(text: str) -> int | None:
    """``YYYY-MM-DDTHH:MM:SS`` (UTC, as XTND documents), with an offset, ``Z`` or fractions honoured; a bare date
    is midnight UTC. Epoch milliseconds, or None when it is not a date."""
    value = text.strip()
    if not value or len(value) > 40:
        return None
    if value[-1] in "Zz":
        value = value[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return int(dt.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,12}\s*", value):
        return int(value)
    return None


def _split_nullable(type_name: str) -> tuple[str, bool]:
    return (type_name[:-1], True) if type_name.endswith("?") else (type_name, False)


def _item_type(base: str) -> str | None:
    if base.endswith("[]"):
        return base[:-2]
    for prefix in ("List<", "IEnumerable<"):
        if base.startswith(prefix) and base.endswith(">"):
            return base[len(prefix):-1]
    return None


def _is_primitive(type_name: str) -> bool:
    base = _split_nullable(type_name)[0]
    return base in ("string", "int", "double", "bool", "DateTimeOffset", "Guid")


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


@cache
def facts() -> Facts:
    text = resources.files("mock_xtnd.api").joinpath("xtnd_facts.json").read_text(encoding="utf-8")
    return Facts(json.loads(text))
