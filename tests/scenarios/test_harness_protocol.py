"""The harness protocol (xtnd-contract.md §3) as a client meets it: the environment, the subscription, a harness
that makes no API calls of its own, and the newcomer findings of issue 11: ``check --client-log FILE`` and a
clear message when the client does not serve ``POST /xtnd/shop/orders``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from contracts.harness import ACTIONS, EXIT_USAGE, ShopEndpointMissing, fake_settings, run
from contracts.scenario import Scenario, parse_scenario
from mock_xtnd.cli import main
from mock_xtnd.domain.events import ACTIONS as FAKE_ACTIONS

from .support import quick, tiny

pytestmark = pytest.mark.e2e


def test_the_client_gets_the_protocol_environment_and_the_harness_calls_no_api(tmp_path: Path) -> None:
    seen = tmp_path / "env.json"
    text = quick("env", company="shopco", client_env=f"{{TINY_ENV_FILE: '{seen}'}}")
    result = run(parse_scenario(text), tiny("env"))
    env = json.loads(seen.read_text())
    assert set(env) == {"XTND_API_URL", "XTND_USERNAME", "XTND_PASSWORD", "XTND_WEBHOOK_SECRET",
                        "XTND_WEBHOOK_PORT"}
    assert env["XTND_API_URL"].startswith("http://127.0.0.1:")
    assert env["XTND_API_URL"].endswith("/RESTAPI/v1_0/shopco")  # the company, no trailing slash
    assert len(env["XTND_WEBHOOK_SECRET"]) >= 32 and env["XTND_PASSWORD"]
    # the tiny client made no API call and the harness none of its own: rate limits are per company
    assert [r for r in result.journal if r["kind"] == "api"] == []
    assert any(r["kind"] == "delivery" for r in result.journal)
    # a second run gets another webhook secret and password
    again = tmp_path / "env2.json"
    run(parse_scenario(quick("env", client_env=f"{{TINY_ENV_FILE: '{again}'}}")), tiny("env"))
    other = json.loads(again.read_text())
    assert other["XTND_WEBHOOK_SECRET"] != env["XTND_WEBHOOK_SECRET"]
    assert other["XTND_PASSWORD"] != env["XTND_PASSWORD"]


def test_webhooks_off_is_announced(tmp_path: Path) -> None:
    seen = tmp_path / "env.json"
    run(parse_scenario(quick("webhooks-off", webhooks="false", client_env=f"{{TINY_ENV_FILE: '{seen}'}}")), tiny("env"))
    assert json.loads(seen.read_text())["XTND_WEBHOOKS"] == "off"


def test_the_credentials_work_and_the_subscription_covers_all_18_actions() -> None:
    scenario = Scenario.model_validate({"name": "s", "company": "acme"})
    settings = fake_settings(scenario, "integration", "pw-1", "secret-1", "http://127.0.0.1:9/xtnd/webhooks")
    assert len(ACTIONS) == 18 and set(ACTIONS) == set(FAKE_ACTIONS)
    (sub,) = settings.subscriptions
    assert sub.callback_url == "http://127.0.0.1:9/xtnd/webhooks" and sub.secret == "secret-1"
    assert set(sub.triggers) == set(ACTIONS)
    assert settings.company == "acme"
    assert [(u.username, u.password) for u in settings.users] == [("integration", "pw-1")]
    from mock_xtnd.server import ServerThread

    with ServerThread(settings) as fake:
        pair = base64.b64encode(b"integration:pw-1").decode()
        r = httpx.get(f"{fake.api_url}/Customers", headers={"ExtendBasicAuthorization": f"Basic {pair}"})
        assert r.status_code in (200, 400), r.text  # 400: a transient quirk, never a 401
        assert r.status_code == 200 or "deadlock" in r.text or "Timeout" in r.text
        assert fake.api_url.rstrip("/").endswith("/RESTAPI/v1_0/acme")


STEP = "  - {at: 0.3, stock: {count: 2, balanceDifference: 1}}\n"
SHOP = quick("shop").replace(STEP, STEP + "  - {at: 0.5, shop_order: {count: 1}}\n")


def test_a_client_without_the_shop_endpoint_is_told_so(tmp_path: Path) -> None:
    with pytest.raises(ShopEndpointMissing) as failure:
        run(parse_scenario(SHOP), tiny("ack"))
    message = str(failure.value)
    assert "does not serve POST /xtnd/shop/orders (it answered 404)" in message
    assert "1 shop_order step(s)" in message
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "--client", tiny("ack"), "--scenario", str(path)])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "does not serve POST /xtnd/shop/orders" in result.output


def test_check_writes_the_client_log_where_asked(tmp_path: Path) -> None:
    path = tmp_path / "quick.yaml"
    path.write_text(quick("logged", expect="{converges: false, must_fail: [hooks-are-triggers]}"), encoding="utf-8")
    log = tmp_path / "logs" / "client.log"
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["check", "--client", tiny("ack"), "--scenario", str(path),
                                       "--client-log", str(log), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "tiny client: listening (ack)" in log.read_text()
    data = json.loads(report.read_text())
    assert data["passed"] is True and data["scenario"] == "logged"
    assert data["report"]["user"] == "integration"
    dead = CliRunner().invoke(main, ["check", "--client", tiny("exit"), "--scenario", str(path),
                                     "--client-log", str(log)])
    assert dead.exit_code == 3, dead.output
    assert "exiting on purpose" in log.read_text()
