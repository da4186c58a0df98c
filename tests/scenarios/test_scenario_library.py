"""The whole scenario library against the reference sync, in CI (marked e2e): every file must meet its own
expectations (negative examples included: theirs say which rule must fail).

The files run four at a time in worker processes (each a fake and a reference sync of its own, sharing nothing): a
harness run mostly waits on its timeline, so the library takes about two minutes instead of nine.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from .support import LIBRARY, REFERENCE_SYNC

WORKERS = 4


def run_file(path: Path) -> dict[str, Any]:
    """One harness run, in a worker: whether it met its expectations, and everything needed to say why not."""
    from contracts.harness import run
    from contracts.scenario import load_scenario

    log: list[str] = []
    result = run(load_scenario(path), REFERENCE_SYNC, log=log.append)
    explanation = "\n".join([
        f"{path.name}: expectations not met", *result.expectation_failures, "", result.report.to_text(),
        *(f"note: {n}" for n in result.notes), "--- harness log ---", *log,
        "--- reference sync output ---", *result.client_log.splitlines()[-30:]])
    return {"passed": result.passed, "explanation": explanation,
            "priceSources": [c["priceSource"] for c in result.metrics.get("orderPriceChecks", [])]}


@pytest.fixture(scope="module")
def library_results() -> dict[str, dict[str, Any]]:
    # spawn, not fork: the test process may hold threads (in-process fakes of other tests)
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        return dict(zip((p.stem for p in LIBRARY), pool.map(run_file, LIBRARY), strict=True))


@pytest.mark.e2e
@pytest.mark.parametrize("name", [p.stem for p in LIBRARY])
def test_every_library_scenario_meets_its_expectations(name: str, library_results: dict[str, dict[str, Any]]) -> None:
    outcome = library_results[name]
    assert outcome["passed"], outcome["explanation"]
    if name == "b2b-campaign-expires":  # the campaign price before the end, the list price after it
        assert outcome["priceSources"] == ["Campaign", "Campaign", "PriceList", "PriceList"]


def test_the_library_is_all_there() -> None:
    assert len(LIBRARY) >= 16 and all(p.suffix == ".yaml" for p in LIBRARY)
