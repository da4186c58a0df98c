"""Fixtures shared by the API tests: ``api`` (the client that checks every answer's status against the facts) and,
for the modules marked ``capture``, ``settings`` with a subscription to every webhook action whose first attempt
lies an hour ahead on the virtual clock, so the outbox shows each event a request caused (the tests move the clock
by less). Unmarked modules keep the suite's default settings (tests/conftest.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.domain.events import ACTIONS
from mock_xtnd.settings import Settings
from tests.api.xtnd_support import CAPTURE, CAPTURE_DELAY, Xtnd


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "capture: the outbox captures every webhook action (tests/api/conftest.py)")


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The suite's settings (virtual clock, seed 1, no transient 400s); in a ``capture`` module, with a capture
    subscription to every action (CAPTURE's, widened to the purchase, offer and invoice-change hooks)."""
    if request.node.get_closest_marker("capture") is None:
        return settings
    capture = {**CAPTURE, "triggers": list(ACTIONS)}
    return Settings(clock="virtual", seed=1, quirks={"transient_errors": 0}, subscriptions=[capture],
                    delivery_faults=CAPTURE_DELAY)


@pytest.fixture
def api(client: TestClient) -> Xtnd:
    return Xtnd(client)
