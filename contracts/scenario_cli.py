"""``mock-xtnd scenario``: validate scenario files, run them against a client, print their JSON Schema.

    mock-xtnd scenario validate scenarios/
    mock-xtnd scenario run scenarios/order-happy-path.yaml scenarios/balance-storm-burst.yaml \\
        --client "reference-sync run" --report-dir reports/ --junit junit.xml
    mock-xtnd scenario schema > scenarios/scenario.schema.json

Every file is validated before anything runs. Exit codes as ``mock-xtnd check``: 0 every scenario passed,
1 a scenario's expectations were not met, 2 usage or scenario error (nothing ran), 3 harness error (the worst
outcome wins: 3 over 1).
"""

from __future__ import annotations

import json
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import click
import orjson

from .harness import EXIT_HARNESS, EXIT_PASSED, EXIT_USAGE, EXIT_VIOLATIONS, HarnessError, RunResult, run
from .harness_cli import print_result, result_json
from .scenario import Scenario, ScenarioError, load_scenarios, schema


@click.group()
def scenario() -> None:
    """Scenario files: validate them, run them against a client, print their JSON Schema."""


@scenario.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
def validate(files: tuple[str, ...]) -> None:
    """Check scenario FILES (or directories of *.yaml) without running anything. Exit 0 valid, 2 not."""
    loaded, problems = load_scenarios(list(files))
    for path, sc in loaded:
        if not any(str(path) in p for p in problems):
            click.echo(f"ok    {path}: {sc.name} ({len(sc.timeline)} step{'' if len(sc.timeline) == 1 else 's'} over {_span(sc.duration)}, "
                       f"{sc.clock} clock{'' if sc.webhooks else ', webhooks off'})")
    for problem in problems:
        click.echo(problem, err=True)
    if not loaded and not problems:
        click.echo("mock-xtnd scenario validate: no scenario files found", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_USAGE if problems else EXIT_PASSED)


@scenario.command("schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write here (default stdout).")
def schema_command(output: str | None) -> None:
    """Print the JSON Schema of scenario files (what scenarios/scenario.schema.json holds)."""
    text = schema_text()
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


def schema_text() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


@dataclass
class Outcome:
    path: Path
    scenario: Scenario
    exit_code: int
    seconds: float
    result: RunResult | None = None
    error: str | None = None


@scenario.command("run")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--client", "client", required=True, help="The integration to judge, as a shell command.")
@click.option("--report-dir", type=click.Path(file_okay=False), default=None,
              help="Write <name>.json, <name>.txt, <name>.html, <name>.client.log and <name>.journal.jsonl per "
                   "scenario here.")
@click.option("--junit", type=click.Path(dir_okay=False), default=None,
              help="Write JUnit XML (one test suite per scenario) here.")
@click.option("--quiet", "-q", is_flag=True, help="No harness progress lines.")
def run_command(files: tuple[str, ...], client: str, report_dir: str | None, junit: str | None, quiet: bool) -> None:
    """Run each scenario FILE (or directory of *.yaml) against CLIENT and judge it. Exit 0 all passed,
    1 expectations not met, 2 a bad scenario file (nothing runs), 3 harness error."""
    loaded, problems = load_scenarios(list(files))
    if problems or not loaded:
        for problem in problems or ["mock-xtnd scenario run: no scenario files found"]:
            click.echo(problem, err=True)
        sys.exit(EXIT_USAGE)
    outcomes = [run_one(path, sc, client, report_dir, quiet) for path, sc in loaded]
    if len(outcomes) > 1:
        click.echo(summary_table(outcomes))
    if junit:
        Path(junit).write_text(junit_xml(outcomes), encoding="utf-8")
    sys.exit(overall_exit_code([o.exit_code for o in outcomes]))


def overall_exit_code(codes: list[int]) -> int:
    """The worst outcome wins: 3 (harness error) over 2 (a scenario the fake could not carry out) over 1."""
    for code in (EXIT_HARNESS, EXIT_USAGE, EXIT_VIOLATIONS):
        if code in codes:
            return code
    return EXIT_PASSED


def run_one(path: Path, sc: Scenario, client: str, report_dir: str | None, quiet: bool) -> Outcome:
    def log(message: str) -> None:
        if not quiet:
            click.echo(f"[{sc.name}] {message}", err=True)

    click.echo(f"=== {sc.name} ({path})")
    started = time.monotonic()
    try:
        client_log = Path(report_dir) / f"{sc.name}.client.log" if report_dir else None
        result = run(sc, client, log=log, client_log_path=client_log)
    except ScenarioError as e:
        click.echo(f"mock-xtnd scenario run: {path}: {e}", err=True)
        outcome = Outcome(path, sc, EXIT_USAGE, round(time.monotonic() - started, 1), error=str(e))
    except HarnessError as e:
        click.echo(f"mock-xtnd scenario run: {path}: harness error: {e}", err=True)
        outcome = Outcome(path, sc, EXIT_HARNESS, round(time.monotonic() - started, 1), error=str(e))
    else:
        print_result(result)
        m = result.metrics
        if m.get("balanceLagMaxSeconds") is not None:
            click.echo(f"Balance lag (hook acknowledged -> read): p50 {m['balanceLagP50Seconds']} s, "
                       f"p99 {m['balanceLagP99Seconds']} s, max {m['balanceLagMaxSeconds']} s; "
                       f"{m['balanceHooksNeverFetched']} hook(s) never followed")
        click.echo(f"Duration: {result.duration_seconds:.1f} s")
        outcome = Outcome(path, sc, result.exit_code(), result.duration_seconds, result)
    if report_dir:
        write_reports(Path(report_dir), outcome)
    return outcome


def write_reports(directory: Path, outcome: Outcome) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    base = directory / outcome.scenario.name
    result = outcome.result
    if result is None:
        data: dict[str, object] = {"scenario": outcome.scenario.name, "file": str(outcome.path), "passed": False,
                                   "error": outcome.error, "durationSeconds": outcome.seconds}
        base.with_suffix(".json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        return
    data = {**result_json(result), "file": str(outcome.path), "durationSeconds": result.duration_seconds,
            "notes": result.notes}
    base.with_suffix(".json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    text = result.report.to_text()
    if result.expectation_failures:
        text += "\nExpectations not met:\n" + "".join(f"  - {f}\n" for f in result.expectation_failures)
    Path(f"{base}.txt").write_text(text, encoding="utf-8")
    from .report_html import write_run

    write_run(result, f"{base}.html")
    client_log = Path(f"{base}.client.log")
    if not client_log.exists():  # the harness streams it there; write the tail it kept otherwise
        client_log.write_text(result.client_log, encoding="utf-8")
    Path(f"{base}.journal.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in result.journal))


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def summary_table(outcomes: list[Outcome]) -> str:
    rows = [("scenario", "result", "seconds", "API calls", "calls/balance hook", "lag max s", "unmet")]
    for o in outcomes:
        m = o.result.metrics if o.result else {}
        status = {EXIT_PASSED: "PASS", EXIT_VIOLATIONS: "FAIL", EXIT_USAGE: "BAD"}.get(o.exit_code, "ERROR")
        rows.append((o.scenario.name, status, f"{o.seconds:.1f}", str(m.get("apiCalls", "-")),
                     str(m.get("callsPerBalanceEvent", "-")), str(m.get("balanceLagMaxSeconds", "-")),
                     str(len(o.result.expectation_failures)) if o.result else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["", "Summary"]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    passed = sum(1 for o in outcomes if o.exit_code == EXIT_PASSED)
    lines.append(f"{passed} of {len(outcomes)} scenario(s) passed")
    return "\n".join(lines)


def junit_xml(outcomes: list[Outcome]) -> str:
    """One <testsuite> per scenario: a test case per rule (from the judge) plus one for the expectations."""
    root = ET.Element("testsuites", name="xtnd-scenarios")
    for o in outcomes:
        name = f"xtnd-scenario.{o.scenario.name}"
        if o.result is None:
            suite = ET.SubElement(root, "testsuite", name=name, tests="1", failures="0", errors="1", skipped="0",
                                  time=f"{o.seconds:.1f}")
            case = ET.SubElement(suite, "testcase", classname=name, name="harness")
            ET.SubElement(case, "error", message="harness error").text = o.error
            continue
        suite = ET.fromstring(o.result.report.to_junit_xml(suite_name=name).split("?>", 1)[-1])
        suite.set("time", f"{o.seconds:.1f}")
        case = ET.SubElement(suite, "testcase", classname=name, name="expectations")
        if o.result.expectation_failures:
            failure = ET.SubElement(case, "failure", message=f"{len(o.result.expectation_failures)} expectation(s) "
                                    "not met", type="expectations")
            failure.text = "\n".join(o.result.expectation_failures)
        suite.set("tests", str(int(suite.get("tests", "0")) + 1))
        suite.set("failures", str(int(suite.get("failures", "0")) + (1 if o.result.expectation_failures else 0)))
        root.append(suite)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
