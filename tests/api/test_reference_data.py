"""History and reference data (docs/wire.md, "History and reference data"): BalanceAdjustments (the ledger's history
per product and warehouse by event date), Countries, Currencies (list and one), GenericReports."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.domain.reference import CURRENCIES, REPORTS
from tests.api.xtnd_support import (
    Truth,
    Xtnd,
    advance,
    assert_always_filled,
    assert_invalid,
    assert_local_date,
    assert_message,
    clock_now,
    order_body,
    row,
    stocked,
    utc_param,
)
from tests.support.xtnd import CONTROL

pytestmark = pytest.mark.capture  # every webhook action lands in the outbox (tests/api/conftest.py)

REPORT_BY_NAME = {name: rid for rid, name in REPORTS.items()}


def adjustments(api: Xtnd, **params: Any) -> dict[str, Any]:
    answer: dict[str, Any] = api.ok("GET", "BalanceAdjustments", params={"warehouse": "1", **params})
    return answer


def history(api: Xtnd, pn: str, since: str, **params: Any) -> list[tuple[str, int, int, str]]:
    items = adjustments(api, productNumber=pn, eventDateFrom=since, **params)["balanceAdjustmentList"]
    return [(a["eventType"], a["balanceChange"], a["newBalance"], a["eventDate"]) for a in items]


# ---------------------------------------------------------------------------------------------- BalanceAdjustments
def test_a_stock_level_adjustment_appears_with_its_quantity_and_date(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    start = utc_param(clock_now(client))
    physical = api.availability(pn)["physicalBalance"]
    assert history(api, pn, start) == []
    advance(client, 120)
    api.ok("PUT", "WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn, "balanceDifference": -4})
    when = clock_now(client)
    advance(client, 120)
    api.ok("POST", "WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn, "balance": 50})
    later = clock_now(client)
    answer = adjustments(api, productNumber=pn, eventDateFrom=start)
    first, second = answer["balanceAdjustmentList"]
    for item in (first, second):
        assert_always_filled(item, "BalanceAdjustmentListItem")
        assert (item["productNumber"], item["warehouse"]) == (pn, "1")
    assert (first["eventType"], first["balanceChange"], first["newBalance"]) == ("BalanceAdjustment", -4, physical - 4)
    assert assert_local_date(first["eventDate"]) == when
    assert (second["balanceChange"], second["newBalance"]) == (50 - (physical - 4), 50)
    assert assert_local_date(second["eventDate"]) == later
    # the answer is the page's first adjustment, carrying the page
    assert {k: answer[k] for k in first} == first
    assert answer["paginationInfo"]["totalResources"] == 2
    # by event date, both bounds inclusive
    assert [x[:3] for x in history(api, pn, start, eventDateTo=utc_param(when))] == [
        ("BalanceAdjustment", -4, physical - 4)]
    assert [x[1:3] for x in history(api, pn, utc_param(later))] == [(50 - (physical - 4), 50)]


def test_every_kind_of_move_is_in_the_history(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    start = utc_param(clock_now(client))
    physical = api.availability(pn)["physicalBalance"]
    number = api.create_order(order_body([row(pn, 3)]))["orderHeader"]["orderNumber"]
    assert client.post(f"/_mock/orders/{number}/pick", headers=CONTROL).status_code == 200
    po = api.ok("POST", "PurchaseOrders", json={"header": {"supplier": {}}, "rows": [
        {"productNumber": pn, "purchaseDataProductUnit": {"quantity": 5, "unit": "st"}}]})["header"]["purchaseNumber"]
    assert client.post(f"/_mock/backoffice/purchases/{po}/receive", headers=CONTROL).status_code == 200
    ret = api.ok("POST", "ReturnOrders", json={"createAction": {"action": "ReturnCompleteCustomerOrder",
                                                                 "orderNumber": number}})["header"]["returnNumber"]
    assert client.post(f"/_mock/backoffice/returns/{ret}/receive", headers=CONTROL).status_code == 200
    moves = [(kind, change, balance) for kind, change, balance, _ in history(api, pn, start)]
    assert moves == [("CorrectionOuttake", -3, physical - 3), ("ManualReceiving", 5, physical + 2),
                     ("CorrectionIntake", 3, physical + 5)]
    assert api.availability(pn)["physicalBalance"] == physical + 5


def test_the_history_is_per_warehouse_and_product(client: TestClient, api: Xtnd) -> None:
    a, b = stocked(client), stocked(client, skip=1)
    start = utc_param(clock_now(client))
    api.ok("PUT", "WarehouseStockLevels", json={"warehouse": "1", "productNumber": a, "balanceDifference": 1})
    api.ok("PUT", "WarehouseStockLevels", json={"warehouse": "1", "productNumber": b, "balanceDifference": 2})
    api.ok("PUT", "WarehouseStockLevels", json={"warehouse": "2", "productNumber": a, "balanceDifference": 3})
    every = adjustments(api, eventDateFrom=start)["balanceAdjustmentList"]
    assert [(x["productNumber"], x["balanceChange"]) for x in every] == [(a, 1), (b, 2)]
    other = api.ok("GET", "BalanceAdjustments", params={"warehouse": "2", "eventDateFrom": start})
    assert [(x["productNumber"], x["warehouse"], x["balanceChange"]) for x in other["balanceAdjustmentList"]] == [
        (a, "2", 3)]
    assert [x[1] for x in history(api, b, start)] == [2]


def test_an_empty_period_answers_a_zero_change_with_the_balance_now(client: TestClient, api: Xtnd) -> None:
    pn = stocked(client)
    start = utc_param(clock_now(client))
    answer = adjustments(api, productNumber=pn, eventDateFrom=start)
    assert answer["balanceAdjustmentList"] == []
    assert (answer["productNumber"], answer["balanceChange"], answer["newBalance"]) == (
        pn, 0, api.availability(pn)["physicalBalance"])


def test_bad_history_queries(client: TestClient, api: Xtnd) -> None:
    start = utc_param(clock_now(client))
    assert_invalid(api.get("BalanceAdjustments", params={"eventDateFrom": start}), "warehouse")
    assert_invalid(api.get("BalanceAdjustments", params={"warehouse": "1"}), "eventDateFrom")
    assert_invalid(api.get("BalanceAdjustments", params={"warehouse": "1", "eventDateFrom": "yesterday"}),
                   "eventDateFrom")
    r = api.get("BalanceAdjustments", params={"warehouse": "99", "eventDateFrom": start})
    assert r.status_code == 400 and "99" in r.text
    assert_message(api.get("BalanceAdjustments", params={"warehouse": "1", "eventDateFrom": start,
                                                          "productNumber": "NO-SUCH"}), 400, contains="NO-SUCH")


# ---------------------------------------------------------------------------------------------- Countries, Currencies
def test_countries(api: Xtnd) -> None:
    countries = api.ok("GET", "Countries")
    items = countries if isinstance(countries, list) else next(v for v in countries.values() if isinstance(v, list))
    ids = [c["countryId"] for c in items]
    assert "SE" in ids and len(set(ids)) == len(ids)
    for c in items:
        assert_always_filled(c, "Country")
        assert len(c["countryId"]) == 2 and c["countryId"].isupper()


def test_currencies_and_one_currency(api: Xtnd) -> None:
    assert [(c["currencyId"], c["name"]) for c in api.ok("GET", "Currencies")] == list(CURRENCIES)
    assert api.ok("GET", "Currencies/SEK") == {"currencyId": "SEK", "name": "Svensk krona"}
    assert api.ok("GET", "Currencies/eur") == {"currencyId": "EUR", "name": "Euro"}  # any case
    assert_message(api.get("Currencies/XYZ"), 404, contains="XYZ")


# ---------------------------------------------------------------------------------------------- GenericReports
def test_the_orders_per_status_report_follows_the_truth(client: TestClient, api: Xtnd) -> None:
    rid = REPORT_BY_NAME["Order per status"]
    empty = api.ok("GET", "GenericReports", params={"reportId": rid})
    assert (empty["reportId"], empty["reportName"], empty["rows"]) == (rid, "Order per status", [])
    assert [c["name"] for c in empty["columns"]] == ["orderStatus", "orders", "rows", "totalPrice"]
    pn = stocked(client)
    api.create_order(order_body([row(pn, 2, unit_price=10.0), row(pn, 1, unit_price=5.0)], "R-1"))
    number = api.create_order(order_body([row(pn, 1, unit_price=7.0)], "R-2"))["orderHeader"]["orderNumber"]
    client.post(f"/_mock/orders/{number}/reserve", headers=CONTROL)
    report = api.ok("GET", "GenericReports", params={"reportId": rid})
    assert report["rows"] == [
        {"orderStatus": "Created", "orders": 1, "rows": 2, "totalPrice": 25.0},
        {"orderStatus": "Reserved", "orders": 1, "rows": 1, "totalPrice": 7.0}]


def test_the_stock_value_and_invoiced_reports(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    stock = api.ok("GET", "GenericReports", params={"reportId": REPORT_BY_NAME["Lagervärde per lager"]})
    warehouses = fetch_truth()["records"]["warehouse"]
    assert [r["warehouse"] for r in stock["rows"]] == sorted(warehouses)
    on_hand = {wh: 0 for wh in warehouses}
    for item in fetch_truth()["records"]["stock"].values():
        on_hand[item["warehouse_number"]] += item["on_hand"]
    assert {r["warehouse"]: r["physicalBalance"] for r in stock["rows"]} == on_hand
    rid = REPORT_BY_NAME["Fakturerat per produktgrupp"]
    assert api.ok("GET", "GenericReports", params={"reportId": rid})["rows"] == []
    pn = stocked(client)
    number = api.create_order(order_body([row(pn, 2, unit_price=10.0)]))["orderHeader"]["orderNumber"]
    client.post(f"/_mock/orders/{number}/pick", headers=CONTROL)
    group = api.ok("GET", f"Products/{pn}")["productData"]["productGroupsAndCategories"]["productFamily"]
    assert api.ok("GET", "GenericReports", params={"reportId": rid})["rows"] == [
        {"productGroup": group, "invoices": 1, "quantity": 2, "amount": 20.0}]


def test_an_unknown_report_is_refused(api: Xtnd) -> None:
    assert_message(api.get("GenericReports", params={"reportId": "00000000-0000-0000-0000-000000000000"}), 400,
                   contains="00000000-0000-0000-0000-000000000000")
    assert_invalid(api.get("GenericReports", params={"reportId": "not-a-guid"}), "reportId")
    assert_invalid(api.get("GenericReports"), "reportId")
