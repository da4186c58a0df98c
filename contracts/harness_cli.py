"""``mock-xtnd check``: judge any integration (a command, any language) against XTND's code of conduct."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from .harness import EXIT_HARNESS, EXIT_USAGE, HarnessError, RunResult, run
from .scenario import Scenario, ScenarioError, default_scenario, load_scenario


def _echo(message: str) -> None:
    click.echo(f"[harness] {message}", err=True)


def run_and_report(scenario: Scenario, client: str, report: str | None, junit: str | None,
                   quiet: bool = False, client_log: str | None = None, html: str | None = None) -> int:
    try:
        result = run(scenario, client, log=(lambda _m: None) if quiet else _echo,
                     client_log_path=Path(client_log) if client_log else None)
    except ScenarioError as e:  # a product the seeded catalogue lacks; a client without the shop endpoint
        click.echo(f"mock-xtnd check: {e}", err=True)
        return EXIT_USAGE
    except HarnessError as e:
        click.echo(f"mock-xtnd check: harness error: {e}", err=True)
        return EXIT_HARNESS
    print_result(result)
    if report:
        Path(report).write_bytes(orjson.dumps(result_json(result), option=orjson.OPT_INDENT_2))
    if junit:
        Path(junit).write_text(result.report.to_junit_xml(suite_name=f"xtnd-conduct.{scenario.name}"))
    if html:
        from .report_html import write_run

        write_run(result, html, client)
    return result.exit_code()


def result_json(result: RunResult) -> dict[str, object]:
    return {"scenario": result.scenario.name, "passed": result.passed,
            "expectationFailures": result.expectation_failures, "metrics": result.metrics,
            "report": result.report.to_dict(), "probe": result.probe is not None}


def print_result(result: RunResult) -> None:
    click.echo(f"Scenario: {result.scenario.name}")
    click.echo(result.report.to_text())
    m = result.metrics
    click.echo(f"Figures: {m['apiCalls']} API calls, {m['balanceEvents']} balance hooks, "
               f"{m['callsPerBalanceEvent']} availability calls per balance hook, "
               f"{m['delivered']}/{m['deliveryAttempts']} delivery attempts delivered, "
               f"{m['transient400s']} transient 400s, {m['refused401s']} 401s")
    if result.expectation_failures:
        click.echo("Expectations not met:")
        for f in result.expectation_failures:
            click.echo(f"  - {f}")
        click.echo("RESULT: FAILED")
    else:
        click.echo("RESULT: PASSED")


@click.command()
@click.option("--client", "client", required=True, help='The integration to judge, as a shell command.')
@click.option("--scenario", "scenario_file", type=click.Path(dir_okay=False), default=None,
              help="A scenario file (default: the built-in one-minute scenario).")
@click.option("--report", type=click.Path(dir_okay=False), default=None, help="Write the JSON report here.")
@click.option("--junit", type=click.Path(dir_okay=False), default=None, help="Write JUnit XML here.")
@click.option("--html", type=click.Path(dir_okay=False), default=None,
              help="Write the verdict as one self-contained HTML file here (rules, evidence, a timeline).")
@click.option("--client-log", type=click.Path(dir_okay=False), default=None,
              help="Write the client's stdout and stderr here (default: a temporary file; its last lines are "
                   "shown when the client fails to start).")
def check(client: str, scenario_file: str | None, report: str | None, junit: str | None,
          client_log: str | None, html: str | None) -> None:
    """Run CLIENT against a fresh fake through a scenario and judge it. The client gets XTND_API_URL,
    XTND_USERNAME, XTND_PASSWORD, XTND_WEBHOOK_SECRET and XTND_WEBHOOK_PORT (docs/scenarios.md, the harness
    protocol). Exit 0 passed, 1 violations, 2 usage or scenario error, 3 harness error."""
    try:
        scenario = load_scenario(scenario_file) if scenario_file else default_scenario()
    except ScenarioError as e:
        click.echo(f"mock-xtnd check: {e}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(run_and_report(scenario, client, report, junit, client_log=client_log, html=html))
