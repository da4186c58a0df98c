"""docs/webhooks.md stays true: its verify snippet verifies real hooks, its worked example is right, its YAML loads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from mock_xtnd.settings import Settings
from tests.support.receiver import Receiver

from .conftest import SECRET, fake_settings, running, subscription

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def snippet() -> Any:
    (code,) = [b for b in blocks("python") if "def verify_xtnd_signature" in b]
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace["verify_xtnd_signature"]


def test_the_documented_verify_snippet_checks_real_hooks(receiver: Receiver) -> None:
    verify = snippet()
    with running(fake_settings(subscription(receiver.url, triggers=["BalanceChanged"]))) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.settle()
        fake.ok(fake.c.post("/_mock/webhooks/forge", json={"Action": "BalanceChanged", "Signature": "bad", "Details": {
            "ProductNumber": "100000", "WarehouseNumber": "1", "Balance": 1}}))
        fake.ok(fake.c.post("/_mock/webhooks/forge", json={"Action": "BalanceChanged", "Signature": "missing",
                                                            "Details": {"ProductNumber": "100000",
                                                                        "WarehouseNumber": "1", "Balance": 1}}))
        fake.settle()
    genuine, bad, missing = receiver.received
    assert verify(SECRET, genuine.body, genuine.headers["ms-signature"])
    assert not verify(SECRET + "x", genuine.body, genuine.headers["ms-signature"])
    assert not verify(SECRET, genuine.body + b" ", genuine.headers["ms-signature"])
    assert not verify(SECRET, bad.body, bad.headers["ms-signature"])
    assert not verify(SECRET, missing.body, missing.headers.get("ms-signature"))


def test_the_documented_worked_example() -> None:
    text = DOC.read_text(encoding="utf-8")
    (header,) = re.findall(r"ms-signature: (sha256=[0-9A-F]{64})", text)
    assert "`secret`" in text and '`{"Id":"x"}`' in text
    assert snippet()("secret", b'{"Id":"x"}', header)


def test_the_documented_yaml_config_loads() -> None:
    (config,) = [b for b in blocks("yaml") if "subscriptions:" in b]
    settings = Settings.model_validate(yaml.safe_load(config))
    (sub,) = settings.subscriptions
    assert sub.warehouse_filter == ["1"] and sub.active
    assert settings.delivery.retry_delays_seconds == [60, 240]
