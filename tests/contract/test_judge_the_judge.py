"""Judge the judge (issue 4, item 6): real client processes against the real harness.

``tests/clients/planted.py`` is one small webshop integration, correct by default; ``--bug NAME`` plants one
misbehaviour. Each bug runs through ``contracts.harness.run`` on a short scenario that gives its rule a chance to
fire, and must fail exactly that rule, with evidence naming real journal records; the good client runs on every
one of those scenarios and must pass every rule, ``converges`` included (checked, not merely not failed).

Two scenario families keep the module short (each run is a fake and a client process of its own; all runs go
through a process pool at once, sharing nothing):

- ``everyday``: shop orders and their back-office moves, stock moves in both warehouses, token expiry, forged
  hooks (about a product the per-product poller does not poll, so polling it is not "acting on" the forgery);
- ``faults``: a shop order for a product that is not sellable (422), a 429 window and a 500 window on
  ProductAvailability, a commit-then-drop on POST CustomerOrders, and a List rate limit of 10 per minute.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from contracts.rules import ALL_RULES
from contracts.scenario import Scenario
from mock_xtnd.domain.seed import SeedSizes, generate

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).resolve().parents[1] / "clients" / "planted.py"
FORGED_PRODUCT = "KM 1007"  # sorts after the poller's first 20 products, and no step of the timeline moves it


def _move(at: float, product: str, warehouse: str, delta: int) -> dict[str, Any]:
    """A stock move of one named item. The everyday family names its items so that no item moves twice close
    together: hooks about one item sent at once may arrive in either order, and the ignore-hooks client, which
    takes Details as data, would then hold a stale value and fail converges too."""
    return {"at": at, "stock": {"product": product, "warehouse": warehouse, "delta": delta}}


def _not_sellable(seed: int, products: int) -> str:
    """A product of the seeded catalogue that is not Active: ordering it is refused as invalid. (The harness
    refuses a scenario that names a product the catalogue does not have, so "an unknown product" cannot be it.)"""
    state = generate(seed, SeedSizes(products=products, warehouses=2, customers=5), 0)
    return next(p.number for p in sorted(state.products.values(), key=lambda p: p.number) if p.status != "Active")


FAULTS_SEED = 2  # seed 1 has no product that is not Active among its first 60
NOT_SELLABLE = _not_sellable(FAULTS_SEED, 60)

COMMON: dict[str, Any] = {
    "seed": 1,
    "catalogue": {"products": 60, "warehouses": 2, "customers": 5},
    "delivery": {"retry_delays_seconds": [2, 5], "timeout_seconds": 5},
    "settle": {"quiet_seconds": 1.5, "max_seconds": 10},
}

SCENARIOS: dict[str, dict[str, Any]] = {
    "everyday": {
        **COMMON,
        "name": "judge-everyday",
        "timeline": [
            {"at": 0.5, "shop_order": {"count": 2}},  # seed 1: 100018 and AX-10031, warehouse 1
            _move(1.5, "100003", "1", 4),
            _move(1.6, "100030", "2", 4),
            _move(1.7, "CT-10016", "1", 4),
            _move(2.5, "100040", "2", 3),
            _move(2.6, "DL-10006", "2", 3),
            {"at": 3.0, "order": {"action": "reserve", "which": "first"}},
            {"at": 4.0, "forge": {"signature": "bad", "product": FORGED_PRODUCT}},
            {"at": 4.2, "forge": {"signature": "missing", "product": FORGED_PRODUCT}},
            {"at": 4.5, "order": {"action": "delivery_date", "which": "last", "days": 4}},
            {"at": 5.5, "expire_tokens": True},
            {"at": 6.0, "order": {"action": "pick", "which": "first"}},
            _move(6.5, "100005", "1", -1),
            _move(6.6, "100033", "2", -1),
            {"at": 7.5, "order": {"action": "cancel", "which": "last"}},
            _move(8.5, "100043", "2", 2),
            _move(8.6, "BR-10001", "2", 2),
        ],
    },
    "faults": {
        **COMMON,
        "seed": FAULTS_SEED,
        "name": "judge-faults",
        "rate_limits": {"list": 10},
        "timeline": [
            # a product that exists but is not Active: the fake refuses the order (422 Validation, no fault)
            {"at": 0.5, "shop_order": {"lines": [{"product": NOT_SELLABLE, "quantity": 1}]}},
            {"at": 1.0, "api_fault": {"kind": "commit-then-drop", "route": "/api/CustomerOrders", "method": "POST",
                                      "times": 1}},
            {"at": 1.2, "shop_order": {"count": 1}},
            # a 429 window: the fetch the stock move triggers is throttled once (Retry-After 2 s, window 2 s)
            {"at": 3.0, "api_fault": {"kind": "status", "status": 429, "retry_after": 2,
                                      "route": "/api/ProductAvailability*", "duration_seconds": 2}},
            {"at": 3.2, "stock": {"count": 2, "delta": 4}},
            # a 500 window long enough for two 500s before a back-off (0.5 s, 1 s) gets through
            {"at": 7.5, "api_fault": {"kind": "status", "status": 500, "route": "/api/ProductAvailability*",
                                      "duration_seconds": 1.2}},
            {"at": 7.6, "stock": {"count": 1, "delta": 5}},
            {"at": 9.5, "stock": {"count": 1, "delta": 2}},
        ],
    },
}

# bug -> (the rule it must fail, the scenario family)
BUGS: dict[str, tuple[str, str]] = {
    "per-product-polling": ("no-per-product-polling", "everyday"),
    "blind-list-polling": ("no-blind-list-polling", "everyday"),
    "ignore-hooks": ("hooks-are-triggers", "everyday"),
    "partial-pagination": ("follow-pagination", "everyday"),
    "slow-ack": ("ack-hooks-fast", "everyday"),
    "no-signature-check": ("verify-signatures", "everyday"),
    "stale-view": ("converges", "everyday"),
    "retry-validation": ("no-retry-of-validation-errors", "faults"),
    "ignore-retry-after": ("respect-throttling", "faults"),
    "hammer-500": ("bounded-internal-retries", "faults"),
    "duplicate-orders": ("no-duplicate-orders", "faults"),
    "rate-limit": ("within-rate-limits", "faults"),
}


def _api(record: dict[str, Any], method: str, path: str) -> bool:
    return record["Kind"] == "api" and record["Method"] == method and record["Path"] == path


def _hook(record: dict[str, Any]) -> bool:
    return record["Kind"] == "delivery"


# bug -> what the offending record (the first of each listed violation) must be: the evidence names the misdeed
OFFENDING: dict[str, Callable[[dict[str, Any]], bool]] = {
    "per-product-polling": lambda r: _api(r, "GET", "/api/ProductAvailability") and len(r["ProductNumbers"]) == 1,
    "blind-list-polling": lambda r: _api(r, "GET", "/api/Products") and "changedSince" not in r["Query"],
    "ignore-hooks": lambda r: _hook(r) and not r["Forged"] and 200 <= r["Status"] < 300,
    "partial-pagination": lambda r: _api(r, "GET", "/api/Customers") and r["TotalPages"] == 3,
    "slow-ack": lambda r: _hook(r) and not r["Forged"] and r["LatencyMs"] > 1000,
    "no-signature-check": lambda r: (_hook(r) and r["Forged"] and r["Status"] == 200) or (
        _api(r, "GET", "/api/ProductAvailability") and FORGED_PRODUCT in r["ProductNumbers"]),
    # converges cites the last hook about the item that differs: every one is in warehouse 2
    "stale-view": lambda r: _hook(r) and r["Notifications"][0]["Details"]["WarehouseNumber"] == "2",
    "retry-validation": lambda r: _api(r, "POST", "/api/CustomerOrders") and r["ProductNumbers"] == [NOT_SELLABLE],
    "ignore-retry-after": lambda r: _api(r, "GET", "/api/ProductAvailability"),
    "hammer-500": lambda r: _api(r, "GET", "/api/ProductAvailability") and r["Status"] == 500,
    "duplicate-orders": lambda r: _api(r, "POST", "/api/CustomerOrders") and r["Status"] == 201,
    "rate-limit": lambda r: _api(r, "GET", "/api/Products") and r["Status"] == 429 and r["Fault"] is None,
}
# Rules a bug may fail besides its own, with why (none so far: every bug fails exactly one rule).
EXTRA: dict[str, set[str]] = {}


def _run(scenario_name: str, bug: str | None) -> dict[str, Any]:
    """One harness run, in a worker process: a fake and a client of its own. Returns plain data."""
    from contracts.harness import run

    scenario = Scenario.model_validate(SCENARIOS[scenario_name])
    command = f"{sys.executable} {CLIENT}" + (f" --bug {bug}" if bug else "")
    notes: list[str] = []
    started = time.monotonic()
    result = run(scenario, command, log=notes.append)
    return {
        "report": result.report.to_dict(),
        "text": result.report.to_text(),
        "seqs": {r["Seq"] for r in result.journal},
        "seconds": round(time.monotonic() - started, 1),
        "client_log": result.client_log[-4000:],
        "harness_log": notes,
    }


def _key(item: pytest.Item) -> tuple[str, str | None] | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    if "bug" in callspec.params:
        bug = callspec.params["bug"]
        return BUGS[bug][1], bug
    if "scenario_name" in callspec.params:
        return callspec.params["scenario_name"], None
    return None


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> Iterator[dict[tuple[str, str | None], Future[dict[str, Any]]]]:
    """Every run the selected tests need, started at once in a process pool; tests wait for their own."""
    wanted = sorted(
        {k for item in request.session.items if item.module is request.module and (k := _key(item))},
        key=lambda k: (k[1] is not None, k[0], k[1] or ""),
    )
    pool = ProcessPoolExecutor(max_workers=6, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield {k: pool.submit(_run, *k) for k in wanted}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _outcome(runs: dict[tuple[str, str | None], Future[dict[str, Any]]], key: tuple[str, str | None]) -> dict[str, Any]:
    return runs[key].result(timeout=240)


def _by_rule(outcome: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Rule"]: r for r in outcome["report"]["Rules"]}


def _context(outcome: dict[str, Any]) -> str:
    return (f"{outcome['text']}\n--- harness ---\n" + "\n".join(outcome["harness_log"])
            + f"\n--- client ---\n{outcome['client_log']}\n(run took {outcome['seconds']} s)")


@pytest.mark.parametrize("scenario_name", sorted(SCENARIOS))
def test_good_client_passes_every_rule(runs: Any, scenario_name: str) -> None:
    outcome = _outcome(runs, (scenario_name, None))
    results = _by_rule(outcome)
    assert set(results) == {rule.id for rule in ALL_RULES}, _context(outcome)
    failed = {rid for rid, r in results.items() if r["Status"] == "failed"}
    assert not failed, _context(outcome)
    assert results["converges"]["Status"] == "passed", _context(outcome)
    # every rule a bug of this family targets is exercised by the good client, not passed vacuously
    targeted = {rule for rule, family in BUGS.values() if family == scenario_name}
    vacuous = {rid for rid in targeted if results[rid]["Status"] != "passed"}
    assert not vacuous, _context(outcome)


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_planted_bug_is_caught_by_its_rule(runs: Any, bug: str) -> None:
    rule_id, _family = BUGS[bug]
    outcome = _outcome(runs, (BUGS[bug][1], bug))
    results = _by_rule(outcome)
    mine = results[rule_id]
    assert mine["Status"] == "failed", _context(outcome)
    assert mine["Violations"], _context(outcome)
    for violation in mine["Violations"]:
        assert violation["Seqs"], violation
        assert set(violation["Seqs"]) <= outcome["seqs"], violation
        assert OFFENDING[bug](violation["Records"][0]), violation
    if bug == "no-signature-check":  # refusing is not enough: acting on the forgery is caught as well
        assert any(v["Records"][0]["Kind"] == "api" for v in mine["Violations"]), _context(outcome)
    others = {
        rid for rid, r in results.items()
        if rid != rule_id and r["Status"] == "failed" and r["Severity"] == "error"
    }
    assert others == EXTRA.get(bug, set()), _context(outcome)
