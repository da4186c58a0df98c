"""The dashboard in a real browser, as a new user meets it: every page loads; the back-office buttons move an order
and its hooks reach a real receiver; a stock move changes the balance; a dead letter is redelivered; a paused
subscription sends nothing; a storm's chart moves; the journal filters; the fault plans change."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import WAIT_MS, Fake, Hooks, wait_for

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is missing: pip install -e '.[dev]'").expect
expect.set_options(timeout=WAIT_MS)

PAGES = [("overview", "Overview"), ("stock", "Stock"), ("orders", "Orders"), ("webhooks", "Webhooks"),
         ("journal", "Journal"), ("storms", "Storms"), ("faults", "Faults and quirks")]


def test_every_page_loads_from_the_fake_itself(fake: Fake, page: Any, screenshot: Any) -> None:
    # a little of everything: a webshop's reads, an order, a refused call, an injected fault, a storm
    fake.create_order("WEB-TOUR")
    assert fake.api("GET", "Products/100003").status_code == 200
    assert fake.api("GET", "Products/NO-SUCH").status_code == 404
    fake.control("POST", "/faults", {"kind": "transient", "route": "ProductAvailability*", "times": 1})
    assert fake.api("GET", "ProductAvailability/100003/1").status_code == 400
    assert fake.api("GET", "ProductAvailability/100003/1").status_code == 200
    fake.control("POST", "/storm", {"shape": "burst", "rate": 50, "count": 200, "products": 20})
    for slug, heading in PAGES:
        page.goto(f"{fake.ui}#/{slug}")
        expect(page.locator("main h1")).to_have_text(heading)
        expect(page.get_by_test_id("clock")).to_contain_text("real clock")
        if slug == "overview":
            expect(page.get_by_test_id("count-orders")).to_have_text("1")
            expect(page.get_by_test_id("recent-errors")).to_contain_text("Products/NO-SUCH -> 404 Validation")
            expect(page.get_by_test_id("recent-errors")).to_contain_text("(transient-deadlock)")
        if slug == "storms":
            expect(page.get_by_test_id("storm-view")).to_have_attribute("data-state", "done")
        if slug == "journal":  # the API calls, the injected fault labelled
            page.locator('select[name="kind"]').select_option("api")
            expect(page.get_by_test_id("journal-list")).to_have_attribute("data-rows", "5")
            expect(page.get_by_test_id("journal-list")).to_contain_text("fault transient-deadlock")
        screenshot(page, slug)
    # offline by construction: every file the page asked for came from the fake
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.reload()
    expect(page.locator("main h1")).to_have_text("Faults and quirks")
    assert requested and all(u.startswith(fake.url) or u.startswith("data:") for u in requested), requested


def test_order_buttons_move_the_order_and_its_hooks_appear(fake: Fake, receiver: Hooks, page: Any,
                                                           screenshot: Any) -> None:
    number = fake.create_order("WEB-1001")
    page.goto(f"{fake.ui}#/orders")
    page.locator(f'tr[data-order="{number}"]').click()
    detail = page.get_by_test_id("order-detail")
    expect(detail.get_by_test_id("order-status")).to_have_text("Created")

    detail.get_by_role("button", name="Reserve").click()
    expect(detail.get_by_test_id("order-status")).to_have_text("Reserved")
    expect(detail.locator('[data-testid="order-hooks"] tr[data-action="OrderReserved"]')).to_contain_text("delivered")
    wait_for(lambda: "OrderReserved" in receiver.actions(), what="OrderReserved at the receiver")

    # the webshop follows the hook with a read of the order: the call shows under the order
    assert fake.api("GET", f"CustomerOrders/{number}").status_code == 200
    expect(detail.get_by_test_id("order-calls")).to_contain_text(f"GET /RESTAPI/v1_0/demo/CustomerOrders/{number}")

    detail.locator('input[name="askedDeliveryDate"]').fill("2027-01-15")
    detail.get_by_role("button", name="Move delivery date").click()
    expect(detail.get_by_test_id("order-date")).to_contain_text("2027-01-15")
    detail.get_by_role("button", name="Pick").click()
    expect(detail.get_by_test_id("order-status")).to_have_text(re.compile("Terminated|PartiallyDelivered"))
    expect(detail.locator('[data-testid="order-hooks"] tr[data-action="OrderPicked"]')).to_contain_text("delivered")
    screenshot(page, "order-detail")
    wait_for(lambda: {"OrderDeliveryDataChanged", "OrderPicked"} <= set(receiver.actions()),
             what="the date and pick hooks at the receiver")
    assert all(h["valid"] for h in receiver.hooks), "every hook is signed with the subscription's secret"

    # a picked order cannot be cancelled: the refusal is shown, in the API's words
    detail.get_by_role("button", name="Cancel").click()
    expect(detail.get_by_role("alert")).to_contain_text("400")
    other = fake.create_order("WEB-1002")
    page.goto(f"{fake.ui}#/orders/{other}")
    detail.get_by_role("button", name="Cancel").click()
    expect(detail.get_by_test_id("order-status")).to_have_text("Annulled")
    wait_for(lambda: "OrderCancelled" in receiver.actions(), what="OrderCancelled at the receiver")


def test_stock_move_changes_the_balance_and_fires_a_hook(fake: Fake, receiver: Hooks, page: Any) -> None:
    before = next(b for b in fake.get("/state")["balances"] if (b["productNumber"], b["warehouse"]) == ("100003", "1"))
    page.goto(f"{fake.ui}#/stock")
    page.locator('input[name="q"]').fill("100003")
    row = page.locator('[data-testid="balances"] tr[data-product="100003"][data-warehouse="1"]')
    expect(row.locator(".available")).to_have_text(f"{before['availableBalanceNow']:,}")
    row.click()  # fills the form
    form = page.get_by_test_id("stock-move")
    expect(form.locator('input[name="productNumber"]')).to_have_value("100003")
    form.locator('input[name="value"]').fill("7")
    form.get_by_role("button", name="Move stock").click()
    expect(page.get_by_role("status")).to_contain_text("100003 in warehouse 1")
    expect(row.locator(".available")).to_have_text(f"{before['availableBalanceNow'] + 7:,}")
    wait_for(lambda: "AvailableBalanceChanged" in receiver.actions(), what="the balance hook")


def test_a_dead_letter_is_redelivered_from_the_page(fake: Fake, receiver: Hooks, page: Any,
                                                    screenshot: Any) -> None:
    receiver.status = 500
    fake.control("POST", "/stock", {"productNumber": "100004", "warehouse": "1", "balanceDifference": 3})
    dead = wait_for(lambda: fake.get("/deliveries?status=dead")["items"], what="the hook to be dead-lettered")
    delivery_id = dead[0]["deliveryId"]
    page.goto(f"{fake.ui}#/webhooks")
    page.get_by_role("button", name="Dead letters").click()
    row = page.locator(f'[data-testid="dead-letters"] tr[data-delivery="{delivery_id}"]')
    expect(row).to_contain_text("#3 500")
    row.get_by_role("link", name="details").click()
    detail = page.get_by_test_id("delivery-detail")
    expect(detail.get_by_test_id("delivery-status")).to_have_text("dead")
    # the page shows the signature the receiver got, and the exact body
    expect(detail.get_by_test_id("signature").first).to_have_text(receiver.hooks[0]["signature"])
    expect(detail.locator("pre.json").first).to_contain_text('"Attempt": 1')
    screenshot(page, "delivery-detail")

    receiver.status = 200
    detail.get_by_role("button", name="Redeliver").click()
    expect(detail.get_by_test_id("delivery-status")).to_have_text("delivered")
    expect(detail.locator('[data-attempt="4"]')).to_contain_text("200")
    assert receiver.hooks[-1]["valid"]
    page.get_by_role("button", name="Dead letters").click()
    expect(page.get_by_test_id("no-dead-letters")).to_be_visible()


def test_a_paused_subscription_sends_nothing_until_resumed(fake: Fake, receiver: Hooks, page: Any) -> None:
    page.goto(f"{fake.ui}#/webhooks")
    row = page.locator('[data-testid="subscriptions"] tr[data-subscription="webshop"]')
    row.get_by_role("button", name="Pause").click()
    expect(row.get_by_test_id("sub-active")).to_have_text("paused")
    fake.control("POST", "/stock", {"productNumber": "100005", "warehouse": "2", "balanceDifference": 1})
    assert fake.get("/deliveries")["items"] == [], "a paused subscription is sent nothing"
    row.get_by_role("button", name="Resume").click()
    expect(row.get_by_test_id("sub-active")).to_have_text("active")
    fake.control("POST", "/stock", {"productNumber": "100005", "warehouse": "2", "balanceDifference": 1})
    wait_for(lambda: receiver.hooks, what="a hook after resuming")
    assert receiver.hooks[0]["valid"], "pausing kept the secret"
    # the delivery log shows the attempt live
    expect(page.get_by_test_id("delivery-log")).to_contain_text("AvailableBalanceChanged")


def test_a_storm_started_from_the_page_moves_its_chart(fake: Fake, receiver: Hooks, page: Any,
                                                       screenshot: Any) -> None:
    page.goto(f"{fake.ui}#/storms")
    form = page.get_by_test_id("storm-form")
    form.locator('select[name="shape"]').select_option("ramp")
    form.locator('input[name="rate"]').fill("300")  # 900 steps over 6 s: the page polls each second
    form.locator('input[name="count"]').fill("900")
    form.get_by_role("button", name="Start storm").click()
    charts = page.get_by_test_id("storm-charts")
    expect(charts.locator("canvas")).to_have_count(3)  # rate, latency per second, histogram
    # the chart moves: steps emitted grow while it runs, and every step's hook is delivered in the end
    first = int(wait_for(lambda: int(charts.get_attribute("data-emitted") or 0), what="the first steps"))
    expect(charts).not_to_have_attribute("data-emitted", str(first))
    expect(page.get_by_test_id("storm-view")).to_have_attribute("data-state", "done", timeout=30_000)
    expect(charts).to_have_attribute("data-emitted", "900")
    expect(charts).to_have_attribute("data-delivered", "900", timeout=30_000)
    screenshot(page, "storm")
    assert len(receiver.hooks) == 900
    # the delivery log holds every attempt but draws only the rows in view
    page.goto(f"{fake.ui}#/webhooks")
    log = page.get_by_test_id("delivery-log")
    expect(log).to_have_attribute("data-rows", "900")
    assert log.locator(".vrow").count() < 80


def test_the_journal_lists_every_call_and_filters_them(fake: Fake, page: Any) -> None:
    assert fake.api("GET", "Products/100003").status_code == 200
    assert fake.api("GET", "Products/NO-SUCH").status_code == 404
    page.goto(f"{fake.ui}#/journal")
    journal = page.get_by_test_id("journal-list")
    expect(journal).to_contain_text("/RESTAPI/v1_0/demo/Products/100003")
    expect(journal).to_contain_text("/RESTAPI/v1_0/demo/Products/NO-SUCH")
    page.locator('select[name="status"]').select_option("error")
    expect(journal).to_have_attribute("data-rows", "1")
    expect(journal).not_to_contain_text("Products/100003")
    journal.locator(".vrow.clickable").first.click()
    expect(page.get_by_test_id("journal-record")).to_contain_text('"status": 404')


def test_fault_and_quirk_plans_change_from_the_page(fake: Fake, page: Any) -> None:
    page.goto(f"{fake.ui}#/faults")
    form = page.get_by_test_id("add-fault")
    form.locator('select[name="kind"]').select_option("status")
    form.locator('input[name="route"]').fill("ProductAvailability*")
    form.locator('input[name="times"]').fill("2")
    form.get_by_role("button", name="Add fault").click()
    expect(page.get_by_test_id("api-faults")).to_contain_text("ProductAvailability*")
    assert [(f["kind"], f["status"], f["times"]) for f in fake.get("/faults")["items"]] == [("status", 429, 2)]
    # the fault answers the next call, and the journal labels it
    assert fake.api("GET", "ProductAvailability/100003/1").status_code == 429

    quirks = page.get_by_test_id("quirks")
    quirks.locator('input[name="pagePastEnd400"]').uncheck()
    quirks.get_by_role("button", name="Save").click()
    expect(quirks.get_by_role("status")).to_have_text("Saved.")
    assert fake.get("/quirks")["pagePastEnd400"] is False

    faults = page.get_by_test_id("delivery-faults")
    faults.locator('input[name="duplicate"]').fill("0.5")
    faults.get_by_role("button", name="Save").click()
    expect(faults.get_by_role("status")).to_have_text("Saved.")
    assert fake.get("/faults/deliveries")["duplicate"] == 0.5

    page.get_by_test_id("api-faults").get_by_role("button", name="Remove").click()
    expect(page.get_by_test_id("api-faults")).not_to_contain_text("ProductAvailability*")
    assert fake.get("/faults")["items"] == []
