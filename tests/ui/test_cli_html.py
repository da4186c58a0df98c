"""``mock-xtnd check --html FILE`` and ``mock-xtnd scenario run --report-dir`` write the HTML verdict (the harness
run itself is replaced by a judged journal here; tests/contract and tests/scenarios run the real harness)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from contracts import harness_cli, scenario_cli
from contracts.harness import RunResult
from contracts.rules.report import judge
from contracts.rules.testing import good_client
from contracts.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
METRICS = {"apiCalls": 40, "balanceEvents": 12, "callsPerBalanceEvent": 1.0, "delivered": 21, "deliveryAttempts": 21,
           "transient400s": 1, "refused401s": 4, "balanceLagMaxSeconds": None}


def fake_run(scenario: Scenario, client: str, **_: Any) -> RunResult:
    run = good_client()
    run.builder.create_order(100.0, "WEB-DUP", [("P1", 1)], result_key="100901")
    run.builder.create_order(101.0, "WEB-DUP", [("P1", 1)], result_key="100902")
    report = judge(run.context())
    return RunResult(report, scenario, run.builder.build(), run.truth, run.probe,
                     expectation_failures=["no-duplicate-orders: failed - 1 duplicate order(s)"], metrics=dict(METRICS),
                     notes=["a note from the harness"], duration_seconds=12.5)


def test_check_writes_the_html_verdict(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(harness_cli, "run", fake_run)
    out = tmp_path / "verdict.html"
    result = CliRunner().invoke(harness_cli.check, ["--client", "python my_sync.py", "--html", str(out)])
    assert result.exit_code == 1, result.output
    page = out.read_text()
    assert "XTND code of conduct: FAILED" in page and "python my_sync.py" in page
    assert 'id="v-no-duplicate-orders-0"' in page and "a note from the harness" in page
    assert "Expectations not met" in page and "12.5 s" in page


def test_scenario_run_writes_one_html_verdict_per_scenario(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(scenario_cli, "run", fake_run)
    files = [str(ROOT / "scenarios" / "order-happy-path.yaml"), str(ROOT / "scenarios" / "order-cancellation.yaml")]
    result = CliRunner().invoke(scenario_cli.scenario, ["run", *files, "--client", "c", "--report-dir",
                                                        str(tmp_path), "--quiet"])
    assert result.exit_code == 1, result.output
    pages = sorted(p.name for p in tmp_path.glob("*.html"))
    assert len(pages) == 2, pages
    for page in tmp_path.glob("*.html"):
        text = page.read_text()
        assert page.stem in text and 'data-rule="no-duplicate-orders"' in text
