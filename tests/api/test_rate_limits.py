"""Rate limits (docs/wire.md, "Rate limits"): rolling windows per endpoint family, each its own bucket, with
x-ratelimit-limit / -remaining / -reset (epoch seconds on the fake's clock) on every authenticated answer, 429 and
Retry-After past the limit; a refused call, an unauthenticated one and an injected fault's answer are not counted."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import Xtnd, advance, assert_message, journal_since, last_seq
from tests.conftest import API, basic

START = 1_767_600_000  # 2026-01-05T08:00:00Z, the virtual clock's start, in epoch seconds


@pytest.fixture
def settings() -> Settings:
    return Settings(clock="virtual", seed=1, quirks={"transient_errors": 0},
                    rate_limits={"default": 4, "window_seconds": 60,
                                 "families": {"ProductAvailability": 6, "Customers": 300}})


@pytest.fixture
def api(client: TestClient) -> Xtnd:
    return Xtnd(client)


def limits(r: object) -> tuple[int, int, int]:
    h = r.headers  # type: ignore[attr-defined]
    return int(h["x-ratelimit-limit"]), int(h["x-ratelimit-remaining"]), int(h["x-ratelimit-reset"])


def test_every_authenticated_answer_carries_the_limit_headers(api: Xtnd) -> None:
    answers = [api.get("Products/100003"), api.get("Products/NO%20SUCH"), api.get("Products?pageCount=0"),
               api.get("Products")]
    assert [r.status_code for r in answers] == [200, 404, 400, 200]
    assert [limits(r) for r in answers] == [(4, 3, START + 60), (4, 2, START + 60), (4, 1, START + 60),
                                            (4, 0, START + 60)]


def test_past_the_limit_a_429_with_retry_after(client: TestClient, api: Xtnd) -> None:
    for _ in range(4):
        assert api.get("Products/100003").status_code == 200
    seq = last_seq(client)
    r = api.get("Products/100003")
    assert_message(r, 429, contains="Too many requests")
    assert r.headers["retry-after"] == "60"
    assert limits(r) == (4, 0, START + 60)
    (rec,) = journal_since(client, seq)
    assert (rec["status"], rec["errorKind"], rec["retryAfter"], rec["rateFamily"]) == (429, "Throttled", 60,
                                                                                       "Products")


def test_the_standard_limit_says_so() -> None:
    with TestClient(create_app(Settings(clock="virtual", seed=1, quirks={"transient_errors": 0}))) as c:
        api = Xtnd(c)
        answers = [api.get("Customers/10001") for _ in range(301)]
        assert [r.status_code for r in answers[:300]] == [200] * 300
        assert limits(answers[0]) == (300, 299, START + 60)
        assert answers[300].json() == {"Message": "Too many requests (Rate limit = Standard)."}


def test_families_have_separate_buckets_and_limits(api: Xtnd) -> None:
    for _ in range(4):
        api.get("Products/100003")
    assert api.get("Products/100003").status_code == 429
    # every other family still has its whole budget
    assert limits(api.get("ProductAvailability/100003/1")) == (6, 5, START + 60)
    assert limits(api.get("Customers/10001")) == (300, 299, START + 60)
    assert limits(api.get("CustomerOrders", params={"orderNumberExternal": "X"})) == (4, 3, START + 60)
    assert limits(api.get("WarehouseStockLevels", params={"warehouse": "1"})) == (4, 3, START + 60)
    assert limits(api.get("ProductPrices", params={"customerNumber": "10001"})) == (4, 3, START + 60)


def test_a_family_counts_all_of_its_operations(api: Xtnd) -> None:
    """GET list, GET one, POST, PUT, DELETE of CustomerOrders share one bucket."""
    assert limits(api.get("CustomerOrders", params={"orderNumberExternal": "X"}))[1] == 3
    assert limits(api.get("CustomerOrders/999999"))[1] == 2
    assert limits(api.delete("CustomerOrders/999999"))[1] == 1
    assert limits(api.put("CustomerOrders/999999", json={"orderHeader": {}, "orderRows": []}))[1] == 0
    assert api.post("CustomerOrders", json={}).status_code == 429


def test_the_window_rolls_with_the_clock_and_a_refused_call_is_not_counted(client: TestClient, api: Xtnd) -> None:
    for t in (0, 20, 40):
        if t:
            advance(client, 20)
        assert api.get("Products/100003").status_code == 200
    advance(client, 10)  # t = 50
    assert limits(api.get("Products/100003")) == (4, 0, START + 60)  # the fourth
    refused = api.get("Products/100003")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "10"
    advance(client, 10)  # t = 60: the call at 0 leaves the window
    assert limits(api.get("Products/100003")) == (4, 0, START + 80)
    assert api.get("Products/100003").status_code == 429
    advance(client, 20)  # t = 80: the call at 20 leaves; the refused ones never counted
    assert limits(api.get("Products/100003")) == (4, 0, START + 100)
    advance(client, 60)  # t = 140: all gone
    assert limits(api.get("Products/100003")) == (4, 3, START + 200)


def test_unauthenticated_and_unknown_calls_are_not_counted(client: TestClient, api: Xtnd) -> None:
    for _ in range(10):
        assert client.get(f"{API}/Products/100003", headers=basic("demo", "wrong")).status_code == 401
        assert client.get(f"{API}/Productz/100003", headers=basic()).status_code == 404
        assert client.delete(f"{API}/Products", headers=basic()).status_code == 405
    assert limits(api.get("Products/100003")) == (4, 3, START + 60)


def test_an_injected_fault_does_not_use_up_the_limit(client: TestClient, api: Xtnd) -> None:
    for fault in ({"kind": "status", "status": 500, "route": "Products*", "times": 3},
                  {"kind": "transient", "message": "timeout", "route": "Products*", "times": 3},
                  {"kind": "status", "status": 429, "route": "Products*", "times": 3, "retryAfter": 2}):
        assert client.post("/_mock/faults", json=fault).status_code == 201
    statuses = [api.get("Products/100003", extra=[500]).status_code for _ in range(9)]
    assert statuses == [500] * 3 + [400] * 3 + [429] * 3
    assert limits(api.get("Products/100003")) == (4, 3, START + 60)


def test_limits_come_from_the_config_per_family() -> None:
    s = Settings(clock="virtual", seed=1, quirks={"transient_errors": 0},
                 rate_limits={"default": 2, "window_seconds": 10, "families": {"Products": 3}})
    with TestClient(create_app(s)) as c:
        api = Xtnd(c)
        assert [api.get("Products/100003").status_code for _ in range(4)] == [200, 200, 200, 429]
        assert [api.get("Customers/10001").status_code for _ in range(3)] == [200, 200, 429]
        r = api.get("Customers/10001")
        assert r.json()["Message"] == "Too many requests (Rate limit = Customers 2)."
        assert r.headers["retry-after"] == "10"
        advance(c, 10)
        assert api.get("Customers/10001").status_code == 200
