"""``mock-xtnd storm``: start a storm on a running fake, follow it with a progress bar, print a delivery summary."""

from __future__ import annotations

import sys
import time
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

QUIET_SECONDS = 1.0  # after the last step: deliveries count as settled when unchanged this long


def make_client(url: str) -> httpx.Client:
    """The HTTP client for the fake (a seam: tests hand in an in-process client)."""
    return httpx.Client(base_url=url.rstrip("/"), timeout=30.0)


def _fail(console: Console, message: str) -> None:
    console.print(f"[red]mock-xtnd storm:[/red] {message}")
    sys.exit(2)


def _json(console: Console, r: httpx.Response, expected: int = 200) -> dict[str, Any]:
    if r.status_code != expected:
        try:  # the API's error bodies: {"Message"} or {"Message", "ModelState": {field: [reasons]}}
            body = r.json()
            detail = str(body.get("Message", r.text)) + "".join(
                f"\n  {field}: {'; '.join(reasons)}" for field, reasons in (body.get("ModelState") or {}).items())
        except (ValueError, AttributeError):
            detail = r.text[:500]
        _fail(console, f"{r.request.method} {r.request.url.path} answered {r.status_code}: {detail}")
    data: dict[str, Any] = r.json()
    return data


def summary_table(progress: dict[str, Any]) -> Table:
    d = progress["deliveries"]

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:,.1f} ms"

    rate, planned_peak = progress["rate"], progress["plannedPeakRate"]
    # a burst runs at ten times its rate for a tenth of each period: say so where the rate is named
    peak_note = f", peaks at {planned_peak:,g}/s" if planned_peak != rate else ""
    table = Table(title=f"storm {progress['stormId']} ({progress['shape']}, {rate:g}/s{peak_note})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in (
        ("steps planned", f"{progress['planned']:,}"),
        ("steps emitted", f"{progress['emitted']:,}"),
        ("peak steps/s planned", f"{planned_peak:,g}"),
        ("peak steps/s emitted (any 1 s)", f"{progress['peakRate']:,}"),
        ("sent", f"{d['sent']:,}"),
        ("delivered", f"{d['delivered']:,}"),
        ("retried", f"{d['retried']:,}"),
        ("failed", f"{d['failed']:,}"),
        ("deliveries/s", f"{d['deliveriesPerSecond']:,.1f}"),
        ("p50 delivery latency", ms(d["p50LatencyMs"])),
        ("p99 delivery latency", ms(d["p99LatencyMs"])),
    ):
        table.add_row(name, value)
    return table


@click.command()
@click.option("--url", default="http://127.0.0.1:8080", show_default=True, help="A running fake (mock-xtnd serve).")
@click.option("--shape", type=click.Choice(["constant", "ramp", "burst", "poisson"]), default="constant",
              show_default=True)
@click.option("--rate", type=float, default=100.0, show_default=True,
              help="Steps (balance events) per second; a burst spikes to 10 x this for a tenth of each period.")
@click.option("--count", type=int, default=None, help="Steps in all (default 1000 unless --duration).")
@click.option("--duration", type=float, default=None, help="Seconds (at most 3600), instead of --count.")
@click.option("--products", type=int, default=None, help="Use this many products (default all).")
@click.option("--skew", type=click.Choice(["uniform", "zipf"]), default="uniform", show_default=True)
@click.option("--zipf-s", type=float, default=1.1, show_default=True, help="Zipf exponent.")
@click.option("--warehouses", default=None, help="Comma-separated warehouse numbers (default all).")
@click.option("--settle", type=float, default=10.0, show_default=True,
              help="After the last step, wait at most this long for deliveries to settle.")
@click.option("--poll", type=float, default=0.5, show_default=True, help="Seconds between progress polls.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Write plots (self-contained HTML), the per-second series (CSV) and the figures (JSON) here.")
def storm(url: str, shape: str, rate: float, count: int | None, duration: float | None, products: int | None,
          skew: str, zipf_s: float, warehouses: str | None, settle: float, poll: float,
          report_dir: str | None = None) -> None:
    """Start a storm of real stock changes on a running fake and report how its webhooks were delivered.

    Every step reserves or releases one unit for another sales channel, so each fires one
    AvailableBalanceChanged. On a virtual-clock fake the command drives the clock itself.
    """
    console = Console()
    if count is not None and duration is not None:
        raise click.UsageError("give --count or --duration, not both")
    body: dict[str, Any] = {"shape": shape, "rate": rate, "skew": skew, "zipfS": zipf_s}
    if duration is not None:
        body["durationSeconds"] = duration
    else:
        body["count"] = count if count is not None else 1000
    if products is not None:
        body["products"] = products
    if warehouses:
        body["warehouses"] = [w.strip() for w in warehouses.split(",") if w.strip()]

    try:
        with make_client(url) as client:
            result = _run(console, client, body, settle, poll)
            series = _json(console, client.get(f"/_mock/storm/{result['stormId']}/series")) if report_dir else None
    except httpx.HTTPError as e:
        _fail(console, f"cannot reach the fake at {url}: {e}")
        return
    console.print(summary_table(result))
    if report_dir and series is not None:
        from .storm_report import write_report

        for path in write_report(series, report_dir):
            console.print(f"wrote {path}")


def _run(console: Console, client: httpx.Client, body: dict[str, Any], settle: float, poll: float) -> dict[str, Any]:
    virtual = _json(console, client.get("/_mock/clock")).get("kind") == "virtual"
    started = _json(console, client.post("/_mock/storm", json=body), 202)
    storm_id, planned = started["stormId"], int(started["planned"])
    # a virtual clock moves only when told: advance it in steps so the bar moves
    step = max(0.05, float(started.get("plannedDurationSeconds", 1.0)) / 50)
    state: dict[str, Any] = {}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[deliveries]}"), TimeElapsedColumn(), console=console,
                  transient=False) as bar:
        task = bar.add_task(f"storm {storm_id}", total=planned, deliveries="")
        while True:
            if virtual:
                _json(console, client.post("/_mock/clock/advance", json={"seconds": step}))
            else:
                time.sleep(poll)
            state = _json(console, client.get(f"/_mock/storm/{storm_id}"))
            d = state["deliveries"]
            bar.update(task, completed=state["emitted"], deliveries=f"{d['delivered']:,} delivered")
            if state["state"] == "done":
                break
        # deliveries trail the last step: wait until they stop changing (bounded)
        deadline = time.monotonic() + settle
        last = state["deliveries"]
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if virtual:
                _json(console, client.post("/_mock/clock/advance", json={"seconds": 1}))
            else:
                time.sleep(min(poll, QUIET_SECONDS / 2))
            state = _json(console, client.get(f"/_mock/storm/{storm_id}"))
            now = state["deliveries"]
            bar.update(task, deliveries=f"{now['delivered']:,} delivered")
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_SECONDS or virtual:
                break
    return state
