"""The dashboard's third-party files are the pinned ones (scripts/fetch_ui_assets.py keeps their sums), with their
licences, and the package ships them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mock_xtnd.ui.assets import chart_assets

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "mock_xtnd" / "ui" / "static" / "vendor"


def test_the_vendored_files_match_their_pinned_sums() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_ui_assets.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_pinned_package_has_a_version_integrity_and_licence() -> None:
    manifest = json.loads((VENDOR / "assets.json").read_text())
    for pkg in manifest["packages"]:
        assert pkg["version"][0].isdigit() and pkg["integrity"].startswith("sha512-")
        assert any(dest.startswith("licenses/") for dest in pkg["files"].values()), pkg["name"]


def test_a_tampered_file_is_caught(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("fetch_ui_assets", ROOT / "scripts" / "fetch_ui_assets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    manifest = json.loads((VENDOR / "assets.json").read_text())
    first = manifest["packages"][0]
    name = next(iter(first["sha256"]))
    first["sha256"][name] = "0" * 64
    assert module.check(manifest) == [f"{first['name']}@{first['version']}: {name} does not match its pinned sha256"]


def test_the_inlined_chart_code_cannot_end_a_script_element_early() -> None:
    css, js = chart_assets()
    assert "uPlot" in js and "XtndCharts" in js and ".uplot" in css
    assert "</script" not in js.lower()
