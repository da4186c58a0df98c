"""Test profiles: CI runs everything but the long runs marked ``slow`` (use --run-slow, or the nightly profile),
and hypothesis uses a quick profile in CI and a thorough one for nightly runs (HYPOTHESIS_PROFILE=nightly)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="also run the long tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long run: use --run-slow (nightly profile)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
