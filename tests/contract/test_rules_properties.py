"""Properties of the rules over generated journals: explained reads never count as polling, unexplained ones
over the budget always do, waiting for Retry-After always passes, a transient 400 retried after a wait always
passes and one never retried always fails, both paging schemes read to their end always pass, and the judge
answers for any journal."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from contracts.rules import ALL_RULES, judge
from contracts.rules.errors import lacks_backoff
from contracts.rules.polling import steady_runs
from contracts.rules.testing import EMPTY, JournalBuilder, Run

PRODUCTS = ["A", "B", "C", "D 1", "E/2", "F"]
WAREHOUSES = ["1", "2", "3"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def result_of(b: JournalBuilder, rule_id: str, **overrides: object):  # type: ignore[no-untyped-def]
    return judge(Run(b, dict(EMPTY), None).context(), overrides={rule_id: overrides} if overrides else None
                 ).result(rule_id)


fetch_events = st.lists(
    st.tuples(
        st.floats(0.0, 120.0),  # gap since the previous read
        st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=4, unique=True),
        st.sampled_from(WAREHOUSES),
        st.lists(st.floats(0.0, 29.9), min_size=4, max_size=4),  # how long before the read each hook came
        st.sampled_from([200, 200, 200, 500, None]),  # how the client answered the hook
        st.booleans(),  # /{pn}/{wh} or ?productNumber=
    ),
    min_size=1,
    max_size=40,
)


@SETTINGS
@given(fetch_events, st.integers(0, 3))
def test_reads_each_preceded_by_a_hook_never_count_as_polling(events, budget) -> None:  # type: ignore[no-untyped-def]
    b = JournalBuilder()
    at = 0.0
    for gap, products, warehouse, delays, hook_status, by_path in events:
        at += gap
        for product, delay in zip(products, delays, strict=False):
            b.balance_hook(at - delay, product, warehouse, 3, status=hook_status)
        for i, product in enumerate(products):
            if by_path:
                b.item(at + 0.001 * i, product, warehouse)
            else:
                b.availability(at + 0.001 * i, product, warehouse=warehouse)
    result = result_of(b, "no-per-product-polling", budget=budget)
    assert result.status == "passed", [v.explanation for v in result.violations]


@SETTINGS
@given(
    st.lists(
        st.tuples(st.floats(0.0, 59.0), st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=6, unique=True)),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 10),
)
def test_unexplained_reads_over_the_budget_always_fail(fetches, budget) -> None:  # type: ignore[no-untyped-def]
    assume(sum(len(products) for _, products in fetches) > budget)
    b = JournalBuilder()
    for i, product in enumerate(PRODUCTS):  # the initial read of every item is free
        b.item(0.01 * i, product, "1")
    for offset, products in fetches:
        for i, product in enumerate(products):
            b.item(100.0 + offset + 0.0001 * i, product, "1")
    result = result_of(b, "no-per-product-polling", budget=budget)
    assert result.status == "failed"
    assert result.violations and all(v.seqs for v in result.violations)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.floats(0.0, 3.0), st.floats(0.0, 200.0),
                  st.sampled_from(["ProductAvailability", "CustomerOrders"])),
        min_size=1,
        max_size=12,
    )
)
def test_waiting_for_retry_after_always_respects_throttling(chain) -> None:  # type: ignore[no-untyped-def]
    b = JournalBuilder()
    at = 0.0
    for retry_after, extra_wait, latency, family in chain:
        read = b.item if family == "ProductAvailability" else (lambda t, *_a, **kw: b.get_order(t, "100001", **kw))
        read(at, "A", "1", status=429, retry_after=retry_after, latency_ms=latency, fault="status:429")
        at += latency / 1000.0 + retry_after + extra_wait
    b.item(at, "A", "1")
    result = result_of(b, "respect-throttling")
    assert result.status == "passed", [v.explanation for v in result.violations]


@SETTINGS
@given(
    st.lists(st.floats(0.25, 8.0), min_size=1, max_size=5),  # waits before each retry
    st.sampled_from(["transient-deadlock", "transient-timeout"]),
    st.booleans(),  # a quirk or an injected fault
    st.sampled_from(["item", "order", "post"]),
)
def test_transient_400s_retried_after_a_wait_always_pass(waits, kind, quirk, what) -> None:  # type: ignore[no-untyped-def]
    b = JournalBuilder()
    label = {"quirk": kind} if quirk else {"fault": kind}

    def call(t: float, status: int, **kw: object) -> None:
        if what == "item":
            b.item(t, "A", "1", status=status, **kw)  # type: ignore[arg-type]
        elif what == "order":
            b.get_order(t, "100001", status=status, **kw)  # type: ignore[arg-type]
        else:
            key = {"result_key": "100001"} if status == 200 else {}
            b.create_order(t, "EXT-1", [("A", 1)], status=status, **key, **kw)  # type: ignore[arg-type]

    at = 0.0
    for wait in waits:
        call(at, 400, latency_ms=5, **label)
        at += 0.005 + wait
    call(at, 200)
    b.item(at + 60.0, "Z", "1")  # the run goes on long enough to judge
    result = result_of(b, "no-retry-of-validation-errors")
    assert result.status == "passed", [v.explanation for v in result.violations]


@SETTINGS
@given(st.floats(20.5, 300.0), st.sampled_from(["item", "order", "post"]))
def test_a_transient_400_never_retried_always_fails(run_on, what) -> None:  # type: ignore[no-untyped-def]
    b = JournalBuilder()
    if what == "item":
        first = b.item(0.0, "A", "1", status=400, quirk="transient-deadlock")
    elif what == "order":
        first = b.get_order(0.0, "100001", status=400, quirk="transient-deadlock")
    else:
        first = b.create_order(0.0, "EXT-1", [("A", 1)], status=400, quirk="transient-deadlock")
    b.item(run_on, "Z", "1")
    result = result_of(b, "no-retry-of-validation-errors")
    assert result.status == "failed"
    assert [v.seqs for v in result.violations] == [[first["seq"]]]


@SETTINGS
@given(st.integers(1, 8), st.integers(2, 50), st.integers(0, 49), st.booleans(), st.one_of(st.none(), st.integers(1, 8)))
def test_scheme_a_read_to_its_end_passes_and_a_skipped_page_fails(full, size, tail, quirk, skip):  # type: ignore[no-untyped-def]
    """Pages 0..full-1 are full; page ``full`` ends the pass (short, empty, or the 400 past the end)."""
    assume(tail < size and (skip is None or skip <= full))
    b = JournalBuilder()
    for page in range(full + 1):
        if page == skip:
            continue
        if page < full:
            b.list_read(float(page), "Products", page_count=size, page=page or None, rows=size)
        elif tail == 0 and quirk:
            b.list_read(float(page), "Products", page_count=size, page=page, status=400, quirk="page-past-end")
        else:
            b.list_read(float(page), "Products", page_count=size, page=page, rows=tail)
    result = result_of(b, "follow-pagination")
    assert result.status == ("passed" if skip is None else "failed"), [v.explanation for v in result.violations]
    if skip is not None:
        assert f"pageOffset {skip} never read" in result.violations[0].explanation


@SETTINGS
@given(st.integers(2, 12), st.integers(0, 11))
def test_scheme_b_read_to_total_pages_passes_and_a_gap_fails(total, skip) -> None:  # type: ignore[no-untyped-def]
    b = JournalBuilder()
    for page in range(1, total + 1):
        b.availability(float(page), page=page if page > 1 else None, total_pages=total)
    assert result_of(b, "follow-pagination").status == "passed"
    assume(2 <= skip + 2 <= total)
    gap = JournalBuilder()
    for page in range(1, total + 1):
        if page != skip + 2:
            gap.availability(float(page), page=page if page > 1 else None, total_pages=total)
    result = result_of(gap, "follow-pagination")
    assert result.status == "failed"
    assert str(skip + 2) in result.violations[0].explanation


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
            ("GET", "ProductAvailability"),
            ("GET", "ProductAvailability/A/1"),
            ("GET", "ProductAvailability/A"),  # not a route: unknown
            ("GET", "Products"),
            ("GET", "Products/A"),
            ("GET", "Customers"),
            ("GET", "Customers/10001"),
            ("GET", "CustomerOrders"),
            ("GET", "CustomerOrders/100001"),
            ("PUT", "CustomerOrders/100001"),
            ("DELETE", "CustomerOrders/100001"),
            ("POST", "CustomerOrders"),
            ("GET", "ProductPrices"),
            ("PUT", "WarehouseStockLevels"),
            ("GET", "Nope"),
            ("GET", "/api/ProductAvailability"),
        ]
    ),
    st.dictionaries(
        st.sampled_from(["productNumber", "warehouse", "modifiedDateFrom", "pageNumber", "pageOffset", "pageCount",
                         "orderNumberExternal", "changedAfterDate"]),
        st.lists(st.sampled_from(["A", "B", "1", "2", "x", "2026-01-05T08:00:00", "0"]), min_size=1, max_size=2),
        max_size=3,
    ),
    st.sampled_from([0, 200, 400, 401, 404, 413, 429, 500]),
    st.one_of(st.none(), st.integers(0, 5)),
    st.one_of(st.none(), st.sampled_from(["status:500", "drop", "commit-then-drop", "truncate", "transient-deadlock"])),
    st.one_of(st.none(), st.sampled_from(["transient-timeout", "page-past-end", "orders-list-timeout"])),
    st.one_of(st.none(), st.integers(-1, 4)),
    st.one_of(st.none(), st.booleans()),
)
deliveries = st.tuples(
    st.floats(0.0, 300.0),
    st.sampled_from(["AvailableBalanceChanged", "OrderPicked", "OrderReserved", "ProductCreated", "Weird"]),
    st.sampled_from(["A", "B", "100001"]),
    st.one_of(st.none(), st.sampled_from([200, 204, 401, 410, 500])),
    st.booleans(),
    st.floats(0.0, 3000.0),
)


@SETTINGS
@given(st.lists(api_calls, max_size=40), st.lists(deliveries, max_size=20), st.booleans())
def test_the_judge_answers_for_any_journal(calls, hooks, with_probe) -> None:  # type: ignore[no-untyped-def]
    b = JournalBuilder()
    for at, (method, path), query, status, retry_after, fault, quirk, total_pages, last_page in calls:
        body = (
            {"orderHeader": {"orderNumberExternal": "E"}, "orderRows": [{"product": {"productNumber": "A"},
                                                                          "salesData": {"quantity": 1}}]}
            if method != "GET"
            else None
        )
        b.api(at, method, path, query=query, status=status, retry_after=retry_after, fault=fault, quirk=quirk,
              total_pages=total_pages, last_page=last_page, body=body,
              result_key="100001" if status == 200 and method == "POST" else None)
    for at, action, subject, status, forged, latency in hooks:
        details = {"OrderNumber": subject} if subject.isdigit() else {"ProductNumber": subject}
        b.hook(at, action, details, status=status, forged=forged, latency_ms=latency)
    truth = {"balances": [{"productNumber": "A", "warehouse": "1", "availableBalanceNow": 1}], "orders": []}
    probe = {"balances": [], "orders": [{"orderNumber": "100001", "orderStatus": "Terminated"}]} if with_probe else None
    report = judge(Run(b, truth, probe).context())
    assert [r.rule_id for r in report.results] == [r.id for r in ALL_RULES]
    assert report.passed == (not any(r.status == "failed" and r.severity == "error" for r in report.results))
    for result in report.results:
        assert result.status in ("passed", "failed", "not_applicable", "not_checked")
        assert (result.status == "failed") == (result.violation_count > 0)
    orjson.dumps(report.to_dict())
    report.to_text()
    report.to_junit_xml()
