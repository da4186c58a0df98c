"""Shared fixtures: one in-process fake per test (virtual clock, seed 1, no transient-failure quirk unless a test
asks for it), a client, the auth header, the API base path, and the truth before/after helpers."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings

USERNAME, PASSWORD = "demo", "demo-secret"
API = "/RESTAPI/v1_0/demo"


def basic(username: str = USERNAME, password: str = PASSWORD) -> dict[str, str]:
    """The header every XTND call carries."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"ExtendBasicAuthorization": f"Basic {token}"}


@pytest.fixture
def settings() -> Settings:
    # transient 400s are a production quirk on by default; tests that are not about them switch it off
    return Settings(clock="virtual", seed=1, quirks={"transient_errors": 0})


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def auth_headers() -> dict[str, str]:
    return basic()


@pytest.fixture
def fetch_state(client: TestClient) -> Callable[[], dict[str, Any]]:
    """``fetch_state()`` -> GET /_mock/state: the truth in summary (balances per product x warehouse, orders)."""

    def fetch() -> dict[str, Any]:
        r = client.get("/_mock/state")
        assert r.status_code == 200, r.text
        state: dict[str, Any] = r.json()
        return state

    return fetch


@pytest.fixture
def fetch_truth(client: TestClient) -> Callable[[], dict[str, Any]]:
    """``fetch_truth()`` -> GET /_mock/truth: every record (orders with their rows, customers, stock), the id
    counters and the outbox. Compare two of them to prove a refused request changed nothing."""

    def fetch() -> dict[str, Any]:
        r = client.get("/_mock/truth")
        assert r.status_code == 200, r.text
        truth: dict[str, Any] = r.json()
        return truth

    return fetch
