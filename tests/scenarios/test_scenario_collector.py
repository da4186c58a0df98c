"""Scenario files as pytest items (contracts/pytest_plugin.py): collected by their schema modeline, skipped
with a reason without a client, failing with the judge's report and the unmet expectations with one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .support import quick, tiny

pytestmark = pytest.mark.e2e


def pytest_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q", *args],
                          cwd=directory, capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "quick.yaml").write_text(quick(), encoding="utf-8")
    (tmp_path / "scenarios" / "other.yaml").write_text("just: some yaml\n", encoding="utf-8")  # no modeline
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return tmp_path


def test_without_a_client_scenario_items_are_skipped_with_a_reason(project: Path) -> None:
    out = pytest_in(project, "scenarios")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 skipped" in out.stdout and "passed" not in out.stdout
    assert "no client command (pass --xtnd-client" in out.stdout


def test_a_bad_file_fails_even_without_a_client(project: Path) -> None:
    (project / "scenarios" / "quick.yaml").write_text(quick(seed="seven"), encoding="utf-8")
    out = pytest_in(project, "scenarios")
    assert out.returncode == 1
    assert "seed: expected a whole number; got 'seven'" in out.stdout


def test_with_a_client_items_run_and_fail_with_the_report(project: Path) -> None:
    out = pytest_in(project, "scenarios", "--xtnd-client", tiny("ack"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "1 failed" in out.stdout
    assert "scenario quick" in out.stdout and "expectations not met" in out.stdout
    assert "hooks-are-triggers: failed" in out.stdout
    assert "XTND code of conduct: FAILED" in out.stdout and "FAIL         hooks-are-triggers" in out.stdout


def test_the_ini_option_and_a_passing_negative_example(project: Path) -> None:
    (project / "scenarios" / "quick.yaml").write_text(
        quick(expect="{converges: false, must_fail: [hooks-are-triggers]}"), encoding="utf-8")
    (project / "pytest.ini").write_text(f"[pytest]\nxtnd_client = {tiny('ack')}\n", encoding="utf-8")
    out = pytest_in(project, "scenarios", "-m", "xtnd_scenario")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
