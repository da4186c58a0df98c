"""Subscriptions as XTND's back office has them: from the YAML config and through /_mock/webhooks; bad ones are
clear 400s naming the field; the warehouse filter, the Active flag and the triggers decide who gets what."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_xtnd.domain.events import ACTIONS
from mock_xtnd.settings import CatalogueSettings, ConfigError, load_settings
from tests.support.receiver import Receiver
from tests.support.xtnd import CONTROL, customer_body

from .conftest import (
    SECRET,
    Fake,
    actions_of,
    assert_invalid,
    assert_message,
    fake_settings,
    running,
    subscription,
    verifies,
)


def body(url: str, name: str = "shop", **extra: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"name": name, "techContactEmail": "dev@example.com", "callbackUrl": url, "secret": SECRET,
                         "warehouseFilter": [], "active": True, "triggers": ["BalanceChanged", "CustomerCreated"]}
    b.update(extra)
    return b


# ------------------------------------------------------------------------------------------------ YAML config
def test_subscriptions_from_the_yaml_config_deliver(tmp_path: Path, receiver: Receiver) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"""
clock: virtual
catalogue: {{products: 30, warehouses: 3, customers: 10}}
subscriptions:
  - name: shop
    tech_contact_email: dev@example.com
    callback_url: {receiver.url}
    secret: "{SECRET}"
    warehouse_filter: ["1"]
    active: true
    triggers: [BalanceChanged]
  - name: sleeping
    callback_url: {receiver.url}
    secret: other
    active: false
    triggers: [BalanceChanged]
""", encoding="utf-8")
    settings = load_settings(config)
    assert [s.name for s in settings.subscriptions] == ["shop", "sleeping"]
    with running(settings) as fake:
        listed = fake.ok(fake.c.get("/_mock/webhooks"))["items"]
        assert listed[0] == {"name": "shop", "techContactEmail": "dev@example.com", "callbackUrl": receiver.url,
                             "secret": "***", "warehouseFilter": ["1"], "active": True, "triggers": ["BalanceChanged"]}
        assert listed[1]["name"] == "sleeping" and listed[1]["active"] is False
        fake.stock(fake.products()[0], "1", 3)
        fake.settle()
    assert actions_of(receiver.received) == ["BalanceChanged"]
    assert verifies(receiver.received[0])


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"triggers": ["StockMoved"]}, "subscriptions.0.triggers"),
        ({"callback_url": "ftp://example.com/hook"}, "subscriptions.0.callback_url"),
        ({"secret": None}, "subscriptions.0.secret"),
        ({"colour": "red"}, "subscriptions.0.colour"),
    ],
)
def test_a_bad_subscription_in_the_config_names_the_field(tmp_path: Path, entry: dict[str, Any], where: str) -> None:
    import yaml

    sub = {"name": "shop", "callback_url": "http://127.0.0.1:9/x", "secret": "k", "triggers": ["BalanceChanged"]}
    sub.update(entry)
    sub = {k: v for k, v in sub.items() if v is not None}
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"subscriptions": [sub]}), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(config)
    assert where in str(e.value)
    assert str(config) in str(e.value)


# ------------------------------------------------------------------------------------------------ admin CRUD
@pytest.fixture(scope="module")
def admin_only() -> Iterator[Fake]:
    """One fake for the validation cases: a refused change leaves the one subscription it has untouched."""
    with running(fake_settings()) as fake:
        fake.ok(fake.c.post("/_mock/webhooks", json=body("http://127.0.0.1:9/xtnd/webhooks")))
        yield fake


def test_get_post_put_delete_webhooks(receiver: Receiver) -> None:
    with running(fake_settings()) as fake:
        assert fake.ok(fake.c.get("/_mock/webhooks"))["items"] == []

        r = fake.c.post("/_mock/webhooks", json=body(receiver.url))
        assert r.status_code == 201, r.text
        assert r.json()["secret"] == "***"
        assert [s["name"] for s in fake.ok(fake.c.get("/_mock/webhooks"))["items"]] == ["shop"]

        product = fake.products()[0]
        fake.stock(product, "1", 1)
        fake.settle()
        assert actions_of(receiver.received) == ["BalanceChanged"]

        r = fake.c.put("/_mock/webhooks/shop", json=body(receiver.url, triggers=["AvailableBalanceChanged"]))
        assert r.status_code == 200, r.text
        assert r.json()["triggers"] == ["AvailableBalanceChanged"]
        fake.stock(product, "1", 1)
        fake.settle()
        assert actions_of(receiver.received) == ["BalanceChanged", "AvailableBalanceChanged"]

        r = fake.c.delete("/_mock/webhooks/shop", headers=CONTROL)
        assert r.status_code == 200, r.text
        assert fake.ok(fake.c.get("/_mock/webhooks"))["items"] == []
        fake.stock(product, "1", 1)
        fake.settle()
        assert len(receiver.received) == 2

        assert_message(fake.c.delete("/_mock/webhooks/shop", headers=CONTROL), 404, "shop")
        assert_message(fake.c.put("/_mock/webhooks/nobody", json=body(receiver.url)), 404, "nobody")
        assert fake.ok(fake.c.get("/_mock/webhooks"))["items"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"triggers": ["BalanceChanged", "StockMoved"]}, "triggers", id="unknown-action"),
        pytest.param({"triggers": []}, "triggers", id="no-trigger"),
        pytest.param({"callbackUrl": "not a url"}, "callbackUrl", id="not-a-url"),
        pytest.param({"callbackUrl": "ftp://example.com/hook"}, "callbackUrl", id="not-http"),
        pytest.param({"callbackUrl": "http:///no-host"}, "callbackUrl", id="no-host"),
        pytest.param({"secret": None}, "secret", id="missing-secret"),
        pytest.param({"secret": ""}, "secret", id="empty-secret"),
        pytest.param({"name": None}, "name", id="missing-name"),
        pytest.param({"colour": "red"}, "colour", id="unknown-field"),
        pytest.param({"CallbackUrl": "http://127.0.0.1:9/x"}, "CallbackUrl", id="old-pascal-case-name"),
        pytest.param({"active": "sometimes"}, "active", id="bad-active"),
        pytest.param({"warehouseFilter": "1"}, "warehouseFilter", id="filter-not-a-list"),
    ],
)
def test_a_bad_subscription_is_a_400_naming_the_field(admin_only: Fake, change: dict[str, Any], field: str) -> None:
    fake = admin_only
    url = "http://127.0.0.1:9/xtnd/webhooks"
    b = {k: v for k, v in {**body(url), **change}.items() if v is not None}
    assert_invalid(fake.c.post("/_mock/webhooks", json=b), 400, field)
    if field != "name":  # PUT takes the name from the path
        assert_invalid(fake.c.put("/_mock/webhooks/shop", json=b), 400, field)
    assert fake.ok(fake.c.get("/_mock/webhooks"))["items"] == [{**body(url), "secret": "***"}]


def test_a_duplicate_name_is_refused(receiver: Receiver) -> None:
    with running(fake_settings(subscription(receiver.url, "shop"))) as fake:
        assert_message(fake.c.post("/_mock/webhooks", json=body(receiver.url, "shop")), 400, "shop")
        assert len(fake.ok(fake.c.get("/_mock/webhooks"))["items"]) == 1


# ------------------------------------------------------------------------------------------------ who gets what
def test_warehouse_filter_and_events_without_a_warehouse(receiver: Receiver) -> None:
    base = f"http://127.0.0.1:{receiver.port}"
    subs = [
        subscription(f"{base}/wh1", "wh1", triggers=["BalanceChanged", "CustomerCreated"], warehouse_filter=["1"]),
        subscription(f"{base}/wh2", "wh2", triggers=["BalanceChanged", "CustomerCreated"], warehouse_filter=["2", "3"]),
        subscription(f"{base}/all", "all", triggers=["BalanceChanged", "CustomerCreated"]),
    ]
    with running(fake_settings(*subs)) as fake:
        product = fake.products()[0]
        fake.stock(product, "2", 5)
        fake.settle()
        by_path = {p: [r.json["Notifications"][0]["Details"] for r in receiver.received if r.path == p]
                   for p in ("/wh1", "/wh2", "/all")}
        assert by_path["/wh1"] == []
        assert [d["Warehouse"] for d in by_path["/wh2"]] == ["2"]
        assert [d["Warehouse"] for d in by_path["/all"]] == ["2"]
        assert fake.deliveries(subscription="wh1") == []

        fake.api("POST", "Customers", json=customer_body("Anna Svensson"))
        fake.settle()
        customer_created = {r.path for r in receiver.received
                            if r.json["Notifications"][0]["Action"] == "CustomerCreated"}
        assert customer_created == {"/wh1", "/wh2", "/all"}
        for sub in ("wh1", "wh2", "all"):
            assert [d["actions"] for d in fake.deliveries(subscription=sub, action="CustomerCreated")] == [
                ["CustomerCreated"]]


def test_inactive_subscriptions_get_nothing_and_triggers_filter_actions(receiver: Receiver) -> None:
    base = f"http://127.0.0.1:{receiver.port}"
    subs = [
        subscription(f"{base}/off", "off", active=False),
        subscription(f"{base}/available", "available", triggers=["AvailableBalanceChanged"]),
        subscription(f"{base}/orders", "orders", triggers=["OrderCreated", "OrderPicked"]),
    ]
    with running(fake_settings(*subs)) as fake:
        fake.stock(fake.products()[0], "1", 5)
        fake.settle()
        assert [(r.path, actions_of([r])) for r in receiver.received] == [("/available", ["AvailableBalanceChanged"])]
        assert fake.deliveries(subscription="off") == []
        assert fake.deliveries(subscription="orders") == []

        # switched on through PUT, the same subscription gets the next change
        fake.ok(fake.c.put("/_mock/webhooks/off", json=body(f"{base}/off", "off", triggers=list(ACTIONS))))
        fake.stock(fake.products()[0], "1", 5)
        fake.settle()
        assert sorted(actions_of([r for r in receiver.received if r.path == "/off"])) == [
            "AvailableBalanceChanged", "BalanceChanged"]


def test_subscriptions_survive_a_restart_on_the_same_db(tmp_path: Path, receiver: Receiver) -> None:
    db = str(tmp_path / "x.db")
    settings = fake_settings(subscription(receiver.url, "from-config", triggers=["BalanceChanged"]), db=db,
                             catalogue=CatalogueSettings(products=30, warehouses=3, customers=10))
    with running(settings) as fake:
        fake.ok(fake.c.post("/_mock/webhooks", json=body(receiver.url, "added", triggers=["BalanceChanged"])))
        fake.ok(fake.c.delete("/_mock/webhooks/from-config", headers=CONTROL))
    with running(settings) as fake:
        assert [s["name"] for s in fake.ok(fake.c.get("/_mock/webhooks"))["items"]] == ["added"]
        fake.stock(fake.products()[0], "1", 1)
        fake.settle()
        assert [d["subscription"] for d in fake.deliveries()] == ["added"]
    assert len(receiver.received) == 1 and verifies(receiver.received[0])


def test_a_subscription_cannot_be_renamed_through_put() -> None:
    subs = [subscription("http://127.0.0.1:9/xtnd/webhooks", "shop")]
    with running(fake_settings(*subs)) as fake:
        r = fake.c.put("/_mock/webhooks/shop", json=body("http://127.0.0.1:9/xtnd/webhooks", "other"))
        assert_invalid(r, 400, "name")
        assert [s["name"] for s in fake.c.get("/_mock/webhooks").json()["items"]] == ["shop"]
