"""``mock-xtnd scenario validate|run|schema``: exit codes as ``mock-xtnd check`` (0 passed, 1 expectations not
met, 2 a bad file - nothing runs, 3 harness error), reports, JUnit, and the summary table. The runs use the tiny
client (tests/scenarios/tiny_client.py), a few seconds each."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from mock_xtnd.cli import main

from .support import SCENARIOS, quick, tiny

pytestmark = pytest.mark.e2e


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["scenario", *args], catch_exceptions=False)
    return result.exit_code, result.output


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_the_library() -> None:
    code, out = invoke("validate", str(SCENARIOS))
    assert code == 0, out
    assert "ok    " in out and "order-happy-path" in out


def test_validate_a_bad_file_exits_2_with_the_message(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad", quick("bad", seed="x"))
    code, out = invoke("validate", str(bad))
    assert code == 2
    assert f"{bad}:9: seed: expected a whole number; got 'x'" in out


def test_run_refuses_to_start_when_any_file_is_bad(tmp_path: Path) -> None:
    good = write(tmp_path, "good", quick("good"))
    bad = write(tmp_path, "bad", quick("bad", expect="{must_fail: [nope]}"))
    code, out = invoke("run", str(good), str(bad), "--client", tiny("exit"))
    assert code == 2
    assert "expect.must_fail[0]: unknown rule 'nope'" in out
    assert "===" not in out, "nothing may run while a file is bad"


def test_run_exit_codes_report_dir_junit_and_summary(tmp_path: Path) -> None:
    # the tiny client acknowledges hooks and never fetches: hooks-are-triggers fails (exit 1) ...
    failing = write(tmp_path, "ignores-hooks", quick("ignores-hooks"))
    # ... which a negative example expects (exit 0)
    negative = write(tmp_path, "negative", quick("negative", expect="{converges: false, must_fail: [hooks-are-triggers]}"))
    reports, junit = tmp_path / "reports", tmp_path / "junit.xml"
    code, out = invoke("run", str(failing), str(negative), "--client", tiny("ack"), "--quiet",
                       "--report-dir", str(reports), "--junit", str(junit))
    assert code == 1, out
    assert "hooks-are-triggers: failed" in out
    summary = out[out.index("Summary"):]
    assert "ignores-hooks" in summary and "FAIL" in summary and "negative" in summary and "PASS" in summary
    assert "1 of 2 scenario(s) passed" in summary
    data = json.loads((reports / "ignores-hooks.json").read_text())
    assert data["passed"] is False and data["expectationFailures"]
    assert (reports / "ignores-hooks.txt").read_text().startswith("XTND code of conduct: FAILED")
    assert (reports / "negative.journal.jsonl").read_text().count('"kind":"delivery"') >= 2
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["xtnd-scenario.ignores-hooks", "xtnd-scenario.negative"]
    assert suites[0].find("testcase[@name='expectations']/failure") is not None
    assert suites[1].find("testcase[@name='expectations']/failure") is None

    code, out = invoke("run", str(negative), "--client", tiny("ack"), "--quiet")
    assert code == 0, out
    assert "RESULT: PASSED" in out and "Summary" not in out


def test_a_client_that_dies_is_a_harness_error(tmp_path: Path) -> None:
    path = write(tmp_path, "quick", quick())
    reports = tmp_path / "reports"
    code, out = invoke("run", str(path), "--client", tiny("exit"), "--quiet", "--report-dir", str(reports))
    assert code == 3
    assert "harness error" in out and "exited with code 4" in out and "exiting on purpose" in out
    assert json.loads((reports / "quick.json").read_text())["error"]
    assert "exiting on purpose" in (reports / "quick.client.log").read_text()


def test_schema_command_prints_the_committed_schema(tmp_path: Path) -> None:
    code, out = invoke("schema")
    assert code == 0
    assert out == (SCENARIOS / "scenario.schema.json").read_text(encoding="utf-8")
    target = tmp_path / "s.json"
    assert invoke("schema", "-o", str(target))[0] == 0
    assert target.read_text(encoding="utf-8") == out
