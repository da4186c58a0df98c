"""Schemathesis against the in-process app: examples, coverage and fuzzing per operation, then the stateful phase
over the spec's links. Checks: no 5xx, every response as the spec says (status, content type, headers, schema),
negative data rejected with a 4xx, auth not ignored.

Kept quick (a small hypothesis budget, fixed seed) so this file runs well under 90 s on 2 cores; raise
SCHEMATHESIS_EXAMPLES locally for a deeper run.
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
STATEFUL_EXAMPLES = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "15"))

# rate limits far out of the fuzzer's way; a small catalogue keeps every list cheap
APP = create_app(Settings(clock="virtual", seed=1,
                          rate_limits={"standard": 1_000_000, "list": 1_000_000, "write": 1_000_000},
                          catalogue={"products": 60, "customers": 10}))


def _token() -> str:
    with TestClient(APP) as c:
        r = c.post("/api/token", data={"grant_type": "client_credentials", "client_id": "demo",
                                       "client_secret": "demo-secret"})
        assert r.status_code == 200
        token: str = r.json()["access_token"]
        return token


AUTH = {"Authorization": f"Bearer {_token()}"}  # virtual clock: it never expires during the run

CONFIG = SchemathesisConfig.from_dict({
    "seed": 20260105,
    "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"max-steps": 8}},
    "checks": {
        "enabled": True,
        # 422 is XTND's "well-formed but wrong" (contract §2): a reference to a customer, warehouse or price list
        # that does not exist. A schema cannot say which numbers exist, so schema-valid data may rightly get it.
        "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "409", "422"]},
    },
    "headers": AUTH,
})

schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck), derandomize=True)
def test_every_operation_conforms(case: Any) -> None:
    case.call_and_validate()


class XtndStateMachine(schema.as_state_machine()):  # type: ignore[misc]
    def setup(self) -> None:
        # every scenario starts from the seeded state, so a replayed scenario sees the same answers
        APP.state.runtime.reset()


TestStateful = XtndStateMachine.TestCase
TestStateful.settings = hypothesis.settings(
    max_examples=STATEFUL_EXAMPLES, stateful_step_count=8, deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck), derandomize=True)


def test_the_stateful_phase_has_links_to_follow() -> None:
    """The stateful phase is only as deep as the links: without them it would silently test nothing."""
    bundles = set(schema.as_state_machine().bundles)
    # what a created order or customer leads to (read, change, cancel, prices) is followed from its response
    assert {"POST /api/CustomerOrders -> 201", "POST /api/CustomerOrders -> 200", "POST /api/Customers -> 201",
            "GET /api/Products -> 200", "GET /api/CustomerOrders -> 200"} <= bundles, sorted(bundles)


@pytest.fixture(autouse=True, scope="module")
def _app_stays_healthy() -> Any:
    yield
    assert APP.state.runtime.errors == [], "the fake logged internal errors while being fuzzed"
