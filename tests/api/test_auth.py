"""Authentication (docs/wire.md, "Authentication"): ``ExtendBasicAuthorization: Basic base64(user:password)`` on
every call, nothing else; a missing or wrong one is a 401 with ASP.NET's body, decided before the body is read."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.xtnd_support import UNAUTHORIZED, Xtnd, journal_since, last_seq, order_body, row
from tests.conftest import API, basic

GOOD = base64.b64encode(b"demo:demo-secret").decode()

BAD_HEADERS: list[tuple[str, dict[str, str]]] = [
    ("no header", {}),
    ("the standard Authorization header", {"Authorization": f"Basic {GOOD}"}),
    ("a bearer token in Authorization", {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"}),
    ("a bearer token in the XTND header", {"ExtendBasicAuthorization": f"Bearer {GOOD}"}),
    ("another scheme", {"ExtendBasicAuthorization": f"Digest {GOOD}"}),
    ("no scheme", {"ExtendBasicAuthorization": GOOD}),
    ("empty value", {"ExtendBasicAuthorization": ""}),
    ("scheme only", {"ExtendBasicAuthorization": "Basic"}),
    ("not base64", {"ExtendBasicAuthorization": "Basic ***not-base64***"}),
    ("base64 of no colon", {"ExtendBasicAuthorization": "Basic " + base64.b64encode(b"demo").decode()}),
    ("base64 of bad UTF-8", {"ExtendBasicAuthorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()}),
    ("wrong password", basic("demo", "demo-secreT")),
    ("empty password", basic("demo", "")),
    ("password with a suffix", basic("demo", "demo-secret ")),
    ("unknown user", basic("nobody", "demo-secret")),
    ("user in another case", basic("DEMO", "demo-secret")),
]


@pytest.mark.parametrize("headers", [h for _, h in BAD_HEADERS], ids=[n for n, _ in BAD_HEADERS])
def test_missing_or_wrong_credentials_are_a_401_with_aspnets_body(client: TestClient,
                                                                  headers: dict[str, str]) -> None:
    r = client.get(f"{API}/Products/100003", headers=headers)
    assert r.status_code == 401, r.text
    assert r.json() == UNAUTHORIZED


def test_the_header_name_is_case_insensitive_and_the_right_credentials_pass(client: TestClient) -> None:
    for name in ("ExtendBasicAuthorization", "extendbasicauthorization", "EXTENDBASICAUTHORIZATION"):
        r = client.get(f"{API}/Products/100003", headers={name: f"Basic {GOOD}"})
        assert r.status_code == 200, (name, r.text)


# every operation of the issue 11 set, with a body where it takes one
OPERATIONS: list[tuple[str, str, Any]] = [
    ("GET", "CustomerOrders", None), ("POST", "CustomerOrders", order_body([row("100003")])),
    ("GET", "CustomerOrders/100001", None), ("PUT", "CustomerOrders/100001", order_body([row("100003")])),
    ("DELETE", "CustomerOrders/100001", None), ("GET", "Products", None), ("GET", "Products/100003", None),
    ("GET", "ProductAvailability", None), ("GET", "ProductAvailability/100003/1", None),
    ("GET", "ProductPrices?customerNumber=10001", None), ("GET", "Customers", None),
    ("POST", "Customers", {"name": "X"}), ("GET", "Customers/10001", None), ("PUT", "Customers/10001", {"name": "X"}),
    ("GET", "WarehouseStockLevels?warehouse=1", None),
    ("PUT", "WarehouseStockLevels", {"warehouse": "1", "productNumber": "100003", "balanceDifference": 5}),
    ("POST", "WarehouseStockLevels", {"warehouse": "1", "productNumber": "100003", "balance": 5}),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_operation_needs_the_header_and_an_unauthenticated_call_changes_nothing(
    client: TestClient, fetch_truth: Callable[[], dict[str, Any]], method: str, path: str, body: Any
) -> None:
    before = fetch_truth()
    r = client.request(method, f"{API}/{path}", json=body, headers={"Authorization": f"Basic {GOOD}"})
    assert r.status_code == 401, r.text
    assert r.json() == UNAUTHORIZED
    assert fetch_truth() == before


def test_an_unauthenticated_upload_is_refused_before_its_body_is_read(client: TestClient) -> None:
    """A body far past the limit gets 401, not 413, and the journal holds nothing of it."""
    seq = last_seq(client)
    big = b'{"orderHeader": {"customerNumber": "10001", "notes": "' + b"x" * 3_000_000 + b'"}, "orderRows": []}'
    r = client.post(f"{API}/CustomerOrders", content=big,
                    headers={"content-type": "application/json", **basic("demo", "wrong")})
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED
    (rec,) = journal_since(client, seq)
    assert (rec["status"], rec["errorKind"], rec["user"]) == (401, "Unauthorized", None)
    assert rec["body"] is None and rec["bodySha256"] is None
    assert rec["rateFamily"] is None and rec["resultKey"] is None


def test_an_authenticated_call_names_its_user_in_the_journal(client: TestClient) -> None:
    seq = last_seq(client)
    Xtnd(client).ok("GET", "Products/100003")
    client.get(f"{API}/Products/100003", headers=basic("demo", "nope"))
    ok, refused = journal_since(client, seq)
    assert (ok["user"], ok["errorKind"], ok["message"]) == ("demo", None, None)
    assert (refused["user"], refused["errorKind"], refused["message"]) == (None, "Unauthorized", UNAUTHORIZED["Message"])


def test_changing_a_password_makes_the_old_one_fail(client: TestClient) -> None:
    assert client.get(f"{API}/Products/100003", headers=basic()).status_code == 200
    r = client.put("/_mock/users", json=[{"username": "demo", "password": "new-secret"},
                                         {"username": "shop2", "password": "other"}])
    assert r.status_code == 200, r.text
    assert all(u["password"] == "***" for u in r.json()["items"])
    old = client.get(f"{API}/Products/100003", headers=basic())
    assert old.status_code == 401 and old.json() == UNAUTHORIZED
    assert client.get(f"{API}/Products/100003", headers=basic("demo", "new-secret")).status_code == 200
    assert client.get(f"{API}/Products/100003", headers=basic("shop2", "other")).status_code == 200
    # and removing a user locks it out at once
    client.put("/_mock/users", json=[{"username": "shop2", "password": "other"}])
    assert client.get(f"{API}/Products/100003", headers=basic("demo", "new-secret")).status_code == 401


@pytest.mark.parametrize("users", [[], [{"username": "a:b", "password": "x"}], [{"username": "a", "password": ""}],
                                   [{"username": "a", "password": "x"}, {"username": "a", "password": "y"}],
                                   {"username": "a", "password": "x"}])
def test_bad_user_lists_are_refused_and_keep_the_users(client: TestClient, users: Any) -> None:
    r = client.put("/_mock/users", json=users)
    assert r.status_code == 400, r.text
    assert "Message" in r.json()
    assert client.get(f"{API}/Products/100003", headers=basic()).status_code == 200
