"""Judge the judge: real client processes against the real harness, in XTND's real dialect.

``tests/clients/planted.py`` is one small webshop integration that knows only the wire, correct by default;
``--bug NAME`` plants one misbehaviour. Each bug runs through ``contracts.harness.run`` on a short scenario that
gives its rule a chance to fire, and must fail exactly that rule, with evidence naming real journal records; the
good client runs on every one of those scenarios and must pass every rule, ``converges`` included (checked, not
merely not failed), and every rule a bug of the family targets must be exercised (passed, not N/A).

Two scenario families keep the module short (each run is a fake and a client process of its own; all runs go
through a process pool at once, sharing nothing). Both switch the random transient-400 quirk off so that only
the faults the scenario injects happen (the good client copes with random ones too; a planted bug might not, and
would then fail a second rule by chance):

- ``everyday``: shop orders and their back-office moves, stock moves in both warehouses, a password change,
  forged hooks (about a product the per-product poller does not poll, so polling it is not "acting on" it);
  scheme B pages of 4 rows so the Customers list has two pages;
- ``faults``: an order for a product that is not enabled (a final 400), a commit-then-drop and a transient 400
  on POST CustomerOrders, a 429 window and a 500 window on ProductAvailability, a Products limit of 10 per minute.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.rules import ALL_RULES
from contracts.scenario import Scenario
from mock_xtnd.server import ServerThread
from mock_xtnd.settings import Settings

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).resolve().parents[1] / "clients" / "planted.py"
CATALOGUE = {"products": 30, "warehouses": 2, "customers": 5}
EVERYDAY_SEED, FAULTS_SEED = 1, 2


def _catalogue(seed: int) -> dict[str, Any]:
    """What the seeded fake holds: the scenarios name real items (numbers depend on seed and size)."""
    settings = Settings(seed=seed, port=0, catalogue=CATALOGUE)
    with ServerThread(settings) as fake, httpx.Client(base_url=fake.base_url, timeout=30) as control:
        state = control.get("/_mock/state", params={"include": "products"}).json()
    return state


def _move(at: float, product: str, warehouse: str, difference: int) -> dict[str, Any]:
    """A stock move of one named item. The everyday family names its items so that no item moves twice close
    together: hooks about one item sent at once may arrive in either order, and the ignore-hooks client, which
    takes Details as data, would then hold a stale value and fail converges too."""
    return {"at": at, "stock": {"productNumber": product, "warehouse": warehouse, "balanceDifference": difference}}


COMMON: dict[str, Any] = {
    "catalogue": CATALOGUE,
    "quirks": {"transient_errors": 0},
    "delivery": {"retry_delays_seconds": [2, 5], "timeout_seconds": 5},
    "settle": {"quiet_seconds": 1.5, "max_seconds": 12},
}


def scenarios(everyday: dict[str, Any], faults: dict[str, Any]) -> dict[str, dict[str, Any]]:
    items = sorted({b["productNumber"] for b in everyday["balances"]})
    polled = set(sorted((b["productNumber"], b["warehouse"]) for b in everyday["balances"])[:20])
    spare = [p for p in items if not any(p == q for q, _ in polled)]
    forged = spare[-1]  # never polled by the per-product poller and never moved
    moved = [p for p in items if p != forged]
    not_enabled = next(p["productNumber"] for p in faults["products"] if not p.get("enabled", True))
    return {
        "everyday": {
            **COMMON,
            "seed": EVERYDAY_SEED,
            "name": "judge-everyday",
            "paging": {"page_size": 4},
            "timeline": [
                {"at": 0.5, "shop_order": {"count": 2}},
                _move(1.5, moved[0], "1", 4),
                _move(1.6, moved[1], "2", 4),
                _move(1.7, moved[2], "1", 4),
                _move(2.5, moved[3], "2", 3),
                _move(2.6, moved[4], "2", 3),
                {"at": 3.0, "order": {"action": "reserve", "which": "first"}},
                {"at": 4.0, "forge": {"signature": "bad", "productNumber": forged}},
                {"at": 4.2, "forge": {"signature": "missing", "productNumber": forged}},
                {"at": 4.5, "order": {"action": "delivery_date", "which": "last", "days": 4}},
                {"at": 5.5, "password_change": {"duration_seconds": 2.5}},
                {"at": 6.0, "order": {"action": "pick", "which": "first"}},
                _move(6.5, moved[5], "1", -1),
                _move(6.6, moved[6], "2", -1),
                {"at": 9.0, "order": {"action": "cancel", "which": "last"}},
                _move(9.5, moved[7], "2", 2),
                _move(9.6, moved[8], "1", 2),
            ],
        },
        "faults": {
            **COMMON,
            "seed": FAULTS_SEED,
            "name": "judge-faults",
            "rate_limits": {"families": {"Products": 10}},
            "timeline": [
                # a product that exists but is not enabled: the fake refuses the order (a final 400, no fault)
                {"at": 0.5, "shop_order": {"rows": [{"productNumber": not_enabled, "quantity": 1}]}},
                {"at": 1.0, "api_fault": {"kind": "commit-then-drop", "route": "CustomerOrders", "method": "POST",
                                          "times": 1}},
                {"at": 1.2, "shop_order": {"count": 1}},
                {"at": 2.5, "api_fault": {"kind": "transient", "message": "deadlock", "route": "CustomerOrders",
                                          "method": "POST", "times": 1}},
                {"at": 2.7, "shop_order": {"count": 1}},
                # a 429 window: the read a stock move triggers is throttled once (Retry-After 2 s, window 2 s)
                {"at": 4.0, "api_fault": {"kind": "status", "status": 429, "retry_after": 2,
                                          "route": "ProductAvailability*", "duration_seconds": 2}},
                {"at": 4.2, "stock": {"count": 2, "balanceDifference": 4}},
                # a 500 window long enough for two 500s before a back-off (0.5 s, 1 s) gets through
                {"at": 8.5, "api_fault": {"kind": "status", "status": 500, "route": "ProductAvailability*",
                                          "duration_seconds": 1.2}},
                {"at": 8.6, "stock": {"count": 1, "balanceDifference": 5}},
                {"at": 10.5, "stock": {"count": 1, "balanceDifference": 2}},
            ],
            "expect": {"rule_params": {"no-retry-of-validation-errors": {"transient_retry_within_seconds": 5}}},
        },
    }


# bug -> (the rule it must fail, the scenario family)
BUGS: dict[str, tuple[str, str]] = {
    "per-product-polling": ("no-per-product-polling", "everyday"),
    "blind-list-polling": ("no-blind-list-polling", "everyday"),
    "ignore-hooks": ("hooks-are-triggers", "everyday"),
    "partial-pagination": ("follow-pagination", "everyday"),
    "short-page": ("follow-pagination", "everyday"),
    "slow-ack": ("ack-hooks-fast", "everyday"),
    "no-signature-check": ("verify-signatures", "everyday"),
    "stale-view": ("converges", "everyday"),
    "hammer-401": ("back-off-on-unauthorized", "everyday"),
    "retry-validation": ("no-retry-of-validation-errors", "faults"),
    "give-up-transient": ("no-retry-of-validation-errors", "faults"),
    "hammer-transient": ("no-retry-of-validation-errors", "faults"),
    "ignore-retry-after": ("respect-throttling", "faults"),
    "hammer-500": ("bounded-internal-retries", "faults"),
    "new-external": ("no-duplicate-orders", "faults"),
    "blind-resend": ("no-duplicate-orders", "faults"),
    "rate-limit": ("within-rate-limits", "faults"),
}


def _api(record: dict[str, Any], method: str, resource: str, *, single: bool | None = None) -> bool:
    if record["kind"] != "api" or record["method"] != method or record["resource"] != resource:
        return False
    return single is None or (record["key"] is not None) == single


def _hook(record: dict[str, Any]) -> bool:
    return record["kind"] == "delivery"


def _offending(bug: str, outcome: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """What the offending record (the first of each listed violation) must be: the evidence names the misdeed."""
    forged, not_enabled = outcome["forged"], outcome["not_enabled"]
    return {
        "per-product-polling": lambda r: _api(r, "GET", "ProductAvailability", single=True),
        "blind-list-polling": lambda r: _api(r, "GET", "Products", single=False)
        and "modifiedDateFrom" not in r["query"],
        "ignore-hooks": lambda r: _hook(r) and not r["forged"] and 200 <= r["status"] < 300,
        "partial-pagination": lambda r: _api(r, "GET", "Customers", single=False) and r["totalPages"] == 2,
        "short-page": lambda r: _api(r, "GET", "Products", single=False) and r["rows"] == 25
        and r["lastPage"] is False,
        "slow-ack": lambda r: _hook(r) and not r["forged"] and r["latencyMs"] > 1000,
        "no-signature-check": lambda r: (_hook(r) and r["forged"] and r["status"] in (200, 204)) or (
            _api(r, "GET", "ProductAvailability") and forged in r["productNumbers"]),
        # converges cites the last hook about the item that differs: every one is in warehouse 2
        "stale-view": lambda r: _hook(r) and r["notifications"][0]["Details"]["Warehouse"] == "2",
        "hammer-401": lambda r: r["kind"] == "api" and r["status"] == 401,
        "retry-validation": lambda r: _api(r, "POST", "CustomerOrders") and r["productNumbers"] == [not_enabled],
        "give-up-transient": lambda r: _api(r, "POST", "CustomerOrders") and r["errorKind"] == "Transient",
        "hammer-transient": lambda r: _api(r, "POST", "CustomerOrders"),
        "ignore-retry-after": lambda r: _api(r, "GET", "ProductAvailability"),
        "hammer-500": lambda r: _api(r, "GET", "ProductAvailability") and r["status"] == 500,
        "new-external": lambda r: _api(r, "POST", "CustomerOrders") and r["status"] == 200,
        "blind-resend": lambda r: _api(r, "POST", "CustomerOrders") and r["status"] == 400
        and "already exists" in (r["message"] or ""),
        "rate-limit": lambda r: _api(r, "GET", "Products") and r["status"] == 429 and r["fault"] is None,
    }[bug]


# Rules a bug may fail besides its own, with why (none: every bug fails exactly one rule).
EXTRA: dict[str, set[str]] = {}


def _run(scenario_data: dict[str, Any], bug: str | None) -> dict[str, Any]:
    """One harness run, in a worker process: a fake and a client of its own. Returns plain data."""
    from contracts.harness import run

    scenario = Scenario.model_validate(scenario_data)
    command = f"{sys.executable} {CLIENT}" + (f" --bug {bug}" if bug else "")
    notes: list[str] = []
    started = time.monotonic()
    result = run(scenario, command, log=notes.append)
    return {
        "report": result.report.to_dict(),
        "text": result.report.to_text(),
        "seqs": {r["seq"] for r in result.journal},
        "seconds": round(time.monotonic() - started, 1),
        "client_log": result.client_log[-4000:],
        "harness_log": notes + [f"note: {n}" for n in result.notes],
    }


def _key(item: pytest.Item) -> tuple[str, str | None] | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    if "bug" in callspec.params:
        bug = callspec.params["bug"]
        return BUGS[bug][1], bug
    if "family" in callspec.params:
        return callspec.params["family"], None
    return None


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Every run the selected tests need, started at once in a process pool; tests wait for their own."""
    wanted = sorted(
        {k for item in request.session.items if item.module is request.module and (k := _key(item))},
        key=lambda k: (k[1] is not None, k[0], k[1] or ""),
    )
    everyday, faults = _catalogue(EVERYDAY_SEED), _catalogue(FAULTS_SEED)
    families = scenarios(everyday, faults)
    facts = {
        "forged": families["everyday"]["timeline"][7]["forge"]["productNumber"],
        "not_enabled": families["faults"]["timeline"][0]["shop_order"]["rows"][0]["productNumber"],
    }
    pool = ProcessPoolExecutor(max_workers=6, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {k: pool.submit(_run, families[k[0]], k[1]) for k in wanted}
        yield {"futures": futures, "facts": facts}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _outcome(runs: dict[str, Any], key: tuple[str, str | None]) -> dict[str, Any]:
    future: Future[dict[str, Any]] = runs["futures"][key]
    return {**future.result(timeout=300), **runs["facts"]}


def _by_rule(outcome: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule"]: r for r in outcome["report"]["rules"]}


def _context(outcome: dict[str, Any]) -> str:
    return (f"{outcome['text']}\n--- harness ---\n" + "\n".join(outcome["harness_log"])
            + f"\n--- client ---\n{outcome['client_log']}\n(run took {outcome['seconds']} s)")


@pytest.mark.parametrize("family", ["everyday", "faults"])
def test_good_client_passes_every_rule(runs: Any, family: str) -> None:
    outcome = _outcome(runs, (family, None))
    results = _by_rule(outcome)
    assert set(results) == {rule.id for rule in ALL_RULES}, _context(outcome)
    failed = {rid for rid, r in results.items() if r["status"] == "failed"}
    assert not failed, _context(outcome)
    assert results["converges"]["status"] == "passed", _context(outcome)
    # every rule a bug of this family targets is exercised by the good client, not passed vacuously
    targeted = {rule for rule, fam in BUGS.values() if fam == family}
    vacuous = {rid for rid in targeted if results[rid]["status"] != "passed"}
    assert not vacuous, _context(outcome)


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_planted_bug_is_caught_by_its_rule(runs: Any, bug: str) -> None:
    rule_id, family = BUGS[bug]
    outcome = _outcome(runs, (family, bug))
    results = _by_rule(outcome)
    mine = results[rule_id]
    assert mine["status"] == "failed", _context(outcome)
    assert mine["violations"], _context(outcome)
    offending = _offending(bug, outcome)
    for violation in mine["violations"]:
        assert violation["seqs"], violation
        assert set(violation["seqs"]) <= outcome["seqs"], violation
        assert offending(violation["records"][0]), violation
    if bug == "no-signature-check":  # refusing is not enough: acting on the forgery is caught as well
        assert any(v["records"][0]["kind"] == "api" for v in mine["violations"]), _context(outcome)
    others = {
        rid for rid, r in results.items()
        if rid != rule_id and r["status"] == "failed" and r["severity"] == "error"
    }
    assert others == EXTRA.get(bug, set()), _context(outcome)
