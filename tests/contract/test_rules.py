"""The rule engine judged on synthetic journals (docs/journal-format.md): a good client passes everything, each
planted bug fails exactly its rule and the evidence names the offending record."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson
import pytest

from contracts.rules import ALL_RULES, JudgeContext, Report, judge
from contracts.rules.testing import BASE, EMPTY, JournalBuilder, Run, balance_row, good_client, iso

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


def alone(b: JournalBuilder, rule_id: str, **overrides: Any) -> Any:
    """One rule's result over a bare trace (no probe, no truth)."""
    return judge(Run(b, dict(EMPTY), None).context(), overrides={rule_id: overrides} if overrides else None
                 ).result(rule_id)


# -- the good client ---------------------------------------------------------------------------------------------


def test_good_client_passes_every_rule() -> None:
    report = judge(good_client().context())
    assert report.passed, report.to_text()
    assert {r.rule_id for r in report.results} == ALL_IDS
    # the run exercises every rule, it does not pass them vacuously
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
    b.availability(1.0)
    b.list_read(1.2, "CustomerOrders", modified_from=b.since(-3600))
    for i in range(1, 10):
        at = 60.0 * i
        b.availability(at, modified_from=b.since(at - 61))
        b.list_read(at + 0.1, "CustomerOrders", modified_from=b.since(at - 61))
    b.create_order(100.0, "EXT-9", [("P1", 1)], result_key="100009")
    b.item(100.5, "P1", "1")  # checking stock after taking an order is fine
    b.get_order(181.0, "100009")  # the change list named it
    truth = {"balances": [], "orders": [{"orderNumber": "100009", "orderNumberExternal": "EXT-9",
                                          "orderStatus": "Created"}]}
    run = Run(b, truth, {"balances": [], "orders": [{"orderNumber": "100009", "orderStatus": "Created"}]}, False)
    report = judge(run.context())
    assert report.passed, report.to_text()
    assert report.result("hooks-are-triggers").status == "not_applicable"
    assert report.result("ack-hooks-fast").status == "not_applicable"
    assert report.result("converges").status == "passed"


# -- no-per-product-polling --------------------------------------------------------------------------------------


def test_polling_items_every_10_seconds_fails_per_product_polling() -> None:
    run = good_client()
    polls = [run.builder.item(33.0 + 10 * i, p, "1") for i in range(12) for p in ("P1", "P2", "P3")]
    report = only_fails(run, "no-per-product-polling")
    seqs = offending(report, "no-per-product-polling")
    assert {p["seq"] for p in polls[12:]} <= seqs
    text = report.to_text()
    assert f"GET {BASE}/ProductAvailability/P1/1 (200)" in text
    # the steady interval is reported too
    assert any("every 10.0 s" in v.explanation for v in report.result("no-per-product-polling").violations)


def test_polling_by_product_number_filter_and_products_by_id_counts_too() -> None:
    run = good_client()
    for i in range(6):
        run.builder.availability(40.0 + 20 * i, "P12")
        run.builder.api(41.0 + 20 * i, "GET", "Products/P 7")
    report = only_fails(run, "no-per-product-polling")
    explanations = " ".join(v.explanation for v in report.result("no-per-product-polling").violations)
    assert "P12 read 5 times every 20.0 s" in explanations  # the first read is free
    assert "P 7" in explanations


def test_polling_each_own_order_by_id_fails_but_following_order_hooks_does_not() -> None:
    b = JournalBuilder()
    b.create_order(0.0, "EXT-1", [("A", 1)], result_key="100001")
    for i in range(8):
        b.get_order(60.0 + 15 * i, "100001")
    result = alone(b, "no-per-product-polling")
    assert result.status == "failed"
    assert "order 100001 read 7 times every 15.0 s" in result.violations[0].explanation
    b2 = JournalBuilder()
    b2.create_order(0.0, "EXT-1", [("A", 1)], result_key="100001")
    for i in range(8):
        b2.order_hook(60.0 + 15 * i, "OrderDeliveryDataChanged", "100001", "EXT-1")
        b2.get_order(60.5 + 15 * i, "100001")
    assert alone(b2, "no-per-product-polling").status == "passed"


def test_slow_steady_polling_under_budget_is_caught_by_periodicity() -> None:
    run = good_client()
    polls = [run.builder.item(40.0 + 20 * i, "P12", "1") for i in range(6)]
    report = only_fails(run, "no-per-product-polling")
    (violation,) = report.result("no-per-product-polling").violations
    assert "every 20.0 s" in violation.explanation
    assert violation.seqs == [p["seq"] for p in polls[1:]]  # the first read is free


def test_webhooks_off_client_polling_items_fails() -> None:
    b = JournalBuilder()
    for i in range(10):
        for n in range(1, 9):
            b.item(30.0 * i + 0.01 * n, f"P{n}", "1")
    run = Run(b, dict(EMPTY), dict(EMPTY), webhooks_enabled=False)
    assert failing(judge(run.context())) == {"no-per-product-polling"}


def test_read_one_second_after_hook_passes_even_with_zero_budget() -> None:
    b = JournalBuilder()
    b.item(0.0, "A", "1")
    b.balance_hook(100.0, "A", "1", 3)
    b.item(101.0, "A", "1")
    assert alone(b, "no-per-product-polling", budget=0).status == "passed"


def test_hook_for_another_warehouse_is_the_nearest_miss() -> None:
    b = JournalBuilder()
    b.item(0.0, "A", "1")
    hook = b.balance_hook(100.0, "A", "2", 3)
    fetch = b.item(101.0, "A", "1")
    report = judge(Run(b, dict(EMPTY), None).context(), overrides={"no-per-product-polling": {"budget": 0}})
    (violation,) = report.result("no-per-product-polling").violations
    assert violation.seqs[0] == fetch["seq"]
    assert violation.nearest_miss is not None and violation.nearest_miss.record is not None
    assert violation.nearest_miss.record.seq == hook["seq"]
    assert "warehouse 2" in violation.nearest_miss.explanation
    assert "nearest miss:" in report.to_text()


def test_late_read_of_a_queued_hook_retries_and_change_lists_are_not_polling() -> None:
    b = JournalBuilder()
    b.item(0.0, "A", "1")
    b.balance_hook(100.0, "A", "1", 3)
    b.item(250.0, "A", "1")  # a queued trigger followed late: still a trigger
    b.balance_hook(299.0, "A", "1", 3)
    b.item(300.0, "A", "1", status=429, retry_after=1, fault="status:429")
    b.item(302.0, "A", "1")  # retry of the hook-triggered read
    for i in range(20):
        b.availability(360.0 + i, modified_from=b.since(0))  # reconciliation, however often
    assert alone(b, "no-per-product-polling", budget=0).status == "passed"


# -- no-blind-list-polling ---------------------------------------------------------------------------------------


def test_full_list_reread_every_20_seconds_fails_blind_list_polling() -> None:
    run = good_client()
    reads = [run.builder.list_read(30.0 + 20 * i, "Products", page_count=1000) for i in range(8)]
    report = only_fails(run, "no-blind-list-polling")
    assert reads[2]["seq"] in offending(report, "no-blind-list-polling")
    assert reads[0]["seq"] not in {v.seqs[0] for v in report.result("no-blind-list-polling").violations}
    assert "without modifiedDateFrom" in report.to_text()


def test_customers_without_changed_after_date_is_blind_and_lookups_are_not() -> None:
    b = JournalBuilder()
    for i in range(4):
        b.list_read(100.0 * i, "Customers")
    result = alone(b, "no-blind-list-polling")
    assert result.status == "failed" and "without changedAfterDate" in result.violations[0].explanation
    b2 = JournalBuilder()
    for i in range(6):
        b2.list_read(10.0 * i, "Customers", modified_from=b2.since(10.0 * i - 20))
        b2.find_order(10.0 * i + 1, f"EXT-{i}", rows=0)
        b2.availability(10.0 * i + 2, "A")
    assert alone(b2, "no-blind-list-polling").status == "passed"


def test_pages_and_retries_of_one_full_read_count_once() -> None:
    b = JournalBuilder()
    b.list_read(0.0, "Customers", status=429, retry_after=1, fault="status:429")
    b.list_read(1.5, "Customers", total_pages=3)
    b.list_read(1.7, "Customers", page=2, total_pages=3)
    b.list_read(1.9, "Customers", page=3, total_pages=3)
    b.list_read(500.0, "Customers", total_pages=1)  # one full re-read per 10 minutes is tolerated
    assert alone(b, "no-blind-list-polling").status == "passed"


# -- hooks-are-triggers ------------------------------------------------------------------------------------------


def test_hooks_taken_as_data_fail_hooks_are_triggers() -> None:
    run = good_client()
    hooks = [run.builder.balance_hook(200.0 + i, "P12", "1", 5 - i) for i in range(5)]
    report = only_fails(run, "hooks-are-triggers")
    assert offending(report, "hooks-are-triggers") == {h["seq"] for h in hooks}
    assert "nearest miss: #" in report.to_text() and "before the hook" in report.to_text()


def test_read_of_another_warehouse_is_the_nearest_miss_of_an_unfollowed_hook() -> None:
    b = JournalBuilder()
    hook = b.balance_hook(10.0, "A", "1", 3)
    fetch = b.item(11.0, "A", "2")
    result = alone(b, "hooks-are-triggers")
    (violation,) = result.violations
    assert violation.seqs == [hook["seq"]]
    assert violation.nearest_miss is not None and violation.nearest_miss.record is not None
    assert violation.nearest_miss.record.seq == fetch["seq"]
    assert "warehouse 2" in violation.nearest_miss.explanation


def test_modified_date_list_follows_a_hook_but_not_one_starting_later() -> None:
    b = JournalBuilder()
    b.balance_hook(10.0, "A", "1", 3)
    b.availability(12.0, modified_from=b.since(5))
    late = b.balance_hook(20.0, "B", "1", 3)
    b.availability(22.0, modified_from=b.since(21))  # a filter after the hook cannot include its change
    result = alone(b, "hooks-are-triggers", min_followed_ratio=1)
    assert result.status == "failed"
    assert [v.seqs for v in result.violations] == [[late["seq"]]]
    assert "later than the hook" in (result.violations[0].nearest_miss.explanation if result.violations[0].nearest_miss else "")


def test_order_hook_followed_by_lookup_or_change_list_or_get() -> None:
    b = JournalBuilder()
    b.create_order(0.0, "EXT-1", [("A", 1)], result_key="100001")
    b.order_hook(10.0, "OrderReserved", "100001", "EXT-1")
    b.find_order(11.0, "EXT-1", rows=1)
    b.order_hook(20.0, "OrderPicked", "100001", "EXT-1")
    b.list_read(21.0, "CustomerOrders", modified_from=b.since(19))
    b.order_hook(30.0, "OrderDeliveryDataChanged", "100001", "EXT-1")
    b.get_order(30.5, "100001")
    unfollowed = b.order_hook(40.0, "OrderCancelled", "100001", "EXT-1")
    result = alone(b, "hooks-are-triggers", min_followed_ratio=1)
    assert [v.seqs for v in result.violations] == [[unfollowed["seq"]]]


def test_forged_and_foreign_order_hooks_need_no_follow_up() -> None:
    b = JournalBuilder()
    b.balance_hook(10.0, "A", "1", 3, status=401, forged=True)
    b.order_hook(11.0, "OrderPicked", "100005", "OTHER-CHANNEL-1")
    assert alone(b, "hooks-are-triggers").status == "not_applicable"


def test_hook_acknowledged_on_retry_is_followed_after_the_retry() -> None:
    b = JournalBuilder()
    first = b.balance_hook(10.0, "A", "1", 3, status=500)
    b.balance_hook(70.0, "A", "1", 3, delivery_id=first["deliveryId"], attempt=2)
    b.availability(71.0, "A")
    assert alone(b, "hooks-are-triggers").status == "passed"


# -- follow-pagination -------------------------------------------------------------------------------------------


def test_scheme_b_unread_last_page_fails_follow_pagination() -> None:
    run = good_client()
    since = run.builder.since(100)
    start = run.builder.list_read(200.0, "Customers", modified_from=since, total_pages=3)
    run.builder.list_read(200.3, "Customers", modified_from=since, page=2, total_pages=3)
    report = only_fails(run, "follow-pagination")
    (violation,) = report.result("follow-pagination").violations
    assert violation.seqs[0] == start["seq"]
    assert "totalPages 3; pageNumber 3 never read" in violation.explanation


def test_scheme_b_pass_follows_total_pages_as_they_change() -> None:
    b = JournalBuilder()
    b.availability(0.0, total_pages=2)
    b.availability(0.2, page=2, total_pages=3)  # a record entered the filter mid-pass (live paging)
    assert alone(b, "follow-pagination").status == "failed"
    b.availability(0.4, page=3, total_pages=3)
    assert alone(b, "follow-pagination").status == "passed"
    b2 = JournalBuilder()
    b2.availability(0.0, total_pages=3)
    b2.availability(0.2, page=2, total_pages=2)  # one left: page 2 is now the last
    assert alone(b2, "follow-pagination").status == "passed"


def test_scheme_a_stopping_after_a_full_page_fails() -> None:
    b = JournalBuilder()
    start = b.list_read(0.0, "Products", page_count=50, rows=50)
    result = alone(b, "follow-pagination")
    (violation,) = result.violations
    assert violation.seqs == [start["seq"]]
    assert "a full page (50 rows of pageCount 50); pageOffset 1 never read" in violation.explanation


def test_scheme_a_ends_at_a_short_page_an_empty_page_or_the_400_past_the_end() -> None:
    short = JournalBuilder()
    short.list_read(0.0, "Products", page_count=50, rows=50)
    short.list_read(0.1, "Products", page_count=50, page=1, rows=12)
    assert alone(short, "follow-pagination").status == "passed"
    empty = JournalBuilder()
    empty.list_read(0.0, "CustomerOrders", modified_from=empty.since(0), page_count=2, rows=2)
    empty.list_read(0.1, "CustomerOrders", modified_from=empty.since(0), page_count=2, page=1, rows=0)
    assert alone(empty, "follow-pagination").status == "passed"
    quirk = JournalBuilder()
    quirk.list_read(0.0, "Products", page_count=50, rows=50)
    quirk.list_read(0.1, "Products", page_count=50, page=1, rows=50)
    quirk.list_read(0.2, "Products", page_count=50, page=2, status=400, quirk="page-past-end")
    assert alone(quirk, "follow-pagination").status == "passed"


def test_scheme_a_page_skipped_or_asked_with_another_page_count_is_a_miss() -> None:
    b = JournalBuilder()
    b.list_read(0.0, "Products", page_count=50, rows=50)
    b.list_read(0.1, "Products", page_count=50, page=2, rows=3)  # page 1 skipped
    assert alone(b, "follow-pagination").status == "failed"
    b2 = JournalBuilder()
    b2.list_read(0.0, "Products", page_count=100, rows=100)
    miss = b2.list_read(0.5, "Products", page_count=50, page=1, rows=50)
    (violation,) = alone(b2, "follow-pagination").violations
    assert violation.nearest_miss is not None and violation.nearest_miss.record is not None
    assert violation.nearest_miss.record.seq == miss["seq"]
    assert "pageCount" in violation.nearest_miss.explanation


def test_pagination_without_last_page_in_the_journal_is_not_checked() -> None:
    records = good_client().context().records
    stripped = [{k: v for k, v in r.items() if k not in ("lastPage", "totalPages")} for r in records]
    result = judge(JudgeContext(stripped, user="demo")).result("follow-pagination")
    assert result.status == "not_checked"
    assert "whether" in result.message


def test_restarted_pass_is_judged_by_its_last_start_and_page_count_one_is_a_lookup() -> None:
    b = JournalBuilder()
    b.availability(0.0, total_pages=2)
    b.availability(5.0, total_pages=2)
    b.availability(5.2, page=2, total_pages=2)
    assert alone(b, "follow-pagination").status == "passed"
    lookup = JournalBuilder()
    lookup.list_read(0.0, "Products", page_count=1, rows=1)
    assert alone(lookup, "follow-pagination").status == "not_applicable"


# -- no-retry-of-validation-errors -------------------------------------------------------------------------------


def test_resending_a_refused_order_fails_no_retry_of_validation_errors() -> None:
    run = good_client()
    resend = run.builder.create_order(137.0, "EXT-3", [("NOPE", 1)], status=400, message="The request is invalid.")
    run.builder.create_order(139.0, "EXT-3", [("NOPE", 1)], status=400, message="The request is invalid.")
    report = only_fails(run, "no-retry-of-validation-errors")
    (violation,) = report.result("no-retry-of-validation-errors").violations
    assert violation.seqs[0] == resend["seq"]
    assert "2 resends" in violation.explanation and "The request is invalid." in violation.explanation


def test_resend_after_the_world_changed_is_fine() -> None:
    b = JournalBuilder()
    b.get_order(0.0, "100007", status=404)
    b.order_hook(5.0, "OrderCreated", "100007", None)
    b.get_order(6.0, "100007")
    b.create_order(10.0, "EXT-1", [("A", 1)], customer="NEW", status=400, message="Unknown customer NEW.")
    b.api(11.0, "POST", "Customers", body={"customerNumber": "NEW", "name": "New"}, result_key="NEW")
    b.create_order(12.0, "EXT-1", [("A", 1)], customer="NEW", result_key="100008")
    b.get_order(20.0, "100001", status=400, fault="truncate")  # an injected answer: not the client's doing
    b.get_order(21.0, "100001")
    assert alone(b, "no-retry-of-validation-errors").status == "passed"


def test_a_transient_400_never_retried_fails() -> None:
    run = good_client()
    gave_up = run.builder.get_order(150.0, "100002", status=400, quirk="transient-timeout")
    report = only_fails(run, "no-retry-of-validation-errors")
    (violation,) = report.result("no-retry-of-validation-errors").violations
    assert violation.seqs == [gave_up["seq"]]
    assert "not tried again within 20 s" in violation.explanation


def test_a_transient_400_at_the_very_end_is_not_judged_for_giving_up() -> None:
    b = JournalBuilder()
    b.item(0.0, "A", "1", status=400, fault="transient-deadlock")
    b.item(5.0, "B", "1")  # the run ends 5 s later: too soon to say it gave up
    assert alone(b, "no-retry-of-validation-errors").status == "passed"


def test_a_transient_400_retried_at_once_or_endlessly_fails() -> None:
    b = JournalBuilder()
    first = b.item(0.0, "A", "1", status=400, quirk="transient-deadlock", latency_ms=10)
    at_once = b.item(0.05, "A", "1")
    result = alone(b, "no-retry-of-validation-errors")
    (violation,) = result.violations
    assert violation.seqs[:2] == [at_once["seq"], first["seq"]]
    assert "wait at least 0.2 s" in violation.explanation
    endless = JournalBuilder()
    for i in range(8):
        endless.get_order(i * 1.5, "100001", status=400, fault="transient-timeout")
    result = alone(endless, "no-retry-of-validation-errors")
    assert any("resent 7 times after transient 400s (at most 5" in v.explanation for v in result.violations)


def test_skipping_a_page_that_answered_a_transient_400_is_not_a_retry() -> None:
    b = JournalBuilder()
    b.availability(0.0, total_pages=3)
    failed = b.availability(0.1, page=2, total_pages=3, status=400, quirk="transient-deadlock")
    b.availability(0.2, page=3, total_pages=3)  # moved on: page 2 is lost
    b.item(30.0, "Z", "1")
    report = judge(Run(b, dict(EMPTY), None).context())
    assert [v.seqs for v in report.result("no-retry-of-validation-errors").violations] == [[failed["seq"]]]
    assert report.result("follow-pagination").status == "failed"  # and the pass is incomplete
    again = JournalBuilder()
    again.availability(0.0, total_pages=3)
    again.availability(0.1, page=2, total_pages=3, status=400, quirk="transient-deadlock")
    again.availability(0.6, page=2, total_pages=3)
    again.availability(0.7, page=3, total_pages=3)
    again.item(30.0, "Z", "1")
    report = judge(Run(again, dict(EMPTY), None).context())
    assert report.result("no-retry-of-validation-errors").status == "passed"
    assert report.result("follow-pagination").status == "passed"


def test_transient_retried_in_another_shape_or_order_looked_up_is_a_retry() -> None:
    b = JournalBuilder()
    b.item(0.0, "A", "1", status=400, quirk="transient-deadlock")
    b.availability(1.0, "A")  # the same product asked again, as a filtered list
    b.create_order(2.0, "EXT-1", [("A", 1)], status=400, quirk="transient-timeout")
    b.find_order(3.0, "EXT-1", rows=0)  # did it commit? (a transient says it did not, but looking is fine)
    b.create_order(4.0, "EXT-1", [("A", 1)], result_key="100001")
    # the orders list without modifiedDateFrom times out on a real tenant: a few tries, then give up
    for at in (10.0, 11.0, 13.0):
        b.list_read(at, "CustomerOrders", status=400, quirk="orders-list-timeout")
    b.item(40.0, "B", "1")
    result = alone(b, "no-retry-of-validation-errors")
    assert result.status == "passed", [v.explanation for v in result.violations]


# -- respect-throttling ------------------------------------------------------------------------------------------


def test_retry_before_retry_after_fails_respect_throttling() -> None:
    run = good_client()
    b = run.builder
    b.balance_hook(199.0, "P12", "1", 3)
    throttled = b.item(200.0, "P12", "1", status=429, retry_after=5, fault="status:429")
    early = b.item(201.0, "P12", "1")
    report = only_fails(run, "respect-throttling")
    (violation,) = report.result("respect-throttling").violations
    assert violation.seqs[:2] == [early["seq"], throttled["seq"]]
    assert "Retry-After 5 in the ProductAvailability family" in violation.explanation


def test_throttling_is_per_endpoint_family() -> None:
    b = JournalBuilder()
    b.item(0.0, "A", "1", status=429, retry_after=3, fault="status:429", latency_ms=10)
    b.item(0.05, "B", "1")  # already on its way when the 429 was answered
    b.list_read(0.5, "CustomerOrders", modified_from=b.since(0))  # another family: its own limit
    b.item(3.1, "A", "1")  # waited (within the tolerance)
    assert alone(b, "respect-throttling").status == "passed"
    b.availability(1.0, modified_from=b.since(0))  # the same family, before the time was up
    assert alone(b, "respect-throttling").status == "failed"


def test_throttled_without_retry_after_needs_back_off() -> None:
    b = JournalBuilder()
    for i in range(5):
        b.get_order(0.3 * i, "100001", status=429)
    result = alone(b, "respect-throttling")
    assert result.status == "failed" and "without back-off" in result.violations[0].explanation


# -- bounded-internal-retries ------------------------------------------------------------------------------------


def test_too_many_retries_after_500_fail_bounded_internal_retries() -> None:
    run = good_client()
    at = 200.0
    chain = []
    for gap in (0.5, 1, 2, 4, 8, 16, 30, 0):
        chain.append(run.builder.get_order(at, "100002", status=500))
        at += gap
    report = only_fails(run, "bounded-internal-retries")
    (violation,) = report.result("bounded-internal-retries").violations
    assert violation.seqs[0] == chain[0]["seq"]
    assert "retried 7 times" in violation.explanation


def test_retries_at_a_fixed_interval_fail_and_full_jitter_passes() -> None:
    run = good_client()
    chain = [run.builder.get_order(200.0 + 0.5 * i, "100002", status=500 if i < 4 else 200) for i in range(5)]
    report = only_fails(run, "bounded-internal-retries")
    (violation,) = report.result("bounded-internal-retries").violations
    assert "without back-off" in violation.explanation
    assert violation.seqs == [c["seq"] for c in chain]
    b = JournalBuilder()
    at = 0.0
    for gap in (0.9, 0.3, 3.1, 1.2):  # random ("full jitter") gaps
        b.get_order(at, "100002", status=500)
        at += gap
    b.get_order(at, "100002")
    assert alone(b, "bounded-internal-retries").status == "passed"


# -- back-off-on-unauthorized ------------------------------------------------------------------------------------


def test_hammering_with_refused_credentials_fails() -> None:
    run = good_client()
    calls = [run.builder.item(300.0 + 0.2 * i, "P1", "1", status=401) for i in range(12)]
    report = only_fails(run, "back-off-on-unauthorized")
    (violation,) = report.result("back-off-on-unauthorized").violations
    assert violation.seqs[0] == calls[7]["seq"]  # the 8th: the 7th after the first, over the budget of 6
    assert "credentials that were refused stay refused" in violation.explanation


def test_unauthenticated_calls_are_judged_only_when_attributed() -> None:
    b = JournalBuilder()
    for i in range(12):
        b.item(0.2 * i, "P1", "1", status=401)
    assert alone(b, "back-off-on-unauthorized").status == "failed"
    ctx = Run(b, dict(EMPTY), None).context(include_unauthenticated=False)
    assert judge(ctx).result("back-off-on-unauthorized").status == "not_applicable"


# -- no-duplicate-orders -----------------------------------------------------------------------------------------


def test_blind_resend_after_a_lost_answer_fails_no_duplicate_orders() -> None:
    run = good_client()
    b = run.builder
    first = b.create_order(200.0, "EXT-4", [("P3", 1)], status=0, result_key="100003", fault="commit-then-drop")
    again = b.create_order(202.0, "EXT-4", [("P3", 1)], status=400,
                           message="An order with orderNumberExternal 'EXT-4' already exists (order 100003).")
    run.truth["orders"].append({"orderNumber": "100003", "orderNumberExternal": "EXT-4", "orderStatus": "Created"})
    assert run.probe is not None
    run.probe["orders"].append({"orderNumber": "100003", "orderStatus": "Created"})
    report = only_fails(run, "no-duplicate-orders")
    (violation,) = report.result("no-duplicate-orders").violations
    assert violation.seqs == [again["seq"], first["seq"]]
    assert "GET CustomerOrders?orderNumberExternal=EXT-4" in violation.explanation


def test_looking_the_order_up_before_resending_passes() -> None:
    b = JournalBuilder()
    b.create_order(0.0, "EXT-4", [("A", 1)], status=0, fault="drop")  # lost before XTND saw it
    b.find_order(1.0, "EXT-4", rows=0)
    b.create_order(1.5, "EXT-4", [("A", 1)], result_key="100003")
    b.create_order(5.0, "EXT-5", [("B", 1)], status=0, result_key="100004", fault="commit-then-drop")
    b.find_order(6.0, "EXT-5", rows=1)  # found: no resend
    assert alone(b, "no-duplicate-orders").status == "passed"
    b.create_order(7.0, "EXT-5", [("B", 1)], status=400, message="An order with orderNumberExternal 'EXT-5' "
                   "already exists (order 100004).")
    result = alone(b, "no-duplicate-orders")
    assert result.status == "failed" and "had found it" in result.violations[0].explanation


def test_retry_with_a_new_external_number_fails_no_duplicate_orders() -> None:
    run = good_client()
    b = run.builder
    b.create_order(200.0, "EXT-4", [("P3", 1)], status=0, result_key="100003", fault="commit-then-drop")
    dup = b.create_order(202.0, "EXT-5", [("P3", 1)], result_key="100004")
    for number, ext in (("100003", "EXT-4"), ("100004", "EXT-5")):
        run.truth["orders"].append({"orderNumber": number, "orderNumberExternal": ext, "orderStatus": "Created"})
        assert run.probe is not None
        run.probe["orders"].append({"orderNumber": number, "orderStatus": "Created"})
    report = only_fails(run, "no-duplicate-orders")
    (violation,) = report.result("no-duplicate-orders").violations
    assert violation.seqs[0] == dup["seq"]
    assert "EXT-4" in violation.explanation


def test_identical_orders_the_harness_asked_for_are_not_duplicates() -> None:
    b = JournalBuilder()
    b.create_order(0.0, "E1", [("A", 1)], result_key="100001")
    b.create_order(5.0, "E2", [("A", 1)], result_key="100002")
    assert alone(b, "no-duplicate-orders").status == "failed"
    asked = [{"rows": [{"productNumber": "A", "quantity": 1}], "warehouse": "1"}] * 2
    run = Run(b, dict(EMPTY), None, shop_orders_requested=asked)
    assert judge(run.context()).result("no-duplicate-orders").status == "passed"


def test_editing_a_locked_order_again_fails_no_duplicate_orders() -> None:
    run = good_client()
    b = run.builder
    locked = "Order 100001 is Terminated and can no longer be changed."
    b.edit_order(200.0, "100001", {"orderHeader": {"askedDeliveryDate": "2026-01-09"}}, status=400, message=locked)
    again = b.cancel_order(201.0, "100001", status=400, message=locked)
    report = only_fails(run, "no-duplicate-orders")
    (violation,) = report.result("no-duplicate-orders").violations
    assert violation.seqs[0] == again["seq"]
    assert "hook #" in violation.explanation and "OrderPicked" in violation.explanation


# -- ack-hooks-fast ----------------------------------------------------------------------------------------------


def test_failed_and_slow_acknowledgements_fail_ack_hooks_fast() -> None:
    run = good_client()
    b = run.builder
    failed = b.balance_hook(200.0, "P12", "1", 3, status=500)
    b.balance_hook(260.0, "P12", "1", 3, attempt=2, delivery_id=failed["deliveryId"])
    b.item(260.5, "P12", "1")
    slow = b.balance_hook(270.0, "P11", "2", 3, latency_ms=2500)
    b.item(272.6, "P11", "2")
    report = only_fails(run, "ack-hooks-fast")
    assert offending(report, "ack-hooks-fast") == {failed["seq"], slow["seq"]}
    assert "2500 ms" in report.to_text() and "SYN" not in report.to_text()


def test_an_answer_just_over_a_second_is_explained_as_a_full_listen_backlog() -> None:
    b = JournalBuilder()
    b.balance_hook(0.0, "A", "1", 3, latency_ms=1006)
    b.item(0.5, "A", "1")
    result = alone(b, "ack-hooks-fast")
    assert result.status == "failed"
    assert "TCP SYN retransmit" in result.violations[0].explanation
    assert "listen backlog was full" in result.violations[0].explanation
    assert "1 of them delayed by a full listen backlog" in result.message


# -- verify-signatures -------------------------------------------------------------------------------------------


def test_accepting_a_forged_hook_fails_verify_signatures() -> None:
    run = good_client()
    forged = run.builder.balance_hook(200.0, "P8", "2", 999, forged=True)
    report = only_fails(run, "verify-signatures")
    assert offending(report, "verify-signatures") == {forged["seq"]}


def test_acting_on_a_refused_forged_hook_fails_verify_signatures() -> None:
    run = good_client()
    forged = run.builder.balance_hook(200.0, "P8", "2", 999, forged=True, status=401)
    fetch = run.builder.item(201.0, "P8", "2")
    report = only_fails(run, "verify-signatures")
    (violation,) = report.result("verify-signatures").violations
    assert violation.seqs == [fetch["seq"], forged["seq"]]


def test_forged_order_hook_acted_upon_fails_verify_signatures() -> None:
    run = good_client()
    forged = run.builder.order_hook(200.0, "OrderCancelled", "100002", "EXT-2", forged=True, status=401)
    fetch = run.builder.get_order(200.5, "100002")
    report = only_fails(run, "verify-signatures")
    assert offending(report, "verify-signatures") == {fetch["seq"], forged["seq"]}


def test_read_explained_by_a_genuine_hook_after_a_forged_one_is_fine() -> None:
    run = good_client()
    run.builder.balance_hook(200.0, "P8", "2", 999, forged=True, status=401)
    run.builder.balance_hook(200.5, "P8", "2", 4)
    run.builder.item(201.0, "P8", "2")
    assert judge(run.context()).passed


def test_a_genuine_hook_already_followed_does_not_excuse_acting_on_a_forged_one() -> None:
    run = good_client()
    run.builder.balance_hook(195.0, "P8", "2", 4)
    run.builder.item(195.4, "P8", "2")
    forged = run.builder.balance_hook(200.0, "P8", "2", 999, forged=True)
    fetch = run.builder.item(200.3, "P8", "2")
    result = judge(run.context()).result("verify-signatures")
    acted = [v for v in result.violations if fetch["seq"] in v.seqs]
    assert acted and acted[0].seqs == [fetch["seq"], forged["seq"]]


def test_forged_values_in_the_probe_fail_verify_signatures_and_converges() -> None:
    run = good_client()
    forged = run.builder.balance_hook(200.0, "P8", "1", 998, forged=True, status=401)
    run.set_balance("P8", "1", 998)
    run.set_balance("P8", "1", 4, in_probe=False)
    report = judge(run.context())
    assert failing(report) == {"verify-signatures", "converges"}, report.to_text()
    assert offending(report, "verify-signatures") == {forged["seq"]}
    run2 = good_client()
    hook = run2.builder.order_hook(200.0, "OrderCancelled", "100002", "EXT-2", forged=True, status=401)
    assert run2.probe is not None
    run2.probe["orders"][1]["orderStatus"] = "Annulled"
    report = judge(run2.context())
    assert failing(report) == {"verify-signatures", "converges"}, report.to_text()
    assert offending(report, "verify-signatures") == {hook["seq"]}


# -- within-rate-limits ------------------------------------------------------------------------------------------


def test_rate_limit_refusals_fail_within_rate_limits_but_injected_ones_do_not() -> None:
    run = good_client()
    b = run.builder
    b.balance_hook(199.0, "P12", "1", 3)
    refusals = [b.item(200.0 + 0.01 * i, p, "1", status=429, retry_after=1) for i, p in enumerate(("P12", "P11"))]
    for p in ("P12", "P11"):
        b.item(202.0, p, "1")
    report = only_fails(run, "within-rate-limits", rate_limit_families={"ProductAvailability": 600})
    assert offending(report, "within-rate-limits") == {r["seq"] for r in refusals}
    message = report.result("within-rate-limits").message
    assert "ProductAvailability 7/600" in message and "CustomerOrders 6/300" in message


# -- converges ---------------------------------------------------------------------------------------------------


def test_stale_balance_and_order_status_fail_converges() -> None:
    run = good_client()
    assert run.probe is not None
    run.set_balance("P5", "1", 42, in_probe=True)
    run.set_balance("P5", "1", 4, in_probe=False)
    run.probe["orders"][1]["orderStatus"] = "Reserved"
    report = only_fails(run, "converges")
    explanations = [v.explanation for v in report.result("converges").violations]
    assert any("P5@1: the probe holds 42, the truth is 4" in e for e in explanations)
    assert any("order 100002: the probe says Reserved, the truth is Created" in e for e in explanations)
    p5 = next(v for v in report.result("converges").violations if "P5@1" in v.explanation)
    assert p5.nearest_miss is not None and "said 4" in p5.nearest_miss.explanation


def test_items_never_seen_may_be_absent_but_hooked_ones_and_own_orders_not() -> None:
    run = good_client()
    assert run.probe is not None
    run.probe["balances"] = [r for r in run.probe["balances"] if (r["productNumber"], r["warehouse"]) != ("P12", "1")]
    # P12@1 was never named by a hook or a read, but the client read the full availability list at the start
    result = judge(run.context()).result("converges")
    assert result.status == "failed" and "full read #" in result.violations[0].explanation
    overrides = {"converges": {"full_read_requires_all": False}}
    assert judge(run.context(), overrides=overrides).result("converges").status == "passed"
    run.probe["balances"] = [r for r in run.probe["balances"] if r["productNumber"] != "P9"]
    run.probe["orders"] = run.probe["orders"][:1]
    result = judge(run.context(), overrides=overrides).result("converges")
    text = " ".join(v.explanation for v in result.violations)
    assert "P9@2" in text and "hook #" in text and "order 100002 (EXT-2)" in text


def test_an_empty_truth_row_may_be_dropped() -> None:
    b = JournalBuilder()
    b.balance_hook(0.0, "A", "1", 0)
    b.item(0.5, "A", "1")
    truth = {"balances": [balance_row("A", "1", 0)], "orders": []}
    assert judge(Run(b, truth, dict(EMPTY)).context()).result("converges").status == "passed"


# -- report formats and configuration ----------------------------------------------------------------------------


def test_report_is_json_text_and_junit() -> None:
    run = good_client()
    run.builder.balance_hook(200.0, "P8", "2", 999, forged=True)
    report = judge(run.context())
    data = orjson.loads(orjson.dumps(report.to_dict()))
    assert data["passed"] is False and data["user"] == "demo"
    rule = next(r for r in data["rules"] if r["rule"] == "verify-signatures")
    assert rule["status"] == "failed" and rule["violations"][0]["records"][0]["forged"] is True
    text = report.to_text()
    assert text.startswith("XTND code of conduct: FAILED (user demo;")
    assert "FAIL         verify-signatures" in text and "NOT CHECKED" not in text
    suite = ET.fromstring(report.to_junit_xml())
    assert suite.get("tests") == str(len(ALL_IDS)) and suite.get("failures") == "1"
    assert [case.get("name") for case in suite if case.find("failure") is not None] == ["verify-signatures"]


def test_evidence_line_format() -> None:
    b = JournalBuilder()
    record = b.availability(1.234, "A B", warehouse="1")
    item = b.item(2.0, "KM 1007", "2", status=400, quirk="transient-deadlock")
    page = b.list_read(3.0, "Products", page_count=10, rows=10)
    calls = {c.seq: c for c in Run(b, dict(EMPTY), None).context().calls}
    assert calls[record["seq"]].evidence_line() == (
        f"#{record['seq']} 08:00:01.234 GET {BASE}/ProductAvailability?productNumber=A%20B&warehouse=1 (200, 5 rows)"
    )
    assert calls[item["seq"]].evidence_line() == (
        f"#{item['seq']} 08:00:02.000 GET {BASE}/ProductAvailability/KM 1007/2 "
        "(400, Transient, quirk transient-deadlock)"
    )
    assert calls[page["seq"]].evidence_line().endswith("?pageCount=10 (200, 10 rows)")


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


def test_only_the_judged_user_is_judged() -> None:
    run = good_client()
    other = JournalBuilder(user="someone-else")
    for i in range(30):
        other.item(30.0 + i, "P1", "1")
    records = run.builder.build()
    extra = other.build()
    for offset, record in enumerate(extra, start=len(records) + 1):
        record["seq"] = offset
    ctx = JudgeContext(records + extra, user="demo", probe=run.probe, truth=run.truth)
    assert judge(ctx).passed
    assert not judge(JudgeContext(records + extra, user=None, probe=run.probe, truth=run.truth)).passed


# -- the fake's own delivery faults and the observation window ----------------------------------------------------


def test_tampered_attempt_refused_then_retried_is_handled_like_the_fake_does_it() -> None:
    b = JournalBuilder()
    b.item(0.0, "A", "1")
    tampered = b.balance_hook(10.0, "A", "1", 3, status=401, fault="tampered-signature")
    b.balance_hook(70.0, "A", "1", 3, attempt=2, delivery_id=tampered["deliveryId"])
    b.item(70.5, "A", "1")
    report = judge(Run(b, dict(EMPTY), None).context())
    assert report.passed, report.to_text()
    assert report.result("verify-signatures").status == "passed"  # refusing it was right
    assert report.result("ack-hooks-fast").status == "passed"  # the 401 is not a slow or failed ack
    b.balance_hook(80.0, "B", "1", 3, fault="tampered-signature")  # accepted: 200
    assert failing(judge(Run(b, dict(EMPTY), None).context())) == {"verify-signatures"}


def test_duplicate_under_another_id_with_the_same_notification_needs_no_second_read() -> None:
    b = JournalBuilder()
    first = b.balance_hook(10.0, "A", "1", 3)
    b.item(10.5, "A", "1")
    dup = b.balance_hook(40.0, "A", "1", 3, fault="duplicate")
    dup["notificationId"] = first["notificationId"]
    assert alone(b, "hooks-are-triggers", min_followed_ratio=1).status == "passed"


def test_records_after_the_end_of_the_observation_are_not_judged() -> None:
    run = good_client()
    refused = run.builder.balance_hook(300.0, "P1", "1", 3, status=None, error="refused")
    assert failing(judge(run.context())) == {"ack-hooks-fast"}
    ended = iso(run.builder.t0 + 299)
    report = judge(run.context(ended_at=ended))
    assert report.passed, report.to_text()
    assert refused["seq"] not in {d.seq for d in run.context(ended_at=ended).deliveries}


def test_docs_describe_every_rule_and_parameter() -> None:
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
            elif isinstance(default, float) and default.is_integer() and f"| `{name}` | {default:g} |" in section:
                shown = f"{default:g}"
            else:
                shown = str(default)
            assert shown in section, (rule.id, name, shown)
