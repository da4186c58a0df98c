"""The HTML verdict (contracts/report_html.py): its timeline data and the page, without a browser (the browser
tests open the file itself)."""

from __future__ import annotations

import json
import re
from typing import Any

from contracts.report_html import MAX_POINTS, render_html, timeline
from contracts.rules.model import parse_time
from contracts.rules.report import judge
from contracts.rules.testing import JournalBuilder, good_client


def duplicate_order_run() -> tuple[Any, list[dict[str, Any]]]:
    run = good_client()
    b = run.builder
    b.create_order(100.0, "WEB-DUP", [("P1", 1)], result_key="100901")
    b.create_order(101.0, "WEB-DUP", [("P1", 1)], result_key="100902")
    ctx = run.context()
    return judge(ctx), b.build()


def embedded(page: str) -> dict[str, Any]:
    raw = re.search(r'<script type="application/json" id="timeline-data">(.*?)</script>', page, re.S)
    assert raw is not None
    data: dict[str, Any] = json.loads(raw.group(1))
    return data


def test_the_timeline_counts_calls_per_operation_and_hooks_per_second() -> None:
    b = JournalBuilder()
    for i in range(3):
        b.item(10.0 + i * 0.1, "P1")  # three single reads within one second
    b.item(12.0, "P2")
    b.balance_hook(11.0, "P1", "1", 5)
    data = timeline(b.build())
    assert data["bucketSeconds"] == 1
    ops = {o["label"]: o["values"] for o in data["operations"]}
    single = ops["ProductAvailability_GetSingleProductAvailability"]
    assert sum(single) == 4 and max(single) == 3
    assert sum(data["hooks"]["delivered"]) == 1 and sum(data["hooks"]["failed"]) == 0
    assert data["x"][0] == int(parse_time(b.build()[0]["time"]))


def test_fault_and_throttling_windows_are_merged_spans() -> None:
    b = JournalBuilder()
    b.item(1.0, "P1", status=500, fault="status:500")
    b.item(1.5, "P1", status=500, fault="status:500")
    b.item(30.0, "P1", status=500, fault="status:500")  # far from the others: a window of its own
    b.item(40.0, "P2", status=429, retry_after=5)  # the tenant throttled: until Retry-After
    windows = timeline(b.build())["windows"]
    faults = [w for w in windows if w["kind"] == "fault"]
    assert [w["records"] for w in faults] == [2, 1]
    throttled = [w for w in windows if w["kind"] == "throttled"]
    assert len(throttled) == 1 and throttled[0]["to"] - throttled[0]["from"] == 5


def test_a_long_run_is_bucketed_to_a_bounded_number_of_points() -> None:
    b = JournalBuilder()
    b.item(0.0, "P1")
    b.item(3 * 86400.0, "P1")  # three days of virtual time
    data = timeline(b.build())
    assert len(data["x"]) <= MAX_POINTS + 1 and data["bucketSeconds"] > 1
    total = sum(v * data["bucketSeconds"] for o in data["operations"] for v in o["values"])
    assert round(total) == 2


def test_each_violation_is_marked_at_its_first_record() -> None:
    report, journal = duplicate_order_run()
    markers = timeline(journal, report)["markers"]
    assert [(m["rule"], m["index"]) for m in markers] == [("no-duplicate-orders", 0)]
    second_post = next(r for r in journal if r.get("resultKey") == "100902")
    assert markers[0]["seq"] == second_post["seq"] and markers[0]["x"] == parse_time(second_post["time"])


def test_the_page_has_every_rule_its_evidence_and_nothing_to_fetch() -> None:
    report, journal = duplicate_order_run()
    page = render_html(report, journal, scenario="order-resend", client="python my_sync.py",
                       expectation_failures=["no-duplicate-orders: failed - 1 duplicate order"])
    assert "XTND code of conduct: FAILED" in page
    for result in report.results:
        assert f'id="rule-{result.rule_id}"' in page
    assert 'id="v-no-duplicate-orders-0"' in page
    assert "POST /RESTAPI/v1_0/demo/CustomerOrders (200, -&gt; 100902)" in page  # the evidence line, escaped
    assert "Expectations not met" in page and "python my_sync.py" in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "no remote script, style or link"
    assert embedded(page)["markers"][0]["rule"] == "no-duplicate-orders"


def test_journal_text_cannot_break_out_of_the_page() -> None:
    b = JournalBuilder()
    b.api(1.0, "GET", "Products/</script><script>alert(1)</script>", status=404)
    report = judge(good_client().context(records=b.build()))
    page = render_html(report, b.build())
    assert "<script>alert(1)" not in page
    assert embedded(page)["x"]


def test_a_passing_run_says_so() -> None:
    run = good_client()
    report = judge(run.context())
    page = render_html(report, run.builder.build())
    assert report.passed and "XTND code of conduct: PASSED" in page and 'header class="pass"' in page
    assert embedded(page)["markers"] == []


def test_the_lag_of_the_clients_view_runs_from_a_balance_hook_to_its_covering_read() -> None:
    b = JournalBuilder()
    b.balance_hook(10.0, "P1", "1", 5)
    b.balance_hook(10.5, "P2", "1", 3)
    b.item(11.25, "P1", "1")  # the client reads P1 1.25 s after its hook
    b.item(11.5, "P2", "1", user="someone-else")  # another user's read says nothing about this client
    report = judge(good_client().context(records=b.build()))
    lag = timeline(b.build(), report)["lag"]
    assert lag["measured"] == 1 and lag["unread"] == 1 and lag["worstMs"] == 1250
    assert [v for v in lag["maxMs"] if v is not None] == [1250]
    b2 = JournalBuilder()
    b2.item(1.0, "P1")
    assert timeline(b2.build(), report)["lag"] is None
