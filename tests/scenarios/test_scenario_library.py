"""The scenario library against the reference sync: three representative scenarios in CI (marked e2e), the whole
library with --run-slow. Each must meet its own expectations (negative examples included: theirs say which rule
must fail)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.harness import RunResult, run
from contracts.scenario import load_scenario

from .support import LIBRARY, REFERENCE_SYNC, SCENARIOS

# one order scenario, one attack, one on the virtual clock (a day in ~15 s): about a minute together
REPRESENTATIVE = ["order-happy-path", "forged-signatures", "b2b-campaign-expires"]


def run_file(path: Path) -> RunResult:
    log: list[str] = []
    result = run(load_scenario(path), REFERENCE_SYNC, log=log.append)
    assert result.passed, "\n".join([
        f"{path.name}: expectations not met", *result.expectation_failures, "", result.report.to_text(),
        *(f"note: {n}" for n in result.notes), "--- harness log ---", *log,
        "--- reference sync output ---", *result.client_log.splitlines()[-30:]])
    return result


@pytest.mark.e2e
@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_representative_scenarios(name: str) -> None:
    result = run_file(SCENARIOS / f"{name}.yaml")
    if name == "b2b-campaign-expires":  # the campaign price before the end, the list price after it
        sources = [c["priceSource"] for c in result.metrics["orderPriceChecks"]]
        assert sources == ["Campaign", "Campaign", "PriceList", "PriceList"]
        assert result.duration_seconds < 60


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_whole_library(path: Path) -> None:
    run_file(path)
