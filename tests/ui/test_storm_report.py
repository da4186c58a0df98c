"""``mock-xtnd storm --report DIR``: the storm's plots as one self-contained page, its series as CSV, its figures as
JSON."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings
from mock_xtnd.simulate import storm_cli
from tests.support.receiver import Receiver


def test_the_storm_command_writes_its_plots_series_and_figures(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    with Receiver() as receiver:
        settings = Settings.model_validate({
            "clock": "virtual", "seed": 1, "quirks": {"transient_errors": 0},
            "catalogue": {"products": 40, "warehouses": 3, "customers": 10},
            "subscriptions": [{"name": "shop", "callback_url": receiver.url, "secret": "s",
                               "triggers": ["AvailableBalanceChanged"]}]})
        app = create_app(settings)
        monkeypatch.setattr(storm_cli, "make_client", lambda url: TestClient(app))  # drives the virtual clock
        result = CliRunner().invoke(storm_cli.storm, ["--shape", "burst", "--rate", "20", "--count", "150",
                                                      "--products", "5", "--report", str(tmp_path / "out")])
        assert result.exit_code == 0, result.output
    page, table, raw = (tmp_path / "out" / f"storm-1.{ext}" for ext in ("html", "csv", "json"))
    assert f"wrote {page}" in result.output.replace("\n", "")

    data = json.loads(raw.read_text())
    assert data["progress"]["emitted"] == 150 and sum(data["series"]["emitted"]) == 150
    assert sum(data["series"]["delivered"]) == 150

    rows = list(csv.DictReader(table.open()))
    assert len(rows) == len(data["series"]["seconds"])
    assert sum(int(r["emitted"]) for r in rows) == 150
    assert rows[0]["emitted"] == "150"  # a burst at 20/s spikes to 200/s: all 150 steps in its first second

    html = page.read_text()
    assert "Storm storm-1" in html and "window.XtndCharts" in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "self-contained: nothing to fetch"
    embedded = re.search(r'<script type="application/json" id="storm-data">(.*?)</script>', html, re.S)
    assert embedded is not None and json.loads(embedded.group(1))["series"] == data["series"]
