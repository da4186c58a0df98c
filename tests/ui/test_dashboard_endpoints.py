"""The dashboard's own endpoints under /_mock, in-process on the virtual clock: the page and its files, the compact
counters, paged balances and orders, an order with its hooks and calls, a delivery's exact wire, pausing without the
secret, and a storm's series with the lag of a client's reads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from mock_xtnd.ui.dashboard import STATIC
from mock_xtnd.webhooks.signing import sign, verify
from tests.support.receiver import Receiver

API = "/RESTAPI/v1_0/demo"
SECRET = "s3cret"
AUTH = {"ExtendBasicAuthorization": "Basic ZGVtbzpkZW1vLXNlY3JldA=="}  # demo:demo-secret
CONTROL = {"Content-Type": "application/json", "X-Mock-Xtnd": "1"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def client(receiver: Receiver) -> Iterator[TestClient]:
    settings = Settings.model_validate({
        "clock": "virtual", "seed": 1, "quirks": {"transient_errors": 0},
        "catalogue": {"products": 40, "warehouses": 3, "customers": 10},
        "subscriptions": [{"name": "shop", "callback_url": receiver.url, "secret": SECRET,
                           "triggers": ["AvailableBalanceChanged", "OrderCreated", "OrderReserved", "OrderPicked"]}],
    })
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def control(client: TestClient, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    r = client.request(method, f"/_mock{path}", json={} if body is None else body, headers=CONTROL)
    assert r.status_code == status, r.text
    return r.json()


def advance(client: TestClient, seconds: float) -> None:
    control(client, "POST", "/clock/advance", {"seconds": seconds})


def order(client: TestClient, external: str, product: str = "100003") -> str:
    r = client.post(f"{API}/CustomerOrders", headers=AUTH, json={
        "orderHeader": {"orderNumberExternal": external, "customerNumber": "10001"},
        "orderRows": [{"product": {"productNumber": product},
                       "salesData": {"quantity": 1, "unit": "par", "unitPrice": 10.0, "currency": "SEK"},
                       "warehouse": "1"}]})
    assert r.status_code == 200, r.text
    number: str = r.json()["orderHeader"]["orderNumber"]
    return number


# ---------------------------------------------------------------------------------------------- the page
def test_the_page_and_every_file_it_names_are_served_offline(client: TestClient) -> None:
    for url in ("/_mock/ui", "/_mock/ui/"):
        page = client.get(url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    names = re.findall(r'(?:src|href)="(?!data:|/_mock/docs|/RESTAPI)([^"#]+)"', text)
    names += re.findall(r'"\./([^"]+)"', text)  # the import map
    assert "vendor/preact.mjs" in names and "vendor/uPlot.iife.min.js" in names
    for name in names:
        if name.startswith("/"):
            continue
        r = client.get(f"/_mock/ui/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"].split(";")[0] in ("text/javascript", "text/css", "text/html"), name
    # every module the page imports relatively is there
    for script in STATIC.rglob("*.js"):
        if "vendor" in script.parts:
            continue
        for target in re.findall(r'from "(\.{1,2}/[^"]+)"', script.read_text()):
            assert (script.parent / target).resolve().is_file(), f"{script.name} imports a missing {target}"
    assert client.get("/_mock/ui/vendor/preact.mjs").headers["cache-control"].startswith("public")


def test_files_outside_the_page_are_not_served(client: TestClient) -> None:
    for path in ("/_mock/ui/../dashboard.py", "/_mock/ui/%2e%2e/dashboard.py", "/_mock/ui/nope.js"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "dashboard.py" not in r.text or "No such" in r.text


# ---------------------------------------------------------------------------------------------- counters
def test_stats_count_calls_errors_hooks_and_orders(client: TestClient, receiver: Receiver) -> None:
    assert client.get(f"{API}/Products/100003", headers=AUTH).status_code == 200
    assert client.get(f"{API}/Products/NO-SUCH", headers=AUTH).status_code == 404
    assert client.get(f"{API}/Products/100003").status_code == 401
    order(client, "WEB-1")
    advance(client, 1)
    s = client.get("/_mock/stats").json()
    assert s["company"] == "demo" and s["apiBase"] == API and s["clock"]["kind"] == "virtual"
    assert s["api"]["calls"] == 4
    assert s["api"]["errors"] == {"Validation": 1, "Unauthorized": 1}
    assert s["deliveries"]["outcomes"] == {"delivered": 2}  # OrderCreated + AvailableBalanceChanged
    assert s["orders"] == {"total": 1, "byStatus": {"Created": 1}}
    assert s["subscriptions"] == {"total": 1, "active": 1}
    assert "AvailableBalanceChanged" in s["actions"] and len(s["actions"]) == 18
    errors = [e["text"] for e in s["recentErrors"]]
    assert any("Products/NO-SUCH -> 404 Validation" in e for e in errors), errors
    assert sum(s["rates"]["api"]) == 4 and len(s["rates"]["seconds"]) == len(s["rates"]["api"])
    # a reset starts the counters again
    control(client, "POST", "/reset")
    assert client.get("/_mock/stats").json()["api"]["calls"] == 0


# ---------------------------------------------------------------------------------------------- lists
def test_balances_are_searched_filtered_and_paged_on_the_server(client: TestClient) -> None:
    everything = client.get("/_mock/balances", params={"limit": 1000}).json()
    assert everything["total"] == 40 * 3 and len(everything["items"]) == 120
    assert everything["warehouses"] == ["1", "2", "3"]
    one = client.get("/_mock/balances", params={"q": "100003", "warehouse": "2"}).json()
    assert [(b["productNumber"], b["warehouse"]) for b in one["items"]] == [("100003", "2")]
    row = one["items"][0]
    assert row["availableBalanceNow"] == row["physicalBalance"] - row["orderedQuantity"] - row["blockedBalance"]
    page2 = client.get("/_mock/balances", params={"offset": 100, "limit": 100}).json()
    assert len(page2["items"]) == 20 and page2["total"] == 120
    name = everything["items"][0]["productName"]
    assert client.get("/_mock/balances", params={"q": name.upper()}).json()["total"] >= 3  # by name, any case


def test_an_order_shows_its_hooks_and_the_calls_that_named_it(client: TestClient) -> None:
    first, second = order(client, "WEB-1"), order(client, "WEB-2")
    listed = client.get("/_mock/orders").json()
    assert [o["orderNumber"] for o in listed["items"]] == [second, first]  # newest first
    assert client.get("/_mock/orders", params={"q": "web-1"}).json()["items"][0]["orderNumber"] == first
    control(client, "POST", f"/orders/{first}/reserve")
    advance(client, 1)
    assert client.get(f"{API}/CustomerOrders/{first}", headers=AUTH).status_code == 200
    assert client.get(f"{API}/CustomerOrders/{second}", headers=AUTH).status_code == 200
    detail = client.get(f"/_mock/orders/{first}").json()
    assert detail["order"]["orderHeader"]["orderStatus"] == "Reserved"
    assert [h["actions"] for h in detail["hooks"]] == [["OrderCreated"], ["OrderReserved"]]
    assert all(h["status"] == "delivered" for h in detail["hooks"])
    calls = [(c["method"], c["path"].rsplit("/", 1)[-1]) for c in detail["calls"]]
    assert calls == [("POST", "CustomerOrders"), ("GET", first)], "the POST that made it and its follow-up read"
    assert client.get("/_mock/orders/999999").status_code == 404
    assert client.get("/_mock/orders", params={"orderStatus": "Reserved"}).json()["total"] == 1


# ---------------------------------------------------------------------------------------------- webhooks
def test_the_wire_shows_each_attempt_as_the_receiver_got_it(client: TestClient, receiver: Receiver) -> None:
    control(client, "POST", "/stock", {"productNumber": "100003", "warehouse": "1", "balanceDifference": 2})
    advance(client, 1)
    delivery = client.get("/_mock/deliveries").json()["items"][0]
    wire = client.get(f"/_mock/deliveries/{delivery['deliveryId']}/wire").json()
    sent = wire["attempts"][0]
    got = receiver.received[0]
    assert sent["body"].encode() == got.body
    assert sent["headers"]["ms-signature"] == got.headers["ms-signature"] == sign(SECRET, got.body)
    assert client.get("/_mock/deliveries/nope/wire").status_code == 404


def test_pausing_a_subscription_keeps_its_secret(client: TestClient, receiver: Receiver) -> None:
    paused = control(client, "PATCH", "/webhooks/shop", {"active": False})
    assert paused["active"] is False and paused["secret"] == "***"
    control(client, "POST", "/stock", {"productNumber": "100003", "warehouse": "1", "balanceDifference": 1})
    advance(client, 1)
    assert receiver.received == []
    control(client, "PATCH", "/webhooks/shop", {"active": True})
    control(client, "POST", "/stock", {"productNumber": "100003", "warehouse": "1", "balanceDifference": 1})
    advance(client, 1)
    assert len(receiver.received) == 1
    hook = receiver.received[0]
    assert verify(SECRET, hook.body, hook.headers["ms-signature"])
    problem = control(client, "PATCH", "/webhooks/shop", {"name": "other"}, status=400)
    assert "ModelState" in problem
    control(client, "PATCH", "/webhooks/nobody", {"active": False}, status=404)
    control(client, "PATCH", "/webhooks/shop", {"triggers": ["NoSuchAction"]}, status=400)


# ---------------------------------------------------------------------------------------------- storms
def test_a_storm_series_counts_every_step_and_delivery_and_the_lag_of_reads(client: TestClient) -> None:
    storm = control(client, "POST", "/storm", {"shape": "constant", "rate": 50, "count": 200, "products": 5,
                                               "warehouses": ["1"]}, status=202)["stormId"]
    advance(client, 2)  # 100 steps
    # a client reads every product's availability after the first two seconds
    assert client.get(f"{API}/ProductAvailability", headers=AUTH,
                      params={"modifiedDateFrom": "2020-01-01T00:00:00"}).status_code == 200
    advance(client, 3)
    data = client.get(f"/_mock/storm/{storm}/series").json()
    s = data["series"]
    assert sum(s["emitted"]) == 200 and sum(s["delivered"]) == 200
    assert s["emitted"][:4] == [49, 50, 50, 50]  # step k at (k + 1) / rate seconds: the 50th falls at 1.000 s
    assert len(s["seconds"]) == len(s["p50LatencyMs"]) == len(s["p99LatencyMs"])
    hist = data["latency"]["histogram"]
    assert sum(hist["counts"]) == 200 and len(hist["edgesMs"]) == len(hist["counts"]) + 1
    assert data["latency"]["percentiles"]["p50"] is not None
    lag = data["lag"]
    # the read at 2 s covered the items changed before it; what changed later was never read
    assert lag["users"] == ["demo"] and 1 <= lag["measured"] <= 5 and lag["unread"] >= 1
    assert 0 < lag["maxMs"] <= 2100
    assert client.get("/_mock/storm/storm-99/series").status_code == 404


def test_counters_catch_up_in_bounded_steps(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from mock_xtnd.ui import dashboard

    monkeypatch.setattr(dashboard, "FOLD_LIMIT", 3)
    for _ in range(7):
        assert client.get(f"{API}/Products/100003", headers=AUTH).status_code == 200
    seen = [client.get("/_mock/stats").json() for _ in range(3)]
    assert [s["api"]["calls"] for s in seen] == [3, 6, 7]
    assert [s["journal"]["foldedTo"] for s in seen] == [3, 6, 7] and seen[-1]["journal"]["lastSeq"] == 7
