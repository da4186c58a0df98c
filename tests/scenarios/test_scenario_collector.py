"""Scenario files as pytest items (contracts/pytest_plugin.py): collected by their schema modeline, skipped
with a reason without a client, failing with the judge's report and the unmet expectations with one. Each case
is a pytest run of its own in a fresh project directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .support import quick, tiny

pytestmark = pytest.mark.e2e

NEGATIVE = "{converges: false, must_fail: [hooks-are-triggers]}"


def pytest_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q", *args],
                          cwd=directory, capture_output=True, text=True, timeout=180)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "quick.yaml").write_text(quick(), encoding="utf-8")
    (scenarios / "negative.yaml").write_text(quick("negative", expect=NEGATIVE), encoding="utf-8")
    (scenarios / "other.yaml").write_text("just: some yaml\n", encoding="utf-8")  # no modeline: not collected
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return tmp_path


def test_without_a_client_items_are_skipped_with_a_reason_and_bad_files_fail(project: Path) -> None:
    (project / "scenarios" / "bad.yaml").write_text(quick("bad", seed="seven"), encoding="utf-8")
    out = pytest_in(project, "scenarios")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "1 failed, 2 skipped" in out.stdout, out.stdout
    assert "passed" not in out.stdout
    assert "no client command (pass --xtnd-client" in out.stdout
    assert "bad.yaml:9: seed: expected a whole number; got 'seven'" in out.stdout


def test_with_a_client_items_run_and_fail_with_the_report(project: Path) -> None:
    out = pytest_in(project, "scenarios", "--xtnd-client", tiny("ack"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "1 failed, 1 passed" in out.stdout, out.stdout
    assert "scenario quick" in out.stdout and "expectations not met" in out.stdout
    assert "hooks-are-triggers: failed" in out.stdout
    assert "XTND code of conduct: FAILED" in out.stdout and "FAIL         hooks-are-triggers" in out.stdout


def test_the_ini_option_and_the_marker(project: Path) -> None:
    (project / "pytest.ini").write_text(f"[pytest]\nxtnd_client = {tiny('ack')}\n", encoding="utf-8")
    out = pytest_in(project, "scenarios/negative.yaml", "-m", "xtnd_scenario")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
