"""The virtual-clock mode: a day of scenario time in seconds, XTND's real retry schedule (1 and 4 minutes)
across a 10-minute receiver outage, outage refusals labelled as the harness's fault, and the price check."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from contracts.harness import run
from contracts.rules.model import parse_time
from contracts.scenario import Scenario, ScenarioError

from .support import tiny

pytestmark = pytest.mark.e2e


def test_a_day_with_an_outage_at_xtnds_real_retry_schedule() -> None:
    scenario = Scenario.model_validate({
        "name": "virtual-outage", "seed": 3, "clock": "virtual",
        "catalogue": {"products": 20, "warehouses": 1, "customers": 3},
        "delivery": {"retry_delays_seconds": [60, 240]},
        "timeline": [
            {"at": "5m", "receiver_outage": {"duration_seconds": "10m"}},
            {"at": "6m", "stock": {"balanceDifference": 2}},
            {"at": "12m", "stock": {"balanceDifference": 2}},
            {"at": "1d", "stock": {"balanceDifference": 2}},
        ],
        "settle": {"quiet_seconds": 0.5, "max_seconds": 5},
        "expect": {"converges": False, "must_pass": ["ack-hooks-fast"]},
    })
    result = run(scenario, tiny("ack"))
    assert result.duration_seconds < 40, "a day of virtual time must pass in seconds"
    by_delivery: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in result.journal:
        if r["kind"] == "delivery" and r["notifications"][0]["Action"] == "AvailableBalanceChanged":
            by_delivery[r["deliveryId"]].append(r)
    first, second, last = sorted(by_delivery.values(), key=lambda rs: parse_time(rs[0]["time"]))
    start = parse_time(first[0]["time"]) - 6 * 60  # the 6-minute move's first attempt

    def minutes(attempts: list[dict[str, Any]]) -> list[float]:
        return [round((parse_time(r["time"]) - start) / 60, 2) for r in attempts]

    # inside the outage from first attempt to last: dead-lettered after 0, +1, +5 minutes
    assert minutes(first) == [6, 7, 11]
    assert [r["outcome"] for r in first] == ["retry", "retry", "dead"]
    assert all(r["fault"] == "drop" and r["harnessFault"] == "receiver-outage" for r in first)
    # the outage ends at 15 min: the third attempt (17 min) gets through
    assert minutes(second) == [12, 13, 17]
    assert [r["status"] for r in second] == [None, None, 204]
    assert minutes(last) == [24 * 60]
    assert result.metrics["deadLettered"] == 2  # the 6-minute move's AvailableBalanceChanged and BalanceChanged
    assert result.report.result("ack-hooks-fast").status == "passed", result.report.to_text()
    assert result.passed, result.expectation_failures


def test_a_product_the_seeded_catalogue_lacks_is_a_scenario_error() -> None:
    scenario = Scenario.model_validate({
        "name": "no-such-product", "catalogue": {"products": 20, "warehouses": 1, "customers": 3},
        "timeline": [{"at": 1, "stock": {"productNumber": "100001", "warehouse": "1"}},
                     {"at": 2, "shop_order": {"warehouse": "4"}}]})
    with pytest.raises(ScenarioError) as failure:
        run(scenario, tiny("exit"))  # the client never starts: the check comes first
    message = str(failure.value)
    assert "timeline[0].stock.productNumber: no product '100001' in the catalogue of seed 1 with 20 products" in message
    assert "timeline[1].shop_order.warehouse: no warehouse '4' (this catalogue has 1)" in message


def test_orders_at_current_price_catches_a_client_that_ignores_prices() -> None:
    scenario = Scenario.model_validate({
        "name": "fixed-price", "seed": 21, "clock": "virtual", "client_env": {"XTND_SHOP_CUSTOMER": "10006"},
        "catalogue": {"products": 200, "warehouses": 2, "customers": 30},
        "timeline": [{"at": "2h", "shop_order": {"rows": [{"productNumber": "100162", "quantity": 1}]}}],
        "settle": {"quiet_seconds": 0.5, "max_seconds": 5},
        "expect": {"converges": False, "must_pass": ["no-duplicate-orders"], "orders_at_current_price": True},
    })
    result = run(scenario, tiny("shop"))
    [check] = result.metrics["orderPriceChecks"]
    assert check["unitPrice"] == 1.0 and check["bestPrice"] == 179.4 and check["priceSource"] == "Campaign"
    assert any(f.startswith("orders_at_current_price: order") and "179.4 (Campaign)" in f
               for f in result.expectation_failures), result.expectation_failures
