"""The HTML files opened from disk as a CI artifact would be (file://, no server), and the dashboard under a
virtual clock: the verdict marks its violation on the timeline, the storm report draws its plots, the overview's
advance button moves time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.report_html import render_html
from contracts.rules.report import judge
from contracts.rules.testing import good_client
from mock_xtnd.server import ServerThread
from mock_xtnd.simulate.storm_report import write_report

from .conftest import WAIT_MS, Fake, Hooks, fake_settings, wait_for

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is missing: pip install -e '.[dev]'").expect
expect.set_options(timeout=WAIT_MS)


def test_the_html_verdict_marks_the_violation_on_its_timeline(page: Any, tmp_path: Path, screenshot: Any) -> None:
    run = good_client()
    run.builder.create_order(100.0, "WEB-DUP", [("P1", 1)], result_key="100901")
    run.builder.create_order(101.0, "WEB-DUP", [("P1", 1)], result_key="100902")  # a blind resend
    ctx = run.context()
    report = judge(ctx)
    assert report.failed_rules == ["no-duplicate-orders"]
    verdict = tmp_path / "verdict.html"
    verdict.write_text(render_html(report, run.builder.build(), scenario="order-resend", client="my-sync"))

    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(verdict.as_uri())
    expect(page.get_by_test_id("verdict")).to_have_text("XTND code of conduct: FAILED")
    expect(page.locator('tr[data-rule="no-duplicate-orders"] .badge')).to_have_text("FAIL")
    marker = page.locator('#chart-api .violation-marker[data-rule="no-duplicate-orders"]')
    expect(marker).to_have_count(1)
    expect(marker).to_be_visible()
    screenshot(page, "verdict")
    marker.click()
    assert page.url.endswith("#v-no-duplicate-orders-0")
    evidence = page.locator("#v-no-duplicate-orders-0")
    expect(evidence).to_be_in_viewport()
    expect(evidence.locator("pre.evidence")).to_contain_text("POST /RESTAPI/v1_0/demo/CustomerOrders")
    assert requested == [verdict.as_uri()], "a verdict needs nothing but its own file"


@pytest.fixture(scope="module")
def virtual_fake(receiver: Hooks) -> Iterator[Fake]:
    with ServerThread(fake_settings(receiver, clock="virtual")) as server:
        fake = Fake(server)
        yield fake
        fake.http.close()


def test_the_overview_advances_a_virtual_clock(virtual_fake: Fake, page: Any, screenshot: Any) -> None:
    virtual_fake.control("POST", "/reset")
    before = virtual_fake.get("/clock")["now"]
    page.goto(f"{virtual_fake.ui}#/overview")
    clock = page.get_by_test_id("overview-clock")
    expect(clock).to_have_text(before.replace("T", " ").replace("Z", ""))
    page.get_by_role("button", name="+5 min").click()
    expect(page.get_by_role("status")).to_contain_text("Now ")
    after = virtual_fake.get("/clock")["now"]
    assert after[:16] > before[:16], (before, after)
    expect(clock).to_have_text(after.replace("T", " ").replace("Z", ""))
    expect(page.get_by_test_id("clock")).to_contain_text("virtual clock")
    screenshot(page, "overview-virtual")


def test_the_storm_report_opens_from_a_file_with_its_plots(virtual_fake: Fake, receiver: Hooks, page: Any,
                                                           tmp_path: Path) -> None:
    virtual_fake.control("POST", "/reset")
    receiver.clear()
    storm = virtual_fake.control("POST", "/storm", {"shape": "burst", "rate": 40, "count": 300, "products": 10})
    virtual_fake.control("POST", "/clock/advance", {"seconds": 30})
    series = wait_for(lambda: (s := virtual_fake.get(f"/storm/{storm['stormId']}/series"))["progress"]["deliveries"][
        "delivered"] == 300 and s, what="every storm hook delivered")
    html_file = write_report(series, tmp_path)[0]
    page.goto(html_file.as_uri())
    charts = page.get_by_test_id("storm-charts")
    expect(charts.locator("canvas")).to_have_count(3)
    expect(charts).to_have_attribute("data-emitted", "300")
    expect(charts).to_have_attribute("data-delivered", "300")
    expect(charts.locator(".xc-pct")).to_contain_text("ms")
