"""WarehouseStockLevels (docs/wire.md): GET lists physical balances of a warehouse, PUT adjusts and POST sets them
on the real ledger - the same ledger orders allocate from - and both fire the balance hooks."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.xtnd_support import (
    Truth,
    Xtnd,
    assert_always_filled,
    journal_since,
    last_seq,
    order_body,
    outbox_actions,
    row,
    stocked,
)
from tests.support.xtnd import CONTROL

pytestmark = pytest.mark.capture  # every webhook action lands in the outbox (tests/api/conftest.py)


def events_after(fetch_truth: Truth, before: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return outbox_actions(fetch_truth())[len(outbox_actions(before)):]


def test_get_lists_the_physical_balance_of_each_product_in_a_warehouse(client: TestClient, api: Xtnd) -> None:
    page = api.ok("GET", "WarehouseStockLevels", params={"warehouse": "2"})
    items = page["stockLevelItemList"]
    assert page["paginationInfo"]["totalResources"] == 500 and len(items) == 100
    balances = {(b["productNumber"], b["warehouse"]): b for b in client.get("/_mock/state").json()["balances"]}
    for item in items:
        assert_always_filled(item, "StockLevel")
        assert item["warehouse"] == "2" and item["warehouseName"] == "Lager Göteborg"
        assert item["balance"] == balances[(item["productNumber"], "2")]["physicalBalance"]
    one = api.ok("GET", "WarehouseStockLevels", params={"warehouse": "1", "productNumber": "KM 1007"})
    assert [i["productNumber"] for i in one["stockLevelItemList"]] == ["KM 1007"]


def test_put_adjusts_the_ledger_and_fires_the_balance_hooks(client: TestClient, api: Xtnd,
                                                            fetch_truth: Truth) -> None:
    pn = stocked(client)
    order = api.create_order(order_body([row(pn, 4)]))
    start = api.availability(pn)
    before = fetch_truth()
    seq = last_seq(client)
    r = api.put("WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn, "balanceDifference": -10})
    assert r.status_code == 200, r.text
    assert r.json() == {"Message": f"The balance of {pn} in warehouse 1 was adjusted by -10.",
                        "Information": str(start["physicalBalance"] - 10)}
    after = api.availability(pn)
    assert (after["physicalBalance"], after["orderedQuantity"], after["availableBalanceNow"]) == (
        start["physicalBalance"] - 10, 4, start["availableBalanceNow"] - 10)
    assert events_after(fetch_truth, before) == [
        ("BalanceChanged", {"ProductNumber": pn, "Warehouse": "1", "Balance": after["physicalBalance"]}),
        ("AvailableBalanceChanged", {"ProductNumber": pn, "Warehouse": "1",
                                     "AvailableBalance": after["availableBalanceNow"]})]
    rec = journal_since(client, seq)[0]
    assert (rec["method"], rec["resultKey"], rec["productNumbers"], rec["rateFamily"]) == ("PUT", pn, [pn], "WarehouseStockLevels")
    # the order still holds its allocation; a pick now ships from the lower balance
    assert client.post(f"/_mock/orders/{order['orderHeader']['orderNumber']}/pick", headers=CONTROL).status_code == 200
    assert api.availability(pn)["physicalBalance"] == start["physicalBalance"] - 14


def test_post_sets_the_balance(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    before = fetch_truth()
    r = api.post("WarehouseStockLevels", json={"warehouse": "3", "productNumber": pn, "balance": 7,
                                               "notes": "counted"})
    assert r.status_code == 200, r.text
    assert r.json()["Information"] == "7"
    item = api.availability(pn, "3")
    assert item["physicalBalance"] == 7
    listed = api.ok("GET", "WarehouseStockLevels", params={"warehouse": "3", "productNumber": pn})
    assert listed["stockLevelItemList"][0]["balance"] == 7
    actions = [a for a, _ in events_after(fetch_truth, before)]
    assert actions == ["BalanceChanged", "AvailableBalanceChanged"]


def test_a_move_to_the_same_balance_changes_nothing_and_fires_nothing(client: TestClient, api: Xtnd,
                                                                      fetch_truth: Truth) -> None:
    pn = stocked(client)
    balance = api.availability(pn)["physicalBalance"]
    before = fetch_truth()
    assert api.put("WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn,
                                                 "balanceDifference": 0}).status_code == 200
    assert api.post("WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn,
                                                  "balance": balance}).status_code == 200
    assert events_after(fetch_truth, before) == []


def test_stock_moves_show_in_the_availability_change_filter(client: TestClient, api: Xtnd) -> None:
    client.post("/_mock/clock/advance", json={"seconds": 120})
    since = client.get("/_mock/clock").json()["now"].replace("Z", "")
    api.ok("PUT", "WarehouseStockLevels", json={"warehouse": "2", "productNumber": "KM 1007", "balanceDifference": 3})
    api.ok("POST", "WarehouseStockLevels", json={"warehouse": "1", "productNumber": "100003", "balance": 11})
    changed = api.ok("GET", "ProductAvailability", params={"modifiedDateFrom": since})["productAvailabilityList"]
    assert [(i["productNumber"], i["warehouse"]) for i in changed] == [("100003", "1"), ("KM 1007", "2")]


def test_the_largest_32_bit_balance_is_accepted_and_one_more_is_refused(client: TestClient, api: Xtnd,
                                                                        fetch_truth: Truth) -> None:
    pn = stocked(client)
    assert api.post("WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn,
                                                  "balance": 2**31 - 1}).status_code == 200
    before = fetch_truth()
    r = api.put("WarehouseStockLevels", json={"warehouse": "1", "productNumber": pn, "balanceDifference": 1})
    assert r.status_code == 400 and "32-bit" in r.json()["Message"]
    assert fetch_truth() == before


def test_blocked_stock_lowers_only_the_available_balance(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    start = api.availability(pn)
    before = fetch_truth()
    r = client.post("/_mock/stock", json={"productNumber": pn, "warehouse": "1", "blockedBalance": 5})
    assert r.status_code == 200, r.text
    assert r.json() == api.availability(pn)  # the back office answers the item's ProductAvailability
    item = api.availability(pn)
    assert (item["physicalBalance"], item["blockedBalance"], item["availableBalanceNow"]) == (
        start["physicalBalance"], 5, start["availableBalanceNow"] - 5)
    listed = api.ok("GET", "WarehouseStockLevels", params={"warehouse": "1", "productNumber": pn})
    assert listed["stockLevelItemList"][0]["balance"] == start["physicalBalance"]  # physical, blocked or not
    assert events_after(fetch_truth, before) == [
        ("AvailableBalanceChanged", {"ProductNumber": pn, "Warehouse": "1",
                                     "AvailableBalance": start["availableBalanceNow"] - 5})]
