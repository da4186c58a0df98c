"""Shared fixtures: one in-process fake per test (virtual clock, seed 1), a client and a token for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings

CLIENT_ID, CLIENT_SECRET = "demo", "demo-secret"


@pytest.fixture
def settings() -> Settings:
    return Settings(clock="virtual", seed=1)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _token(client: TestClient, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
    r = client.post(
        "/api/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


@pytest.fixture
def auth_headers(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(client)}"}


@pytest.fixture
def fetch_state(client: TestClient) -> Callable[[], dict[str, Any]]:
    """``fetch_state()`` -> GET /_mock/state: the truth (balances per product x warehouse, orders with status)."""

    def fetch() -> dict[str, Any]:
        r = client.get("/_mock/state")
        assert r.status_code == 200, r.text
        state: dict[str, Any] = r.json()
        return state

    return fetch
