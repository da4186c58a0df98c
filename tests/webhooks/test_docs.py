"""docs/webhooks.md stays true: its verify snippet verifies real hooks, its worked example is right, its YAML loads,
every curl example it gives is accepted by the fake, and its JSON examples and Details table have exactly the keys
the fake sends."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from mock_xtnd.domain.events import ACTIONS
from mock_xtnd.settings import Settings
from tests.support.receiver import Receiver
from tests.support.xtnd import DETAILS

from .conftest import SECRET, fake_settings, running, subscription

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def text() -> str:
    return DOC.read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text(), flags=re.S)


def snippet() -> Any:
    (code,) = [b for b in blocks("python") if "def verify_xtnd_signature" in b]
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace["verify_xtnd_signature"]


def curl_examples() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, JSON body) of every curl command in the document."""
    out = []
    for block in blocks("bash"):
        for command in re.findall(r"^curl .*?(?=^\S|\Z)", block, flags=re.S | re.M):
            args = shlex.split(command.replace("\\\n", " "))
            method = args[args.index("-X") + 1] if "-X" in args else "POST" if "-d" in args else "GET"
            url = next(a for a in args if a.startswith("http://"))
            body = json.loads(args[args.index("-d") + 1]) if "-d" in args else {}
            out.append((method, url.split("8080", 1)[1], body))
    return out


def test_the_documented_verify_snippet_checks_real_hooks(receiver: Receiver) -> None:
    verify = snippet()
    details = {"ProductNumber": "100000", "Warehouse": "1", "Balance": 1}
    with running(fake_settings(subscription(receiver.url, triggers=["BalanceChanged"]))) as fake:
        fake.stock(fake.products()[0], "1", 1)
        fake.settle()
        for signature in ("bad", "missing"):
            fake.ok(fake.c.post("/_mock/webhooks/forge", json={"action": "BalanceChanged", "signature": signature,
                                                                "details": details}))
            fake.settle()
    genuine, bad, missing = receiver.received
    assert verify(SECRET, genuine.body, genuine.headers["ms-signature"])
    assert not verify(SECRET + "x", genuine.body, genuine.headers["ms-signature"])
    assert not verify(SECRET, genuine.body + b" ", genuine.headers["ms-signature"])
    assert not verify(SECRET, bad.body, bad.headers["ms-signature"])
    assert not verify(SECRET, missing.body, missing.headers.get("ms-signature"))


def test_the_documented_worked_example() -> None:
    (header,) = re.findall(r"ms-signature: (sha256=[0-9A-F]{64})", text())
    assert "`secret`" in text() and '`{"Id":"x"}`' in text()
    assert snippet()("secret", b'{"Id":"x"}', header)


def test_the_documented_yaml_config_loads() -> None:
    (config,) = [b for b in blocks("yaml") if "subscriptions:" in b]
    settings = Settings.model_validate(yaml.safe_load(config))
    (sub,) = settings.subscriptions
    assert sub.warehouse_filter == ["1"] and sub.active
    assert settings.delivery.retry_delays_seconds == [60, 240]


def test_every_documented_curl_example_is_accepted_as_written(receiver: Receiver) -> None:
    examples = curl_examples()
    assert {(m, p) for m, p, _ in examples} == {("POST", "/_mock/webhooks"), ("PUT", "/_mock/faults/deliveries"),
                                                 ("POST", "/_mock/webhooks/forge")}
    with running(fake_settings(subscription(receiver.url, "other"))) as fake:
        for method, path, body in examples:
            r = fake.c.request(method, path, json=body)
            assert 200 <= r.status_code < 300, (method, path, r.status_code, r.text)
            if path == "/_mock/webhooks":
                assert r.json()["triggers"] == ["AvailableBalanceChanged", "OrderPicked"]
                # point it at the test's receiver: nothing is sent to whatever listens on port 9000 here
                fake.ok(fake.c.put(f"/_mock/webhooks/{body['name']}", json={**body, "callbackUrl": receiver.url}))
        faults = fake.ok(fake.c.get("/_mock/faults/deliveries"))
        assert (faults["duplicate"], faults["reorderWindowSeconds"], faults["batch"]) == (0.1, 30, 3)
        fake.settle()
        forged = [d for d in fake.deliveries() if d["forged"]]
        assert {d["subscription"] for d in forged} == {"webshop", "other"}  # every active subscription
        assert {tuple(d["actions"]) for d in forged} == {("AvailableBalanceChanged",)}


def test_the_documented_json_examples_have_the_keys_the_fake_sends(receiver: Receiver) -> None:
    envelope, delivery = (json.loads(b) for b in blocks("json") if '"Id"' in b or '"deliveryId"' in b)
    with running(fake_settings(subscription(receiver.url, triggers=["AvailableBalanceChanged", "BalanceChanged"]))) \
            as fake:
        fake.stock(fake.products()[0], "1", 3)
        fake.settle()
        real = fake.deliveries(action="BalanceChanged")[0]
    sent = next(r.json for r in receiver.received if r.json["Notifications"][0]["Action"] == "AvailableBalanceChanged")
    assert list(envelope) == list(sent)
    assert set(envelope["Notifications"][0]["Details"]) == set(sent["Notifications"][0]["Details"])
    assert set(delivery) == set(real)
    assert set(delivery["attempts"][0]) == set(real["attempts"][0])
    assert set(delivery["notifications"][0]["Details"]) == set(real["notifications"][0]["Details"])


def test_the_documented_details_table_names_every_action_with_its_keys() -> None:
    documented: dict[str, set[str]] = {}
    for actions, keys in re.findall(r"^\| (`[A-Za-z]+`(?:, `[A-Za-z]+`)*) \| `\{([A-Za-z, ]+)\}`", text(), flags=re.M):
        for action in re.findall(r"`([A-Za-z]+)`", actions):
            documented[action] = {k.strip() for k in keys.split(",")}
    assert set(documented) == set(ACTIONS)
    assert documented == {action: set(keys) for action, keys in DETAILS.items()}


def test_the_control_surfaces_own_examples_for_webhooks_are_accepted_as_written(receiver: Receiver) -> None:
    """/_mock/docs offers these bodies to try: each one works (camelCase, the API's names)."""
    with running(fake_settings(subscription(receiver.url, "other"))) as fake:
        spec = fake.ok(fake.c.get("/_mock/openapi.json"))
        tried = []
        for path, method in (("/webhooks", "post"), ("/webhooks/{name}", "put"), ("/webhooks/forge", "post"),
                             ("/faults/deliveries", "put")):
            (example,) = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["examples"]
            url = "/_mock" + path.replace("{name}", example.get("name", ""))
            r = fake.c.request(method, url, json=example)
            assert 200 <= r.status_code < 300, (method, path, r.text)
            if path == "/webhooks":  # nothing goes to whatever listens on the example's port here
                fake.ok(fake.c.put(f"/_mock/webhooks/{example['name']}", json={**example, "callbackUrl": receiver.url}))
            tried.append(path)
        fake.settle()
        assert len(tried) == 4 and {d["subscription"] for d in fake.deliveries() if d["forged"]} == {"webshop", "other"}
