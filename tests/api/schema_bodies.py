"""Request bodies derived from the facts' schemas: where a body can go wrong (every field of the body's schema tree,
one level into objects the body does not carry) with values that are certainly wrong for the field's type, and a
hypothesis strategy for whole bodies, mostly well-typed, sometimes not."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.api.xtnd_support import facts

INT32_MAX = 2**31 - 1
# Fields the server fills in, so a request need not carry them though the schema says Always (docs/wire.md,
# "Request bodies")
SERVER_FILLED = {("StockLevel", "warehouseName")}


def split(type_name: str) -> tuple[str, bool, str | None]:
    """(base type, nullable, item type of an array or None)."""
    nullable = type_name.endswith("?")
    base = type_name.rstrip("?")
    if base.endswith("[]"):
        return base, nullable, base[:-2]
    for prefix in ("List<", "IEnumerable<"):
        if base.startswith(prefix) and base.endswith(">"):
            return base, nullable, base[len(prefix):-1]
    return base, nullable, None


def wrong_values(type_name: str, max_length: int | None) -> list[Any]:
    """Values the fake must refuse for a field of this type (Json.NET's conversions accepted, so a number for a
    string is not among them)."""
    f = facts()
    base, _, item = split(type_name)
    if item is not None:
        out: list[Any] = ["x", 5, {"a": 1}]
        if item in f["schemas"]:
            out.append([None])
        return out
    if base in f["schemas"]:
        return ["x", 5, True, []]
    if base in f["enums"]:
        return ["NoSuchValue", len(f["enums"][base]), -1, 1.5, True, [], {}]
    if base == "string":
        return [[], {"a": 1}] + (["x" * (max_length + 1)] if max_length else [])
    if base == "int":
        return ["abc", 1.5, INT32_MAX + 1, -INT32_MAX - 2, True, [], {}]
    if base == "double":
        return ["abc", "NaN", "Infinity", True, [], {}]
    if base == "bool":
        return ["maybe", 1, 0.5, [], {}]
    if base == "DateTimeOffset":
        return ["2026-02-30", "tomorrow", 5, True, [], "9999-12-31T23:59:59", "0001-01-01T00:00:00"]
    if base == "Guid":
        return ["not-a-guid", 5, [], "1234"]
    raise AssertionError(f"no wrong values for {type_name}")


@dataclass(frozen=True)
class Site:
    """One place in a body: ``path`` (keys and indexes from the body's root) of a field of ``schema``."""

    path: tuple[str | int, ...]
    schema: str
    field: str
    type: str
    required: bool
    max_length: int | None

    def model_state_key(self, prefix: str) -> str:
        out = prefix
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else f".{part}"
        return out

    def __str__(self) -> str:
        return self.model_state_key("")[1:]


def sites(schema: str, body: dict[str, Any], path: tuple[str | int, ...] = (), into_absent: int = 1) -> list[Site]:
    """Every field of ``schema`` at ``path``, and below: into the objects and array items ``body`` carries, and
    ``into_absent`` levels into object fields it does not carry."""
    f = facts()
    out: list[Site] = []
    for field in f["schemas"][schema]:
        name = field["name"]
        site = Site((*path, name), schema, name, field["type"], field["required"] == "Always", field.get("maxLength"))
        out.append(site)
        base, _, item = split(field["type"])
        value = body.get(name) if isinstance(body, dict) else None
        if base in f["schemas"]:
            if isinstance(value, dict):
                out.extend(sites(base, value, (*path, name), into_absent))
            elif into_absent > 0:
                out.extend(sites(base, {}, (*path, name), into_absent - 1))
        elif item is not None and item in f["schemas"] and isinstance(value, list) and value:
            out.extend(sites(item, value[0], (*path, name, 0), into_absent))
    return out


def with_value(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with ``value`` at ``path`` (missing objects on the way are created)."""
    out = copy.deepcopy(body)
    node: Any = out
    for part in path[:-1]:
        if isinstance(part, str) and not isinstance(node.get(part), dict | list):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return out


def mutations(schema: str, body: dict[str, Any]) -> list[tuple[Site, Any]]:
    """Every (site, wrong value) of a body: each wrong value of each field, and null for each Always field of an
    object the body carries."""
    out: list[tuple[Site, Any]] = []
    carried = {s.path[:-1] for s in sites(schema, body, into_absent=0)}
    for site in sites(schema, body):
        for value in wrong_values(site.type, site.max_length):
            out.append((site, value))
        if site.required and site.path[:-1] in carried and (site.schema, site.field) not in SERVER_FILLED:
            out.append((site, None))
    return out


# ---------------------------------------------------------------------------------------------- whole bodies
def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], one_in: int = 8) -> st.SearchStrategy[Any]:
    """``good``, and ``bad`` about once in ``one_in`` draws (shrinks towards good)."""
    return st.integers(0, one_in - 1).flatmap(lambda i: bad if i == one_in - 1 else good)


# Values the fake knows (products, customers, warehouses, groups), with some it does not, by field name or by
# "Schema.field"
KNOWN: dict[str, st.SearchStrategy[Any]] = {
    "productNumber": mostly(st.sampled_from(["100003", "100002", "KM 1007", "AB 00023/B"]),
                            st.sampled_from(["NO SUCH", "", "100048"])),
    "customerNumber": mostly(st.sampled_from(["10001", "10008"]), st.sampled_from(["99999", ""])),
    "warehouse": mostly(st.sampled_from(["1", "2", "3"]), st.just("77")),
    "quantity": mostly(st.integers(1, 6), st.one_of(st.integers(-2, 0), st.floats(-2, 6, allow_nan=False),
                                                    st.just(2**31))),
    "balance": mostly(st.integers(0, 300), st.sampled_from([-3, 2**31])),
    "balanceDifference": mostly(st.integers(-5, 300), st.sampled_from([-100_000, 2**31])),
    "unit": st.sampled_from(["st", "par", ""]),
    "country": st.sampled_from(["SE", "NO"]),
    "countryCode": st.sampled_from(["SE", "NO", "SWE"]),
    "CustomerGroup.name": mostly(st.sampled_from(["RETAIL", "B2B-GOLD", "WHOLESALE"]), st.just("NOPE")),
    "Customer.customerNumber": mostly(st.none(), st.sampled_from(["10001", "C-NEW"]), 4),
}
# Fields drawn every time in big schemas whose other optional fields are sampled a few at a time
ESSENTIAL = {"CustomerOrderHeader": {"customerNumber"}, "StockLevelAdjust": {"warehouse", "productNumber",
                                                                            "balanceDifference"},
             "StockLevel": {"productNumber"}}


def _junk() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _well_typed(type_name: str, name: str, depth: int, max_length: int | None,
                schema: str = "") -> st.SearchStrategy[Any]:
    f = facts()
    base, _, item = split(type_name)
    known = KNOWN.get(f"{schema}.{name}")
    if known is None and base in ("string", "int", "double"):
        known = KNOWN.get(name)
    if known is not None:
        return known
    if item is not None:
        if depth >= 3:
            return st.just([])
        items = body_strategy(item, depth + 1) if item in f["schemas"] else _well_typed(item, name, depth + 1, None)
        return st.lists(items, max_size=2)
    if base in f["schemas"]:
        return body_strategy(base, depth + 1) if depth < 3 else st.just({})
    if base in f["enums"]:
        return st.sampled_from(f["enums"][base]) | st.integers(0, len(f["enums"][base]) - 1)
    if base == "string":
        return mostly(st.text(max_size=min(max_length or 20, 20)), st.text(min_size=(max_length or 20) + 1))
    if base == "int":
        return mostly(st.integers(-5, 1000), st.sampled_from([INT32_MAX, INT32_MAX + 1, -INT32_MAX - 2]))
    if base == "double":
        return st.floats(-1e6, 1e6, allow_nan=False)
    if base == "bool":
        return st.booleans()
    if base == "DateTimeOffset":
        return mostly(st.sampled_from(["2026-01-09", "2026-01-09T10:00:00", "2026-07-01T10:00:00+02:00"]),
                      st.sampled_from(["2026-02-30", "9999-12-31T23:59:59", "tomorrow"]))
    if base == "Guid":
        return st.uuids().map(str)
    return _junk()


def body_strategy(schema: str, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """A body of ``schema``: Always fields nearly always present, a few optional ones, values mostly of the right
    type (with the keys a fake knows: products, customers, warehouses), now and then junk or null."""
    fields = facts()["schemas"][schema]
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    essential = ESSENTIAL.get(schema, set())
    for field in fields:
        value = mostly(_well_typed(field["type"], field["name"], depth, field.get("maxLength"), schema), _junk(), 40)
        always = field["required"] == "Always" or field["name"] in essential
        (required if always else optional)[field["name"]] = value
    if not optional:
        return st.fixed_dictionaries(required)
    # a handful of the optional fields at a time
    names = sorted(optional)
    return st.tuples(st.fixed_dictionaries(required),
                     st.lists(st.sampled_from(names), max_size=3 if depth == 0 else 1, unique=True).flatmap(
                         lambda chosen: st.fixed_dictionaries({n: optional[n] for n in chosen}))
                     ).map(lambda parts: {**parts[0], **parts[1]})
