"""The control surface refuses what it was not meant for (issue 12, item 7): requests a browser could send from
another site, bodies past a limit, storms past a cap, callers without the admin token when one is set, and
quantities past XTND's 32-bit integers on every surface. Before the fix a web page could make the developer's browser
post ``/_mock/reset`` or ``/_mock/orders/N/cancel`` (no body, no preflight), bodies had no limit, storms took up to
5,000,000 steps, and summed quantities took balances past 2,147,483,647."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.support.xtnd import API, CONTROL, basic, order_body, row

INT32 = 2**31 - 1
TOKEN = "t0k3n-0123456789abcdef"


def small(**extra: Any) -> Settings:
    return Settings(clock="virtual", quirks={"transient_errors": 0}, catalogue={"products": 20, "customers": 5},
                    **extra)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(small())) as c:
        yield c


def state_changing_routes(c: TestClient) -> list[tuple[str, str]]:
    spec = c.get("/_mock/openapi.json").json()
    out = []
    for path, ops in spec["paths"].items():
        for method in ops:
            if method.upper() not in ("GET", "HEAD", "OPTIONS"):
                concrete = path.replace("{orderNumber}", "100001").replace("{purchaseNumber}", "400001")
                out.append((method.upper(), "/_mock" + concrete.replace("{", "").replace("}", "")))
    return out


BROWSER_CAN_SEND = {
    "no body": {},
    "text/plain": {"content": b'{"seconds": 1}', "headers": {"Content-Type": "text/plain"}},
    "a form": {"content": b"seconds=1", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    "multipart": {"files": {"f": ("a.txt", b"x")}},
    "json hidden in text": {"content": b"{}", "headers": {"Content-Type": "text/plain; application/json"}},
}


def test_every_state_changing_call_refuses_what_a_browser_could_send_from_another_site(client: TestClient) -> None:
    routes = state_changing_routes(client)
    assert ("POST", "/_mock/reset") in routes and ("DELETE", "/_mock/faults") in routes and len(routes) > 25
    before = client.get("/_mock/truth").json()
    for method, path in routes:
        for how, kwargs in BROWSER_CAN_SEND.items():
            r = client.request(method, path, **kwargs)
            assert r.status_code == 403, (method, path, how, r.status_code, r.text)
            assert "X-Mock-Xtnd" in r.json()["Message"]
    assert client.get("/_mock/truth").json() == before, "nothing changed"
    # reads are unaffected; a JSON body or the custom header gets through (to the route's own checks)
    assert client.get("/_mock/state").status_code == 200
    assert client.post("/_mock/reset", headers=CONTROL).status_code == 200
    assert client.post("/_mock/clock/advance", json={"seconds": 1}).status_code == 200
    assert client.post("/_mock/clock/advance", content=b'{"seconds": 1}',
                       headers={"Content-Type": "application/json; charset=utf-8"}).status_code == 200


def test_a_preflight_is_never_granted(client: TestClient) -> None:
    r = client.options("/_mock/reset", headers={"Origin": "http://evil.example",
                                                "Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "x-mock-xtnd"})
    assert "access-control-allow-origin" not in r.headers and r.status_code >= 400


def test_bodies_past_the_limit_are_refused_before_they_are_read() -> None:
    with TestClient(create_app(small(admin_max_body_bytes=4096))) as c:
        big = {"productNumber": "100003", "warehouse": "1", "balanceDifference": 1, "pad": "x" * 10_000}
        r = c.post("/_mock/stock", json=big)
        assert r.status_code == 413 and r.json() == {"Message": "The request body is larger than 4096 bytes."}
        assert c.post("/_mock/stock", json={"productNumber": "100003", "warehouse": "1",
                                            "balanceDifference": 1}).status_code == 200


def test_storms_are_capped_by_configuration() -> None:
    with TestClient(create_app(small(storm_max_steps=1000))) as c:
        r = c.post("/_mock/storm", json={"rate": 10, "count": 1001})
        assert r.status_code == 400 and "count" in r.json()["ModelState"]
        r = c.post("/_mock/storm", json={"rate": 100, "durationSeconds": 20})
        assert r.status_code == 400 and "rate" in r.json()["ModelState"]
        assert c.post("/_mock/storm", json={"rate": 10, "count": 1000}).status_code == 202
    with TestClient(create_app(small())) as c:  # the default cap: a million steps
        assert c.post("/_mock/storm", json={"rate": 1000, "count": 1_000_001}).status_code == 400


def test_an_admin_token_guards_every_control_call_and_nothing_else() -> None:
    with TestClient(create_app(small(admin_token=TOKEN))) as c:
        for method, path in (("GET", "/_mock/state"), ("GET", "/_mock/truth"), ("POST", "/_mock/reset")):
            for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}):
                r = c.request(method, path, headers={**CONTROL, **headers})
                assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer"), (path, headers)
            good = c.request(method, path, headers={**CONTROL, "Authorization": f"Bearer {TOKEN}"})
            assert good.status_code == 200
        assert c.get(f"{API}/Products/100003", headers=basic()).status_code == 200, "the API has its own auth"
    with pytest.raises(ValueError):
        small(admin_token="short")


def test_binding_beyond_loopback_is_warned_about() -> None:
    from mock_xtnd.cli import exposure_warning

    assert exposure_warning(small()) is None
    assert exposure_warning(small(host="::1")) is None
    assert exposure_warning(small(host="localhost")) is None
    warning = exposure_warning(small(host="0.0.0.0"))
    assert warning is not None and "admin_token" in warning and "0.0.0.0" in warning
    guarded = exposure_warning(small(host="192.168.1.10", admin_token=TOKEN))
    assert guarded is not None and "Bearer" in guarded


# ---------------------------------------------------------------------------------------------- 32-bit integers
def test_balances_stay_within_32_bit_integers_on_every_surface(client: TestClient) -> None:
    h = basic()

    def refused(r: Any, names: str) -> None:
        assert r.status_code == 400, r.text
        body = r.json()
        assert names in body["Message"] or names in str(body.get("ModelState", {})), body

    assert client.post("/_mock/stock", json={"productNumber": "100003", "warehouse": "1",
                                             "physicalBalance": INT32 - 5}).status_code == 200
    before = client.get("/_mock/truth").json()
    # the API: an adjustment, and two rows of one order whose sum would overflow the ordered quantity
    refused(client.put(f"{API}/WarehouseStockLevels", headers=h, json={
        "warehouse": "1", "productNumber": "100003", "balanceDifference": 10}), "physicalBalance")
    refused(client.post(f"{API}/CustomerOrders", headers=h, json=order_body("BIG", [
        row("100004", INT32), row("100004", 5)])), "orderedQuantity")
    # the control surface
    refused(client.post("/_mock/stock", json={"productNumber": "100003", "warehouse": "1", "balanceDifference": 6}),
            "physicalBalance")
    refused(client.post("/_mock/stock", json={"productNumber": "100003", "warehouse": "1",
                                              "physicalBalance": INT32 + 1}), "physicalBalance")
    assert client.get("/_mock/truth").json() == before
    # the back office: goods arriving, another channel's reservations, expected receivings
    po = client.post("/_mock/backoffice/purchases", json={"warehouse": "1", "rows": [
        {"productNumber": "100003", "quantity": 10}]})
    assert po.status_code == 201
    before = client.get("/_mock/truth").json()
    refused(client.post(f"/_mock/backoffice/purchases/{po.json()['purchaseNumber']}/receive", json={}),
            "physicalBalance")
    assert client.get("/_mock/truth").json() == before
    for _ in range(2):  # 2 x 1,000,000 fits; the next one past 2,147,483,647 does not
        assert client.post("/_mock/backoffice/channel-sales", json={
            "productNumber": "100005", "warehouse": "1", "quantity": 1_000_000, "mode": "reserve"}).status_code == 200
    assert client.post(f"{API}/CustomerOrders", headers=h, json=order_body("NEAR", [
        row("100005", INT32 - 2_000_001)])).status_code == 200
    before = client.get("/_mock/truth").json()
    refused(client.post("/_mock/backoffice/channel-sales", json={
        "productNumber": "100005", "warehouse": "1", "quantity": 5, "mode": "reserve"}), "orderedQuantity")
    assert client.get("/_mock/truth").json() == before
    purchase = {"warehouse": "2", "rows": [{"productNumber": "100008", "quantity": 1_000_000}] * 1000}
    for _ in range(2):  # 2 x 1,000,000,000 expected fits
        assert client.post("/_mock/backoffice/purchases", json=purchase).status_code == 201
    before = client.get("/_mock/truth").json()
    refused(client.post("/_mock/backoffice/purchases", json=purchase), "quantity")
    assert client.get("/_mock/truth").json() == before
    availability = client.get(f"{API}/ProductAvailability/100008/2", headers=h).json()
    assert availability["totalExpectedReceivingFromPurchase"] == 2_000_000_000
