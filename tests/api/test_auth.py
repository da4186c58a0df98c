"""OAuth2 client credentials at POST /api/token; 401 envelopes for missing, wrong and expired tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import assert_error

FORM = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo-secret"}


def test_token_endpoint_issues_a_bearer_token_that_opens_the_api(client: TestClient) -> None:
    r = client.post("/api/token", data=FORM)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    ok = client.get("/api/Products/100003", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert ok.status_code == 200
    assert ok.json()["ProductNumber"] == "100003"


def test_token_endpoint_is_case_insensitive_and_not_rate_limited(client: TestClient) -> None:
    r = client.post("/API/TOKEN", data=FORM)
    assert r.status_code == 200
    assert "x-ratelimit-limit" not in r.headers


@pytest.mark.parametrize(
    ("form", "status", "error_type", "field"),
    [
        ({**FORM, "client_secret": "wrong"}, 401, "Unauthorized", "client_id"),
        ({**FORM, "client_id": "nobody"}, 401, "Unauthorized", "client_id"),
        ({**FORM, "grant_type": "password"}, 400, "Validation", "grant_type"),
        ({"client_id": "demo", "client_secret": "demo-secret"}, 400, "Validation", "grant_type"),
    ],
)
def test_bad_token_requests_are_refused_in_the_envelope(
    client: TestClient, form: dict[str, str], status: int, error_type: str, field: str
) -> None:
    assert_error(client.post("/api/token", data=form), status, error_type, field)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic ZGVtbzpkZW1vLXNlY3JldA=="},
        {"Authorization": "Bearer "},
    ],
    ids=["missing", "wrong", "not-bearer", "empty"],
)
def test_every_api_call_without_a_good_token_is_401_unauthorized(client: TestClient, headers: dict[str, str]) -> None:
    calls = [("GET", "/api/Products"), ("GET", "/api/Products/100003"), ("POST", "/api/CustomerOrders"),
             ("GET", "/api/ProductAvailability"), ("GET", "/api/ProductPrices?customerNumber=10001"),
             ("PUT", "/api/CustomerOrders/100001"), ("POST", "/api/CustomerOrders/100001/cancel"),
             ("GET", "/api/CustomerOrders"), ("GET", "/api/Customers"), ("GET", "/api/Customers/10001"),
             ("POST", "/api/Customers")]
    for method, path in calls:
        r = client.request(method, path, headers=headers, json={})
        assert_error(r, 401, "Unauthorized", "Authorization")
        assert r.headers["www-authenticate"].startswith("Bearer"), path


def test_expired_tokens_get_401_and_a_new_token_works(client: TestClient, auth_headers: dict[str, str]) -> None:
    assert client.get("/api/Products/100003", headers=auth_headers).status_code == 200
    assert client.post("/_mock/tokens/expire").json()["Expired"] >= 1
    body = assert_error(client.get("/api/Products/100003", headers=auth_headers), 401, "Unauthorized", "Authorization")
    assert "expired" in body["Message"].lower()
    fresh = client.post("/api/token", data=FORM).json()["access_token"]
    assert client.get("/api/Products/100003", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_tokens_expire_after_their_lifetime_on_the_virtual_clock() -> None:
    app = create_app(Settings(clock="virtual", token_lifetime_seconds=60))
    with TestClient(app) as c:
        token = c.post("/api/token", data=FORM).json()
        assert token["expires_in"] == 60
        h = {"Authorization": f"Bearer {token['access_token']}"}
        c.post("/_mock/clock/advance", json={"Seconds": 59})
        assert c.get("/api/Products/100003", headers=h).status_code == 200
        c.post("/_mock/clock/advance", json={"Seconds": 1})
        assert_error(c.get("/api/Products/100003", headers=h), 401, "Unauthorized")


def test_configured_clients_are_the_only_ones_let_in() -> None:
    app = create_app(Settings(clock="virtual", clients=[{"client_id": "shop", "client_secret": "s3cret"}]))
    with TestClient(app) as c:
        assert_error(c.post("/api/token", data=FORM), 401, "Unauthorized")
        ok = c.post("/api/token", data={**FORM, "client_id": "shop", "client_secret": "s3cret"})
        assert ok.status_code == 200
