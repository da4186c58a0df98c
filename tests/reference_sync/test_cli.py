"""`reference-sync run` reads the harness's XTND_* variables (flags win) and refuses an unverifiable setup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from reference_sync import app as app_module
from reference_sync.cli import main
from reference_sync.config import SyncConfig

HARNESS_ENV = {
    "XTND_API_URL": "http://127.0.0.1:9/RESTAPI/v1_0/demo",
    "XTND_USERNAME": "demo",
    "XTND_PASSWORD": "demo-secret",
    "XTND_WEBHOOK_SECRET": "s3cret",
    "XTND_WEBHOOK_PORT": "18123",
}


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[SyncConfig]:
    """Capture the configuration the service would start with, without serving anything."""
    configs: list[SyncConfig] = []
    real_build = app_module.build_service

    def build(config: SyncConfig, **kwargs: Any) -> app_module.Service:
        configs.append(config)
        return real_build(config, **kwargs)

    monkeypatch.setattr("reference_sync.cli.build_service", build)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    return configs


def test_the_harness_environment_configures_the_service(started: list[SyncConfig], tmp_path: Path) -> None:
    env = {**HARNESS_ENV, "XTND_WEBHOOKS": "off", "XTND_SYNC_DB": str(tmp_path / "s.db")}
    result = CliRunner().invoke(main, ["run", "--balance-max-wait", "1.5"], env=env)
    assert result.exit_code == 0, result.output
    [config] = started
    assert (config.api_url, config.username, config.password) == (
        "http://127.0.0.1:9/RESTAPI/v1_0/demo",
        "demo",
        "demo-secret",
    )
    assert (config.webhook_secret, config.port, config.host) == ("s3cret", 18123, "127.0.0.1")
    assert config.webhooks is False
    assert config.db_path == str(tmp_path / "s.db")
    assert config.balance_max_wait == 1.5


def test_a_trailing_slash_on_the_api_url_is_dropped(started: list[SyncConfig], tmp_path: Path) -> None:
    env = {
        **HARNESS_ENV,
        "XTND_API_URL": "http://127.0.0.1:9/RESTAPI/v1_0/demo/",
        "XTND_SYNC_DB": str(tmp_path / "s.db"),
    }
    assert CliRunner().invoke(main, ["run"], env=env).exit_code == 0
    assert started[0].api_url == "http://127.0.0.1:9/RESTAPI/v1_0/demo"


def test_a_temporary_database_is_made_when_none_is_given(started: list[SyncConfig]) -> None:
    result = CliRunner().invoke(main, ["run"], env=HARNESS_ENV)
    assert result.exit_code == 0, result.output
    assert Path(started[0].db_path).name.startswith("reference-sync-")
    Path(started[0].db_path).unlink()


def test_webhooks_without_a_secret_is_a_usage_error(started: list[SyncConfig]) -> None:
    env = {k: v for k, v in HARNESS_ENV.items() if k != "XTND_WEBHOOK_SECRET"}
    result = CliRunner().invoke(main, ["run"], env=env)
    assert result.exit_code == 2
    assert "XTND_WEBHOOK_SECRET" in result.output
    assert started == []
