"""The verdict as one self-contained HTML file (``mock-xtnd check --html FILE``; one per scenario with ``scenario run
--report-dir``): every rule with its status and message, each violation with the journal lines that prove it, and a
timeline of the run (API calls per second by operation, hook attempts per second, the windows of injected faults
and of throttling, each violation marked where its first record happened). Styles, uPlot and the chart code are
inlined, so the file opens from a CI artifact with no server and no network.

``timeline()`` is the data (pure, tested on its own); ``render_html()`` the page; ``render_run()`` and
``write_run()`` take a harness ``RunResult``.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mock_xtnd.simulate.storm_series import LagTracker
from mock_xtnd.ui.assets import chart_assets, script_json

from .rules.model import try_parse_time
from .rules.report import LABELS, Report

if TYPE_CHECKING:
    from .harness import RunResult

MAX_POINTS = 2000  # buckets on the time axis: a day of virtual time is plotted in 44-second buckets
TOP_OPERATIONS = 8  # operations plotted on their own; the rest as "other"
WINDOW_GAP_SECONDS = 2.0  # records of one kind of fault this close together make one window
STATUS_CLASS = {"passed": "pass", "failed": "fail", "not_applicable": "na", "not_checked": "nc"}


def _seconds(record: Mapping[str, Any]) -> float | None:
    return try_parse_time(record.get("time"))


def _windows(moments: Iterable[tuple[float, float, str]], gap: float) -> list[dict[str, Any]]:
    """Merge (start, end, label) spans of one kind that overlap or lie within ``gap`` seconds into windows."""
    out: list[dict[str, Any]] = []
    by_label: dict[str, list[tuple[float, float]]] = {}
    for start, end, label in moments:
        by_label.setdefault(label, []).append((start, end))
    for label, spans in sorted(by_label.items()):
        spans.sort()
        cur_start, cur_end, count = spans[0][0], spans[0][1], 0
        for start, end in spans:
            if start - cur_end > gap:
                out.append({"from": cur_start, "to": cur_end, "label": label, "records": count})
                cur_start, cur_end, count = start, end, 0
            cur_end = max(cur_end, end)
            count += 1
        out.append({"from": cur_start, "to": cur_end, "label": label, "records": count})
    return sorted(out, key=lambda w: (w["from"], w["label"]))


def timeline(journal: Sequence[Mapping[str, Any]], report: Report | None = None) -> dict[str, Any]:
    """The run over time, bucketed so at most ``MAX_POINTS`` points span it:

    ``{"x": [epoch seconds of each bucket], "bucketSeconds", "operations": [{"label", "values"}] (API calls per
    second), "hooks": {"delivered", "failed"} (attempts per second), "windows": [{"from", "to", "label", "kind":
    "fault"|"throttled", "records"}], "markers": [{"x", "rule", "index", "label", "seq"}], "lag": null or
    {"maxMs": [per bucket, by the change's time], "measured", "unread", "p50Ms", "p99Ms", "worstMs"}}``.

    The lag of the client's view is measured as the storm page measures it (mock_xtnd/simulate/storm_series.py):
    from a balance hook's first attempt (the truth changed) to the user's first good ProductAvailability read
    covering the item.
    """
    times = [t for t in (_seconds(r) for r in journal) if t is not None]
    if not times:
        return {"x": [], "bucketSeconds": 1, "operations": [], "hooks": {"delivered": [], "failed": []},
                "windows": [], "markers": [], "lag": None}
    start, end = math.floor(min(times)), math.floor(max(times)) + 1
    bucket = max(1, math.ceil((end - start) / MAX_POINTS))
    n = (end - start) // bucket + 1
    ops: Counter[str] = Counter()
    per_op: dict[str, list[int]] = {}
    delivered, failed = [0] * n, [0] * n
    spans: list[tuple[float, float, str]] = []
    throttled: list[tuple[float, float, str]] = []
    lag = LagTracker(None, start * 1000, user=report.user if report is not None else None)
    for r in journal:
        t = _seconds(r)
        if t is None:
            continue
        lag.fold(r, None, round(t * 1000))
        i = (int(t) - start) // bucket
        if r.get("kind") == "api":
            op = str(r.get("operation") or f"{r.get('method')} (unknown path)")
            ops[op] += 1
            per_op.setdefault(op, [0] * n)[i] += 1
            if r.get("errorKind") == "Throttled" and not r.get("fault"):
                wait = float(r.get("retryAfter") or 0)
                throttled.append((t, t + wait, "429 Throttled (Retry-After)"))
        elif r.get("kind") == "delivery":
            (delivered if r.get("outcome") == "delivered" else failed)[i] += 1
        if r.get("fault"):
            spans.append((t, t + float(r.get("latencyMs") or 0) / 1000, f"fault {r['fault']}"))
    top = [op for op, _ in ops.most_common(TOP_OPERATIONS)]
    other = [0] * n
    for op, values in per_op.items():
        if op not in top:
            other = [a + b for a, b in zip(other, values, strict=True)]
    operations = [{"label": op, "values": [v / bucket for v in per_op[op]]} for op in top]
    if any(other):
        operations.append({"label": "other operations", "values": [v / bucket for v in other]})
    windows = [{**w, "kind": "fault"} for w in _windows(spans, WINDOW_GAP_SECONDS)]
    windows += [{**w, "kind": "throttled"} for w in _windows(throttled, WINDOW_GAP_SECONDS)]
    markers = []
    for result in report.results if report is not None else ():
        if result.status != "failed":
            continue
        for index, violation in enumerate(result.violations):
            first = violation.records[0] if violation.records else None
            if first is None:
                continue
            markers.append({"x": first.time, "rule": result.rule_id, "index": index, "seq": first.seq,
                            "label": f"{result.rule_id}: {violation.explanation}"})
    lag_max: list[float | None] = [None] * n
    for second, worst in enumerate(lag.per_second.maxima):
        k = min(n - 1, second // bucket)
        current = lag_max[k]
        if worst is not None:
            lag_max[k] = worst if current is None else max(worst, current)
    summary = lag.to_json()
    return {
        "x": [start + k * bucket for k in range(n)],
        "bucketSeconds": bucket,
        "operations": operations,
        "hooks": {"delivered": [v / bucket for v in delivered], "failed": [v / bucket for v in failed]},
        "windows": sorted(windows, key=lambda w: w["from"]),
        "markers": markers,
        "lag": None if not summary["measured"] else {
            "maxMs": lag_max, "measured": summary["measured"], "unread": summary["unread"],
            "p50Ms": summary["p50Ms"], "p99Ms": summary["p99Ms"], "worstMs": summary["maxMs"]},
    }


# ---------------------------------------------------------------------------------------------- the page
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _anchor(rule_id: str, index: int | None = None) -> str:
    return f"rule-{rule_id}" if index is None else f"v-{rule_id}-{index}"


def _rule_section(r: Any, max_records: int) -> str:
    status = STATUS_CLASS[r.status]
    label = LABELS[r.status] + (" (warning)" if r.status == "failed" and r.severity == "warning" else "")
    parts = [f'<section class="rule {status}" id="{_anchor(r.rule_id)}" data-rule="{_e(r.rule_id)}" '
             f'data-status="{_e(r.status)}">',
             f'<h3><span class="badge {status}">{_e(label)}</span> {_e(r.rule_id)}</h3>',
             f'<p class="desc">{_e(r.description)}</p><p>{_e(r.message)}</p>']
    if r.checked_what:
        parts.append(f'<p class="muted">examined {r.checked:,} {_e(r.checked_what)}</p>')
    if r.violations:
        parts.append("<ol class=\"violations\">")
        for i, v in enumerate(r.violations):
            lines = [rec.evidence_line() for rec in v.records[:max_records]]
            more = len(v.records) - len(lines)
            parts.append(f'<li id="{_anchor(r.rule_id, i)}" class="violation" data-rule="{_e(r.rule_id)}">'
                         f"<p>{_e(v.explanation)}</p>")
            if lines:
                parts.append('<pre class="evidence">' + "\n".join(_e(line) for line in lines)
                             + (f"\n... {more} more record(s)" if more > 0 else "") + "</pre>")
            if v.nearest_miss is not None:
                miss = v.nearest_miss
                parts.append(f'<p class="miss">nearest miss: {_e(miss.explanation)}</p>')
                if miss.record is not None:
                    parts.append(f'<pre class="evidence">{_e(miss.record.evidence_line())}</pre>')
            parts.append("</li>")
        parts.append("</ol>")
        hidden = r.violation_count - len(r.violations)
        if hidden > 0:
            parts.append(f'<p class="muted">... and {hidden:,} more violation(s) not listed.</p>')
    parts.append("</section>")
    return "".join(parts)


def _metrics_table(metrics: Mapping[str, Any]) -> str:
    rows = [(k, v) for k, v in metrics.items() if not isinstance(v, list | dict)]
    if not rows:
        return ""
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e('-' if v is None else v)}</td></tr>" for k, v in rows)
    return f'<h2>Figures</h2><table class="metrics">{body}</table>'


def render_html(
    report: Report,
    journal: Sequence[Mapping[str, Any]],
    *,
    title: str | None = None,
    scenario: str | None = None,
    client: str | None = None,
    passed: bool | None = None,
    expectation_failures: Sequence[str] = (),
    metrics: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    duration_seconds: float | None = None,
    max_records: int = 12,
) -> str:
    """The verdict page. ``passed`` is the run's outcome (expectations included); by default the report's."""
    ok = report.passed if passed is None else passed
    data = timeline(journal, report)
    css, js = chart_assets()
    heading = title or f"XTND code of conduct: {'PASSED' if ok else 'FAILED'}"
    summary_rows = []
    for r in report.results:
        status = STATUS_CLASS[r.status]
        label = LABELS[r.status] + (" (warning)" if r.status == "failed" and r.severity == "warning" else "")
        summary_rows.append(
            f'<tr class="{status}" data-rule="{_e(r.rule_id)}"><td><span class="badge {status}">{_e(label)}</span></td>'
            f'<td><a href="#{_anchor(r.rule_id)}">{_e(r.rule_id)}</a></td><td>{_e(r.severity)}</td>'
            f"<td>{r.violation_count or ''}</td><td>{_e(r.message)}</td></tr>")
    about = [("scenario", scenario), ("client", client), ("user", report.user),
             ("run took", f"{duration_seconds:g} s" if duration_seconds is not None else None),
             ("journal", f"{len(journal):,} records"),
             ("written", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))]
    about_html = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in about if v is not None)
    failures = "".join(f"<li>{_e(f)}</li>" for f in expectation_failures)
    legend_windows = "".join(
        f'<li class="{_e(w["kind"])}">{_e(w["label"])}: {_clock(w["from"])}-{_clock(w["to"])} '
        f'({w["records"]} record{"s" if w["records"] != 1 else ""})</li>' for w in data["windows"][:50])
    markers = "".join(
        f'<li><a href="#{_anchor(m["rule"], m["index"])}">#{m["seq"]} {_clock(m["x"])} {_e(m["label"])}</a></li>'
        for m in data["markers"][:100])
    chart_note = (f"per second, averaged over {data['bucketSeconds']}-second buckets" if data["bucketSeconds"] > 1
                  else "per second")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(heading)}{f" - {_e(scenario)}" if scenario else ""}</title>
<style>{css}</style>
<style>{REPORT_CSS}</style>
</head><body>
<header class="{'pass' if ok else 'fail'}"><h1 data-testid="verdict">{_e(heading)}</h1><p>{_e(report.headline())}</p></header>
<main>
<dl class="about">{about_html}</dl>
{f'<section class="expectations"><h2>Expectations not met</h2><ul>{failures}</ul></section>' if failures else ""}
<h2>Rules</h2>
<table class="summary"><tr><th>verdict</th><th>rule</th><th>severity</th><th>violations</th><th>message</th></tr>
{"".join(summary_rows)}</table>
{f'<p class="muted">disabled by the scenario: {_e(", ".join(report.disabled))}</p>' if report.disabled else ""}
<h2>Timeline</h2>
<p class="muted">API calls and hook attempts {chart_note}, UTC. Shaded: injected faults (orange) and throttling until
Retry-After (purple). Red flags: the first record of each violation (click one for its evidence).</p>
<div id="chart-api" class="chart"></div>
<div id="chart-hooks" class="chart"></div>
<div id="chart-lag" class="chart"{"" if data["lag"] else ' hidden'}></div>
{_lag_note(data["lag"])}
{f'<h3>Windows</h3><ul class="windows">{legend_windows}</ul>' if legend_windows else ""}
{f'<h3>Violations on the timeline</h3><ul class="markers">{markers}</ul>' if markers else ""}
<h2>Evidence</h2>
{"".join(_rule_section(r, max_records) for r in report.results)}
{_metrics_table(metrics or {})}
{"<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>" if notes else ""}
</main>
<script type="application/json" id="timeline-data">{script_json(data)}</script>
<script>{js}</script>
<script>{REPORT_JS}</script>
</body></html>
"""


def _lag_note(lag: Mapping[str, Any] | None) -> str:
    if not lag:
        return ('<p class="muted">Lag of the client\'s view: not measured (no balance hook was followed by the '
                "client's ProductAvailability read).</p>")
    return (f'<p class="muted">Lag of the client\'s view (balance hook to the client\'s first ProductAvailability '
            f"read covering the item): {lag['measured']:,} changes read, p50 {lag['p50Ms']} ms, p99 {lag['p99Ms']} ms, "
            f"worst {lag['worstMs']} ms; {lag['unread']:,} never read.</p>")


def _clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M:%S.%f")[:-3]


def render_run(result: RunResult, client: str | None = None) -> str:
    """The verdict page of a harness run (its report, journal, expectations, figures and notes)."""
    metrics = {k: v for k, v in result.metrics.items() if k != "storms"}
    return render_html(result.report, result.journal, scenario=result.scenario.name, client=client,
                       passed=result.passed, expectation_failures=result.expectation_failures, metrics=metrics,
                       notes=result.notes, duration_seconds=result.duration_seconds)


def write_run(result: RunResult, path: str | Path, client: str | None = None) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_run(result, client), encoding="utf-8")
    return target


REPORT_CSS = """
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; background: #f9fafb; }
header { padding: 16px 24px; color: #fff; } header.pass { background: #15803d; } header.fail { background: #b91c1c; }
header h1 { margin: 0 0 4px; font-size: 22px; } header p { margin: 0; }
main { padding: 16px 24px; max-width: 1400px; margin: 0 auto; }
h2 { font-size: 18px; margin: 24px 0 8px; } h3 { font-size: 15px; margin: 12px 0 6px; }
dl.about { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; } dl.about dt { color: #6b7280; } dl.about dd { margin: 0; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
th { background: #f3f4f6; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 8px; font-size: 12px; font-weight: 700; white-space: nowrap; }
.badge.pass { background: #dcfce7; color: #15803d; } .badge.fail { background: #fee2e2; color: #b91c1c; }
.badge.na { background: #e5e7eb; color: #4b5563; } .badge.nc { background: #fef3c7; color: #b45309; }
section.rule { background: #fff; border: 1px solid #e5e7eb; border-left: 4px solid #9ca3af; border-radius: 4px; padding: 8px 12px; margin: 8px 0; }
section.rule.fail { border-left-color: #b91c1c; } section.rule.pass { border-left-color: #15803d; } section.rule.nc { border-left-color: #b45309; }
.desc, .muted { color: #6b7280; } .miss { color: #b45309; }
pre.evidence { background: #f3f4f6; padding: 6px 8px; border-radius: 4px; overflow-x: auto; font-size: 12px; }
li.violation:target, section.rule:target { outline: 3px solid #f59e0b; }
.chart { background: #fff; border: 1px solid #e5e7eb; border-radius: 4px; margin: 8px 0; padding: 8px 0; }
ul.windows li.fault { color: #c2410c; } ul.windows li.throttled { color: #7e22ce; }
.expectations { background: #fee2e2; border-radius: 4px; padding: 4px 12px; }
.u-over { overflow: visible !important; }
.xc-markers { position: absolute; inset: 0; pointer-events: none; }
.xc-marker { position: absolute; top: 0; bottom: 0; width: 0; border-left: 2px solid #b91c1c; pointer-events: auto; text-decoration: none; }
.xc-marker span { position: absolute; top: -2px; left: -8px; background: #b91c1c; color: #fff; font-size: 11px; font-weight: 700; border-radius: 8px; padding: 0 5px; }
"""

REPORT_JS = """
(function () {
  var d = JSON.parse(document.getElementById("timeline-data").textContent);
  var C = window.XtndCharts;
  if (!d.x.length) { document.getElementById("chart-api").textContent = "No journal records: nothing to plot."; return; }
  var bands = d.windows.map(function (w) {
    return {from: w.from, to: Math.max(w.to, w.from + d.bucketSeconds), label: w.label,
            color: w.kind === "fault" ? "rgba(234, 88, 12, 0.18)" : "rgba(147, 51, 234, 0.15)"};
  });
  var markers = d.markers.map(function (m) {
    return {x: m.x, label: m.label, href: "#v-" + m.rule + "-" + m.index, cls: "violation-marker",
            short: "!", data: {rule: m.rule, seq: String(m.seq)}};
  });
  var ops = d.operations.length ? d.operations : [{label: "API calls", values: d.x.map(function () { return 0; })}];
  C.line(document.getElementById("chart-api"), {title: "API calls per second by operation", x: d.x, xTime: true,
    utc: true, yLabel: "calls/s", height: 300, bands: bands, markers: markers,
    series: ops.map(function (o) { return {label: o.label, values: o.values, digits: 2}; })});
  C.line(document.getElementById("chart-hooks"), {title: "Hook attempts per second", x: d.x, xTime: true, utc: true,
    yLabel: "attempts/s", height: 220, bands: bands, markers: markers,
    series: [{label: "delivered", values: d.hooks.delivered, color: "#16a34a", digits: 2},
             {label: "not delivered", values: d.hooks.failed, color: "#dc2626", digits: 2}]});
  if (d.lag) C.line(document.getElementById("chart-lag"), {title: "Lag of the client's view (worst per change time)",
    x: d.x, xTime: true, utc: true, yLabel: "ms", height: 200, bands: bands, markers: markers,
    series: [{label: "lag", values: d.lag.maxMs, color: "#9333ea", digits: 1}]});
})();
"""
