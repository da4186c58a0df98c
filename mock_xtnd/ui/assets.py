"""The chart files a self-contained HTML report inlines (the same ones the dashboard serves): uPlot's script and
style (vendored, pinned: static/vendor/assets.json) and charts.js. A report opens from a CI artifact with no server
and no network, so nothing is linked."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

STATIC = Path(__file__).parent / "static"


@cache
def chart_assets() -> tuple[str, str]:
    """(CSS, JavaScript) to inline: uPlot's style and the dashboard's chart styles; uPlot, then charts.js (which
    defines ``window.XtndCharts``)."""
    css = (STATIC / "vendor" / "uPlot.min.css").read_text(encoding="utf-8")
    js = (STATIC / "vendor" / "uPlot.iife.min.js").read_text(encoding="utf-8") + "\n" + (
        STATIC / "charts.js").read_text(encoding="utf-8")
    return css, js


def script_json(value: object) -> str:
    """JSON safe inside ``<script type="application/json">``: every ``<`` escaped (it only occurs in strings), so no
    ``</script>`` or ``<!--`` in a journal record can end the element early."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")
