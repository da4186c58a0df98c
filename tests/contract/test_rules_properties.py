"""Properties of the rules over generated journals: explained fetches never count as polling, unexplained ones
over the budget always do, waiting for Retry-After always passes, and the judge answers for any journal."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from contracts.rules import ALL_RULES, judge
from contracts.rules.errors import lacks_backoff
from contracts.rules.polling import steady_runs
from contracts.rules.testing import JournalBuilder, Run

PRODUCTS = ["A", "B", "C", "D 1", "E/2", "F"]
WAREHOUSES = ["1", "2", "3"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

fetch_events = st.lists(
    st.tuples(
        st.floats(0.0, 120.0),  # gap since the previous fetch
        st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=4, unique=True),
        st.sets(st.sampled_from(WAREHOUSES), max_size=2),
        st.lists(st.floats(0.0, 29.9), min_size=4, max_size=4),  # how long before the fetch each hook came
        st.sampled_from([200, 200, 200, 500, None]),  # how the client answered the hook
    ),
    min_size=1,
    max_size=40,
)


@SETTINGS
@given(fetch_events, st.integers(0, 3))
def test_fetches_each_preceded_by_a_hook_never_count_as_polling(events, budget) -> None:  # type: ignore[no-untyped-def]
    b = JournalBuilder()
    at = 0.0
    for gap, products, warehouses, delays, hook_status in events:
        at += gap
        for product, delay in zip(products, delays, strict=False):
            warehouse = sorted(warehouses)[0] if warehouses else "1"
            b.balance_hook(at - delay, product, warehouse, 3, status=hook_status)
        b.availability(at, *products, warehouses=sorted(warehouses))
    overrides = {"no-per-product-polling": {"budget": budget}}
    result = judge(Run(b, {}, None).context(), overrides=overrides).result("no-per-product-polling")
    assert result.status == "passed", [v.explanation for v in result.violations]


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 59.0), st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=6, unique=True)
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 10),
)
def test_unexplained_fetches_over_the_budget_always_fail(fetches, budget) -> None:  # type: ignore[no-untyped-def]
    assume(sum(len(products) for _, products in fetches) > budget)
    b = JournalBuilder()
    b.availability(0.0, *PRODUCTS)  # the initial read of every product is free
    for offset, products in fetches:
        b.availability(100.0 + offset, *products)
    overrides = {"no-per-product-polling": {"budget": budget}}
    result = judge(Run(b, {}, None).context(), overrides=overrides).result("no-per-product-polling")
    assert result.status == "failed"
    assert result.violations and all(v.seqs for v in result.violations)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.floats(0.0, 3.0), st.floats(0.0, 200.0)),
        min_size=1,
        max_size=12,
    )
)
def test_waiting_for_retry_after_always_respects_throttling(chain) -> None:  # type: ignore[no-untyped-def]
    b = JournalBuilder()
    at = 0.0
    for retry_after, extra_wait, latency in chain:
        b.availability(at, "A", status=429, retry_after=retry_after, latency_ms=latency, fault="status:429")
        at += latency / 1000.0 + retry_after + extra_wait
    b.availability(at, "A")
    result = judge(Run(b, {}, None).context()).result("respect-throttling")
    assert result.status == "passed", [v.explanation for v in result.violations]


@SETTINGS
@given(st.floats(1.2, 120.0), st.integers(4, 12), st.floats(0.0, 0.15), st.randoms(use_true_random=False))
def test_steady_intervals_are_found_despite_small_jitter(period, count, jitter, rnd) -> None:  # type: ignore[no-untyped-def]
    times = [0.0]
    for _ in range(count - 1):
        times.append(times[-1] + period * (1 + rnd.uniform(-jitter / 2, jitter / 2)))
    assert steady_runs(times, min_repetitions=4, max_jitter=0.2, min_interval=1.0)


@SETTINGS
@given(st.floats(0.2, 5.0), st.floats(1.5, 3.0), st.integers(3, 8))
def test_exponential_backoff_is_backoff(base, factor, retries) -> None:  # type: ignore[no-untyped-def]
    times = [0.0]
    for n in range(retries):
        times.append(times[-1] + base * factor**n)
    assert not lacks_backoff(times, growth_ratio=2.0, immediate_seconds=0.2, harmless_gap_seconds=30.0)


api_calls = st.tuples(
    st.floats(0.0, 300.0),
    st.sampled_from(
        [
            ("GET", "/api/ProductAvailability"),
            ("GET", "/api/Products"),
            ("GET", "/api/Customers"),
            ("GET", "/api/CustomerOrders"),
            ("GET", "/api/CustomerOrders/SO-1"),
            ("PUT", "/api/CustomerOrders/SO-1"),
            ("POST", "/api/CustomerOrders/SO-1/cancel"),
            ("POST", "/api/CustomerOrders"),
            ("GET", "/api/ProductPrices"),
            ("GET", "/api/Nope"),
            ("POST", "/api/token"),
        ]
    ),
    st.dictionaries(
        st.sampled_from(["productNumber", "warehouseNumber", "changedSince", "page", "pageSize"]),
        st.lists(
            st.sampled_from(["A", "B", "1", "2", "x", "2024-05-01T12:00:00.000Z"]), min_size=1, max_size=2
        ),
        max_size=3,
    ),
    st.sampled_from([200, 201, 400, 404, 409, 422, 429, 500, 503]),
    st.one_of(st.none(), st.integers(0, 5)),
    st.one_of(st.none(), st.sampled_from(["status:503", "drop", "commit-then-drop", "truncate"])),
    st.one_of(st.none(), st.integers(-1, 4)),
)
deliveries = st.tuples(
    st.floats(0.0, 300.0),
    st.sampled_from(["AvailableBalanceChanged", "OrderPicked", "OrderReserved", "ProductCreated", "Weird"]),
    st.sampled_from(["A", "B", "SO-1"]),
    st.one_of(st.none(), st.sampled_from([200, 204, 401, 410, 500])),
    st.booleans(),
    st.floats(0.0, 3000.0),
)


@SETTINGS
@given(st.lists(api_calls, max_size=40), st.lists(deliveries, max_size=20), st.booleans())
def test_the_judge_answers_for_any_journal(calls, hooks, with_probe) -> None:  # type: ignore[no-untyped-def]
    b = JournalBuilder()
    for at, (method, path), query, status, retry_after, fault, total_pages in calls:
        body = (
            {"ExternalOrderNumber": "E", "Lines": [{"ProductNumber": "A", "Quantity": 1}]}
            if method != "GET"
            else None
        )
        b.api(
            at,
            method,
            path,
            query=query,
            status=status,
            retry_after=retry_after,
            fault=fault,
            total_pages=total_pages,
            body=body,
            result_key="SO-1" if status == 201 else None,
        )
    for at, action, subject, status, forged, latency in hooks:
        details = {"OrderNumber": subject} if subject.startswith("SO") else {"ProductNumber": subject}
        b.hook(at, action, details, status=status, forged=forged, latency_ms=latency)
    truth = {
        "Balances": [{"ProductNumber": "A", "WarehouseNumber": "1", "AvailableBalance": 1}],
        "Orders": [],
    }
    probe = {"Balances": [], "Orders": [{"OrderNumber": "SO-1", "Status": "Picked"}]} if with_probe else None
    report = judge(Run(b, truth, probe).context())
    assert [r.rule_id for r in report.results] == [r.id for r in ALL_RULES]
    assert report.passed == (not any(r.status == "failed" and r.severity == "error" for r in report.results))
    for result in report.results:
        assert result.status in ("passed", "failed", "not_applicable", "not_checked")
        assert (result.status == "failed") == (result.violation_count > 0)
    orjson.dumps(report.to_dict())
    report.to_text()
    report.to_junit_xml()
