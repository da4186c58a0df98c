"""Callback URLs (issue 12, items 3 and 7): checked when a subscription enters (the config file, /_mock/webhooks)
by the same parser the sender uses, so an accepted URL can always be sent; hosts limited to an allow-list
(loopback by default: the sender is the fake's SSRF surface); an attempt that still cannot be sent (a bad URL from an
older database) is a failed attempt, retried and dead-lettered like any other - never pending with 0 attempts.

Before the fix ``http://127.0.0.1:99999/x``, ``http://127.0.0.1:abc/x`` and a non-ASCII path were accepted with 201
and their deliveries stayed pending for ever, and any host was accepted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from mock_xtnd.settings import ConfigError, load_settings
from mock_xtnd.webhooks.sender import Sender
from tests.support.receiver import Receiver
from tests.webhooks.conftest import assert_invalid, fake_settings, running, serving, subscription


def body(url: str, name: str = "shop") -> dict[str, Any]:
    return {"name": name, "callbackUrl": url, "secret": "s", "triggers": ["BalanceChanged"]}


UNSENDABLE = {
    "port out of range": "http://127.0.0.1:99999/x",
    "port zero": "http://127.0.0.1:0/x",
    "port not a number": "http://127.0.0.1:abc/x",
    "no host": "http:///x",
    "not http": "ftp://127.0.0.1/x",
    "a space in the host": "http://local host/x",
    "a control character": "http://127.0.0.1:9000/x\r\nX-Injected: 1",
    "user and password": "http://user:pw@127.0.0.1:9000/x",
    "not a domain name": "http://exa_mple..com/x",
}


@pytest.mark.parametrize("case", list(UNSENDABLE))
def test_an_unsendable_callback_url_is_refused_naming_the_field(case: str) -> None:
    with running(fake_settings()) as fake:
        before = fake.ok(fake.c.get("/_mock/truth"))
        r = fake.c.post("/_mock/webhooks", json=body(UNSENDABLE[case]))
        assert_invalid(r, 400, "callbackUrl")
        assert fake.ok(fake.c.get("/_mock/webhooks"))["items"] == []
        assert fake.ok(fake.c.get("/_mock/truth")) == before


@pytest.mark.parametrize("case", list(UNSENDABLE))
def test_a_config_file_with_an_unsendable_url_stops_the_start_naming_the_field(tmp_path: Path, case: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(orjson.dumps({"subscriptions": [{"name": "s", "callback_url": UNSENDABLE[case], "secret": "x",
                                                       "triggers": ["BalanceChanged"]}]}).decode())
    with pytest.raises(ConfigError, match=r"subscriptions\.0\.callback_url"):
        load_settings(config)


def test_non_ascii_paths_and_hosts_are_sent_encoded() -> None:
    from mock_xtnd.webhooks.urls import parse_callback_url

    target = parse_callback_url("http://127.0.0.1:9000/händ else/ö?q=ä b")
    assert target.target == "/h%C3%A4nd%20else/%C3%B6?q=%C3%A4%20b" and target.host_header == "127.0.0.1:9000"
    idna = parse_callback_url("https://bücher.example/x")
    assert (idna.host, idna.port, idna.url) == ("xn--bcher-kva.example", 443, "https://xn--bcher-kva.example/x")
    assert parse_callback_url("http://[::1]:8080/x").host_header == "[::1]:8080"


def test_a_non_ascii_path_is_accepted_and_delivered_percent_encoded() -> None:
    with serving() as receiver:
        url = receiver.url.replace("/xtnd/webhooks", "/händelser/ny")
        with running(fake_settings(subscription(url, triggers=["BalanceChanged"]))) as fake:
            fake.stock(fake.products()[0])
            fake.settle()
            assert [d["status"] for d in fake.deliveries()] == ["delivered"]
    assert [r.path for r in receiver.received] == ["/h%C3%A4ndelser/ny"]


def test_the_sender_never_raises_on_a_bad_url() -> None:
    async def attempts() -> list[tuple[int | None, str | None]]:
        sender = Sender(timeout=1)
        try:
            return [(await sender.post(url, b"{}", None))[:2]
                    for url in ("http://127.0.0.1:99999/x", "http://127.0.0.1:abc/x", "ftp://x/")]
        finally:
            await sender.close()

    assert asyncio.run(attempts()) == [(None, "invalid-url")] * 3


def test_an_unsendable_url_from_an_older_database_is_a_failed_attempt_retried_then_dead(tmp_path: Path) -> None:
    """A database written before these checks may hold any URL: its deliveries are attempted, fail, are retried
    on the schedule and dead-lettered; the outbox empties."""
    import sqlite3

    db = tmp_path / "x.db"
    settings = fake_settings(db=str(db), delivery={"retry_delays_seconds": [60, 240]})
    with running(settings):
        pass  # the database exists now
    conn = sqlite3.connect(str(db))
    conn.execute("INSERT OR REPLACE INTO records(kind, key, body) VALUES ('subscription', 'old', ?)", (orjson.dumps({
        "name": "old", "techContactEmail": "", "callbackUrl": "http://127.0.0.1:99999/x", "secret": "s",
        "warehouseFilter": [], "active": True, "triggers": ["BalanceChanged"]}),))
    conn.commit()
    conn.close()
    with running(settings) as fake:
        fake.stock(fake.products()[0])
        fake.settle()
        [d] = fake.deliveries()
        assert d["status"] == "pending" and [a["error"] for a in d["attempts"]] == ["invalid-url"]
        fake.advance(60)
        fake.advance(240)
        [d] = fake.deliveries()
        assert d["status"] == "dead" and [a["error"] for a in d["attempts"]] == ["invalid-url"] * 3
        assert [(r["attempt"], r["outcome"], r["error"]) for r in fake.journal()] == [
            (1, "retry", "invalid-url"), (2, "retry", "invalid-url"), (3, "dead", "invalid-url")]
        assert fake.deliveries(status="pending") == []


# ---------------------------------------------------------------------------------------------- the allow-list
def test_callback_hosts_are_loopback_only_by_default() -> None:
    with running(fake_settings()) as fake:
        for url in ("http://127.0.0.1:9000/a", "http://127.1.2.3/a", "http://localhost:9000/a", "http://[::1]/a"):
            r = fake.c.post("/_mock/webhooks", json=body(url, name=f"n{len(fake.c.get('/_mock/webhooks').json()['items'])}"))
            assert r.status_code == 201, (url, r.text)
        for url in ("http://10.0.0.5/a", "http://192.168.1.1:8080/a", "http://example.com/a", "http://169.254.169.254/",
                    "http://[2001:db8::1]/a"):
            state = assert_invalid(fake.c.post("/_mock/webhooks", json=body(url, name="x")), 400, "callbackUrl")
            assert "callback_hosts" in state["callbackUrl"][0], state
        # a PUT is held to the same rule
        assert_invalid(fake.c.put("/_mock/webhooks/n0", json={"callbackUrl": "http://10.1.1.1/", "secret": "s",
                                                               "triggers": ["OrderPicked"]}), 400, "callbackUrl")


def test_the_allow_list_takes_names_networks_and_suffixes(tmp_path: Path) -> None:
    hosts = ["webshop", "10.0.0.0/8", "*.internal", "fd00::/8"]
    with running(fake_settings(callback_hosts=hosts)) as fake:
        for i, url in enumerate(("http://webshop:8000/h", "http://10.2.3.4/h", "http://shop.internal/h",
                                 "http://[fd00::5]/h")):
            assert fake.c.post("/_mock/webhooks", json=body(url, name=f"ok{i}")).status_code == 201, url
        for url in ("http://127.0.0.1/h", "http://webshop.evil/h", "http://internal/h", "http://11.0.0.1/h"):
            assert_invalid(fake.c.post("/_mock/webhooks", json=body(url, name="no")), 400, "callbackUrl")
    with running(fake_settings(callback_hosts=["*"])) as fake:
        assert fake.c.post("/_mock/webhooks", json=body("http://example.com/h")).status_code == 201


def test_a_config_subscription_outside_the_allow_list_stops_the_start(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("subscriptions:\n  - {name: s, callback_url: 'http://10.0.0.5/h', secret: x, "
                      "triggers: [BalanceChanged]}\n")
    with pytest.raises(ConfigError, match=r"subscriptions\.0\.callback_url.*callback_hosts"):
        load_settings(config)
    assert load_settings(config, callback_hosts=["10.0.0.0/8"]).subscriptions[0].callback_url == "http://10.0.0.5/h"
    with pytest.raises(ConfigError, match="callback_hosts"):
        load_settings(None, callback_hosts=["not a host!"])


def test_the_parser_and_the_validator_agree() -> None:
    from mock_xtnd.webhooks.urls import CallbackUrlError, parse_callback_url

    for url in UNSENDABLE.values():
        with pytest.raises(CallbackUrlError):
            parse_callback_url(url)


def test_an_attempt_that_fails_in_an_unforeseen_way_is_still_a_failed_attempt(monkeypatch: pytest.MonkeyPatch,
                                                                               receiver: Receiver) -> None:
    """Whatever breaks while an attempt is made, it is recorded (``error``), retried and dead-lettered."""

    async def broken(self: Sender, url: str, body: bytes, signature: str | None) -> Any:
        raise RuntimeError("something nobody planned for")

    monkeypatch.setattr(Sender, "post", broken)
    with running(fake_settings(subscription(receiver.url, triggers=["BalanceChanged"]),
                               delivery={"retry_delays_seconds": [1]})) as fake:
        fake.stock(fake.products()[0])
        fake.settle()
        fake.advance(1)
        [d] = fake.deliveries()
        assert d["status"] == "dead" and [a["error"] for a in d["attempts"]] == ["error", "error"]
