"""Three rate-limit groups per client per rolling minute, their headers, and 429 Throttled with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import assert_error, order_body

FORM = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo-secret"}


@pytest.fixture
def small() -> Iterator[TestClient]:
    app = create_app(Settings(clock="virtual", rate_limits={"standard": 4, "list": 3, "write": 2},
                              clients=[{"client_id": "demo", "client_secret": "demo-secret"},
                                       {"client_id": "other", "client_secret": "x"}]))
    with TestClient(app) as c:
        yield c


def bearer(c: TestClient, client_id: str = "demo", secret: str = "demo-secret") -> dict[str, str]:
    token = c.post("/api/token", data={**FORM, "client_id": client_id, "client_secret": secret}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_every_api_response_carries_the_rate_limit_headers_with_the_documented_defaults(
    client: TestClient, auth_headers: dict[str, str]
) -> None:
    expected = {"/api/Products/100003": 300, "/api/ProductAvailability": 300,
                "/api/ProductPrices?customerNumber=10001": 300, "/api/Products": 60, "/api/Customers": 60,
                "/api/CustomerOrders": 60}
    used = {300: 0, 60: 0}  # a group's calls share one budget
    for path, limit in expected.items():
        r = client.get(path, headers=auth_headers)
        used[limit] += 1
        assert r.headers["x-ratelimit-limit"] == str(limit), path
        assert int(r.headers["x-ratelimit-remaining"]) == limit - used[limit], path
        assert 0 <= int(r.headers["x-ratelimit-reset"]) <= 60
    write = client.post("/api/CustomerOrders", headers=auth_headers, json=order_body())
    assert write.headers["x-ratelimit-limit"] == "120"
    refused = client.get("/api/Products/NOPE", headers=auth_headers)
    assert refused.status_code == 404
    assert refused.headers["x-ratelimit-limit"] == "300", "errors carry the headers too"


def test_exceeding_the_list_group_is_429_throttled_until_the_window_rolls(small: TestClient) -> None:
    h = bearer(small)
    remaining = [int(small.get("/api/Products", headers=h).headers["x-ratelimit-remaining"]) for _ in range(3)]
    assert remaining == [2, 1, 0]
    r = small.get("/api/Customers", headers=h)  # same group, another list
    assert_error(r, 429, "Throttled", "RateLimit")
    assert r.headers["x-ratelimit-limit"] == "3"
    assert r.headers["x-ratelimit-remaining"] == "0"
    retry_after = int(r.headers["retry-after"])
    assert 1 <= retry_after <= 60
    # other groups and other clients are counted apart
    assert small.get("/api/Products/100003", headers=h).status_code == 200
    assert small.get("/api/Products", headers=bearer(small, "other", "x")).status_code == 200
    small.post("/_mock/clock/advance", json={"Seconds": retry_after - 1})
    assert small.get("/api/Products", headers=h).status_code == 429, "still inside the rolling minute"
    small.post("/_mock/clock/advance", json={"Seconds": 1})
    assert small.get("/api/Products", headers=h).status_code == 200


def test_a_refused_call_is_not_counted_and_the_window_is_rolling(small: TestClient) -> None:
    h = bearer(small)
    for _ in range(3):
        assert small.get("/api/Products", headers=h).status_code == 200
        small.post("/_mock/clock/advance", json={"Seconds": 20})
    # calls at t=0, 20, 40; now t=60: the first has left the window, the others have not
    assert small.get("/api/Products", headers=h).status_code == 200
    for _ in range(5):
        assert small.get("/api/Products", headers=h).status_code == 429
    small.post("/_mock/clock/advance", json={"Seconds": 20})
    assert small.get("/api/Products", headers=h).status_code == 200


def test_write_group_and_token_exemption(small: TestClient) -> None:
    h = bearer(small)
    for i in range(2):
        assert small.post("/api/CustomerOrders", headers=h, json=order_body(f"RL-{i}")).status_code == 201
    over = small.post("/api/CustomerOrders", headers=h, json=order_body("RL-9"))
    assert_error(over, 429, "Throttled")
    assert "Write" in over.json()["Message"]
    for _ in range(10):
        assert small.post("/api/token", data=FORM).status_code == 200, "/api/token is exempt"


def test_a_throttled_write_changes_nothing(small: TestClient) -> None:
    h = bearer(small)
    for i in range(2):
        small.post("/api/CustomerOrders", headers=h, json=order_body(f"T-{i}"))
    before = small.get("/_mock/state").json()
    assert small.post("/api/CustomerOrders", headers=h, json=order_body("T-9")).status_code == 429
    assert small.get("/_mock/state").json() == before


def test_answers_made_by_injected_faults_never_use_up_the_clients_rate_limit(small: TestClient) -> None:
    h = bearer(small)
    fault = small.post("/_mock/faults", json={"Kind": "status", "Status": 503, "Route": "/api/Customers", "Times": 5})
    assert fault.status_code == 201
    for _ in range(5):  # the List group allows 3 per minute; these five are the harness's, not the client's
        r = small.get("/api/Customers", headers=h)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
    for i in range(3):
        r = small.get("/api/Customers", headers=h)
        assert r.status_code == 200, (i, r.text)
    assert_error(small.get("/api/Customers", headers=h), 429, "Throttled")
    journal = small.get("/_mock/journal", params={"kind": "api", "path": "/api/Customers"}).json()["Items"]
    assert [(j["Status"], j["Fault"]) for j in journal] == [(503, "status:503")] * 5 + [(200, None)] * 3 + [(429, None)]
