"""``mock-xtnd storm --report DIR``: a storm's plots and figures as files a load tester keeps.

From ``GET /_mock/storm/{stormId}/series`` (storm_series.py says what each figure means):

- ``storm-<id>.html``: one self-contained page (uPlot and the chart code inlined, opens from a file with no server):
  steps emitted vs hooks delivered per second, delivery latency per second (p50, p99), the latency histogram with
  its percentiles, and the lag of clients' reads when the journal shows any. The dashboard's storm page draws the
  same plots with the same code (ui/static/charts.js).
- ``storm-<id>.csv``: the per-second series, one row a second.
- ``storm-<id>.json``: everything the endpoint answered.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any

from ..ui.assets import chart_assets, script_json


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render_html(data: dict[str, Any]) -> str:
    css, js = chart_assets()
    p = data["progress"]
    d = p["deliveries"]
    rows = [("shape", f"{p['shape']} at {p['rate']:g}/s"), ("peak steps/s planned", f"{p['plannedPeakRate']:,g}"),
            ("peak steps/s emitted (any 1 s)", f"{p['peakRate']:,}"),
            ("steps", f"{p['emitted']:,} of {p['planned']:,} ({p['state']})"),
            ("started", p["startedAt"]), ("finished", p["finishedAt"] or "-"),
            ("products, warehouses", f"{p['products']:,}, {', '.join(p['warehouses'])}"),
            ("hooks sent / delivered / retried / failed", f"{d['sent']:,} / {d['delivered']:,} / {d['retried']:,} / "
                                                          f"{d['failed']:,}"),
            ("deliveries/s", f"{d['deliveriesPerSecond']:,.1f}")]
    if p.get("error"):
        rows.append(("error", p["error"]))
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Storm {_e(p['stormId'])} - mock-xtnd</title>
<style>{css}</style>
<style>
body {{ margin: 0; font-family: system-ui, sans-serif; color: #1f2937; background: #f9fafb; }}
main {{ padding: 16px 24px; max-width: 1400px; margin: 0 auto; }} h1 {{ font-size: 20px; }}
table {{ border-collapse: collapse; background: #fff; }} th, td {{ text-align: left; padding: 3px 10px; border-bottom: 1px solid #e5e7eb; }}
.xc-box {{ background: #fff; border: 1px solid #e5e7eb; border-radius: 4px; margin: 10px 0; padding: 8px; }}
.xc-note {{ color: #6b7280; }} .xc-pct th, .xc-pct td {{ text-align: right; }}
</style></head><body><main>
<h1>Storm {_e(p['stormId'])}</h1>
<table class="summary">{table}</table>
<div id="storm" data-testid="storm-charts"></div>
<p class="xc-note">Latency: from the notification's creation in the outbox to the receiver's answer (queueing and retry
waits count). Lag: from a storm step (the truth changed) to the first good ProductAvailability read that covered the
item, by any API user (the client's view as far as the journal shows it).</p>
</main>
<script type="application/json" id="storm-data">{script_json(data)}</script>
<script>{js}</script>
<script>XtndCharts.storm(document.getElementById("storm"), JSON.parse(document.getElementById("storm-data").textContent));</script>
</body></html>
"""


def write_report(data: dict[str, Any], directory: str | Path) -> list[Path]:
    """Write the HTML, CSV and JSON of one storm's series into ``directory``; returns the paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"storm-{data['stormId'].removeprefix('storm-')}"
    page = out / f"{stem}.html"
    page.write_text(render_html(data), encoding="utf-8")
    table = out / f"{stem}.csv"
    s, lag = data["series"], data["lag"]
    with table.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["second", "emitted", "delivered", "p50LatencyMs", "p99LatencyMs", "lagP50Ms", "lagMaxMs"])
        for i, second in enumerate(s["seconds"]):
            w.writerow([second, s["emitted"][i], s["delivered"][i], s["p50LatencyMs"][i], s["p99LatencyMs"][i],
                        lag["perSecondP50Ms"][i] if i < len(lag["perSecondP50Ms"]) else None,
                        lag["perSecondMaxMs"][i] if i < len(lag["perSecondMaxMs"]) else None])
    raw = out / f"{stem}.json"
    raw.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return [page, table, raw]
