"""The rule engine judged on synthetic journals: a good client passes everything, each planted bug fails
exactly its rule and the evidence names the offending record."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import orjson
import pytest

from contracts.rules import ALL_RULES, JudgeContext, Report, judge
from contracts.rules.testing import JournalBuilder, Run, good_client, iso

ALL_IDS = {rule.id for rule in ALL_RULES}


def failing(report: Report) -> set[str]:
    return {r.rule_id for r in report.results if r.status == "failed"}


def only_fails(run: Run, rule_id: str, **ctx: Any) -> Report:
    report = judge(run.context(**ctx))
    assert failing(report) == {rule_id}, report.to_text()
    assert not report.passed
    return report


def offending(report: Report, rule_id: str) -> set[int]:
    return {seq for v in report.result(rule_id).violations for seq in v.seqs}


# -- the good client ---------------------------------------------------------------------------------------------


def test_good_client_passes_every_rule() -> None:
    report = judge(good_client().context())
    assert report.passed, report.to_text()
    assert {r.rule_id for r in report.results} == ALL_IDS
    assert all(r.status in ("passed", "not_applicable") for r in report.results), report.to_text()
    # the run exercises the rules, it does not pass them vacuously
    assert all(r.status == "passed" for r in report.results), report.to_text()


def test_good_client_without_probe_reports_converges_not_checked() -> None:
    run = good_client()
    run.probe = None
    report = judge(run.context())
    assert report.result("converges").status == "not_checked"
    assert report.passed  # not checked is not a failure...
    assert report.summary()["passed"] == len(ALL_IDS) - 1  # ...and never counted as passed
    assert not judge(run.context(), strict=True).passed


def test_good_client_with_webhooks_off_passes() -> None:
    b = JournalBuilder()
    b.token(0)
    b.availability(1.0, total_pages=1)
    b.list_read(1.2, "CustomerOrders", changed_since=iso(b.t0 - 3600))
    for i in range(1, 10):
        at = 60.0 * i
        b.availability(at, changed_since=iso(b.t0 + at - 61))
        b.list_read(at + 0.1, "CustomerOrders", changed_since=iso(b.t0 + at - 61))
    b.create_order(100.0, "EXT-9", [("P1", 1)], result_key="SO-9")
    b.availability(100.5, "P1")  # checking stock after taking an order is fine
    b.get_order(181.0, "SO-9")  # the change list named it
    truth = {
        "Balances": [],
        "Orders": [{"OrderNumber": "SO-9", "ExternalOrderNumber": "EXT-9", "Status": "Created"}],
    }
    run = Run(b, truth, {"Balances": [], "Orders": [{"OrderNumber": "SO-9", "Status": "Created"}]}, False)
    report = judge(run.context())
    assert report.passed, report.to_text()
    assert report.result("hooks-are-triggers").status == "not_applicable"
    assert report.result("ack-hooks-fast").status == "not_applicable"


# -- no-per-product-polling --------------------------------------------------------------------------------------


def test_polling_every_10_seconds_fails_per_product_polling() -> None:
    run = good_client()
    polls = [run.builder.availability(33.0 + 10 * i, "P1", "P2", "P3") for i in range(12)]
    report = only_fails(run, "no-per-product-polling")
    seqs = offending(report, "no-per-product-polling")
    assert {p["Seq"] for p in polls[4:]} <= seqs
    text = report.to_text()
    assert f"#{polls[5]['Seq']} " in text
    assert "GET /api/ProductAvailability?productNumber=P1&productNumber=P2&productNumber=P3 (200)" in text
    assert "every 10.0 s" in text  # the steady interval is reported too


def test_slow_steady_polling_under_budget_is_caught_by_periodicity() -> None:
    run = good_client()
    polls = [run.builder.availability(40.0 + 20 * i, "P12") for i in range(6)]
    report = only_fails(run, "no-per-product-polling")
    result = report.result("no-per-product-polling")
    assert len(result.violations) == 1
    (violation,) = result.violations
    assert "every 20.0 s" in violation.explanation
    assert violation.seqs == [p["Seq"] for p in polls[1:]]  # the first read is free


def test_jittered_polling_is_not_periodic_but_over_budget_still_fails() -> None:
    run = good_client()
    gaps = [3.0, 11.0, 5.0, 17.0, 2.0, 9.0, 4.0, 13.0]
    at = 30.0
    for gap in gaps:
        at += gap
        run.builder.availability(at, "P1", "P2", "P3", "P4")
    report = only_fails(run, "no-per-product-polling")
    assert all(
        "steady interval" not in v.explanation for v in report.result("no-per-product-polling").violations
    )


def test_webhooks_off_client_polling_products_fails() -> None:
    b = JournalBuilder()
    for i in range(10):
        b.availability(30.0 * i, *[f"P{n}" for n in range(1, 9)])
    run = Run(b, {"Balances": [], "Orders": []}, {"Balances": [], "Orders": []}, webhooks_enabled=False)
    report = judge(run.context())
    assert failing(report) == {"no-per-product-polling"}, report.to_text()


def test_fetch_one_second_after_hook_passes_even_with_zero_budget() -> None:
    b = JournalBuilder()
    b.availability(0.0, "A")
    b.balance_hook(100.0, "A", "1", 3)
    b.availability(101.0, "A")
    run = Run(b, {"Balances": [], "Orders": []}, None)
    result = judge(run.context(), overrides={"no-per-product-polling": {"budget": 0}}).result(
        "no-per-product-polling"
    )
    assert result.status == "passed", result


def test_hook_for_another_warehouse_is_the_nearest_miss() -> None:
    b = JournalBuilder()
    b.availability(0.0, "A", warehouses=["1"])
    hook = b.balance_hook(100.0, "A", "2", 3)
    fetch = b.availability(101.0, "A", warehouses=["1"])
    run = Run(b, {"Balances": [], "Orders": []}, None)
    report = judge(run.context(), overrides={"no-per-product-polling": {"budget": 0}})
    result = report.result("no-per-product-polling")
    assert result.status == "failed"
    (violation,) = result.violations
    assert violation.seqs[0] == fetch["Seq"]
    assert violation.nearest_miss is not None
    assert violation.nearest_miss.record is not None and violation.nearest_miss.record.seq == hook["Seq"]
    assert "warehouse 2" in violation.nearest_miss.explanation
    assert "nearest miss:" in report.to_text()


def test_hook_just_after_the_fetch_is_the_nearest_miss() -> None:
    b = JournalBuilder()
    b.availability(0.0, "A")
    fetch = b.availability(100.0, "A")
    b.balance_hook(100.5, "A", "1", 3)
    result = judge(Run(b, {}, None).context(), overrides={"no-per-product-polling": {"budget": 0}}).result(
        "no-per-product-polling"
    )
    (violation,) = result.violations
    assert violation.seqs[0] == fetch["Seq"]
    assert violation.nearest_miss is not None and "after the fetch" in violation.nearest_miss.explanation


def test_late_fetch_of_a_queued_hook_is_explained() -> None:
    """A client that queues triggers while throttled follows them late: still a trigger, not polling."""
    b = JournalBuilder()
    b.availability(0.0, "A")
    b.balance_hook(100.0, "A", "1", 3)
    b.availability(250.0, "A")
    result = judge(Run(b, {}, None).context(), overrides={"no-per-product-polling": {"budget": 0}}).result(
        "no-per-product-polling"
    )
    assert result.status == "passed"


def test_retry_after_failed_fetch_and_changed_since_fetches_are_not_polling() -> None:
    b = JournalBuilder()
    b.availability(0.0, "A")
    b.availability(50.0, "A", status=503, fault="outage", retry_after=1)
    b.balance_hook(49.0, "A", "1", 3)
    b.availability(52.0, "A")  # retry of the hook-triggered fetch
    for i in range(20):
        b.availability(60.0 + i, "A", changed_since=iso(b.t0))  # reconciliation, however often
    result = judge(Run(b, {}, None).context(), overrides={"no-per-product-polling": {"budget": 0}}).result(
        "no-per-product-polling"
    )
    assert result.status == "passed", result


# -- no-blind-list-polling ---------------------------------------------------------------------------------------


def test_full_list_reread_every_20_seconds_fails_blind_list_polling() -> None:
    run = good_client()
    reads = [run.builder.list_read(30.0 + 20 * i, "Products") for i in range(8)]
    report = only_fails(run, "no-blind-list-polling")
    seqs = offending(report, "no-blind-list-polling")
    assert reads[2]["Seq"] in seqs and reads[0]["Seq"] not in {
        v.seqs[0] for v in report.result("no-blind-list-polling").violations
    }


def test_pages_and_retries_of_one_full_read_count_once() -> None:
    b = JournalBuilder()
    b.list_read(0.0, "Customers", status=429, retry_after=1, fault="status:429")
    b.list_read(1.5, "Customers", total_pages=3)
    b.list_read(1.7, "Customers", page=2, total_pages=3)
    b.list_read(1.9, "Customers", page=3, total_pages=3)
    b.list_read(500.0, "Customers", total_pages=1)  # one full re-read per 10 minutes is tolerated
    result = judge(Run(b, {}, None).context()).result("no-blind-list-polling")
    assert result.status == "passed", result


# -- hooks-are-triggers ------------------------------------------------------------------------------------------


def test_hooks_taken_as_data_fail_hooks_are_triggers() -> None:
    run = good_client()
    hooks = [run.builder.balance_hook(200.0 + i, "P12", "1", 5 - i) for i in range(5)]
    report = only_fails(run, "hooks-are-triggers")
    assert offending(report, "hooks-are-triggers") == {h["Seq"] for h in hooks}
    assert "nearest miss: #" in report.to_text() and "before the hook" in report.to_text()


def test_fetch_for_another_warehouse_is_the_nearest_miss_of_an_unfollowed_hook() -> None:
    b = JournalBuilder()
    hook = b.balance_hook(10.0, "A", "1", 3)
    fetch = b.availability(11.0, "A", warehouses=["2"])
    result = judge(Run(b, {}, None).context()).result("hooks-are-triggers")
    assert result.status == "failed"
    (violation,) = result.violations
    assert violation.seqs == [hook["Seq"]]
    assert violation.nearest_miss is not None and violation.nearest_miss.record is not None
    assert violation.nearest_miss.record.seq == fetch["Seq"]
    assert "warehouse 2" in violation.nearest_miss.explanation


def test_changed_since_read_after_a_hook_follows_it_but_not_one_starting_later() -> None:
    b = JournalBuilder()
    b.balance_hook(10.0, "A", "1", 3)
    b.availability(12.0, changed_since=iso(b.t0 + 5))
    b.balance_hook(20.0, "B", "1", 3)
    b.availability(22.0, changed_since=iso(b.t0 + 21))  # a cursor after the hook cannot include its change
    result = judge(
        Run(b, {}, None).context(), overrides={"hooks-are-triggers": {"min_followed_ratio": 1}}
    ).result("hooks-are-triggers")
    assert result.status == "failed"
    assert [v.explanation.split()[1] for v in result.violations] == ["#3"]


def test_forged_and_foreign_order_hooks_need_no_follow_up() -> None:
    b = JournalBuilder()
    b.balance_hook(10.0, "A", "1", 3, status=401, forged=True)
    b.order_hook(11.0, "OrderPicked", "SO-5", "OTHER-CHANNEL-1")
    assert judge(Run(b, {}, None).context()).result("hooks-are-triggers").status == "not_applicable"


def test_hook_acknowledged_on_retry_is_followed_after_the_retry() -> None:
    b = JournalBuilder()
    first = b.balance_hook(10.0, "A", "1", 3, status=500)
    b.balance_hook(70.0, "A", "1", 3, delivery_id=first["DeliveryId"], attempt=2)
    b.availability(71.0, "A")
    assert judge(Run(b, {}, None).context()).result("hooks-are-triggers").status == "passed"


# -- follow-pagination -------------------------------------------------------------------------------------------


def test_unread_last_page_fails_follow_pagination() -> None:
    run = good_client()
    since = iso(run.builder.t0 + 100)
    start = run.builder.list_read(200.0, "CustomerOrders", changed_since=since, total_pages=3)
    run.builder.list_read(200.3, "CustomerOrders", changed_since=since, page=2, total_pages=3)
    report = only_fails(run, "follow-pagination")
    (violation,) = report.result("follow-pagination").violations
    assert violation.seqs[0] == start["Seq"]
    assert "page(s) 3 never read" in violation.explanation


def test_page_asked_with_another_page_size_is_the_nearest_miss() -> None:
    b = JournalBuilder()
    b.list_read(0.0, "Products", query={"pageSize": "100"}, total_pages=2)
    miss = b.list_read(0.5, "Products", query={"pageSize": "50"}, page=2, total_pages=4)
    result = judge(Run(b, {}, None).context()).result("follow-pagination")
    (violation,) = result.violations
    assert violation.nearest_miss is not None and violation.nearest_miss.record is not None
    assert violation.nearest_miss.record.seq == miss["Seq"]
    assert "pageSize" in violation.nearest_miss.explanation


def test_pagination_without_total_pages_in_the_journal_is_not_checked() -> None:
    records = good_client().context().records
    stripped = [{k: v for k, v in r.items() if k != "TotalPages"} for r in records]
    result = judge(JudgeContext(stripped, client_id="shop")).result("follow-pagination")
    assert result.status == "not_checked"
    assert "TotalPages" in result.message


def test_restarted_pass_is_judged_by_its_last_start() -> None:
    b = JournalBuilder()
    b.list_read(0.0, "Products", total_pages=2)
    b.list_read(5.0, "Products", total_pages=2)
    b.list_read(5.2, "Products", page=2, total_pages=2)
    assert judge(Run(b, {}, None).context()).result("follow-pagination").status == "passed"


# -- no-retry-of-validation-errors -------------------------------------------------------------------------------


def test_resending_a_refused_order_fails_no_retry_of_validation_errors() -> None:
    run = good_client()
    resend = run.builder.create_order(137.0, "EXT-3", [("NOPE", 1)], status=422)
    run.builder.create_order(139.0, "EXT-3", [("NOPE", 1)], status=422)
    report = only_fails(run, "no-retry-of-validation-errors")
    (violation,) = report.result("no-retry-of-validation-errors").violations
    assert violation.seqs[0] == resend["Seq"]
    assert "2 resends" in violation.explanation


def test_resend_after_the_world_changed_is_fine() -> None:
    b = JournalBuilder()
    b.get_order(0.0, "SO-7", status=404)
    b.order_hook(5.0, "OrderCreated", "SO-7", None)
    b.get_order(6.0, "SO-7")
    b.create_order(10.0, "EXT-1", [("A", 1)], customer="NEW", status=422)
    b.api(11.0, "POST", "/api/Customers", body={"ExternalCustomerNumber": "NEW"}, status=201)
    b.create_order(12.0, "EXT-1", [("A", 1)], customer="NEW", status=201, result_key="SO-8")
    b.get_order(20.0, "SO-1", status=400, fault="truncate")  # an injected answer: not the client's fault
    b.get_order(21.0, "SO-1")
    assert judge(Run(b, {}, None).context()).result("no-retry-of-validation-errors").status == "passed"


# -- respect-throttling ------------------------------------------------------------------------------------------


def test_retry_before_retry_after_fails_respect_throttling() -> None:
    run = good_client()
    b = run.builder
    b.balance_hook(199.0, "P12", "1", 3)
    throttled = b.availability(200.0, "P12", status=429, retry_after=5, fault="status:429")
    early = b.availability(201.0, "P12")
    report = only_fails(run, "respect-throttling")
    (violation,) = report.result("respect-throttling").violations
    assert violation.seqs[:2] == [early["Seq"], throttled["Seq"]]
    assert "Retry-After 5" in violation.explanation


def test_throttling_scope_other_group_and_requests_in_flight() -> None:
    b = JournalBuilder()
    b.availability(0.0, "A", status=429, retry_after=3, fault="status:429", latency_ms=10)
    b.availability(0.05, "B")  # already on its way when the 429 was answered
    b.list_read(0.5, "Products")  # another rate group
    b.availability(3.1, "A")  # waited (within the tolerance)
    result = judge(Run(b, {}, None).context()).result("respect-throttling")
    assert result.status == "passed", result
    b.get_order(1.0, "SO-1")  # same Standard group, before the time was up
    result = judge(Run(b, {}, None).context()).result("respect-throttling")
    assert result.status == "failed"


def test_503_blocks_every_group() -> None:
    b = JournalBuilder()
    b.get_order(0.0, "SO-1", status=503, retry_after=2, fault="outage")
    b.list_read(1.0, "Products")
    b.token(1.2)  # the token endpoint is not rate limited
    result = judge(Run(b, {}, None).context()).result("respect-throttling")
    assert result.status == "failed"
    assert len(result.violations) == 1 and result.violations[0].seqs[0] == 2


# -- bounded-internal-retries ------------------------------------------------------------------------------------


def test_too_many_retries_after_500_fail_bounded_internal_retries() -> None:
    run = good_client()
    at = 200.0
    chain = []
    for gap in (0.5, 1, 2, 4, 8, 16, 30, 0):
        chain.append(run.builder.get_order(at, "SO-2", status=500))
        at += gap
    report = only_fails(run, "bounded-internal-retries")
    (violation,) = report.result("bounded-internal-retries").violations
    assert violation.seqs[0] == chain[0]["Seq"]
    assert "retried 7 times" in violation.explanation


def test_retries_at_a_fixed_interval_fail_bounded_internal_retries() -> None:
    run = good_client()
    chain = [run.builder.get_order(200.0 + 0.5 * i, "SO-2", status=500 if i < 4 else 200) for i in range(5)]
    report = only_fails(run, "bounded-internal-retries")
    (violation,) = report.result("bounded-internal-retries").violations
    assert "without back-off" in violation.explanation
    assert violation.seqs == [c["Seq"] for c in chain]


def test_full_jitter_backoff_and_a_later_cycle_pass() -> None:
    b = JournalBuilder()
    at = 0.0
    for gap in (0.9, 0.3, 3.1, 1.2):  # random ("full jitter") gaps
        b.get_order(at, "SO-2", status=500)
        at += gap
    b.get_order(at, "SO-2")
    for i, gap in enumerate((1, 2, 4, 0)):  # a new sync cycle two minutes later
        b.get_order(200.0 + i * gap, "SO-2", status=500)
    assert judge(Run(b, {}, None).context()).result("bounded-internal-retries").status == "passed"


# -- no-duplicate-orders -----------------------------------------------------------------------------------------


def test_retry_with_a_new_external_number_fails_no_duplicate_orders() -> None:
    run = good_client()
    b = run.builder
    b.create_order(200.0, "EXT-4", [("P3", 1)], result_key="SO-3", fault="commit-then-drop")
    dup = b.create_order(202.0, "EXT-5", [("P3", 1)], result_key="SO-4")
    for number, ext in (("SO-3", "EXT-4"), ("SO-4", "EXT-5")):
        run.truth["Orders"].append({"OrderNumber": number, "ExternalOrderNumber": ext, "Status": "Created"})
        assert run.probe is not None
        run.probe["Orders"].append({"OrderNumber": number, "Status": "Created"})
    report = only_fails(run, "no-duplicate-orders")
    (violation,) = report.result("no-duplicate-orders").violations
    assert violation.seqs[0] == dup["Seq"]
    assert "EXT-4" in violation.explanation


def test_identical_orders_the_harness_asked_for_are_not_duplicates() -> None:
    b = JournalBuilder()
    b.create_order(0.0, "E1", [("A", 1)], result_key="S1")
    b.create_order(5.0, "E2", [("A", 1)], result_key="S2")
    asked = [{"Lines": [{"ProductNumber": "A", "Quantity": 1}], "WarehouseNumber": "1"}] * 2
    assert judge(Run(b, {}, None).context()).result("no-duplicate-orders").status == "failed"
    run = Run(b, {}, None, shop_orders_requested=asked)
    assert judge(run.context()).result("no-duplicate-orders").status == "passed"


def test_editing_a_locked_order_again_fails_no_duplicate_orders() -> None:
    run = good_client()
    b = run.builder
    b.edit_order(200.0, "SO-1", {"ExpectedDeliveryDate": "2024-05-09"}, status=422)
    again = b.cancel_order(201.0, "SO-1", status=422)
    report = only_fails(run, "no-duplicate-orders")
    (violation,) = report.result("no-duplicate-orders").violations
    assert violation.seqs[0] == again["Seq"]
    assert "hook #" in violation.explanation  # the OrderPicked hook had said so


# -- ack-hooks-fast ----------------------------------------------------------------------------------------------


def test_failed_and_slow_acknowledgements_fail_ack_hooks_fast() -> None:
    run = good_client()
    b = run.builder
    failed = b.balance_hook(200.0, "P12", "1", 3, status=500)
    b.balance_hook(260.0, "P12", "1", 3, attempt=2, delivery_id=failed["DeliveryId"])
    b.availability(260.5, "P12")
    slow = b.balance_hook(270.0, "P11", "2", 3, latency_ms=2500)
    b.availability(272.6, "P11")
    report = only_fails(run, "ack-hooks-fast")
    assert offending(report, "ack-hooks-fast") == {failed["Seq"], slow["Seq"]}
    assert "2500 ms" in report.to_text()


# -- verify-signatures -------------------------------------------------------------------------------------------


def test_accepting_a_forged_hook_fails_verify_signatures() -> None:
    run = good_client()
    forged = run.builder.balance_hook(200.0, "P8", "2", 999, forged=True)
    report = only_fails(run, "verify-signatures")
    assert offending(report, "verify-signatures") == {forged["Seq"]}


def test_acting_on_a_refused_forged_hook_fails_verify_signatures() -> None:
    run = good_client()
    forged = run.builder.balance_hook(200.0, "P8", "2", 999, forged=True, status=401)
    fetch = run.builder.availability(201.0, "P8")
    report = only_fails(run, "verify-signatures")
    (violation,) = report.result("verify-signatures").violations
    assert violation.seqs == [fetch["Seq"], forged["Seq"]]


def test_forged_order_hook_acted_upon_fails_verify_signatures() -> None:
    run = good_client()
    forged = run.builder.order_hook(200.0, "OrderCancelled", "SO-2", "EXT-2", forged=True, status=401)
    fetch = run.builder.get_order(200.5, "SO-2")
    report = only_fails(run, "verify-signatures")
    assert offending(report, "verify-signatures") == {fetch["Seq"], forged["Seq"]}


def test_fetch_explained_by_a_genuine_hook_after_a_forged_one_is_fine() -> None:
    run = good_client()
    run.builder.balance_hook(200.0, "P8", "2", 999, forged=True, status=401)
    run.builder.balance_hook(200.5, "P8", "2", 4)
    run.builder.availability(201.0, "P8")
    assert judge(run.context()).passed


def test_a_genuine_hook_already_followed_does_not_excuse_acting_on_a_forged_one() -> None:
    # seen in real traffic: genuine hook, its fetch, then a forged hook about the same item and a second fetch
    run = good_client()
    run.builder.balance_hook(195.0, "P8", "2", 4)
    run.builder.availability(195.4, "P8")
    forged = run.builder.balance_hook(200.0, "P8", "2", 999, forged=True)
    fetch = run.builder.availability(200.3, "P8")
    report = judge(run.context())
    result = report.result("verify-signatures")
    assert result.status == "failed"
    acted = [v for v in result.violations if fetch["Seq"] in v.seqs]
    assert acted and acted[0].seqs == [fetch["Seq"], forged["Seq"]]


def test_forged_value_in_the_probe_fails_verify_signatures_and_converges() -> None:
    run = good_client()
    forged = run.builder.balance_hook(200.0, "P8", "1", 998, forged=True, status=401)
    run.set_balance("P8", "1", 998)
    run.set_balance("P8", "1", 4, in_probe=False)
    assert run.probe is not None
    report = judge(run.context())
    assert failing(report) == {"verify-signatures", "converges"}, report.to_text()
    assert offending(report, "verify-signatures") == {forged["Seq"]}


# -- within-rate-limits ------------------------------------------------------------------------------------------


def test_rate_limit_refusals_fail_within_rate_limits_but_injected_ones_do_not() -> None:
    run = good_client()
    b = run.builder
    b.balance_hook(199.0, "P12", "1", 3)
    # three workers fetch at once; all are refused; each retries after Retry-After
    refusals = [
        b.availability(200.0 + 0.01 * i, p, status=429, retry_after=1)
        for i, p in enumerate(("P12", "P11", "P10"))
    ]
    for p in ("P12", "P11", "P10"):
        b.availability(202.0, p)
    report = only_fails(run, "within-rate-limits")
    assert offending(report, "within-rate-limits") == {r["Seq"] for r in refusals}
    assert "Standard" in report.result("within-rate-limits").message


# -- converges ---------------------------------------------------------------------------------------------------


def test_stale_balance_and_order_status_fail_converges() -> None:
    run = good_client()
    assert run.probe is not None
    run.set_balance("P5", "1", 42, in_probe=True)
    run.set_balance("P5", "1", 4, in_probe=False)
    run.probe["Orders"][1]["Status"] = "Reserved"
    report = only_fails(run, "converges")
    explanations = [v.explanation for v in report.result("converges").violations]
    assert any("P5@1: the probe holds 42, the truth is 4" in e for e in explanations)
    assert any("order SO-2" in e for e in explanations)
    # the evidence points at the last hook about P5@1
    p5 = next(v for v in report.result("converges").violations if "P5@1" in v.explanation)
    assert p5.nearest_miss is not None and "said 4" in p5.nearest_miss.explanation


def test_items_never_seen_may_be_absent_but_hooked_ones_and_own_orders_not() -> None:
    run = good_client()
    assert run.probe is not None
    run.probe["Balances"] = [
        r for r in run.probe["Balances"] if (r["ProductNumber"], r["WarehouseNumber"]) not in {("P12", "2")}
    ]
    # P12@2 was never named by a hook or a fetch, but the client read the full availability list at the start
    result = judge(run.context()).result("converges")
    assert result.status == "failed" and "full read #" in result.violations[0].explanation
    overrides = {"converges": {"full_read_requires_all": False}}
    assert judge(run.context(), overrides=overrides).result("converges").status == "passed"
    run.probe["Balances"] = [r for r in run.probe["Balances"] if r["ProductNumber"] != "P9"]
    run.probe["Orders"] = run.probe["Orders"][:1]
    result = judge(run.context(), overrides=overrides).result("converges")
    assert result.status == "failed"
    text = " ".join(v.explanation for v in result.violations)
    assert "P9@2" in text and "hook #" in text and "order SO-2" in text


# -- report formats and configuration ----------------------------------------------------------------------------


def test_report_is_json_text_and_junit() -> None:
    run = good_client()
    run.builder.balance_hook(200.0, "P8", "2", 999, forged=True)
    report = judge(run.context())
    data = orjson.loads(orjson.dumps(report.to_dict()))
    assert data["Passed"] is False
    rule = next(r for r in data["Rules"] if r["Rule"] == "verify-signatures")
    assert rule["Status"] == "failed" and rule["Violations"][0]["Records"][0]["Forged"] is True
    text = report.to_text()
    assert text.startswith("XTND code of conduct: FAILED")
    assert "FAIL         verify-signatures" in text and "NOT CHECKED" not in text
    suite = ET.fromstring(report.to_junit_xml())
    assert suite.get("tests") == str(len(ALL_IDS)) and suite.get("failures") == "1"
    failures = [case.get("name") for case in suite if case.find("failure") is not None]
    assert failures == ["verify-signatures"]


def test_evidence_line_format() -> None:
    b = JournalBuilder()
    record = b.availability(1.234, "A B", warehouses=["1"])
    ctx = Run(b, {}, None).context()
    assert ctx.calls[0].evidence_line() == (
        f"#{record['Seq']} 12:00:01.234 GET /api/ProductAvailability?productNumber=A%20B&warehouseNumber=1 (200)"
    )


def test_overrides_change_params_severity_and_can_disable() -> None:
    run = good_client()
    run.builder.balance_hook(200.0, "P8", "2", 999, forged=True)
    assert not judge(run.context()).passed
    report = judge(run.context(), overrides={"verify-signatures": {"severity": "warning"}})
    assert report.passed and failing(report) == {"verify-signatures"}
    assert "FAIL (warning)" in report.to_text()
    report = judge(run.context(), overrides={"verify-signatures": {"enabled": False}})
    assert report.passed and "verify-signatures" in report.disabled
    with pytest.raises(ValueError, match="unknown rule"):
        judge(run.context(), overrides={"no-such-rule": {}})
    with pytest.raises(ValueError):
        judge(run.context(), overrides={"no-per-product-polling": {"no_such_param": 1}})
    with pytest.raises(ValueError):
        judge(run.context(), overrides={"no-per-product-polling": {"budget": -1}})


def test_only_the_judged_client_is_judged() -> None:
    run = good_client()
    other = JournalBuilder(client_id="someone-else")
    for i in range(30):
        other.availability(30.0 + i, "P1")
    records = run.builder.build()
    extra = other.build()
    for offset, record in enumerate(extra, start=len(records) + 1):
        record["Seq"] = offset
    ctx = JudgeContext(records + extra, client_id="shop", probe=run.probe, truth=run.truth)
    assert judge(ctx).passed


# -- the fake's own delivery faults and the observation window ----------------------------------------------------


def test_tampered_attempt_refused_then_retried_is_handled_like_the_fake_does_it() -> None:
    b = JournalBuilder()
    b.availability(0.0, "A")
    tampered = b.balance_hook(10.0, "A", "1", 3, status=401, fault="tampered-signature")
    b.balance_hook(70.0, "A", "1", 3, attempt=2, delivery_id=tampered["DeliveryId"])
    b.availability(70.5, "A")
    report = judge(Run(b, {}, None).context())
    assert report.passed, report.to_text()
    assert report.result("verify-signatures").status == "passed"  # refusing it was right
    assert report.result("ack-hooks-fast").status == "passed"  # the 401 is not a slow or failed ack
    b.balance_hook(80.0, "B", "1", 3, fault="tampered-signature")  # accepted: 200
    assert failing(judge(Run(b, {}, None).context())) == {"verify-signatures"}


def test_duplicate_under_another_id_with_the_same_notification_needs_no_second_fetch() -> None:
    b = JournalBuilder()
    first = b.balance_hook(10.0, "A", "1", 3)
    b.availability(10.5, "A")
    dup = b.balance_hook(40.0, "A", "1", 3, fault="duplicate")
    dup["NotificationId"] = first["NotificationId"]
    result = judge(Run(b, {}, None).context(), overrides={"hooks-are-triggers": {"min_followed_ratio": 1}})
    assert result.result("hooks-are-triggers").status == "passed"


def test_page_size_one_lookup_is_not_a_pass() -> None:
    b = JournalBuilder()
    b.list_read(0.0, "Customers", query={"pageSize": "1"}, changed_since=iso(0), total_pages=5)
    assert judge(Run(b, {}, None).context()).result("follow-pagination").status == "not_applicable"
    b.list_read(1.0, "Customers", query={"pageSize": "2"}, changed_since=iso(0), total_pages=3)
    assert judge(Run(b, {}, None).context()).result("follow-pagination").status == "failed"


def test_records_after_the_end_of_the_observation_are_not_judged() -> None:
    run = good_client()
    refused = run.builder.balance_hook(300.0, "P1", "1", 3, status=None, error="refused")
    assert failing(judge(run.context())) == {"ack-hooks-fast"}
    report = judge(run.context(ended_at=iso(run.builder.t0 + 299)))
    assert report.passed, report.to_text()
    assert refused["Seq"] not in {d.seq for d in run.context(ended_at=iso(run.builder.t0 + 299)).deliveries}


def test_docs_describe_every_rule_and_parameter() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "rules.md").read_text()
    for rule in ALL_RULES:
        assert f"### `{rule.id}`" in doc, rule.id
        section = doc.split(f"### `{rule.id}`", 1)[1].split("\n### ", 1)[0]
        for name, field in rule.params_type.model_fields.items():
            if name == "max_listed":
                continue
            assert f"`{name}`" in section, (rule.id, name)
            default = field.default
            if isinstance(default, bool):
                shown = str(default).lower()
            elif isinstance(default, tuple):
                shown = f"`{default[0]}`"
            elif (
                isinstance(default, float)
                and default.is_integer()
                and f"| `{name}` | {default:g} |" in section
            ):
                shown = f"{default:g}"
            else:
                shown = str(default)
            assert shown in section, (rule.id, name, shown)
