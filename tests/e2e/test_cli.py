"""The ``mock-xtnd`` command: first run prints what a user needs; bad config exits 2 naming the field; docs serve."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.xtnd_process import command, serve

pytestmark = pytest.mark.e2e


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command(), *args], capture_output=True, text=True, timeout=60)


def test_serve_prints_base_url_credentials_and_docs_and_serves_them(tmp_path: Path) -> None:
    config = tmp_path / "xtnd.yaml"
    config.write_text("company: acme\nusers:\n  - username: shop\n    password: s3cret\ncatalogue: {products: 40}\n"
                      "quirks: {transient_errors: 0}\n")
    served = serve("--config", str(config), "--seed", "5")
    try:
        text = "\n".join(served.banner)
        base = served.base_url
        assert served.api_url == f"{base}/RESTAPI/v1_0/acme"
        assert "ExtendBasicAuthorization" in text
        assert "shop / s3cret" in text, "the configured credentials are printed"
        assert f"{base}/RESTAPI/swagger/ui/index" in text
        assert f"{base}/RESTAPI/swagger/docs/v1" in text
        assert f"{base}/_mock/docs" in text
        assert "seed 5" in text
        assert "40 products" in text
        for path in ("/RESTAPI/swagger/ui/index", "/_mock/docs"):
            r = httpx.get(base + path, timeout=10)
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/html")
            assert "swagger" in r.text.lower()
        spec = httpx.get(f"{base}/RESTAPI/swagger/docs/v1", timeout=10).json()
        assert "/CustomerOrders" in spec["paths"]
        with served.api("shop", "s3cret") as api:
            r = api.get("/ProductAvailability", params={"warehouse": "1"})
            assert r.status_code == 200 and len(r.json()["productAvailabilityList"]) == 40
        with served.api() as api:  # the default user is not configured here
            assert api.get("/ProductAvailability").status_code == 401
        # the old dialect's base path answers 404 naming the right one
        r = httpx.get(f"{base}/api/ProductAvailability", timeout=10)
        assert r.status_code == 404 and "/RESTAPI/v1_0/acme" in r.json()["Message"]
    finally:
        served.stop()


def test_default_credentials_are_printed_and_a_busy_port_exits_2() -> None:
    served = serve()
    try:
        assert "demo / demo-secret" in "\n".join(served.banner)
        assert "in memory" in served.banner[0]
        assert served.api_url.endswith("/RESTAPI/v1_0/demo")
        port = served.base_url.rsplit(":", 1)[1]
        busy = run("serve", "--port", port)
        assert busy.returncode == 2 and "cannot listen" in busy.stderr
    finally:
        served.stop()


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [("rate_limits:\n  default: zero\n", "rate_limits.default"),
     ("catalogue: {prodcts: 10}\n", "catalogue.prodcts"),
     ("users: [{username: shop}]\n", "users.0.password"),
     ("clients: [{client_id: shop, client_secret: s}]\n", "clients")],
)
def test_a_bad_config_file_exits_2_naming_the_field(tmp_path: Path, yaml_text: str, field: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    r = run("serve", "--config", str(config), "--port", "0")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert field in r.stderr
    assert str(config) in r.stderr
    assert "Traceback" not in r.stderr


def test_unreadable_or_broken_config_exits_2(tmp_path: Path) -> None:
    missing = run("serve", "--config", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("rate_limits: [\n")
    r = run("serve", "--config", str(broken))
    assert r.returncode == 2 and "not valid YAML" in r.stderr


def test_help_lists_the_serve_options() -> None:
    r = run("serve", "--help")
    assert r.returncode == 0
    for option in ("--host", "--port", "--seed", "--db", "--config"):
        assert option in r.stdout
