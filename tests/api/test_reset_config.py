"""POST /_mock/reset goes back to the config's users and quirks, whatever /_mock changed meanwhile."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import API, basic

JSON = {"X-Mock-Xtnd": "1"}


def test_reset_restores_the_configs_quirks_and_users(client: TestClient) -> None:
    before = client.get("/_mock/quirks").json()
    assert before["transientErrors"] == 0.0 and before["pagePastEnd400"] is True
    changed = client.put("/_mock/quirks", json={"transientErrors": 0.5, "pagePastEnd400": False}).json()
    assert changed["transientErrors"] == 0.5 and changed["pagePastEnd400"] is False
    assert client.put("/_mock/users", json=[{"username": "other", "password": "pw"}]).status_code == 200
    assert client.get(f"{API}/Products/100003", headers=basic()).status_code == 401

    assert client.post("/_mock/reset", headers=JSON).status_code == 200

    assert client.get("/_mock/quirks").json() == before
    assert client.get(f"{API}/Products/100003", headers=basic()).status_code == 200
    assert client.get(f"{API}/Products/100003", headers=basic("other", "pw")).status_code == 401
